// Single logout across protocols. However sign-out starts — the portal's "Sign out", a
// SAML SP's LogoutRequest, an OIDC client's RP-initiated logout — the SSO session ends
// at once, then every participant is told:
//   OIDC clients: back-channel logout tokens, sent by oidc-provider when its own session
//     ends (/oidc/session/end/confirm);
//   SAML SPs: front-channel LogoutRequests, one after the other (protocols/saml).
// Order: portal and SAML-initiated logouts go through oidc-provider first (it hands back
// to /saml/slo/resume through the logout-chain cookie), then the SAML chain, then the
// final step (the signed-out page, or the LogoutResponse owed to the SP that asked).
// An RP-initiated OIDC logout runs the SAML chain first and ends with the form post to
// oidc-provider's confirmation, which sends the browser back to that client.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditLog } from '../domain/audit/audit-log.ts';
import { AppError } from '../domain/errors.ts';
import type { SessionCookie, SsoSessions } from '../domain/sessions/sso-sessions.ts';
import type { LogoutChain, LogoutChains, LogoutFinal } from '../protocols/saml/logout-chain.ts';
import { LOGOUT_CHAIN_COOKIE } from '../protocols/saml/routes/index.ts';
import { seeOther, type Render } from '../http/respond.ts';
import type { SubjectClient } from '../protocols/oidc/subjects.ts';

export interface SingleLogoutDeps {
  /** The `sub` a client knows an account by (public, or pairwise: protocols/oidc/subjects.ts). */
  subjectOf: (client: SubjectClient, accountId: string) => string;
  sso: SsoSessions;
  ssoCookie: SessionCookie<Context>;
  audit: AuditLog;
  chains: LogoutChains;
  render: Render;
  secure: boolean;
  /** Display names of relying parties by id (for the signed-out page). */
  nameOf: (id: string) => string;
  /** Whether an OIDC client is told of the logout by back channel (it is then listed as signed out). */
  backChannel?: (clientId: string) => boolean;
  /** An OIDC client registered over HTTP (RFC 7591), which the two above do not know: its name and whether it takes back-channel logout. */
  registeredClient?: (clientId: string) => Promise<{ name: string | undefined; backChannel: boolean } | undefined>;
}

const CHAIN_COOKIE_MS = 10 * 60_000;

export function singleLogout(deps: SingleLogoutDeps) {
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure: deps.secure, signed: true, path: '/', overwrite: true };

  /**
   * Ends this browser's SSO session and starts telling its participants; resolves to
   * where the browser goes next. `exceptSp` is the SAML SP that asked (it gets `final`).
   */
  async function signOut(ctx: Context, final: LogoutFinal, exceptSp?: string): Promise<string> {
    const id = deps.ssoCookie.read(ctx);
    const session = id ? await deps.sso.get(id) : null;
    const all = session ? await deps.sso.participants(session.id) : { saml: [], oidc: [] };
    const participants = all.saml.filter((p) => p.spId !== exceptSp);
    const oidcClients = all.oidc;
    if (id) await deps.sso.end(id);
    deps.ssoCookie.clear(ctx);
    if (session) {
      await deps.audit.record({ type: 'logout', accountId: session.accountId, client: exceptSp ?? 'portal', ip: ctx.ip, requestId: ctx.state.requestId as string, reason: participants.length ? `SAML single logout to ${participants.map((p) => p.spId).join(', ')}` : undefined });
    }
    // OIDC clients told by back channel are named on the signed-out page with the SAML apps.
    const told: string[] = [];
    for (const c of oidcClients) if (deps.backChannel?.(c) || (await deps.registeredClient?.(c))?.backChannel) told.push(c);
    const chain = await deps.chains.create(participants, final, told);
    // Through oidc-provider only when OIDC clients took part (it sends their back-channel
    // logout tokens and ends its own session, then hands back via the chain cookie).
    if (final.kind === 'post' || oidcClients.length === 0) return `/saml/slo/next/${chain.id}`;
    ctx.cookies.set(LOGOUT_CHAIN_COOKIE, chain.id, { ...cookieOptions, maxAge: CHAIN_COOKIE_MS });
    return '/oidc/session/end';
  }

  /** oidc-provider's logoutSource: asks before ending a live session, else continues. */
  async function logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void> {
    const c = ctx as unknown as Context;
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(form)?.[1];
    if (!xsrf) throw new AppError('SSPR 5019', 'oidc-provider logout form without xsrf');
    const live = await deps.sso.get(deps.ssoCookie.read(c));
    if (!live) {
      // The SSO session has already ended (the user signed out elsewhere): finish here.
      await deps.render(c, 'logout-continue', { action: ctx.oidc.urlFor('end_session_confirm'), xsrf });
      return;
    }
    const client = ctx.oidc.client;
    // Logout CSRF: any page can send the browser here with any valid ID token. No question
    // only when the (verified) hint names the account signed in here and was issued to a
    // client of this very session: then that client asked.
    const hint = ctx.oidc.entities.IdTokenHint as { payload?: { sub?: unknown } } | undefined;
    // (The hint's sub is the one this client knows the account by: pairwise for some apps.)
    const askedByClient = Boolean(client && hint?.payload?.sub === deps.subjectOf(client as unknown as SubjectClient, live.accountId) && (await deps.sso.participants(live.id)).oidc.includes(client.clientId));
    // Where oidc-provider will send the browser (checked against the client's registration):
    // carried through the confirmation so that the last form may lead there (CSP form-action).
    const returnTo = typeof ctx.oidc.params?.post_logout_redirect_uri === 'string' ? ctx.oidc.params.post_logout_redirect_uri : null;
    await deps.render(c, 'logout-confirm', { xsrf, returnTo, clientName: client?.clientName ?? null, autosubmit: askedByClient });
  }

  /**
   * oidc-provider's postLogoutSuccessSource: back to the SAML part of a logout, or done. When
   * oidc-provider had no signed-in session here it asks nothing (logoutSource is not called),
   * so an SSO session of the portal or SAML apps is still live: the user is asked now.
   */
  async function afterOidcLogout(ctx: KoaContextWithOIDC): Promise<void> {
    const c = ctx as unknown as Context;
    if (c.cookies.get(LOGOUT_CHAIN_COOKIE, { signed: true })) {
      c.status = 303;
      c.redirect('/saml/slo/resume');
      return;
    }
    if (await deps.sso.get(deps.ssoCookie.read(c))) {
      await deps.render(c, 'logout-confirm', { xsrf: null, returnTo: null, clientName: ctx.oidc.client?.clientName ?? null, autosubmit: false });
      return;
    }
    await signedOutPage(c, null);
  }

  /** The name users know an app by: its file's, else a registered client's client_name, else its id. */
  async function nameOf(id: string): Promise<string> {
    const named = deps.nameOf(id);
    return named !== id ? named : ((await deps.registeredClient?.(id))?.name ?? id);
  }

  async function signedOutPage(ctx: Context, chain: LogoutChain | null): Promise<void> {
    await deps.render(ctx, 'signed-out', {
      loggedOut: await Promise.all([...(chain?.loggedOut ?? []), ...(chain?.told ?? [])].map(nameOf)),
      failed: await Promise.all((chain?.failed ?? []).map(nameOf)),
    });
  }

  const router = new Router();
  // The confirmation page of an RP-initiated OIDC logout (CSRF-checked like every form).
  router.post('/logout/confirm', async (ctx) => {
    const xsrf = (ctx.request.body as Record<string, unknown>).xsrf;
    if (typeof xsrf !== 'string' || !/^[A-Za-z0-9_-]{16,128}$/.test(xsrf)) throw new AppError('SSPR 5103', 'logout confirmation without xsrf');
    // The client's post_logout_redirect_uri, from our own (CSRF-checked) form: only lets the
    // last form page lead there; oidc-provider decides where the browser goes.
    const returnTo = (ctx.request.body as Record<string, unknown>).return_to;
    const leadsTo = typeof returnTo === 'string' && /^https?:\/\//.test(returnTo) && returnTo.length <= 2048 ? { leadsTo: returnTo } : {};
    const next = await signOut(ctx, { kind: 'post', action: '/oidc/session/end/confirm', fields: { xsrf, logout: 'yes' }, ...leadsTo });
    seeOther(ctx, next);
  });

  return { signOut, logoutSource, afterOidcLogout, signedOutPage, router };
}

export type SingleLogout = ReturnType<typeof singleLogout>;
