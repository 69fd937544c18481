// Relying parties are data: one JSON file per OIDC client or SAML service provider in
// config/relying-parties/ and in IDP_RP_DIR. Files are validated at start-up with
// errors that name the file and the field. (A SAML SP's metadata XML is read here and
// checked by src/protocols/saml/service-providers.ts.)
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './settings.ts';

const uri = z.url();
const redirectUri = z.url({ protocol: /^https?$|^[a-z][a-z0-9+.-]*$/ });

// What the OpenID provider supports: all a client file may choose, and what discovery
// advertises (src/protocols/oidc/provider.ts configures oidc-provider with these lists).
/** The signing keys are one RSA key for RS256 and one P-256 key for ES256 (key-material.ts). */
export const ID_TOKEN_SIGNING_ALGS = ['RS256', 'ES256'] as const;
export const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export const OIDC_SCOPES = ['openid', 'offline_access', 'email', 'profile', 'school', 'roles'] as const;
export type OidcScope = (typeof OIDC_SCOPES)[number];
/** Scopes that only mean something with a signed-in user (never for client_credentials). */
export const USER_ONLY_SCOPES: ReadonlySet<string> = new Set(['openid', 'offline_access']);

/** The fields of an OIDC client file (also what a client may register over HTTP, RFC 7591). */
export const oidcClientFields = z.strictObject({
  protocol: z.literal('oidc'),
  /** The name users see; defaults to client_name (RFC 7591), one of the two is required. */
  display_name: z.string().min(1).max(100).optional(),
  // Standard client metadata (RFC 7591 §2), as relying-party developers copy it.
  client_name: z.string().min(1).max(100).optional(),
  logo_uri: uri.optional(),
  policy_uri: uri.optional(),
  tos_uri: uri.optional(),
  contacts: z.array(z.string().min(3).max(200)).optional(),
  client_id: z.string().regex(/^[A-Za-z0-9._-]{3,100}$/, 'letters, digits, ".", "_" and "-" only (3-100)'),
  client_secret: z.string().min(32, 'must be at least 32 characters').optional(),
  redirect_uris: z.array(redirectUri).default([]),
  post_logout_redirect_uris: z.array(uri).optional(),
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])).default(['authorization_code']),
  response_types: z.array(z.enum(['code'])).optional(),
  token_endpoint_auth_method: z.enum(TOKEN_ENDPOINT_AUTH_METHODS).default('client_secret_basic'),
  application_type: z.enum(['web', 'native']).optional(),
  /** The scopes the client may ask for (space-separated); a service gets only these. */
  scope: z.string().regex(new RegExp(`^(${OIDC_SCOPES.join('|')})( (${OIDC_SCOPES.join('|')}))*$`), `space-separated, each one of ${OIDC_SCOPES.join(', ')}`).optional(),
  backchannel_logout_uri: uri.optional(),
  backchannel_logout_session_required: z.boolean().optional(),
  id_token_signed_response_alg: z.enum(ID_TOKEN_SIGNING_ALGS).optional(),
  /**
   * "pairwise": the app gets a `sub` of its own for each account (its sector: the host of its
   * redirect URIs), so apps cannot link a child across them; "public" (default): the account's id.
   */
  subject_type: z.enum(['public', 'pairwise']).optional(),
});

export const oidcClientSchema = oidcClientFields.superRefine((c, ctx) => {
  if (!c.display_name && !c.client_name) ctx.addIssue({ code: 'custom', path: ['client_name'], message: 'client_name (or display_name) is required: the name users see' });
  if (c.token_endpoint_auth_method === 'none') {
    if (c.client_secret) ctx.addIssue({ code: 'custom', path: ['client_secret'], message: 'a public client (token_endpoint_auth_method "none") has no secret' });
    if (c.grant_types.includes('client_credentials')) ctx.addIssue({ code: 'custom', path: ['grant_types'], message: 'a public client cannot use client_credentials' });
  } else if (!c.client_secret) {
    ctx.addIssue({ code: 'custom', path: ['client_secret'], message: `required for token_endpoint_auth_method "${c.token_endpoint_auth_method}"` });
  }
  // The sector is the host (with its port) of the redirect URIs, as oidc-provider takes it: one,
  // and never empty (a native app's custom scheme, com.vendor.app:/cb, has no host: every such
  // app would share the sector "" and so the same subs).
  const sectors = new Set(c.redirect_uris.map((u) => { try { return new URL(u).host; } catch { return ''; } }));
  if (c.subject_type === 'pairwise' && (sectors.size > 1 || sectors.has(''))) {
    ctx.addIssue({ code: 'custom', path: ['subject_type'], message: sectors.has('') ? 'a pairwise app\'s redirect_uris need a host (its sector): a custom scheme without one is not a sector' : 'a pairwise app\'s redirect_uris must share one host and port (its sector; sector_identifier_uri is not used here)' });
  }
  if (c.grant_types.includes('authorization_code') && c.redirect_uris.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['redirect_uris'], message: 'at least one is required for authorization_code' });
  }
  if (!c.grant_types.includes('authorization_code') && c.redirect_uris.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['redirect_uris'], message: 'only used with the authorization_code grant' });
  }
  const userOnly = (c.scope ?? '').split(' ').filter((s) => USER_ONLY_SCOPES.has(s));
  if (!c.grant_types.includes('authorization_code') && userOnly.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['scope'], message: `${userOnly.join(' and ')} need a signed-in user: a client_credentials service cannot have them` });
  }
}).transform((c) => ({ ...c, display_name: c.display_name ?? c.client_name ?? '' }));

export type OidcClientFile = z.output<typeof oidcClientSchema> & { file: string; response_types: Array<'code'> };

/** Hosts plain http may go to: this machine (a name that merely begins with "localhost" is not). */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/** An IP literal of a private, link-local, shared or unspecified network (cloud metadata at 169.254.169.254). */
export function internalAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  const v4 = /^(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(h.replace(/^::ffff:/, ''));
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 0 || a === 10 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  }
  return h === '::' || /^f[cd][0-9a-f]{0,2}:/.test(h) || /^fe[89ab][0-9a-f]?:/.test(h);
}

export interface UriRuleOptions {
  /** Plain http to any host (the built-in simulated apps, which follow the IdP's own URL). */
  plainHttpAnywhere?: boolean;
}

/**
 * What a careful OP refuses in an OIDC client's URIs, for files and registrations alike:
 * user information (user:password@) anywhere; a fragment in a redirect URI (RFC 6749
 * 3.1.2) or a back-channel logout URI (Back-Channel Logout 1.0 section 2.2); plain http
 * except to this machine (localhost, 127.0.0.0/8, [::1]); pages users are shown (logo,
 * policy, terms) at a private or link-local address.
 */
export function oidcUriProblems(c: Partial<Pick<OidcClientFile, 'redirect_uris' | 'post_logout_redirect_uris' | 'backchannel_logout_uri' | 'logo_uri' | 'policy_uri' | 'tos_uri'>>, options: UriRuleOptions = {}): Array<{ path: string; message: string }> {
  const problems: Array<{ path: string; message: string }> = [];
  const check = (where: string, value: string, kind: 'redirect' | 'backchannel' | 'page') => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      problems.push({ path: where, message: 'not a URL' });
      return;
    }
    const web = url.protocol === 'http:' || url.protocol === 'https:';
    if (kind !== 'redirect' && !web) problems.push({ path: where, message: 'must be an https URL' });
    if (url.username || url.password) problems.push({ path: where, message: 'must not contain user information (user:password@)' });
    if (kind !== 'page' && url.hash) problems.push({ path: where, message: kind === 'backchannel' ? 'must not contain a fragment (Back-Channel Logout 1.0 section 2.2)' : 'must not contain a fragment (RFC 6749 section 3.1.2)' });
    if (url.protocol === 'http:' && !options.plainHttpAnywhere && !LOOPBACK_HOST.test(url.hostname)) {
      problems.push({ path: where, message: `plain http only to this machine (localhost, 127.0.0.1, [::1]); "${url.hostname}" needs https` });
    }
    if (kind === 'page' && web && internalAddress(url.hostname)) problems.push({ path: where, message: `"${url.hostname}" is a private or link-local address` });
  };
  (c.redirect_uris ?? []).forEach((u, i) => check(`redirect_uris.${i}`, u, 'redirect'));
  (c.post_logout_redirect_uris ?? []).forEach((u, i) => check(`post_logout_redirect_uris.${i}`, u, 'redirect'));
  if (c.backchannel_logout_uri) check('backchannel_logout_uri', c.backchannel_logout_uri, 'backchannel');
  for (const field of ['logo_uri', 'policy_uri', 'tos_uri'] as const) if (c[field]) check(field, c[field], 'page');
  return problems;
}

/** Attributes the IdP can release in a SAML assertion. */
export const SAML_ATTRIBUTES = ['mail', 'givenName', 'sn', 'displayName', 'school', 'level', 'role'] as const;
export type SamlAttributeName = (typeof SAML_ATTRIBUTES)[number];

export const samlSpSchema = z.strictObject({
  protocol: z.literal('saml'),
  /** Short name in URLs (/saml/launch/<id>) and logs. */
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,63}$/, 'lower-case letters, digits and "-" (2-64)'),
  display_name: z.string().min(1).max(100),
  /** The SP's metadata: a path relative to this file, or the XML itself (or, for cli add-rp only, an http(s) URL fetched once). */
  metadata: z.string().min(1),
  sign_response: z.boolean().default(true),
  sign_assertion: z.boolean().default(true),
  /** Encrypt the assertion; default: when the metadata has an encryption key. */
  encrypt_assertion: z.boolean().optional(),
  data_encryption: z.enum(['aes256-gcm', 'aes128-gcm', 'aes256-cbc']).default('aes256-gcm'),
  attributes: z.array(z.enum(SAML_ATTRIBUTES)).default([...SAML_ATTRIBUTES]),
  /** How attributes are named: short names, basic NameFormat (basic), or standard URIs as Shibboleth SPs expect (uri). */
  attribute_profile: z.enum(['basic', 'uri']).default('basic'),
  /**
   * The Subject's NameID: "emailAddress" (the login ID; only for an SP allowed mail) or
   * "persistent" (opaque, different at each SP). Default: emailAddress when the SP gets mail,
   * else persistent, so that an SP not allowed the address never sees it.
   */
  name_id_format: z.enum(['emailAddress', 'persistent']).optional(),
  /** Refuse unsigned AuthnRequests even when the metadata does not say AuthnRequestsSigned. */
  requests_must_be_signed: z.boolean().default(false),
  /** RelayState sent with IdP-initiated sign-in (/saml/launch/<id>). */
  default_relay_state: z.string().max(4096).optional(),
  /** Cap on RelayState for this SP; default saml.relayStateMaxBytes (80, as the bindings say). */
  relay_state_max_bytes: z.number().int().min(80).max(4096).optional(),
}).superRefine((c, ctx) => {
  if (c.name_id_format === 'emailAddress' && !c.attributes.includes('mail')) {
    ctx.addIssue({ code: 'custom', path: ['name_id_format'], message: 'an emailAddress NameID is the address: add mail to attributes, or use persistent' });
  }
  if (!c.sign_response && !c.sign_assertion) {
    ctx.addIssue({ code: 'custom', path: ['sign_response'], message: 'at least one of sign_response and sign_assertion must be true' });
  }
  if (c.default_relay_state !== undefined && Buffer.byteLength(c.default_relay_state) > (c.relay_state_max_bytes ?? 80)) {
    ctx.addIssue({ code: 'custom', path: ['default_relay_state'], message: 'longer than relay_state_max_bytes' });
  }
});

export type SamlSpFile = z.output<typeof samlSpSchema> & { file: string; metadataXml: string };

export interface RelyingParties {
  oidc: OidcClientFile[];
  saml: SamlSpFile[];
}

function invalid(file: string, issues: z.core.$ZodIssue[]): ConfigError {
  const lines = issues.map((i) => `  ${i.path.join('.') || '(file)'}: ${i.message}`);
  return new ConfigError(`${file}: invalid relying party\n${lines.join('\n')}`);
}

export function parseOidcClient(data: unknown, file: string, options: UriRuleOptions = {}): OidcClientFile {
  const result = oidcClientSchema.safeParse(data);
  if (!result.success) throw invalid(file, result.error.issues);
  const problems = oidcUriProblems(result.data, options);
  if (problems.length) throw new ConfigError(`${file}: invalid relying party\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  // A client without the code grant (a service using client_credentials) has no response types.
  const response_types = result.data.response_types ?? (result.data.grant_types.includes('authorization_code') ? ['code' as const] : []);
  return { ...result.data, response_types, file };
}

export function parseSamlSp(data: unknown, file: string): SamlSpFile {
  const result = samlSpSchema.safeParse(data);
  if (!result.success) throw invalid(file, result.error.issues);
  const { metadata } = result.data;
  let metadataXml = metadata;
  if (/^https?:\/\//i.test(metadata.trim())) {
    throw new ConfigError(`${file}: metadata: a URL is fetched by "cli add-rp" only (which registers the SP in the store); a file names a metadata file beside it or holds the XML`);
  }
  if (!metadata.trimStart().startsWith('<')) {
    const metadataFile = path.resolve(path.dirname(file), metadata);
    try {
      metadataXml = readFileSync(metadataFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`${file}: metadata: cannot read ${metadataFile} (${(err as Error).message})`);
    }
  }
  return { ...result.data, metadataXml, file };
}

export type RelyingPartyFile = ({ protocol: 'oidc' } & OidcClientFile) | ({ protocol: 'saml' } & SamlSpFile);

export function parseRelyingParty(data: unknown, file: string): RelyingPartyFile {
  const protocol = (data as { protocol?: unknown } | null)?.protocol;
  if (protocol === 'oidc') return parseOidcClient(data, file);
  if (protocol === 'saml') return parseSamlSp(data, file);
  throw new ConfigError(`${file}: protocol: must be "oidc" or "saml"`);
}

/** The name a relying party is known by: an OIDC client_id or a SAML SP's id. */
export function relyingPartyId(rp: RelyingPartyFile): string {
  return rp.protocol === 'oidc' ? rp.client_id : rp.id;
}

export function loadRelyingParties(dirs: string[]): RelyingParties {
  const oidc: OidcClientFile[] = [];
  const saml: SamlSpFile[] = [];
  const byId = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
    } catch (err) {
      throw new ConfigError(`${dir}: cannot read relying-party directory (${(err as Error).message})`);
    }
    for (const name of names) {
      const file = path.join(dir, name);
      let data: unknown;
      try {
        data = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new ConfigError(`${file}: not valid JSON (${(err as Error).message})`);
      }
      const rp = parseRelyingParty(data, file);
      const id = relyingPartyId(rp);
      const previous = byId.get(id);
      if (previous) throw new ConfigError(`${file}: ${rp.protocol === 'oidc' ? 'client_id' : 'id'}: "${id}" is already defined in ${previous}`);
      byId.set(id, file);
      if (rp.protocol === 'oidc') oidc.push(rp);
      else saml.push(rp);
    }
  }
  return { oidc, saml };
}
