// The apps portal and its SSPR app.
//   GET  /portal                 tiles for the apps the account is entitled to
//   GET  /portal/sspr            the MIMS SSPR app: Change Password, Setup Security Questions
//   POST /portal/sspr/:what      starts that flow (current password asked first)
//   POST /portal/sign-out        single logout of every application of the SSO session
// Without an SSO session: the sign-in flow. With required actions pending: those first.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Account } from '../domain/accounts/account.ts';
import { entitledApps, type AppDefinition } from '../domain/entitlements.ts';
import { AppError } from '../domain/errors.ts';
import type { Gate, Refusal } from '../domain/sessions/gate.ts';
import { seeOther, type Render } from '../http/respond.ts';
import type { PortalResume } from '../domain/sessions/resume.ts';
import type { SessionCookie, SsoSession, SsoSessions } from '../domain/sessions/sso-sessions.ts';


export interface PortalDeps {
  gate: Gate;
  sso: SsoSessions;
  ssoCookie: SessionCookie<Context>;
  ssoOf: (ctx: Context) => Promise<SsoSession | null>;
  /** Ends the SSO session everywhere (single logout); resolves to where the browser goes. */
  signOut: (ctx: Context) => Promise<string>;
  /** Starts the flow the gate asks for (sign-in, required actions); resolves to its URL. */
  runFirst: (ctx: Context, refusal: Refusal, resume: PortalResume) => Promise<string>;
  beginSspr: (ctx: Context, accountId: string, what: 'password' | 'questions') => Promise<string>;
  apps: AppDefinition[];
  render: Render;
}

export function portalRouter(deps: PortalDeps): Router {
  const router = new Router();

  /** The signed-in account, or null after sending the browser where it must go first. */
  async function signedIn(ctx: Context, path: string): Promise<{ account: Account; session: SsoSession } | null> {
    const verdict = await deps.gate(await deps.ssoOf(ctx));
    if (!verdict.proceed) {
      seeOther(ctx, await deps.runFirst(ctx, verdict, { kind: 'portal', path }));
      return null;
    }
    return { account: verdict.account, session: verdict.session };
  }

  function who(account: Account) {
    return { displayName: account.displayName, loginId: account.loginId, school: account.school.name, level: account.level };
  }

  router.get('/', (ctx) => {
    ctx.redirect('/portal');
  });

  router.get('/portal', async (ctx) => {
    const me = await signedIn(ctx, '/portal');
    if (!me) return;
    await deps.render(ctx, 'portal', { account: who(me.account), apps: entitledApps(me.account, deps.apps) });
  });

  router.get('/portal/sspr', async (ctx) => {
    const me = await signedIn(ctx, '/portal/sspr');
    if (!me) return;
    await deps.render(ctx, 'sspr', { account: who(me.account), questionsSet: me.account.questions.length > 0 });
  });

  router.post('/portal/sspr/:what', async (ctx) => {
    const what = ctx.params.what;
    if (what !== 'password' && what !== 'questions') throw new AppError('SSPR 5404');
    const me = await signedIn(ctx, '/portal/sspr');
    if (!me) return;
    seeOther(ctx, await deps.beginSspr(ctx, me.account.id, what));
  });

  // Single logout: OIDC clients by back channel, SAML SPs by front channel, then a page.
  router.post('/portal/sign-out', async (ctx) => {
    seeOther(ctx, await deps.signOut(ctx));
  });

  return router;
}
