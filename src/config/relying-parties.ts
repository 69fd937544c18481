// Relying parties are data: one JSON file per OIDC client (or, later, SAML SP) in
// config/relying-parties/ and in IDP_RP_DIR. Files are validated at start-up with
// errors that name the file and the field.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './settings.ts';

const uri = z.url();
const redirectUri = z.url({ protocol: /^https?$|^[a-z][a-z0-9+.-]*$/ });

export const oidcClientSchema = z.strictObject({
  protocol: z.literal('oidc'),
  display_name: z.string().min(1).max(100),
  client_id: z.string().regex(/^[A-Za-z0-9._-]{3,100}$/, 'letters, digits, ".", "_" and "-" only (3-100)'),
  client_secret: z.string().min(32, 'must be at least 32 characters').optional(),
  redirect_uris: z.array(redirectUri).default([]),
  post_logout_redirect_uris: z.array(uri).optional(),
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])).default(['authorization_code']),
  response_types: z.array(z.enum(['code'])).optional(),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'none']).default('client_secret_basic'),
  application_type: z.enum(['web', 'native']).optional(),
  scope: z.string().optional(),
  backchannel_logout_uri: uri.optional(),
  backchannel_logout_session_required: z.boolean().optional(),
  id_token_signed_response_alg: z.enum(['RS256', 'ES256', 'PS256']).optional(),
}).superRefine((c, ctx) => {
  if (c.token_endpoint_auth_method === 'none') {
    if (c.client_secret) ctx.addIssue({ code: 'custom', path: ['client_secret'], message: 'a public client (token_endpoint_auth_method "none") has no secret' });
    if (c.grant_types.includes('client_credentials')) ctx.addIssue({ code: 'custom', path: ['grant_types'], message: 'a public client cannot use client_credentials' });
  } else if (!c.client_secret) {
    ctx.addIssue({ code: 'custom', path: ['client_secret'], message: `required for token_endpoint_auth_method "${c.token_endpoint_auth_method}"` });
  }
  if (c.grant_types.includes('authorization_code') && c.redirect_uris.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['redirect_uris'], message: 'at least one is required for authorization_code' });
  }
  if (!c.grant_types.includes('authorization_code') && c.redirect_uris.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['redirect_uris'], message: 'only used with the authorization_code grant' });
  }
});

export type OidcClientFile = z.output<typeof oidcClientSchema> & { file: string; response_types: Array<'code'> };

export interface RelyingParties {
  oidc: OidcClientFile[];
}

export function parseRelyingParty(data: unknown, file: string): OidcClientFile {
  const protocol = (data as { protocol?: unknown } | null)?.protocol;
  if (protocol !== 'oidc') {
    throw new ConfigError(`${file}: protocol: must be "oidc"${protocol === 'saml' ? ' (SAML service providers are not supported by this version)' : ''}`);
  }
  const result = oidcClientSchema.safeParse(data);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(file)'}: ${i.message}`);
    throw new ConfigError(`${file}: invalid relying party\n${lines.join('\n')}`);
  }
  // A client without the code grant (a service using client_credentials) has no response types.
  const response_types = result.data.response_types ?? (result.data.grant_types.includes('authorization_code') ? ['code' as const] : []);
  return { ...result.data, response_types, file };
}

export function loadRelyingParties(dirs: string[]): RelyingParties {
  const oidc: OidcClientFile[] = [];
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
      const previous = byId.get(rp.client_id);
      if (previous) throw new ConfigError(`${file}: client_id: "${rp.client_id}" is already defined in ${previous}`);
      byId.set(rp.client_id, file);
      oidc.push(rp);
    }
  }
  return { oidc };
}
