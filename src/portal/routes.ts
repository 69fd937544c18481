// The apps portal and its SSPR app.
//   GET  /portal                 tiles for the apps the account is entitled to
//   GET  /portal/sspr            the MIMS SSPR app: Change Password, Setup Security Questions
//   POST /portal/sspr/:what      starts that flow (current password asked first): password, questions, mfa, email
//   POST /portal/mfa/passkeys/:id/remove   removes a passkey          } after a recent second factor
//   POST /portal/mfa/totp/remove           removes the authenticator  } (step-up first otherwise);
//   POST /portal/mfa/recovery-codes        new recovery codes, shown once } never the last factor of a required account
//   POST /portal/sign-out        single logout of every application of the SSO session
// Without an SSO session: the sign-in flow. With required actions pending: those first.
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Account } from '../domain/accounts/account.ts';
import { entitledApps, type AppDefinition } from '../domain/entitlements.ts';
import { AppError } from '../domain/errors.ts';
import type { Gate, Need, Refusal } from '../domain/sessions/gate.ts';
import type { Clock } from '../domain/clock.ts';
import { mfaOf } from '../domain/mfa/factors.ts';
import type { Mfa } from '../domain/mfa/mfa.ts';
import { maskAddress } from '../domain/recovery/recovery-email.ts';
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
  beginSspr: (ctx: Context, accountId: string, what: 'password' | 'questions' | 'mfa' | 'email') => Promise<string>;
  /** Whether the account is offered a recovery email (settings, and mail can be sent). */
  recoveryEmailOffered: (account: Account) => boolean;
  apps: AppDefinition[];
  mfa: Mfa;
  clock: Clock;
  /** How recent a second factor must be to change the factors (admin.recentAuthMinutes). */
  recentMfaMs: number;
  render: Render;
}

export function portalRouter(deps: PortalDeps): Router {
  const router = new Router();

  /** The signed-in account, or null after sending the browser where it must go first. */
  async function signedIn(ctx: Context, path: string, need?: Need): Promise<{ account: Account; session: SsoSession } | null> {
    const verdict = await deps.gate(await deps.ssoOf(ctx), need);
    if (verdict.reason === 'mfa_unavailable') throw new AppError('SSPR 5403', 'no second factor to confirm with');
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
    const m = mfaOf(me.account);
    await deps.render(ctx, 'sspr', {
      account: who(me.account),
      questionsSet: me.account.questions.length > 0,
      // Masked even here: the whole address is shown only while its owner types it.
      recoveryEmail: deps.recoveryEmailOffered(me.account) ? { masked: me.account.recoveryEmail ? maskAddress(me.account.recoveryEmail.address) : null } : null,
      mfa: deps.mfa.policy.offered(me.account)
        ? {
            required: deps.mfa.policy.required(me.account),
            passkeys: (m?.passkeys ?? []).map((p) => ({ id: p.id, name: p.name, addedAt: p.addedAt, lastUsedAt: p.lastUsedAt })),
            totp: m?.totp ? { addedAt: m.totp.addedAt, lastUsedAt: m.totp.lastUsedAt } : null,
            recoveryCodesLeft: m?.recoveryCodes.length ?? 0,
          }
        : null,
      notice: typeof ctx.query.done === 'string' && /^[a-z-]{1,40}$/.test(ctx.query.done) ? ctx.query.done : null,
    });
  });

  router.post('/portal/sspr/:what', async (ctx) => {
    const what = ctx.params.what;
    if (what !== 'password' && what !== 'questions' && what !== 'mfa' && what !== 'email') throw new AppError('SSPR 5404');
    let me = await signedIn(ctx, '/portal/sspr');
    if (!me) return;
    if (what === 'mfa' && !deps.mfa.policy.offered(me.account)) throw new AppError('SSPR 5403', 'two-step sign-in is not offered to this account');
    if (what === 'email' && !deps.recoveryEmailOffered(me.account)) throw new AppError('SSPR 5403', 'a recovery email is not offered to this account');
    // Adding (or replacing) a factor of an account that has one asks for that one first, as
    // removing does: a password alone must not be enough to bind a new way in (NIST 800-63B 6.1.2.1).
    if (what === 'mfa' && deps.mfa.hasSecondFactor(me.account)) {
      me = await recentlyConfirmed(ctx);
      if (!me) return;
    }
    seeOther(ctx, await deps.beginSspr(ctx, me.account.id, what));
  });

  /** The account, after a second factor within the recent window (a step-up first otherwise). */
  const recentlyConfirmed = (ctx: Context) => signedIn(ctx, '/portal/sspr', { mfa: { since: deps.clock() - deps.recentMfaMs } });
  const rc = (ctx: Context) => ({ ip: ctx.ip, requestId: ctx.state.requestId as string | undefined });

  // A required account keeps at least one factor (else it would have to enrol again at once):
  // checked by the removal itself, in the account's compare-and-set.
  router.post('/portal/mfa/passkeys/:id/remove', async (ctx) => {
    const me = await recentlyConfirmed(ctx);
    if (!me) return;
    if (!mfaOf(me.account)?.passkeys.some((p) => p.id === ctx.params.id)) throw new AppError('SSPR 5404');
    const removed = await deps.mfa.removePasskey(me.account, ctx.params.id!, rc(ctx), deps.mfa.policy.required(me.account));
    seeOther(ctx, removed ? '/portal/sspr?done=passkey-removed' : '/portal/sspr?done=keep-one');
  });

  router.post('/portal/mfa/totp/remove', async (ctx) => {
    const me = await recentlyConfirmed(ctx);
    if (!me) return;
    if (!mfaOf(me.account)?.totp) throw new AppError('SSPR 5404');
    const removed = await deps.mfa.removeTotp(me.account, rc(ctx), deps.mfa.policy.required(me.account));
    seeOther(ctx, removed ? '/portal/sspr?done=totp-removed' : '/portal/sspr?done=keep-one');
  });

  router.post('/portal/mfa/recovery-codes', async (ctx) => {
    const me = await recentlyConfirmed(ctx);
    if (!me) return;
    if (!deps.mfa.hasSecondFactor(me.account)) throw new AppError('SSPR 5403', 'recovery codes without a second factor');
    // Shown once, on this response only (no-store); the account keeps keyed hashes.
    const codes = await deps.mfa.newRecoveryCodes(me.account, rc(ctx));
    await deps.render(ctx, 'mfa-recovery-new', { codes });
  });

  // Single logout: OIDC clients by back channel, SAML SPs by front channel, then a page.
  router.post('/portal/sign-out', async (ctx) => {
    seeOther(ctx, await deps.signOut(ctx));
  });

  return router;
}
