// Assembles the IdP: one koa app with the flows, the portal, the OIDC provider and the
// operational endpoints. Everything stateful is passed in (store, clock, logger), so
// tests and `npm start` build the same thing.
import bodyParser from '@koa/bodyparser';
import Koa, { type Context, type Next } from 'koa';
import helmet from 'koa-helmet';
import serve from 'koa-static';
import path from 'node:path';
import type { KeyMaterial } from '../config/key-material.ts';
import type { RelyingParties } from '../config/relying-parties.ts';
import type { Settings } from '../config/settings.ts';
import type { Clock } from '../domain/clock.ts';
import { AppError } from '../domain/errors.ts';
import { newId } from '../domain/ids.ts';
import { Flows } from '../flows/flow.ts';
import { flowRouter, flowStarter } from '../flows/router.ts';
import type { FlowDeps } from '../flows/engine.ts';
import type { Logger } from '../observability/logger.ts';
import { requestScope } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import { portalRouter } from '../portal/routes.ts';
import { adminRouter } from '../admin/routes.ts';
import { revokeAccountGrants } from '../protocols/oidc/adapter.ts';
import { interactionRouter } from '../protocols/oidc/interactions.ts';
import { oidcBackchannelLogout } from '../protocols/oidc/backchannel-logout.ts';
import { createProvider } from '../protocols/oidc/provider.ts';
import { samlBackchannelLogout } from '../protocols/saml/backchannel-logout.ts';
import { LogoutChains } from '../protocols/saml/logout-chain.ts';
import { idpEndpoints, idpMetadata } from '../protocols/saml/metadata.ts';
import { SamlMessages } from '../protocols/saml/responses.ts';
import { samlRouter } from '../protocols/saml/routes/index.ts';
import { SchemaValidator } from '../protocols/saml/schema-validator.ts';
import { ServiceProviders } from '../protocols/saml/service-providers.ts';
import type { Store } from '../store/index.ts';
import { createServices, type Services } from '../services.ts';
import { BROWSER_COOKIE, browserSecret, csrfToken, csrfValid, ssoCookie } from './cookies.ts';
import { errorHandler } from './errors.ts';
import { opsRouter } from './ops.ts';
import { renderer, VIEWS_DIR } from './render.ts';
import { singleLogout } from './single-logout.ts';
import { backchannelSignOut } from './backchannel-signout.ts';
import type { TellRelyingParties } from '../domain/sessions/sign-out-report.ts';

export interface IdpDeps {
  settings: Settings;
  store: Store;
  logger: Logger;
  clock: Clock;
  keyMaterial: KeyMaterial;
  relyingParties: RelyingParties;
  /** Whether start-up work (seeding, warming) is done; /readyz is 503 until then. Default: done. */
  started?: () => boolean;
}

export interface Idp extends Services {
  app: Koa;
  flows: Flows;
  metrics: Metrics;
  serviceProviders: ServiceProviders;
  samlMessages: SamlMessages;
  /** Starts what would otherwise start on first use (the schema-validation worker). */
  warm(): Promise<void>;
  /** Releases what the app holds besides the store (the schema-validation worker). */
  close(): Promise<void>;
  /** Uses rotated key material from now on, without restart (see watchKeyMaterial). */
  applyKeys(keyMaterial: KeyMaterial): void;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** Origins a form of ours may lead to (CSP form-action also applies to redirects). */
function formTargets(rps: RelyingParties, sps: ServiceProviders): string[] {
  const urls = rps.oidc.flatMap((c) => [...c.redirect_uris, ...(c.post_logout_redirect_uris ?? [])]);
  for (const sp of sps.all()) urls.push(...sp.acs.map((e) => e.location), ...sp.slo.flatMap((e) => [e.location, e.responseLocation ?? e.location]));
  const origins = new Set<string>();
  for (const u of urls) {
    const { protocol, origin } = new URL(u);
    if (protocol === 'http:' || protocol === 'https:') origins.add(origin);
  }
  return [...origins];
}

/** SAML bindings POST here from other sites: authenticated by SAML, not by our CSRF token. */
const CROSS_SITE_POSTS = new Set(['/saml/sso', '/saml/slo']);

/** Answered over plain http even when the public URL is https (load balancers, scrapers). */
const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * OIDC Core 3.1.2.1 and RP-Initiated Logout 1.0 section 2: the authorization and end-session
 * endpoints accept POST (form-encoded). oidc-provider serves POST there only with
 * SameSite=None session cookies; this IdP's cookies are SameSite=Lax, which a cross-site POST
 * does not carry, so a POST is answered 303 to the same endpoint with the same parameters in
 * the query: the browser's GET carries the cookies, and oidc-provider checks it as any GET.
 */
const POST_AS_GET = new Set(['/oidc/auth', '/oidc/session/end']);
/** Within what a URL may carry (Node reads request heads up to 16 KiB). */
const POST_AS_GET_MAX_BYTES = 8 * 1024;

/** The form body as a query string (parameter order and repetitions kept). */
async function formQuery(ctx: Context): Promise<string> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new AppError('SSPR 5120', `POST ${ctx.path} without a form body`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > POST_AS_GET_MAX_BYTES) throw new AppError('SSPR 5120', `POST ${ctx.path} form over ${POST_AS_GET_MAX_BYTES} bytes`);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8')).toString();
}

export function createIdp(deps: IdpDeps): Idp {
  const { settings, store, logger, clock } = deps;
  const secure = settings.server.publicUrl.startsWith('https:');
  // Key material in use; replaced by applyKeys when keys rotate (README "Key rotation").
  let keys = deps.keyMaterial;
  const decoyKey = deps.keyMaterial.decoyKey;

  const metrics = new Metrics();
  // Sessions ended without a browser are told to their apps by the protocols (set below).
  let tellRelyingParties: TellRelyingParties | undefined;
  const services = createServices(settings, store, clock, {
    tellRelyingParties: (request) => tellRelyingParties!(request),
    revokeGrants: (accountId) => revokeAccountGrants(store, accountId),
  });
  const { directory, hasher, audit, answerLimiter, authenticator, sso, gate, policies, credentials } = services;
  const flows = new Flows(store, clock, settings.flow.idleSeconds * 1000);
  const serviceProviders = new ServiceProviders(deps.relyingParties.saml, settings.saml.relayStateMaxBytes);
  const samlEndpoints = idpEndpoints(settings.server.publicUrl, settings.saml.entityId);
  // Served metadata lists every published certificate; samlify (which signs) is given the current one only.
  const metadataOf = (certificates: string[]) => idpMetadata(samlEndpoints, certificates, { name: 'MIMS Portal', url: settings.server.publicUrl });
  let samlMetadata = metadataOf(keys.samlCertificates.map((c) => c.certificatePem));
  const samlMessages = new SamlMessages(samlEndpoints, keys.saml, metadataOf([keys.saml.certificatePem]), settings.saml);
  const schemaValidator = new SchemaValidator();
  const logoutChains = new LogoutChains(store, 10 * 60_000);
  const cookie = ssoCookie(secure);
  const secretOf = browserSecret(secure);
  const render = renderer(
    (ctx) => ({
      requestId: ctx.state.requestId,
      title: 'MIMS Portal',
      idleSeconds: null,
    }),
    (ctx) => ({ csrf: () => csrfToken(keys.cookieKeys[0]!, secretOf(ctx)) }),
    process.env.NODE_ENV !== 'development',
  );

  /** The live SSO session of this browser; each use counts as activity. */
  const ssoOf = async (ctx: Context) => {
    const session = await sso.get(cookie.read(ctx));
    if (session) await sso.touch(session);
    return session;
  };

  const nameOf = (id: string) => serviceProviders.byId(id)?.displayName ?? deps.relyingParties.oidc.find((c) => c.client_id === id)?.display_name ?? id;
  const logout = singleLogout({ sso, ssoCookie: cookie, audit, chains: logoutChains, render, secure, nameOf });

  const buildProvider = (k: KeyMaterial) => createProvider({
    settings,
    store,
    directory,
    clients: deps.relyingParties.oidc,
    jwks: k.jwks,
    cookieKeys: k.cookieKeys,
    ssoOf: (ctx) => ssoOf(ctx as unknown as Context),
    gate,
    // oidc-provider's context is its own: the request id comes from the request's scope.
    renderPage: (ctx, view, data, status) => {
      const c = ctx as unknown as Context;
      c.state.requestId ??= requestScope.getStore()?.requestId;
      return render(c, view, { reference: c.state.requestId, ...data }, status);
    },
    logoutSource: logout.logoutSource,
    afterLogout: logout.afterOidcLogout,
    onError: (err, message) => logger.error({ err }, message),
    onLogout: async (ctx) => {
      // Runs from oidc-provider's end_session.success event, after its own session ended.
      // Our confirmation (/logout/confirm) has normally ended the SSO session already; this
      // ends it when oidc-provider's confirmation was reached directly. oidc-provider also
      // ends its session when a sign-in changes account (the earlier account's SSO session
      // had ended): the new account's SSO session is not this logout's to end. (The cookie
      // is left: the response may be on its way, and an ended session's id is worth nothing.)
      const c = ctx as unknown as Context;
      const session = await sso.get(cookie.read(c));
      if (!session || session.accountId !== ctx.oidc.session?.accountId) return;
      await sso.end(session.id);
      await audit.record({ type: 'logout', accountId: session.accountId, client: ctx.oidc.client?.clientId, ip: c.ip, requestId: c.state.requestId as string });
    },
  });
  // --- key rotation: oidc-provider takes its keys at construction, so a rotation builds a
  // new Provider; the koa mount and the interaction router reach the one in use through
  // `provider` (a stable indirection). Everything lives in the store, none in the Provider.
  let currentProvider = buildProvider(keys);
  let handleOidc = currentProvider.callback();
  const provider = new Proxy({} as typeof currentProvider, {
    get(_target, property) {
      const value: unknown = Reflect.get(currentProvider, property, currentProvider);
      // Methods are bound to the Provider in use; classes (provider.Grant, ...) are returned as they are.
      return typeof value === 'function' && !('prototype' in value) ? (value as (...a: unknown[]) => unknown).bind(currentProvider) : value;
    },
  });
  let keysVersion = JSON.stringify([keys.jwks, keys.cookieKeys, keys.samlCertificates]);
  metrics.setKeys(keys.keys);
  const applyKeys = (next: KeyMaterial) => {
    const version = JSON.stringify([next.jwks, next.cookieKeys, next.samlCertificates]);
    metrics.setKeys(next.keys);
    if (version === keysVersion) return;
    // Everything that can fail first: on failure the keys in use stay, all of them.
    const built = buildProvider(next);
    const handle = built.callback();
    const metadata = metadataOf(next.samlCertificates.map((c) => c.certificatePem));
    samlMessages.rekey(next.saml, metadataOf([next.saml.certificatePem]));
    samlMetadata = metadata;
    keys = next;
    keysVersion = version;
    app.keys = next.cookieKeys;
    currentProvider = built;
    handleOidc = handle;
    logger.info({ keys: next.keys.map((k) => `${k.kind}:${k.id}:${k.life.state}`) }, 'key material changed: now in use');
  };
  // --- end key rotation
  tellRelyingParties = backchannelSignOut({
    oidc: oidcBackchannelLogout({ provider, sso, ssoOf: (ctx) => sso.get(cookie.read(ctx as unknown as Context)), onError: (err, message) => logger.error({ err }, message) }),
    saml: samlBackchannelLogout({ settings, store, clock, sps: serviceProviders, messages: samlMessages, schema: schemaValidator, endpoints: samlEndpoints, onRefusal: (code) => metrics.samlRefusals.inc({ code }) }),
    audit, logger, nameOf,
  });

  const app = new Koa({ proxy: settings.server.trustProxy, keys: keys.cookieKeys });

  // Request id, log line and metrics for every request.
  app.use(async (ctx: Context, next: Next) => {
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : newId(12);
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    await requestScope.run({ requestId }, async () => {
      try {
        await next();
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? routeLabel(ctx.path);
        metrics.httpRequests.inc({ route, method: ctx.method, status: String(ctx.status) });
        metrics.httpDuration.observe({ route, method: ctx.method }, seconds);
        logger.info({ method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 1000), ip: ctx.ip }, 'request');
      }
    });
  });

  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          frameAncestors: ["'none'"],
          formAction: ["'self'", ...formTargets(deps.relyingParties, serviceProviders)],
        },
      },
      strictTransportSecurity: secure,
      referrerPolicy: { policy: 'no-referrer' },
      crossOriginEmbedderPolicy: false,
    }),
  );

  app.use(errorHandler(logger, metrics, render));

  // With an https public URL, a request that did not arrive over https (no X-Forwarded-Proto
  // from the proxy, or server.trustProxy off) gets a clear 421 rather than secure cookies
  // failing deep inside; health checks and metrics still answer over plain http.
  if (secure) {
    app.use(async (ctx, next) => {
      if (ctx.protocol !== 'https' && !OPS_PATHS.has(ctx.path)) {
        throw new AppError('SSPR 5105', `request over ${ctx.protocol} while server.publicUrl is https: the proxy must send X-Forwarded-Proto and server.trustProxy (IDP_TRUST_PROXY) be true`);
      }
      return next();
    });
  }

  const staticFiles = serve(path.join(VIEWS_DIR, 'static'), { maxage: 3_600_000, gzip: false, brotli: false });
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/static/')) return next();
    const original = ctx.path;
    ctx.path = ctx.path.slice('/static'.length);
    try {
      await staticFiles(ctx, async () => {});
    } finally {
      ctx.path = original;
    }
    if (ctx.body === undefined) throw new AppError('SSPR 5404');
  });

  // oidc-provider handles its own routes, bodies and errors.
  app.use(async (ctx, next) => {
    if (ctx.method === 'POST' && POST_AS_GET.has(ctx.path)) {
      ctx.status = 303;
      ctx.redirect(`${ctx.path}?${await formQuery(ctx)}`);
      return;
    }
    if (ctx.path.startsWith('/oidc/') || ctx.path.startsWith('/.well-known/')) {
      ctx.respond = false;
      await handleOidc(ctx.req, ctx.res);
      ctx.status = ctx.res.statusCode;
      return;
    }
    return next();
  });

  app.use(bodyParser({ enableTypes: ['form', 'json'], formLimit: '64kb', jsonLimit: '64kb', encoding: 'utf-8' }));

  // CSRF: every state-changing request of ours carries the token of this browser.
  app.use(async (ctx, next) => {
    // Multipart uploads are parsed (and their token checked) by the route that accepts them.
    if (ctx.method === 'POST' && !CROSS_SITE_POSTS.has(ctx.path) && !(ctx.path === '/admin/import/preview' && ctx.is('multipart/form-data'))) {
      const secret = ctx.cookies.get(BROWSER_COOKIE, { signed: true });
      const token = (ctx.request.body as Record<string, unknown> | undefined)?._csrf;
      if (!csrfValid(keys.cookieKeys, secret, token)) throw new AppError('SSPR 5104', 'CSRF token missing or invalid');
    }
    return next();
  });

  const flowDeps: FlowDeps = {
    flows, authenticator, credentials, directory, policies, challenge: settings.challenge, sso, ssoCookie: cookie, clock,
    answerLimiter, audit, forgotPassword: settings.forgotPassword, hasher, decoyKey,
    browserSecret: secretOf, render, onSignIn: (outcome) => metrics.signIns.inc({ outcome }),
  };
  const start = flowStarter(flowDeps);
  const routers = [
    opsRouter({ store, metrics, started: deps.started ?? (() => true) }),
    interactionRouter({
      provider,
      ssoOf,
      gate,
      clock,
      beginSignIn: (ctx, resume) => start.signIn(ctx, resume),
      recordClient: (session, clientId) => sso.oidcParticipant(session, clientId),
      beginRequiredActions: (ctx, accountId, pending, resume) => start.requiredActions(ctx, accountId, pending, resume),
    }),
    flowRouter(flowDeps),
    samlRouter({
      settings, store, clock, directory, sso, audit, sps: serviceProviders, messages: samlMessages, schema: schemaValidator,
      endpoints: samlEndpoints, chains: logoutChains,
      get metadataXml() { return samlMetadata; },
      get certificatePem() { return keys.saml.certificatePem; },
      nextCertificatePem: () => keys.samlCertificates.find((c) => c.state === 'next')?.certificatePem,
      ssoOf, requiredActions: (account) => credentials.requiredActions(account), browserSecret: secretOf,
      beginSignIn: (ctx, resume) => start.signIn(ctx, resume),
      beginRequiredActions: (ctx, accountId, pending, resume) => start.requiredActions(ctx, accountId, pending, resume),
      signOut: logout.signOut,
      signedOutPage: logout.signedOutPage,
      render,
      onRefusal: (code) => metrics.samlRefusals.inc({ code }),
    }),
    logout.router,
    portalRouter({
      gate, sso, ssoCookie: cookie, ssoOf, apps: settings.apps, render,
      signOut: (ctx) => logout.signOut(ctx, { kind: 'page' }),
      beginRequiredActions: (ctx, accountId, pending, resume) => start.requiredActions(ctx, accountId, pending, resume),
      beginSspr: (ctx, accountId, what) => start.sspr(ctx, accountId, what),
    }),
  ];
  routers.push(
    adminRouter({
      importer: services.importer, store,
      csrfValid: (ctx, token) => csrfValid(keys.cookieKeys, ctx.cookies.get(BROWSER_COOKIE, { signed: true }), token),
      administration: services.administration, authenticator, directory, audit, sso, ssoCookie: cookie, ssoOf, gate, clock, render,
      beginRequiredActions: (ctx, accountId, pending, resume) => start.requiredActions(ctx, accountId, pending, resume),
      recentAuthMs: settings.admin.recentAuthMinutes * 60_000, pageSize: settings.admin.pageSize,
    }),
  );
  for (const router of routers) app.use(router.routes()).use(router.allowedMethods());

  return { app, ...services, flows, metrics, serviceProviders, samlMessages, warm: () => schemaValidator.warm(), close: () => schemaValidator.close(), applyKeys };
}

function routeLabel(p: string): string {
  if (p.startsWith('/oidc/') || p.startsWith('/.well-known/')) return p.replace(/\/[A-Za-z0-9_-]{16,}(?=\/|$)/g, '/:id');
  if (p.startsWith('/static/')) return '/static';
  return 'unmatched';
}
