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
import { interactionRouter } from '../protocols/oidc/interactions.ts';
import { createProvider } from '../protocols/oidc/provider.ts';
import { LogoutChains } from '../protocols/saml/logout-chain.ts';
import { idpEndpoints, idpMetadata } from '../protocols/saml/metadata.ts';
import { SamlMessages } from '../protocols/saml/responses.ts';
import { samlRouter } from '../protocols/saml/routes.ts';
import { SchemaValidator } from '../protocols/saml/schema-validator.ts';
import { ServiceProviders } from '../protocols/saml/service-providers.ts';
import type { Store } from '../store/index.ts';
import { createServices, type Services } from '../services.ts';
import { BROWSER_COOKIE, browserSecret, csrfToken, csrfValid, ssoCookie } from './cookies.ts';
import { errorHandler } from './errors.ts';
import { opsRouter } from './ops.ts';
import { renderer, VIEWS_DIR } from './render.ts';
import { singleLogout } from './single-logout.ts';

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

export function createIdp(deps: IdpDeps): Idp {
  const { settings, store, logger, clock } = deps;
  const secure = settings.server.publicUrl.startsWith('https:');
  // Key material in use; replaced by applyKeys when keys rotate (README "Key rotation").
  let keys = deps.keyMaterial;
  const decoyKey = deps.keyMaterial.decoyKey;

  const metrics = new Metrics();
  const services = createServices(settings, store, clock);
  const { directory, hasher, audit, answerLimiter, authenticator, sso, policies, credentials } = services;
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
  /** Required actions of an account, or null when it cannot sign in at all. */
  const pendingActions = async (accountId: string) => {
    const account = await directory.get(accountId);
    return account && account.status === 'active' ? credentials.requiredActions(account) : null;
  };

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

  const logout = singleLogout({
    sso, ssoCookie: cookie, audit, chains: logoutChains, render, secure,
    nameOf: (id) => serviceProviders.byId(id)?.displayName ?? deps.relyingParties.oidc.find((c) => c.client_id === id)?.display_name ?? id,
  });

  const buildProvider = (k: KeyMaterial) => createProvider({
    settings,
    store,
    directory,
    clients: deps.relyingParties.oidc,
    jwks: k.jwks,
    cookieKeys: k.cookieKeys,
    ssoOf: (ctx) => ssoOf(ctx as unknown as Context),
    pendingActions,
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
      // Runs from oidc-provider's end_session.success event: clear the cookie while the
      // response is still open, then end the session in the store.
      const c = ctx as unknown as Context;
      const id = cookie.read(c);
      cookie.clear(c);
      if (!id) return;
      const session = await sso.get(id);
      await sso.end(id);
      if (session) await audit.record({ type: 'logout', accountId: session.accountId, client: ctx.oidc.client?.clientId, ip: c.ip, requestId: c.state.requestId as string });
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
    flows, authenticator, credentials, directory, policies, challenge: settings.challenge, sso, ssoCookie: cookie,
    answerLimiter, audit, forgotPassword: settings.forgotPassword, hasher, decoyKey,
    browserSecret: secretOf, render, onSignIn: (outcome) => metrics.signIns.inc({ outcome }),
  };
  const start = flowStarter(flowDeps);
  const routers = [
    opsRouter({ store, metrics, started: deps.started ?? (() => true) }),
    interactionRouter({
      provider,
      ssoOf,
      pendingActions,
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
      directory, sso, ssoCookie: cookie, ssoOf, apps: settings.apps, render,
      signOut: (ctx) => logout.signOut(ctx, { kind: 'page' }),
      requiredActions: (account) => credentials.requiredActions(account),
      beginRequiredActions: (ctx, accountId, pending, resume) => start.requiredActions(ctx, accountId, pending, resume),
      beginSspr: (ctx, accountId, what) => start.sspr(ctx, accountId, what),
    }),
  ];
  routers.push(
    adminRouter({
      importer: services.importer, store,
      csrfValid: (ctx, token) => csrfValid(keys.cookieKeys, ctx.cookies.get(BROWSER_COOKIE, { signed: true }), token),
      administration: services.administration, authenticator, directory, audit, sso, ssoOf, clock, render,
      requiredActions: (account) => credentials.requiredActions(account),
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
