// One account: its state and recent events, and the actions on it.
//   GET  /admin/accounts/:id           an account's state (and what the last action told the apps)
//   GET  /admin/accounts/:id/:action   confirmation page
//   POST /admin/accounts/:id/:action   reset-password | unlock | clear-questions | reset-mfa | disable | enable
// Sensitive actions need a recent sign-in: an administrator with two-step sign-in confirms
// with the second factor (step-up, within admin.recentAuthMinutes); one without (where the
// policy does not require it) re-enters the password on the confirmation page.
// Resetting two-step sign-in of an administrator is for ministry administrators only.
import type { RouterContext } from '@koa/router';
import { newId } from '../domain/ids.ts';
import { schoolYear } from '../domain/classes/classes.ts';
import { AppError } from '../domain/errors.ts';
import { describeReport, type SignOutReport } from '../domain/sessions/sign-out-report.ts';
import { seeOther } from '../http/respond.ts';
import { keys } from '../store/index.ts';
import { confirmedByPassword, ctxOf, isFresh, signedInAdmin, stepUp, usesMfa, who, type Admin, type AdminDeps } from './signed-in.ts';

const ACTIONS = {
  'reset-password': { label: 'Reset Password', question: 'Reset the password of this account to a new temporary password? The student must change it at the next sign-in; their security questions are kept; their sessions at the MIMS Portal end, and the apps they are signed in to are told to sign them out where that is possible (the next page names any app that could not be told).' },
  unlock: { label: 'Unlock Account', question: 'Unlock this account? The password is not changed.' },
  'clear-questions': { label: 'Clear Security Questions', question: 'Clear the security questions of this account? The student sets new ones at the next sign-in.' },
  'reset-mfa': { label: 'Reset Two-Step Sign-in', question: 'Remove every passkey, authenticator app and recovery code of this account? Use this when the person has lost their device and their recovery codes. If two-step sign-in is required for them, they set it up again at their next sign-in.' },
  disable: { label: 'Disable Account', question: 'Disable this account? The user cannot sign in; their sessions at the MIMS Portal end, and the apps they are signed in to are told to sign them out where that is possible (the next page names any app that could not be told).' },
  enable: { label: 'Enable Account', question: 'Enable this account again?' },
  'request-password': { label: 'Ask for a Temporary Password', question: 'Ask the school administrator for a temporary password for this student?' },
} as const;
type Action = keyof typeof ACTIONS;

/** How long the page after an action can show what the apps were told. */
const REPORT_MS = 10 * 60_000;

/** What a page shows of a SignOutReport. */
function shown(report: SignOutReport) {
  return { sessionsEnded: report.sessionsEnded, ...describeReport(report) };
}

function isAction(v: string | undefined): v is Action {
  return v !== undefined && Object.hasOwn(ACTIONS, v);
}

export function accountHandlers(deps: AdminDeps) {
  const fresh = (a: Admin) => isFresh(deps, a);

  /** The scope's capability first (a form teacher unlocks and gives passwords only); resetting an administrator's two-step sign-in: ministry administrators only. */
  function mayAct(a: Admin, action: Action, target: { roles: string[] }): void {
    deps.administration.require(a.scope, action);
    const isAdmin = target.roles.some((r) => r === 'school-admin' || r === 'ministry-admin');
    if (action === 'reset-mfa' && isAdmin && a.scope.kind !== 'ministry') throw new AppError('SSPR 5403', 'only ministry administrators reset an administrator\'s two-step sign-in');
  }

  const show = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    const state = await deps.administration.state(a.scope, ctx.params.id!);
    // What the action just done told the apps: kept for this administrator and account only.
    const reportId = typeof ctx.query.report === 'string' && /^[A-Za-z0-9_-]{16,64}$/.test(ctx.query.report) ? ctx.query.report : null;
    const saved = reportId ? await deps.store.get(keys.adminSignOutReport(reportId)) : null;
    const report = saved ? (JSON.parse(saved) as { adminId: string; accountId: string; signOut: ReturnType<typeof shown> }) : null;
    const signOut = report && report.adminId === a.actor.id && report.accountId === state.account.id ? report.signOut : null;
    const notice = typeof ctx.query.done === 'string' && (isAction(ctx.query.done) || ctx.query.done === 'set-class' || ctx.query.done === 'void-badge') ? ctx.query.done : null;
    const error = ctx.query.error === 'class_name' || ctx.query.error === 'class_year' || ctx.query.error === 'badge_not_allowed' ? `admin.error.${ctx.query.error}` : null;
    // The pupil's sign-in badge, where badges are on and the account may hold one (or holds one).
    const badge = (await deps.administration.badgesOf(a.scope, [state.account])).get(state.account.id) ?? null;
    const badges = deps.administration.badgeLevels().length > 0 && (badge !== null || deps.administration.mayHoldBadge(state.account)) ? { printedAt: badge?.issuedAt ?? null } : null;
    await deps.render(ctx, 'admin/account', { admin: who(a, deps), state, actions: ACTIONS, notice, error, signOut, year: schoolYear(deps.clock()), badges });
  };

  const confirm = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    const action = ctx.params.action;
    if (!isAction(action)) throw new AppError('SSPR 5404');
    const account = await deps.administration.target(a.scope, ctx.params.id!);
    mayAct(a, action, account);
    if (!fresh(a) && usesMfa(deps, a)) return stepUp(deps, ctx, a, ctx.path);
    await deps.render(ctx, 'admin/confirm', { admin: who(a, deps), account, action, ...ACTIONS[action], needsPassword: !fresh(a) });
  };

  const act = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    const action = ctx.params.action;
    if (!isAction(action)) throw new AppError('SSPR 5404');
    const id = ctx.params.id!;
    mayAct(a, action, await deps.administration.target(a.scope, id)); // 403 before anything else
    if (!fresh(a) && usesMfa(deps, a)) return stepUp(deps, ctx, a, `/admin/accounts/${encodeURIComponent(id)}/${action}`);
    // Sensitive actions need a recent sign-in: the confirmation page asks for the password.
    if (!fresh(a) && !(await confirmedByPassword(deps, ctx, a))) {
      const account = await deps.administration.target(a.scope, id);
      await deps.render(ctx, 'admin/confirm', { admin: who(a, deps), account, action, ...ACTIONS[action], needsPassword: true, error: 'admin.confirm_password_missing' }, 401);
      return;
    }
    const rc = ctxOf(ctx);
    switch (action) {
      case 'reset-password': {
        const { account, temporaryPassword, signOut } = await deps.administration.resetPassword(a.scope, a.actor, id, rc);
        // Shown once, on this response only; never stored in plain text nor logged.
        const slip = { name: account.displayName, loginId: account.loginId, className: account.class?.name ?? '', school: account.school.name, temporaryPassword, questionsSet: account.questions.length > 0 };
        await deps.render(ctx, 'admin/reset-done', { admin: who(a, deps), account, temporaryPassword, signOut: shown(signOut), slip, portalUrl: deps.portalUrl });
        return;
      }
      case 'unlock':
        await deps.administration.unlock(a.scope, a.actor, id, rc);
        break;
      case 'clear-questions':
        await deps.administration.clearQuestions(a.scope, a.actor, id, rc);
        break;
      case 'reset-mfa':
        await deps.mfa.reset(await deps.administration.target(a.scope, id), { ...rc, actor: a.actor.id });
        break;
      case 'disable': {
        const { signOut } = await deps.administration.setStatus(a.scope, a.actor, id, 'disabled', rc);
        const reportId = newId();
        await deps.store.set(keys.adminSignOutReport(reportId), JSON.stringify({ adminId: a.actor.id, accountId: id, signOut: shown(signOut!) }), { ttlMs: REPORT_MS });
        seeOther(ctx, `/admin/accounts/${encodeURIComponent(id)}?done=${action}&report=${reportId}`);
        return;
      }
      case 'enable':
        await deps.administration.setStatus(a.scope, a.actor, id, 'active', rc);
        break;
      case 'request-password':
        await deps.administration.requestPassword(a.scope, a.actor, id, rc);
        break;
    }
    seeOther(ctx, `/admin/accounts/${encodeURIComponent(id)}?done=${action}`);
  };

  return { show, confirm, act };
}
