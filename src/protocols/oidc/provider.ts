// The OpenID Provider: oidc-provider configured for this IdP.
// Endpoints live under /oidc (discovery at /.well-known/openid-configuration).
// `sub` is the account's opaque id; login happens in the protocol-neutral flows.
// Discovery advertises exactly what works: response type `code` (query, fragment or
// form_post), client authentication by secret (basic or post) or none with PKCE, RS256
// and ES256 ID tokens, PAR; no implicit or hybrid flows, no JWT client authentication,
// no DPoP, no request objects.
import { Provider, errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { ID_TOKEN_SIGNING_ALGS, OIDC_SCOPES, TOKEN_ENDPOINT_AUTH_METHODS, USER_ONLY_SCOPES, oidcClientFields, oidcClientSchema, oidcUriProblems, type OidcClientFile } from '../../config/relying-parties.ts';
import type { Settings } from '../../config/settings.ts';
import type { Account } from '../../domain/accounts/account.ts';
import type { Directory } from '../../domain/accounts/directory.ts';
import type { Gate } from '../../domain/sessions/gate.ts';
import type { SsoSession } from '../../domain/sessions/sso-sessions.ts';
import { AppError } from '../../domain/errors.ts';
import { StoreUnavailableError, type Store } from '../../store/index.ts';
import type { Database } from '../../store/database/index.ts';
import type { Render } from '../../http/respond.ts';
import { allowFormTargets } from '../../http/form-targets.ts';
import { adapterFactory, withRequestReads } from './adapter.ts';
import { initialAccessTokenUses, LIMITED_USES, limitedUsesPolicy } from './initial-access-tokens.ts';
import { ACR_MFA, ACR_VALUES, acrOf, requestedAcr } from './acr.ts';
import { pairwiseSub } from './subjects.ts';
import { claimsFor, CLAIMS_BY_SCOPE } from './claims.ts';
import { CookieSigner } from '../../http/cookie-signer.ts';

export interface OidcDeps {
  settings: Settings;
  store: Store;
  database: Database;
  directory: Directory;
  clients: OidcClientFile[];
  jwks: { keys: Array<Record<string, unknown>> };
  cookieKeys: string[];
  /** The live SSO session of the browser making this request, if any. */
  ssoOf: (ctx: KoaContextWithOIDC) => Promise<SsoSession | null>;
  /** May the SSO session proceed (protocol-neutral; see domain/sessions/gate.ts). */
  gate: Gate;
  /** Renders a page of ours (errors). */
  renderPage: Render<KoaContextWithOIDC>;
  /** RP-initiated logout: the page before oidc-provider ends its session (form has its xsrf). */
  logoutSource: (ctx: KoaContextWithOIDC, form: string) => Promise<void>;
  /** After oidc-provider ended its session without a post_logout_redirect_uri. */
  afterLogout: (ctx: KoaContextWithOIDC) => Promise<void>;
  onLogout: (ctx: KoaContextWithOIDC) => Promise<void>;
  /** An app was given an authorization response for an account (the access report: what each app received, when). */
  onAuthorized?: (ctx: KoaContextWithOIDC, grant: { accountId: string; clientId: string; scope: string }) => Promise<void>;
  /** A client registered itself over HTTP (RFC 7591). */
  onRegistered?: (ctx: KoaContextWithOIDC, client: { clientId: string; clientName?: string }) => Promise<void>;
  onError: (err: unknown, message: string) => void;
  /** The key of pairwise subjects (subjects.ts): from the deployment's long-lived secret. */
  pairwiseKey: string;
  /** Claim names less the kinds administrators withhold from this app for the account's school (domain/privacy/releases.ts). */
  released?: (appKey: string, schoolCode: string, names: readonly string[]) => Promise<string[]>;
}

/** oidc-provider's limit on request bodies (lib/shared/selective_body.js). */
const BODY_LIMIT = 56 * 1024;
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

function toClientMetadata(c: OidcClientFile): Record<string, unknown> {
  const { protocol: _p, display_name, file: _f, ...metadata } = c;
  return { ...metadata, client_name: display_name };
}

/**
 * oidc-provider's login prompt (prompt=login, max_age, id_token_hint, no session) plus the
 * gate: the IdP's SSO session must be live and of the same account, and nothing may be
 * issued while a required action is pending (prompt=none gets interaction_required).
 * How the interaction then satisfies the prompt is in interactions.ts.
 */
function interactions(deps: OidcDeps) {
  const { Check, base } = interactionPolicy;
  const policy = base();
  const verdicts = new WeakMap<object, ReturnType<Gate>>();
  const verdict = (ctx: KoaContextWithOIDC) => {
    // The account the gate read is the one findAccount then asks for: read once.
    if (!verdicts.has(ctx)) {
      verdicts.set(ctx, deps.ssoOf(ctx).then((sso) => deps.gate(sso)).then((v) => {
        if ('account' in v) accountKnown(ctx, v.account);
        return v;
      }));
    }
    return verdicts.get(ctx)!;
  };
  const login = policy.get('login')!;
  login.checks.add(
    // oidc-provider keeps its own copy of how the user signed in (loginTs, acr, amr): when the
    // SSO session signed in again meanwhile (portal, SAML ForceAuthn, a step-up, a password
    // after a second factor was removed), the interaction brings that copy up to date, so
    // an ID token never repeats an earlier sign-in's acr/amr/auth_time.
    new Check('sso_session', 'the IdP single sign-on session has ended or signed in again', async (ctx) => {
      const v = await verdict(ctx);
      const live = v.reason !== 'no_session' && v.reason !== 'account_inactive';
      const oidcSession = ctx.oidc.session;
      const same = live && v.session && v.session.accountId === oidcSession?.accountId
        && oidcSession.loginTs === Math.floor(v.session.authTime / 1000)
        && oidcSession.acr === acrOf(v.session.amr)
        && JSON.stringify(oidcSession.amr ?? []) === JSON.stringify(v.session.amr);
      return same ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  login.checks.add(
    // acr_values / claims asking for two-step sign-in that this session has not done: the
    // interaction asks the gate (step-up, or the lower class when the account cannot).
    new Check('acr_mfa', 'two-step sign-in was requested', async (ctx) => {
      if (!requestedAcr(ctx.oidc.params ?? {}).mfa || ctx.oidc.session?.acr === ACR_MFA) return Check.NO_NEED_TO_PROMPT;
      // A step-up to run, or an SSO session that has two-step sign-in the OIDC session does not carry yet.
      const v = await deps.gate(await deps.ssoOf(ctx), { mfa: {} });
      return v.reason === 'mfa_required' || v.proceed ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    }),
  );
  login.checks.add(
    new Check('required_actions', 'the account has required actions pending', 'interaction_required', async (ctx) =>
      (await verdict(ctx)).reason === 'required_actions' ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  login.checks.add(
    // The person must be told what this app receives before its first use (privacy.noticeRoles):
    // a page to show (prompt=none: consent_required).
    new Check('app_notice', 'the person has not been told what this app receives', 'consent_required', async (ctx) => {
      const clientId = ctx.oidc.client?.clientId;
      // Off (the default): no second trip through the gate on every authorization.
      if (!clientId || deps.settings.privacy.noticeRoles.length === 0) return Check.NO_NEED_TO_PROMPT;
      const v = await deps.gate(await deps.ssoOf(ctx), { app: { key: `oidc:${clientId}`, name: clientId, receives: [] } });
      return v.reason === 'app_notice' ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    }),
  );
  return policy;
}

/**
 * client_credentials: a service gets only the scopes its file registers (`scope`), never
 * openid or offline_access (they need a user); anything else is invalid_scope. oidc-provider's
 * own handler lets a client without registered scopes ask for any of the provider's; this is
 * that handler without what is not enabled here (DPoP, mTLS, resource indicators, RAR).
 */
async function clientCredentialsGrant(ctx: KoaContextWithOIDC): Promise<void> {
  const { client, params } = ctx.oidc;
  if (!client) throw new errors.InvalidClient('client authentication failed');
  const allowed = new Set((client.scope ?? '').split(' ').filter((scope) => !USER_ONLY_SCOPES.has(scope)));
  const requested = [...new Set(typeof params?.scope === 'string' ? params.scope.split(' ').filter(Boolean) : [])];
  const refused = requested.find((scope) => !allowed.has(scope));
  if (refused !== undefined) throw new errors.InvalidScope('requested scope is not allowed', refused);
  const token = new ctx.oidc.provider.ClientCredentials({ client, scope: requested.join(' ') || undefined });
  ctx.oidc.entity('ClientCredentials', token);
  const value = await token.save();
  ctx.body = { access_token: value, expires_in: token.expiration, token_type: token.tokenType, scope: token.scope || undefined };
}

/**
 * A client registered over HTTP (RFC 7591) or updated (RFC 7592) is held to the rules of a
 * relying-party file (config/relying-parties.ts): the same schema, so the same redirect URIs,
 * grants, authentication methods, scopes and algorithms. oidc-provider calls this for every
 * client; files were checked at start-up, so only registration and update are checked here.
 */
function validateRegistered(ctx: KoaContextWithOIDC | undefined, key: string, _value: unknown, metadata: Record<string, unknown>): void {
  const route = ctx?.oidc?.route;
  if (key !== 'software_id' || (route !== 'registration' && route !== 'client_update')) return;
  const file: Record<string, unknown> = { protocol: 'oidc' };
  for (const field of Object.keys(oidcClientFields.shape)) {
    const v = metadata[field];
    if (v === undefined || (Array.isArray(v) && v.length === 0 && field !== 'redirect_uris')) continue;
    file[field] = v;
  }
  // Metadata oidc-provider knows but nothing here uses: refused before anything is fetched.
  for (const [field, why] of UNUSED_METADATA) {
    if (metadata[field] !== undefined) throw new errors.InvalidClientMetadata(`${field}: ${why}`);
  }
  const result = oidcClientSchema.safeParse(file);
  const issue = result.success ? oidcUriProblems(result.data)[0] : (({ path, message }) => ({ path: path.join('.') || 'metadata', message }))(result.error.issues[0]!);
  if (issue) {
    const where = issue.path;
    if (where.startsWith('redirect_uris')) {
      // InvalidRedirectUri has a fixed description ("did not match ..."), which says nothing here.
      const error = new errors.InvalidRedirectUri();
      error.error_description = `${where}: ${issue.message}`;
      throw error;
    }
    throw new errors.InvalidClientMetadata(`${where}: ${issue.message}`);
  }
}

const UNUSED_METADATA: Array<[string, string]> = [
  ['jwks_uri', 'not used here (no private_key_jwt, request objects or encrypted tokens): leave it out'],
  ['jwks', 'not used here (no private_key_jwt, request objects or encrypted tokens): leave it out'],
  ['sector_identifier_uri', 'not used here: a pairwise app\'s sector is the one host of its redirect_uris, so nothing is fetched from it'],
  ['request_uris', 'not used here: request objects are not supported'],
];

const accountReads = new WeakMap<object, Map<string, Promise<Account | null>>>();
/** An account this request has read already (the gate's), for accountOnce. */
function accountKnown(ctx: object, account: Account): void {
  let reads = accountReads.get(ctx);
  if (!reads) accountReads.set(ctx, (reads = new Map()));
  if (!reads.has(account.id)) reads.set(account.id, Promise.resolve(account));
}

function accountOnce(ctx: object | undefined, id: string, read: () => Promise<Account | null>): Promise<Account | null> {
  if (!ctx) return read();
  let reads = accountReads.get(ctx);
  if (!reads) accountReads.set(ctx, (reads = new Map()));
  let found = reads.get(id);
  if (!found) reads.set(id, (found = read()));
  return found;
}

export function createProvider(deps: OidcDeps): Provider {
  const { settings, directory } = deps;
  const secure = settings.server.publicUrl.startsWith('https:');
  const ownClient = async (ctx: KoaContextWithOIDC, client: { clientId: string }, token: { clientId?: string | undefined }) =>
    token.clientId === client.clientId;

  /** The SSO session's maximum age, which oidc-provider's session never outlives. */
  const ssoSeconds = Math.round(settings.sso.absoluteHours * 3600);
  const configuration: Configuration = {
    adapter: adapterFactory(deps.store, deps.database),
    clients: deps.clients.map(toClientMetadata) as unknown as Configuration['clients'],
    jwks: deps.jwks as Configuration['jwks'],
    cookies: {
      keys: new CookieSigner(deps.cookieKeys) as unknown as string[],
      long: { httpOnly: true, sameSite: 'lax', secure, signed: true },
      short: { httpOnly: true, sameSite: 'lax', secure, signed: true },
    },
    routes: {
      authorization: '/oidc/auth',
      end_session: '/oidc/session/end',
      introspection: '/oidc/token/introspection',
      jwks: '/oidc/jwks',
      revocation: '/oidc/token/revocation',
      token: '/oidc/token',
      userinfo: '/oidc/me',
      pushed_authorization_request: '/oidc/request',
      backchannel_authentication: '/oidc/backchannel',
      code_verification: '/oidc/device',
      device_authorization: '/oidc/device/auth',
      registration: '/oidc/reg',
      challenge: '/oidc/challenge',
      credential: '/oidc/credential',
    },
    scopes: [...OIDC_SCOPES],
    // Every ID token says how the user signed in (amr: ["pwd"], ["pwd","otp","mfa"], ...); auth_time whenever max_age
    // or prompt=login was asked; sid for clients with back-channel logout.
    // acr: what the sign-in met (acr.ts), asked for by acr_values or the claims parameter.
    claims: { openid: ['sub', 'amr', 'acr'], ...CLAIMS_BY_SCOPE, auth_time: null, sid: null },
    acrValues: [...ACR_VALUES],
    // Pairwise subjects for the apps that ask (subject_type "pairwise"): a different sub at each app.
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: async (_ctx, accountId, client) => pairwiseSub(deps.pairwiseKey, String(client.sectorIdentifier), accountId),
    interactions: {
      policy: interactions(deps),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    async findAccount(ctx, sub) {
      // oidc-provider asks several times in one request (the interaction's checks, then the
      // code or token): the account is read once per request.
      const account: Account | null = await accountOnce(ctx, sub, () => directory.get(sub));
      if (!account || account.status !== 'active') return undefined;
      // Only what the client may receive, however it asks (scopes, or the claims parameter).
      const clientScope = (ctx?.oidc?.client as { scope?: string } | undefined)?.scope;
      const clientId = (ctx?.oidc?.client as { clientId?: string } | undefined)?.clientId;
      return {
        accountId: account.id,
        claims: async () => {
          const claims = claimsFor(account, clientScope);
          if (!deps.released || !clientId) return claims;
          // And only what the ministry and the school let this app have of their pupils.
          const kept = new Set(await deps.released(`oidc:${clientId}`, account.school.code, Object.keys(claims)));
          return Object.fromEntries(Object.entries(claims).filter(([name]) => name === 'sub' || kept.has(name))) as typeof claims;
        },
      };
    },
    features: {
      devInteractions: { enabled: false },
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: true },
      // The claims parameter (OIDC Core 5.5): an essential id_token.acr is how a relying party insists on two-step sign-in.
      claimsParameter: { enabled: true },
      introspection: { enabled: true, allowedPolicy: ownClient },
      revocation: { enabled: true, allowedPolicy: ownClient },
      clientCredentials: { enabled: true },
      backchannelLogout: { enabled: true },
      // Dynamic client registration (RFC 7591) and management (RFC 7592): open with the demo
      // accounts (a developer's own machine), else only with an initial access token
      // (`npm run cli -- initial-access-token`). Registered clients persist in the store.
      registration: {
        enabled: true,
        initialAccessToken: !settings.seed.demo,
        issueRegistrationAccessToken: true,
        // Each initial access token registers as many apps as it was made for (initial-access-tokens.ts).
        ...(settings.seed.demo ? {} : { policies: { [LIMITED_USES]: limitedUsesPolicy(deps.database) as never } }),
      },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: deps.logoutSource,
        postLogoutSuccessSource: deps.afterLogout,
      },
    },
    // RFC 7591 software_id/software_version are kept; checking software_id runs the file rules (above).
    extraClientMetadata: { properties: ['software_id', 'software_version'], validator: validateRegistered as never },
    responseTypes: ['code'],
    clientAuthMethods: [...TOKEN_ENDPOINT_AUTH_METHODS],
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: settings.oidc.accessTokenSeconds,
      AuthorizationCode: settings.oidc.authorizationCodeSeconds,
      ClientCredentials: settings.oidc.clientCredentialsSeconds,
      IdToken: settings.oidc.idTokenSeconds,
      RefreshToken: Math.round(settings.oidc.refreshTokenDays * 86400),
      Grant: Math.round(settings.oidc.refreshTokenDays * 86400),
      // As long as a sign-in flow may last (flow.maxMinutes) and 5 minutes more: a stranger's
      // /oidc/auth costs the store one record for that long, no more.
      Interaction: settings.flow.maxMinutes * 60 + 300,
      // oidc-provider's session never outlives the SSO session's maximum age, counted from
      // the sign-in it carries (loginTs: the SSO session's authTime, see the sso_session
      // check above, which also ends it earlier when the SSO session ends). Fixed at sign-in,
      // not moved on by every request: an unchanged session is not written again (adapter.ts).
      Session: (_ctx, session) => (typeof session.loginTs === 'number' ? Math.max(1, session.loginTs + ssoSeconds - Math.floor(Date.now() / 1000)) : ssoSeconds),
    },
    renderError: async (ctx, out, error) => {
      // oidc-provider's own errors carry their status; anything else (the store failing) is ours.
      const unavailable = error instanceof StoreUnavailableError;
      const status = unavailable ? 503 : ((error as { statusCode?: number }).statusCode ?? 500);
      if (status >= 500) deps.onError(error, 'OIDC request failed');
      const page = status >= 500 ? { code: 'SSPR 5019', message: { id: 'error.SSPR 5019' } } : { code: 'SSPR 5120', message: out.error_description ?? out.error };
      await deps.renderPage(ctx, 'error', { ...page, oidcError: out.error }, status);
    },
    clientBasedCORS: (_ctx, origin, client) =>
      client.redirectUris?.some((u) => new URL(u).origin === origin) ?? false,
    // What the signing keys (config/key-material.ts) can do, and all that client files may choose.
    enabledJWA: { idTokenSigningAlgValues: [...ID_TOKEN_SIGNING_ALGS] },
    // oidc-provider refuses outgoing requests (back-channel logout) to special-use
    // addresses (SSRF protection). An IdP that itself runs on loopback — `npm start`,
    // integration tests — may call relying parties on loopback; nothing else is exempt.
    fetch: (url, options) => {
      const target = new URL(typeof url === 'string' || url instanceof URL ? url : url.url);
      if (LOOPBACK.test(new URL(settings.server.publicUrl).hostname) && LOOPBACK.test(target.hostname)) {
        const { dispatcher: _ssrfGuard, ...rest } = options as RequestInit & { dispatcher?: unknown };
        return globalThis.fetch(url, rest);
      }
      return globalThis.fetch(url, options);
    },
  };

  const provider = new Provider(settings.server.publicUrl, configuration);
  provider.proxy = settings.server.trustProxy;
  provider.registerGrantType('client_credentials', clientCredentialsGrant, 'scope');
  provider.use((_ctx, next) => withRequestReads(next));
  // RFC 6749 5.2: a grant type the client is not registered for is unauthorized_client
  // (oidc-provider answers invalid_request).
  provider.use(async (ctx, next) => {
    await next();
    const { oidc } = ctx as KoaContextWithOIDC;
    const body = ctx.body as { error?: string } | undefined;
    const grantType = oidc?.params?.grant_type;
    // oidc-provider says "failed to parse the request body" for a body over its 56 KiB limit
    // and for malformed JSON alike: say which.
    if (body?.error === 'invalid_request' && (body as { error_description?: string }).error_description === 'failed to parse the request body') {
      const length = Number(ctx.get('content-length'));
      (body as { error_description?: string }).error_description = length > BODY_LIMIT
        ? `the request body is over ${BODY_LIMIT / 1024} KiB`
        : !ctx.get('content-length') ? `the request body is over ${BODY_LIMIT / 1024} KiB or malformed`
          : ctx.is('application/json') ? 'the request body is not valid JSON' : 'the request body could not be read';
    }
    if (oidc?.route === 'token' && body?.error === 'invalid_request' && oidc.client && typeof grantType === 'string' && !oidc.client.grantTypeAllowed(grantType)) {
      body.error = 'unauthorized_client';
    }
  });
  provider.use(initialAccessTokenUses(deps.database) as never);
  // A page of oidc-provider's (form_post, the logout question) for a client registered at
  // run time leads to that client's registered URIs: CSP form-action (http/form-targets.ts).
  // Only a page has forms: a redirect or a JSON answer (the code, the tokens) is left as it is.
  provider.use(async (ctx, next) => {
    await next();
    const client = (ctx as KoaContextWithOIDC).oidc?.client;
    if (client && ctx.response.is('html')) allowFormTargets(ctx.res, [...(client.redirectUris ?? []), ...(client.postLogoutRedirectUris ?? [])]);
  });
  provider.on('backchannel.error', (_ctx: unknown, err: unknown, client: { clientId: string }) => {
    deps.onError(err, `back-channel logout to ${client?.clientId} failed`);
  });
  provider.on('registration_create.success', (ctx: KoaContextWithOIDC, client: { clientId: string; clientName?: string }) => {
    deps.onRegistered?.(ctx, client).catch((err: unknown) => deps.onError(err, 'auditing a client registration failed'));
  });
  provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
    const accountId = ctx.oidc.session?.accountId;
    const clientId = ctx.oidc.client?.clientId;
    if (!accountId || !clientId) return;
    // The scopes asked that the client may have (what its claims come from).
    const allowed = new Set(String((ctx.oidc.client as { scope?: string }).scope ?? '').split(' ').filter(Boolean));
    const scope = String(ctx.oidc.params?.scope ?? '').split(' ').filter((s) => s && (allowed.size === 0 || allowed.has(s))).join(' ');
    deps.onAuthorized?.(ctx, { accountId, clientId, scope }).catch((err: unknown) => deps.onError(err, 'auditing an authorization failed'));
  });
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    deps.onLogout(ctx).catch((err: unknown) => deps.onError(err, 'ending the SSO session after OIDC logout failed'));
  });
  return provider;
}
