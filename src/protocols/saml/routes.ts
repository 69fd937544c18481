// The SAML IdP's endpoints.
//   GET       /saml/metadata            the IdP's metadata
//   GET       /saml/certificate.pem     the signing certificate (a stable URL, e.g. for Google Workspace)
//   GET|POST  /saml/sso                 AuthnRequest over HTTP-Redirect or HTTP-POST
//   GET       /saml/resume/:id          where a sign-in continues (after the login prompt too)
//   GET       /saml/resume/:id/abort    the user cancelled: the SP gets AuthnFailed
//   GET       /saml/launch/:sp          IdP-initiated sign-in (portal tiles)
//   GET|POST  /saml/slo                 LogoutRequest from an SP, or LogoutResponse to ours
//   GET       /saml/slo/next/:chain     the next step of a single logout
// Every inbound message passes inbound/ before anything else happens. Messages that come
// by cross-site POST (no SameSite=Lax cookies) are checked, kept, and continued by a
// 303 to a GET, which has this browser's cookies.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Settings } from '../../config/settings.ts';
import type { Account } from '../../domain/accounts/account.ts';
import type { RequiredAction } from '../../domain/accounts/credentials.ts';
import type { Directory } from '../../domain/accounts/directory.ts';
import type { AuditLog } from '../../domain/audit/audit-log.ts';
import type { Clock } from '../../domain/clock.ts';
import { AppError } from '../../domain/errors.ts';
import { seeOther, type Render } from '../../http/respond.ts';
import type { SamlResume } from '../../domain/sessions/resume.ts';
import type { SsoSession, SsoSessions } from '../../domain/sessions/sso-sessions.ts';
import { keys, type Store } from '../../store/index.ts';
import { NAMEID_EMAIL, NAMEID_UNSPECIFIED, NS, STATUS } from './constants.ts';
import { checkInbound, fromPost, fromRedirect, SamlRefusal, type InboundMessage, type MessageKind } from './inbound/index.ts';
import { LogoutChains, type LogoutChain, type LogoutFinal } from './logout-chain.ts';
import { servedMetadata, type IdpEndpoints } from './metadata.ts';
import { browserBinding, PendingSignIns, type PendingSignIn } from './pending.ts';
import { newMessageId, type SamlMessages } from './responses.ts';
import type { SchemaValidator } from './schema-validator.ts';
import { logoutEndpoint, type ServiceProvider, type ServiceProviders } from './service-providers.ts';
import { childElement, childElements, textOf } from './xml.ts';


/** Cookie carrying a logout chain from the OIDC logout to /saml/slo/resume (signed). */
export const LOGOUT_CHAIN_COOKIE = 'idp_logout';

interface LogoutRequestSeen {
  spId: string;
  requestId: string;
  relayState?: string | undefined;
  nameId?: string | undefined;
  sessionIndexes: string[];
}

export interface SamlDeps {
  settings: Settings;
  store: Store;
  clock: Clock;
  directory: Directory;
  sso: SsoSessions;
  audit: AuditLog;
  sps: ServiceProviders;
  messages: SamlMessages;
  schema: SchemaValidator;
  endpoints: IdpEndpoints;
  metadataXml: string;
  certificatePem: string;
  /** The next signing certificate while a rotation is under way. */
  nextCertificatePem?: () => string | undefined;
  chains: LogoutChains;
  ssoOf: (ctx: Context) => Promise<SsoSession | null>;
  /** Required actions pending for an account (questions, password change). */
  requiredActions: (account: Account) => RequiredAction[];
  browserSecret: (ctx: Context) => string;
  beginSignIn: (ctx: Context, resume: SamlResume) => Promise<string>;
  beginRequiredActions: (ctx: Context, accountId: string, pending: RequiredAction[], resume: SamlResume) => Promise<string>;
  /**
   * Ends this browser's SSO session everywhere (OIDC too) and continues with `final`;
   * resolves to where the browser goes next. `exceptSp` started the logout itself.
   */
  signOut: (ctx: Context, final: LogoutFinal, exceptSp?: string) => Promise<string>;
  /** The page that ends a single logout started at the IdP. */
  signedOutPage: (ctx: Context, chain: LogoutChain | null) => Promise<void>;
  render: Render;
  /** Counts a refused message (its detail is on the log line of the error page). */
  onRefusal?: (code: string) => void;
}

function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}

export function samlRouter(deps: SamlDeps): Router {
  const { settings, sps, messages } = deps;
  const router = new Router();
  const pendingSignIns = new PendingSignIns(deps.store, settings.flow.idleSeconds * 1000 + 3_600_000);
  const secure = settings.server.publicUrl.startsWith('https:');

  /**
   * Decodes an inbound message and runs every check on it. A refusal is counted and comes
   * back with the message as far as the checks had read it.
   */
  async function check(ctx: Context, endpointUrl: string, expected: MessageKind[]): Promise<{ msg: InboundMessage; refusal?: undefined } | { msg: InboundMessage | undefined; refusal: SamlRefusal }> {
    const max = settings.saml.maxMessageBytes;
    let msg: InboundMessage | undefined;
    try {
      msg = ctx.method === 'GET' ? fromRedirect(ctx.querystring, endpointUrl, expected, max) : fromPost(ctx.request.body, Boolean(ctx.is('application/x-www-form-urlencoded')), endpointUrl, expected, max);
      return {
        msg: await checkInbound(msg, {
          sps,
          schema: deps.schema,
          store: deps.store,
          now: deps.clock(),
          clockSkewMs: settings.saml.clockSkewSeconds * 1000,
          requestMaxAgeMs: settings.saml.requestMaxAgeSeconds * 1000,
          maxMessageBytes: max,
        }),
      };
    } catch (err) {
      if (!(err instanceof SamlRefusal)) throw err;
      deps.onRefusal?.(err.code);
      return { msg, refusal: err };
    }
  }

  /** The error page of a refused message (its detail goes to the log line). */
  function refused(refusal: SamlRefusal): AppError {
    return new AppError(refusal.code, `SAML message refused: ${refusal.detail}`, { continueTo: '/portal' });
  }

  async function receive(ctx: Context, endpointUrl: string, expected: MessageKind[]): Promise<InboundMessage> {
    const received = await check(ctx, endpointUrl, expected);
    if (received.refusal) throw refused(received.refusal);
    return received.msg;
  }

  /** Sends a logout message to an SP by its binding. */
  async function send(ctx: Context, delivery: ReturnType<SamlMessages['deliver']>): Promise<void> {
    if (delivery.kind === 'redirect') {
      ctx.status = 302;
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect(delivery.url);
      return;
    }
    await deps.render(ctx, 'saml-post', { action: delivery.action, fields: delivery.fields, purpose: 'sign-out' });
  }

  async function postResponse(ctx: Context, acsUrl: string, samlResponse: string, relayState: string | undefined): Promise<void> {
    await deps.render(ctx, 'saml-post', { action: acsUrl, fields: { SAMLResponse: samlResponse, ...(relayState !== undefined ? { RelayState: relayState } : {}) } });
  }

  function spOf(pending: PendingSignIn): ServiceProvider {
    const sp = sps.byId(pending.spId);
    if (!sp) throw new AppError('SSPR 5131', `SP ${pending.spId} no longer registered`);
    return sp;
  }

  /** The pending sign-in for this browser (claimed by the first browser that opens it). */
  async function pendingFor(ctx: Context, id: string): Promise<PendingSignIn> {
    const found = await pendingSignIns.get(id);
    if (found === 'used') throw new AppError('SSPR 5133', `pending sign-in ${id} already answered`, { continueTo: '/portal' });
    if (!found) throw new AppError('SSPR 5101', `pending sign-in ${id} unknown or expired`, { continueTo: '/portal' });
    const binding = browserBinding(deps.browserSecret(ctx));
    if (!found.binding) {
      const claimed = await pendingSignIns.claim(found, binding);
      if (!claimed) throw new AppError('SSPR 5102', 'pending sign-in claimed by another browser', { continueTo: '/portal' });
      return claimed;
    }
    if (found.binding !== binding) throw new AppError('SSPR 5102', 'pending sign-in belongs to another browser', { continueTo: '/portal' });
    return found;
  }

  async function errorToSp(ctx: Context, pending: PendingSignIn, status: string, subStatus: string, message: string): Promise<void> {
    const sp = spOf(pending);
    if (!(await pendingSignIns.take(pending))) throw new AppError('SSPR 5133', 'pending sign-in answered twice');
    const { samlResponse } = messages.errorResponse({ sp, acsUrl: pending.acsUrl, inResponseTo: pending.requestId, status, subStatus, message, now: deps.clock() });
    await postResponse(ctx, pending.acsUrl, samlResponse, pending.relayState);
  }

  /** Issues the Response when the SSO session allows it; otherwise the login prompt first. */
  async function resume(ctx: Context, pending: PendingSignIn): Promise<void> {
    const sp = spOf(pending);
    const resumeTo: SamlResume = { kind: 'saml', pendingId: pending.id, spId: sp.id };
    const session = await deps.ssoOf(ctx);
    const found = session ? await deps.directory.get(session.accountId) : null;
    const account = found?.status === 'active' ? found : null;
    const fresh = session !== null && (!pending.forceAuthn || session.authTime >= pending.receivedAt);
    if (!session || !account || !fresh) {
      if (pending.isPassive) return errorToSp(ctx, pending, STATUS.responder, STATUS.noPassive, 'The user is not signed in.');
      return seeOther(ctx, await deps.beginSignIn(ctx, resumeTo));
    }
    const pendingActions = deps.requiredActions(account);
    if (pendingActions.length > 0) {
      // Nothing is issued while a required action is pending.
      if (pending.isPassive) return errorToSp(ctx, pending, STATUS.responder, STATUS.noPassive, 'The user must complete required steps first.');
      return seeOther(ctx, await deps.beginRequiredActions(ctx, session.accountId, pendingActions, resumeTo));
    }
    if (!(await pendingSignIns.take(pending))) throw new AppError('SSPR 5133', 'pending sign-in answered twice');
    const participant = await deps.sso.samlParticipant(session, sp.id, account.loginId);
    const { id, samlResponse } = await messages.loginResponse({
      sp, acsUrl: pending.acsUrl, inResponseTo: pending.requestId, account, sessionIndex: participant.sessionIndex,
      authInstant: session.authTime, sessionNotOnOrAfter: session.expiresAt, now: deps.clock(),
    });
    await postResponse(ctx, pending.acsUrl, samlResponse, pending.relayState);
    await deps.audit.record({ type: 'saml.assertion', accountId: account.id, client: sp.id, ip: ctx.ip, requestId: ctx.state.requestId as string, reason: `response ${id}${pending.requestId ? ` to ${pending.requestId}` : ' (IdP-initiated)'}` });
  }

  router.get('/saml/metadata', (ctx) => {
    ctx.type = 'application/samlmetadata+xml';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('Content-Disposition', 'inline; filename="idp-metadata.xml"');
    ctx.body = servedMetadata(deps.metadataXml, deps.clock());
  });

  // LF line endings whatever the key file holds (node-forge writes CRLF). Read per request:
  // the certificates change when keys rotate (README "Key rotation").
  router.get('/saml/certificate.pem', (ctx) => {
    ctx.type = 'application/x-pem-file';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('Content-Disposition', 'attachment; filename="idp-signing-certificate.pem"');
    ctx.body = deps.certificatePem.replace(/\r\n?/g, '\n');
  });
  // The next signing certificate during a rotation (for SPs configured by hand, e.g. Google Workspace).
  router.get('/saml/certificate-next.pem', (ctx) => {
    const next = deps.nextCertificatePem?.();
    if (!next) throw new AppError('SSPR 5404');
    ctx.type = 'application/x-pem-file';
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('Content-Disposition', 'attachment; filename="idp-next-signing-certificate.pem"');
    ctx.body = next.replace(/\r\n?/g, '\n');
  });

  const sso = async (ctx: Context) => {
    const msg = await receive(ctx, deps.endpoints.ssoUrl, ['AuthnRequest']);
    const trusted = msg.trusted!;
    const sp = msg.sp!;
    const policy = childElement(trusted, NS.protocol, 'NameIDPolicy')?.getAttribute('Format');
    const pending = await pendingSignIns.create({
      spId: sp.id,
      requestId: msg.id!,
      acsUrl: msg.acs!.location,
      ...(msg.relayState !== undefined ? { relayState: msg.relayState } : {}),
      forceAuthn: isTrue(trusted.getAttribute('ForceAuthn')),
      isPassive: isTrue(trusted.getAttribute('IsPassive')),
      receivedAt: deps.clock(),
      // HTTP-Redirect is a GET with this browser's cookies: bound now. HTTP-POST comes
      // cross-site without them: bound by the GET it is continued with.
      binding: ctx.method === 'GET' ? browserBinding(deps.browserSecret(ctx)) : '',
    });
    if (policy && policy !== NAMEID_EMAIL && policy !== NAMEID_UNSPECIFIED) {
      const { samlResponse } = messages.errorResponse({ sp, acsUrl: pending.acsUrl, inResponseTo: pending.requestId, status: STATUS.requester, subStatus: 'urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy', message: 'Only emailAddress NameIDs are issued.', now: deps.clock() });
      await pendingSignIns.take(pending);
      return postResponse(ctx, pending.acsUrl, samlResponse, pending.relayState);
    }
    if (ctx.method === 'GET') return resume(ctx, pending);
    seeOther(ctx, `/saml/resume/${pending.id}`);
  };
  router.get('/saml/sso', sso);
  router.post('/saml/sso', sso);

  router.get('/saml/resume/:id', async (ctx) => {
    await resume(ctx, await pendingFor(ctx, ctx.params.id!));
  });

  router.get('/saml/resume/:id/abort', async (ctx) => {
    const pending = await pendingFor(ctx, ctx.params.id!);
    await errorToSp(ctx, pending, STATUS.responder, STATUS.authnFailed, 'The user cancelled the sign-in.');
  });

  router.get('/saml/launch/:sp', async (ctx) => {
    const sp = sps.byId(ctx.params.sp!);
    if (!sp) throw new AppError('SSPR 5404', `no SAML SP ${ctx.params.sp}`);
    const pending = await pendingSignIns.create({
      spId: sp.id,
      acsUrl: sp.acs[0]!.location,
      ...(sp.defaultRelayState !== undefined ? { relayState: sp.defaultRelayState } : {}),
      forceAuthn: false,
      isPassive: false,
      receivedAt: deps.clock(),
      binding: browserBinding(deps.browserSecret(ctx)),
    });
    await resume(ctx, pending);
  });

  // ---- single logout ----

  async function continueChain(ctx: Context, chain: LogoutChain): Promise<void> {
    while (chain.remaining.length > 0) {
      const participant = chain.remaining.shift()!;
      const sp = sps.byId(participant.spId);
      const endpoint = sp && logoutEndpoint(sp);
      if (!sp || !endpoint) continue;
      const requestId = newMessageId();
      chain.current = { spId: sp.id, requestId };
      await deps.chains.save(chain);
      const xml = messages.logoutRequestXml({ id: requestId, destination: endpoint.location, nameId: participant.nameId, sessionIndex: participant.sessionIndex, now: deps.clock() });
      return send(ctx, messages.deliver(endpoint, 'SAMLRequest', xml, chain.id));
    }
    await deps.chains.end(chain.id);
    ctx.cookies.set(LOGOUT_CHAIN_COOKIE, '', { httpOnly: true, sameSite: 'lax', secure, maxAge: 0 });
    const final = chain.final;
    if (final.kind === 'page') return deps.signedOutPage(ctx, chain);
    if (final.kind === 'post') return deps.render(ctx, 'saml-post', { action: final.action, fields: final.fields, purpose: 'sign-out' });
    const sp = sps.byId(final.spId);
    const endpoint = sp && logoutEndpoint(sp);
    if (!sp || !endpoint) return deps.signedOutPage(ctx, chain);
    const xml = messages.logoutResponseXml({ id: newMessageId(), destination: endpoint.responseLocation ?? endpoint.location, inResponseTo: final.inResponseTo, status: final.status, now: deps.clock() });
    return send(ctx, messages.deliver(endpoint, 'SAMLResponse', xml, final.relayState, true));
  }

  router.get('/saml/slo/next/:chain', async (ctx) => {
    const chain = await deps.chains.get(ctx.params.chain);
    if (!chain) return deps.signedOutPage(ctx, null);
    await continueChain(ctx, chain);
  });

  /** Where the IdP's own OIDC logout hands over (see web/single-logout.ts). */
  router.get('/saml/slo/resume', async (ctx) => {
    const chain = await deps.chains.get(ctx.cookies.get(LOGOUT_CHAIN_COOKIE, { signed: true }));
    if (!chain) return deps.signedOutPage(ctx, null);
    await continueChain(ctx, chain);
  });

  /**
   * A refused LogoutResponse (unsigned, signed with another key, ...) that answers the
   * logout in progress — its chain (RelayState), its SP (Issuer) and its request
   * (InResponseTo) — ends that SP's turn as not confirmed, as a non-Success status does,
   * and the chain goes on. Nothing in it is trusted: it can only count against the SP.
   */
  async function notConfirmed(ctx: Context, msg: InboundMessage | undefined, refusal: SamlRefusal): Promise<boolean> {
    if (msg?.kind !== 'LogoutResponse' || !msg.sp || !msg.root) return false;
    const chain = await deps.chains.get(msg.relayState);
    if (!chain?.current || chain.current.spId !== msg.sp.id || chain.current.requestId !== msg.root.getAttribute('InResponseTo')) return false;
    chain.failed.push(msg.sp.id);
    delete chain.current;
    await deps.chains.save(chain);
    await deps.audit.record({ type: 'logout', client: msg.sp.id, ip: ctx.ip, requestId: ctx.state.requestId as string, reason: `LogoutResponse refused, sign-out not confirmed: ${refusal.detail}` });
    seeOther(ctx, `/saml/slo/next/${chain.id}`);
    return true;
  }

  const slo = async (ctx: Context) => {
    const received = await check(ctx, deps.endpoints.sloUrl, ['LogoutRequest', 'LogoutResponse']);
    if (received.refusal) {
      if (await notConfirmed(ctx, received.msg, received.refusal)) return;
      throw refused(received.refusal);
    }
    const msg = received.msg;
    const trusted = msg.trusted!;
    const sp = msg.sp!;
    if (msg.kind === 'LogoutResponse') {
      const chain = await deps.chains.get(msg.relayState);
      const inResponseTo = trusted.getAttribute('InResponseTo');
      if (!chain || chain.current?.spId !== sp.id || chain.current.requestId !== inResponseTo) {
        throw new AppError('SSPR 5130', `LogoutResponse from ${sp.id} does not answer a logout in progress`, { continueTo: '/portal' });
      }
      const status = childElement(childElement(trusted, NS.protocol, 'Status') ?? trusted, NS.protocol, 'StatusCode')?.getAttribute('Value');
      (status === STATUS.success ? chain.loggedOut : chain.failed).push(sp.id);
      delete chain.current;
      await deps.chains.save(chain);
      return seeOther(ctx, `/saml/slo/next/${chain.id}`);
    }
    // A LogoutRequest: valid only while it has not expired.
    const notOnOrAfter = Date.parse(trusted.getAttribute('NotOnOrAfter') ?? '');
    if (Number.isFinite(notOnOrAfter) && notOnOrAfter + settings.saml.clockSkewSeconds * 1000 <= deps.clock()) {
      throw new AppError('SSPR 5130', 'LogoutRequest has expired', { continueTo: '/portal' });
    }
    const seen: LogoutRequestSeen = {
      spId: sp.id,
      requestId: msg.id!,
      relayState: msg.relayState,
      nameId: textOf(childElement(trusted, NS.assertion, 'NameID')),
      sessionIndexes: childElements(trusted, NS.protocol, 'SessionIndex').map((el) => textOf(el) ?? ''),
    };
    // Continue as a GET, which carries this browser's cookies.
    const id = newMessageId();
    await deps.store.set(keys.samlLogoutRequest(id), JSON.stringify(seen), { ttlMs: 10 * 60_000 });
    seeOther(ctx, `/saml/slo/request/${id}`);
  };
  router.get('/saml/slo', slo);
  router.post('/saml/slo', slo);

  router.get('/saml/slo/request/:id', async (ctx) => {
    const key = keys.samlLogoutRequest(ctx.params.id!);
    const raw = /^_[0-9a-f]{40}$/.test(ctx.params.id!) ? await deps.store.get(key) : null;
    if (!raw) throw new AppError('SSPR 5101', 'logout request unknown or expired', { continueTo: '/portal' });
    await deps.store.del(key);
    const seen = JSON.parse(raw) as LogoutRequestSeen;
    const final: LogoutFinal = { kind: 'saml-response', spId: seen.spId, inResponseTo: seen.requestId, relayState: seen.relayState, status: STATUS.success };
    const session = await deps.ssoOf(ctx);
    if (!session) {
      // Already signed out here: tell the SP so.
      return continueChain(ctx, await deps.chains.create([], final));
    }
    const participant = (await deps.sso.participants(session.id)).saml.find((p) => p.spId === seen.spId);
    const matches = participant !== undefined && participant.nameId === seen.nameId && (seen.sessionIndexes.length === 0 || seen.sessionIndexes.includes(participant.sessionIndex));
    if (!matches) {
      // Not this browser's session at that SP: end nothing, and say so.
      return continueChain(ctx, await deps.chains.create([], { ...final, status: STATUS.requester }));
    }
    seeOther(ctx, await deps.signOut(ctx, final, seen.spId));
  });

  return router;
}
