// Assembles the IdP: one koa app with the flows, the portal, the OIDC provider and the
// operational endpoints. Everything stateful is passed in (store, clock, logger), so
// tests and `npm start` build the same thing.
import type { SsoSession } from '../domain/sessions/sso-sessions.ts';
import { pairwiseKey, subjectFor } from '../protocols/oidc/subjects.ts';
import { appReleases, releasableApps } from './app-releases.ts';
import { createHmac } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Admission } from '../domain/security/admission.ts';
import Koa, { type Context } from 'koa';
import type { KeyMaterial } from '../config/key-material.ts';
import type { RelyingParties } from '../config/relying-parties.ts';
import type { Settings } from '../config/settings.ts';
import type { Clock } from '../domain/clock.ts';
import { Flows } from '../flows/flow.ts';
import { flowRouter } from '../flows/http.ts';
import { FLOW_KINDS } from '../flows/kinds.ts';
import { FlowMachine } from '../flows/machine.ts';
import { flowStarts } from '../flows/start.ts';
import type { Refusal } from '../domain/sessions/gate.ts';
import type { Resume } from '../domain/sessions/resume.ts';
import { formatWhen, LANGUAGES, LANGUAGE_INFO, translator } from '../messages/catalogue.ts';
import { requestScope, type Logger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import { portalRouter } from '../portal/routes.ts';
import { adminRouter } from '../admin/routes.ts';
import { revokeAccountGrants } from '../protocols/oidc/adapter.ts';
import { interactionRouter } from '../protocols/oidc/interactions.ts';
import { oidcBackchannelLogout } from '../protocols/oidc/backchannel-logout.ts';
import { createProvider } from '../protocols/oidc/provider.ts';
import { samlBackchannelLogout } from '../protocols/saml/backchannel-logout.ts';
import { LogoutChains } from '../protocols/saml/logout-chain.ts';
import { PendingSignIns } from '../protocols/saml/pending.ts';
import { idpEndpoints, idpMetadata } from '../protocols/saml/metadata.ts';
import { SamlMessages } from '../protocols/saml/responses.ts';
import { samlRouter } from '../protocols/saml/routes/index.ts';
import { SchemaValidator } from '../protocols/saml/schema-validator.ts';
import { ServiceProviders } from '../protocols/saml/service-providers.ts';
import type { Store } from '../store/index.ts';
import { createServices, type Services } from '../services.ts';
import { BROWSER_COOKIE, browserSecret, CsrfTokens, deviceCookie, ssoCookie } from './cookies.ts';
import { DeviceCookies } from '../domain/security/devices.ts';
import { errorHandler } from './errors.ts';
import { opsRouter } from './ops.ts';
import { renderer } from './render.ts';
import { questionText } from '../messages/questions.ts';
import { languageOf, languageRouter, rememberUiLocales, returnPathOf } from './language.ts';
import { ownForms } from './forms.ts';
import { oidcMount } from './oidc-mount.ts';
import { scimMount } from '../protocols/scim/routes.ts';
import { ScimService } from '../protocols/scim/service.ts';
import { storeExclusive } from '../protocols/scim/lock.ts';
import { requestLog } from './request-log.ts';
import { httpsOnly, securityHeaders, strangerGate } from './security.ts';
import { StrangerBudget } from '../domain/security/strangers.ts';
import { staticFiles } from './static-files.ts';
import { singleLogout } from './single-logout.ts';
import { backchannelSignOut } from './backchannel-signout.ts';
import { devRouter } from './dev-page.ts';
import type { Database } from '../store/database/index.ts';
import type { TellRelyingParties } from '../domain/sessions/sign-out-report.ts';
import { CookieSigner } from '../http/cookie-signer.ts';
import { createMail, type Mail } from '../mail/index.ts';
import { maskAddress } from '../domain/recovery/recovery-email.ts';

export interface IdpDeps {
  settings: Settings;
  /** What may be lost: sessions, flows, counters, artefacts (Redis, or in process). */
  store: Store;
  /** What may not: the directory (PostgreSQL, or embedded). */
  database: Database;
  logger: Logger;
  clock: Clock;
  keyMaterial: KeyMaterial;
  relyingParties: RelyingParties;
  /** Whether start-up work (seeding, warming) is done; /readyz is 503 until then. Default: done. */
  started?: () => boolean;
  /** Which worker process this is (server.workers > 1), 0 alone; /healthz says it. */
  worker?: number;
}

export interface Idp extends Services {
  app: Koa;
  /** Outbound mail: the outbox (SMTP or the demo mailbox), the mailbox of demo mode. */
  mail: Mail;
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

export function createIdp(deps: IdpDeps): Idp {
  const { settings, store, logger, clock } = deps;
  const secure = settings.server.publicUrl.startsWith('https:');
  // Key material in use; replaced by applyKeys when keys rotate (README "Key rotation").
  let keys = deps.keyMaterial;
  /** CSRF tokens under the cookie keys in use (remade when they rotate, below). */
  let csrf = new CsrfTokens(keys.cookieKeys);
  const decoyKey = deps.keyMaterial.decoyKey;

  const metrics = new Metrics();
  // At most this many password actions at once (argon2id), a bounded queue behind them (README "Abuse and overload").
  const admission = new Admission({ concurrency: settings.admission.concurrency || availableParallelism(), queue: settings.admission.queue, maxWaitMs: settings.admission.maxWaitSeconds * 1000 });
  metrics.watchAdmission(admission);
  // Sessions ended without a browser are told to their apps by the protocols (set below).
  let tellRelyingParties: TellRelyingParties | undefined;
  // Outbound mail: SMTP (SMTP_URL), or the embedded mailbox in demo mode; sent in the background, retried, counted.
  const mail = createMail(settings, {
    onOutcome: (outcome, template) => metrics.mail.inc({ outcome, template }),
    // A mail server's answer may quote the recipient: every address in it is masked.
    onError: (err, info) => logger.warn({ err: { message: String((err as Error)?.message ?? err).replace(/[^\s<>"',;:()]+@[^\s<>"',;:()]+/g, (a) => maskAddress(a)) }, ...info }, 'mail not sent'),
  }, clock);
  const services = createServices(settings, store, deps.database, clock, {
    ...(mail.available ? { sendRecoveryMail: mail.sendRecoveryMail } : {}),
    tellRelyingParties: (request) => tellRelyingParties!(request),
    revokeGrants: (accountId) => revokeAccountGrants(store, deps.database, accountId),
    // The deployment's long-lived secret (keys/decoy-key.json, never rotated): second-factor
    // secrets are sealed under a key derived from it for this purpose alone.
    sealSecret: deps.keyMaterial.decoyKey,
    onSprayingAlarm: (scope) => metrics.sprayingAlarms.inc({ scope: scope === 'all' || scope === 'unknown-ids' ? scope : 'school' }),
  });
  const { directory, hasher, audit, answerLimiter, authenticator, sso, gate, policies, credentials } = services;
  const flows = new Flows(store, clock, settings.flow.idleSeconds * 1000, settings.flow.maxMinutes * 60_000, decoyKey);
  const serviceProviders = new ServiceProviders(deps.relyingParties.saml, settings.saml.relayStateMaxBytes, { database: deps.database, onSkipped: (member, reason) => logger.warn({ member, reason }, 'registered SAML SP left out') });
  const samlEndpoints = idpEndpoints(settings.server.publicUrl, settings.saml.entityId, settings.saml.scope);
  // Served metadata lists every published certificate; samlify (which signs) is given the current one only.
  const metadataOf = (certificates: string[]) => idpMetadata(samlEndpoints, certificates, { name: 'MIMS Portal', url: settings.server.publicUrl });
  let samlMetadata = metadataOf(keys.samlCertificates.map((c) => c.certificatePem));
  // pairwise-id is an HMAC under a key derived from the deployment's long-lived secret (never rotated: an SP's ids stay).
  const pairwiseSecret = createHmac('sha256', deps.keyMaterial.decoyKey).update('saml pairwise-id').digest('base64url');
  const samlMessages = new SamlMessages(samlEndpoints, keys.saml, metadataOf([keys.saml.certificatePem]), settings.saml, pairwiseSecret);
  const schemaValidator = new SchemaValidator();
  const logoutChains = new LogoutChains(store, 10 * 60_000);
  const cookie = ssoCookie(secure);
  const secretOf = browserSecret(secure);
  const render = renderer(
    (ctx) => {
      // Messages come as ids (src/messages): templates show them with t(), in the request's language.
      const lang = languageOf(ctx);
      return {
        requestId: ctx.state.requestId,
        idleSeconds: null,
        lang,
        htmlLang: LANGUAGE_INFO[lang].tag,
        t: translator(lang),
        // A stored (English) challenge question in this language.
        tq: (stored: string) => questionText(translator(lang), stored),
        // A time (epoch ms or ISO) as people here read it: Singapore time, with the zone.
        when: (at: number | string) => formatWhen(at, lang),
        // The footer's switcher: each language named in itself, back to this page.
        languages: LANGUAGES.map((id) => ({ id, name: LANGUAGE_INFO[id].name, tag: LANGUAGE_INFO[id].tag })),
        returnTo: returnPathOf(ctx),
      };
    },
    (ctx) => ({ csrf: () => csrf.token(secretOf(ctx)) }),
    process.env.NODE_ENV !== 'development',
  );

  /** A read of the browser's SSO session that counts as activity. */
  const touching = (read: (ctx: Context) => Promise<SsoSession | null>) => async (ctx: Context) => {
    const session = await read(ctx);
    if (session) await sso.touch(session);
    return session;
  };
  /** The live SSO session of this browser; each use counts as activity. */
  const ssoOf = touching((ctx) => sso.get(cookie.read(ctx)));
  /**
   * The same, read once per request of oidc-provider's (its checks and its authorization
   * event each ask; none of its requests changes the SSO session). Our own pages read
   * afresh: a sign-in or sign-out changes it within the request.
   */
  const oidcSsoReads = new WeakMap<object, Promise<SsoSession | null>>();
  const oidcSsoRead = (ctx: Context) => {
    let read = oidcSsoReads.get(ctx.req);
    if (!read) oidcSsoReads.set(ctx.req, (read = sso.get(cookie.read(ctx))));
    return read;
  };
  const oidcSsoOf = touching(oidcSsoRead);

  const nameOf = (id: string) => serviceProviders.byId(id)?.displayName ?? deps.relyingParties.oidc.find((c) => c.client_id === id)?.display_name ?? id;
  const backChannel = (id: string) => Boolean(deps.relyingParties.oidc.find((c) => c.client_id === id)?.backchannel_logout_uri);
  // Pairwise subjects (never rotated: an app's subs stay), from the deployment's long-lived secret.
  const oidcPairwiseKey = pairwiseKey(deps.keyMaterial.decoyKey);
  const registeredClient = async (id: string) => {
    const client = await provider.Client.find(id);
    return client ? { name: client.clientName, backChannel: Boolean(client.backchannelLogoutUri) } : undefined;
  };
  const logout = singleLogout({ sso, ssoCookie: cookie, audit, chains: logoutChains, render, secure, nameOf, backChannel, registeredClient, subjectOf: (client, accountId) => subjectFor(oidcPairwiseKey, client, accountId) });

  const buildProvider = (k: KeyMaterial) => createProvider({
    released: (appKey, schoolCode, names) => services.releases.filter(appKey, schoolCode, names),
    settings,
    store,
    database: deps.database,
    directory,
    clients: deps.relyingParties.oidc,
    jwks: k.jwks,
    cookieKeys: k.cookieKeys,
    pairwiseKey: oidcPairwiseKey,
    ssoOf: (ctx) => oidcSsoOf(ctx as unknown as Context),
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
    onAuthorized: async (ctx, grant) => {
      const c = ctx as unknown as Context;
      await audit.record({ type: 'oidc.authorized', accountId: grant.accountId, client: grant.clientId, ip: c.ip, requestId: requestScope.getStore()?.requestId, reason: `scope ${grant.scope}` });
    },
    onRegistered: async (ctx, client) => {
      const c = ctx as unknown as Context;
      const how = ctx.oidc.entities.InitialAccessToken ? 'initial access token' : 'open registration (demo accounts loaded)';
      await audit.record({ type: 'rp.registered', client: client.clientId, actor: 'rfc7591', ip: c.ip, requestId: requestScope.getStore()?.requestId, reason: `oidc "${client.clientName ?? ''}" by ${how}` });
    },
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
  // Event listeners added through `provider` are kept and added again to every Provider a
  // rotation builds (back-channel sign-out listens to authorization.success).
  const listeners: Array<[string, (...args: any[]) => void]> = [];
  const provider = new Proxy({} as typeof currentProvider, {
    get(_target, property) {
      if (property === 'on' || property === 'addListener') {
        return (event: string, listener: (...args: any[]) => void) => {
          listeners.push([event, listener]);
          (currentProvider as unknown as NodeJS.EventEmitter).on(event, listener);
          return provider;
        };
      }
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
    for (const [event, listener] of listeners) (built as unknown as NodeJS.EventEmitter).on(event, listener);
    const handle = built.callback();
    const metadata = metadataOf(next.samlCertificates.map((c) => c.certificatePem));
    samlMessages.rekey(next.saml, metadataOf([next.saml.certificatePem]));
    samlMetadata = metadata;
    keys = next;
    keysVersion = version;
    app.keys = new CookieSigner(next.cookieKeys) as unknown as string[];
    csrf = new CsrfTokens(next.cookieKeys);
    currentProvider = built;
    handleOidc = handle;
    logger.info({ keys: next.keys.map((k) => `${k.kind}:${k.id}:${k.life.state}`) }, 'key material changed: now in use');
  };
  // --- end key rotation
  tellRelyingParties = backchannelSignOut({
    oidc: oidcBackchannelLogout({ provider, sso, ssoOf: (ctx) => oidcSsoRead(ctx as unknown as Context), onError: (err, message) => logger.error({ err }, message) }),
    saml: samlBackchannelLogout({ settings, store, clock, sps: serviceProviders, messages: samlMessages, schema: schemaValidator, endpoints: samlEndpoints, onRefusal: (code) => metrics.samlRefusals.inc({ code }) }),
    audit, logger, nameOf,
    registeredNameOf: async (id) => (await registeredClient(id))?.name,
  });

  // Behind proxies: the client's address is the entry the farthest proxy appended (never one the client wrote).
  const app = new Koa({ proxy: settings.server.trustProxy, maxIpsCount: settings.server.proxyHops, keys: new CookieSigner(keys.cookieKeys) as unknown as string[] });

  app.use(requestLog(logger, metrics));
  app.use(securityHeaders(deps.relyingParties, serviceProviders, secure));
  app.use(errorHandler(logger, metrics, render));
  if (secure) app.use(httpsOnly());
  app.use(staticFiles());
  // oidc-provider handles its own routes, bodies and errors; a key rotation replaces it.
  // A protocol request from a stranger (no SSO session, never signed in on this browser) is
  // kept while its user signs in: at most so many per address.
  const devices = deviceCookie(new DeviceCookies(decoyKey, settings.devices), clock, secure);
  const known = (ctx: Context) => cookie.read(ctx) !== undefined || devices.signedInHere(ctx);
  app.use(strangerGate(new StrangerBudget(store, settings.strangers), known));
  app.use(oidcMount(() => handleOidc));
  app.use(scimMount({
    clients: services.provisioningClients,
    service: new ScimService({ directory, roster: services.roster, rows: services.provisioningRows, clock, importSettings: settings.import, base: `${settings.server.publicUrl}/scim/v2`, exclusive: storeExclusive(store) }),
    documentationUri: `${settings.server.publicUrl}/dev#provisioning`,
    onError: (err) => logger.error({ err }, 'scim request failed'),
  }));

  /** Whether a token is this browser's CSRF token (under the cookie keys in use). */
  const csrfOf = (ctx: Context, token: unknown) => csrf.valid(ctx.cookies.get(BROWSER_COOKIE, { signed: true }), token);
  const machine = new FlowMachine({
    flows, authenticator, credentials, directory, policies, challenge: settings.challenge, sso, clock,
    answerLimiter, audit, forgotPassword: settings.forgotPassword, hasher, decoyKey, mfa: services.mfa,
    recoveryEmails: services.recoveryEmails, recoveryCodes: services.recoveryCodes, badges: services.badges, releases: services.releases,
    onSignIn: (outcome) => metrics.signIns.inc({ outcome }),
    resumeAlive: async (resume) => {
      if (resume.kind === 'oidc') return (await provider.Interaction.find(resume.uid)) !== undefined;
      if (resume.kind === 'saml') {
        const pending = await new PendingSignIns(store, 0).get(resume.pendingId);
        return pending !== null && pending !== 'used';
      }
      return true;
    },
  }, FLOW_KINDS);
  const starts = flowStarts(machine);
  /** Where the request a flow resumes is answered: its page's forms may lead there (CSP form-action). */
  const destinationOf = async (resume: Resume): Promise<string | undefined> => {
    if (resume.kind === 'oidc') {
      const redirectUri = (await provider.Interaction.find(resume.uid))?.params.redirect_uri;
      return typeof redirectUri === 'string' ? redirectUri : undefined;
    }
    if (resume.kind === 'saml') {
      const pending = await new PendingSignIns(store, 0).get(resume.pendingId);
      return pending && pending !== 'used' ? pending.acsUrl : undefined;
    }
    return undefined;
  };
  /** What the gate refused, run first: every entry point hands its refusal here. */
  const runFirst = (ctx: Context, refusal: Refusal, resume: Resume) => starts.runFirst(refusal, resume, secretOf(ctx));
  const routers = [
    opsRouter({ store, database: deps.database, metrics, started: deps.started ?? (() => true), worker: deps.worker ?? 0, metricsToken: settings.server.metricsToken }),
    languageRouter(secure),
    interactionRouter({
      provider,
      pairwiseKey: oidcPairwiseKey,
      ssoOf,
      gate,
      clock,
      runFirst,
      recordClient: (session, clientId) => sso.oidcParticipant(session, clientId),
      rememberLanguage: (ctx, uiLocales) => rememberUiLocales(ctx, uiLocales, secure),
    }),
    flowRouter({
      machine, starts, ssoCookie: cookie, browserSecret: secretOf, render, nameOf, destinationOf, languageOf,
      devices,
      admission,
      registeredNameOf: async (resume) => (resume.kind === 'oidc' ? (await provider.Client.find(resume.clientId))?.clientName : undefined),
    }),
    samlRouter({
      released: (appKey, schoolCode, names) => services.releases.filter(appKey, schoolCode, names),
      settings, store, clock, directory, sso, audit, sps: serviceProviders, messages: samlMessages, schema: schemaValidator,
      endpoints: samlEndpoints, chains: logoutChains,
      get metadataXml() { return samlMetadata; },
      get certificatePem() { return keys.saml.certificatePem; },
      nextCertificatePem: () => keys.samlCertificates.find((c) => c.state === 'next')?.certificatePem,
      ssoOf, gate, browserSecret: secretOf, runFirst,
      signOut: logout.signOut,
      signedOutPage: logout.signedOutPage,
      render,
      onRefusal: (code) => metrics.samlRefusals.inc({ code }),
    }),
    logout.router,
    portalRouter({
      gate, sso, ssoCookie: cookie, ssoOf, apps: settings.apps, render,
      signOut: (ctx) => logout.signOut(ctx, { kind: 'page' }),
      runFirst,
      beginSspr: (ctx, accountId, what) => starts.sspr(accountId, what, secretOf(ctx)),
      recoveryEmailOffered: (account) => services.recoveryEmails.offered(account),
      mfa: services.mfa, clock, recentMfaMs: settings.admin.recentAuthMinutes * 60_000,
    }),
  ];
  routers.push(
    adminRouter({
      importer: services.importer, store,
      csrfValid: csrfOf,
      administration: services.administration, authenticator, directory, audit, sso, ssoCookie: cookie, ssoOf, gate, clock, render,
      runFirst, mfa: services.mfa,
      recentAuthMs: settings.admin.recentAuthMinutes * 60_000, pageSize: settings.admin.pageSize,
      portalUrl: `${settings.server.publicUrl}/portal`,
      releasesOf: appReleases({ provider: () => provider, serviceProviders, nameOf }),
      releases: services.releases,
      releasableApps: releasableApps({ clients: deps.relyingParties.oidc, serviceProviders }),
      lifecycle: { rows: services.provisioningRows, populations: settings.lifecycle.populations, runEveryMinutes: settings.lifecycle.runEveryMinutes, run: (actor) => services.lifecycle.run(actor) },
    }),
  );
  routers.push(devRouter({ enabled: settings.seed.demo, mailbox: mail.mailbox, settings, store, database: deps.database, oidcClients: deps.relyingParties.oidc, sps: serviceProviders, samlEndpoints, keys: () => keys, render }));
  // Bodies and CSRF as each route declares (http/body.ts): our own forms by default.
  app.use(ownForms(routers, csrfOf));
  for (const router of routers) app.use(router.routes()).use(router.allowedMethods());

  return { app, ...services, mail, flows, metrics, serviceProviders, samlMessages, warm: () => schemaValidator.warm(), close: async () => { mail.close(); await schemaValidator.close(); }, applyKeys };
}
