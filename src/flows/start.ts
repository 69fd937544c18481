// Starting flows: the protocols, the portal and /admin ask the gate, and hand a refusal
// here (they do not import the flows' insides). Each answer is the URL of the new flow.
import type { Refusal } from '../domain/sessions/gate.ts';
import { bindingOf, type FlowKind, type Pending, type Resume } from './flow.ts';
import type { FlowMachine } from './machine.ts';

/** The SSPR app's tasks, each a flow kind that runs one action after the current password. */
export type SsprTask = 'password' | 'questions' | 'mfa' | 'email';
const SSPR_TASKS: Record<SsprTask, { kind: FlowKind; action: Pending }> = {
  password: { kind: 'sspr-password', action: 'change-password' },
  questions: { kind: 'sspr-questions', action: 'setup-questions' },
  mfa: { kind: 'sspr-mfa', action: 'setup-mfa' },
  email: { kind: 'sspr-email', action: 'recovery-email' },
};

export interface FlowStarts {
  /**
   * What the gate said must run first:
   *   no_session, account_inactive   sign in (an inactive account's session is ended first)
   *   not_fresh                      sign in again as the session's account (re-authentication)
   *   required_actions               the required actions, keeping the session
   *   mfa_required                   the second factor (step-up), renewing the session
   *   app_notice                     the first-use notice of what an app receives
   * `other_account` and `mfa_unavailable` are the caller's to answer (no flow can help).
   */
  runFirst(refusal: Refusal, resume: Resume, browserSecret: string): Promise<string>;
  /** The login prompt for the portal or /admin. */
  signIn(resume: Resume, browserSecret: string): Promise<string>;
  /** "Forgot Password?" for the destination of the sign-in flow it was reached from. */
  forgotPassword(resume: Resume, browserSecret: string): Promise<string>;
  /** The portal's SSPR app: change password or set up questions, after re-authentication. */
  sspr(accountId: string, what: SsprTask, browserSecret: string): Promise<string>;
}

export function flowStarts(machine: FlowMachine): FlowStarts {
  const { sso } = machine.services;
  return {
    async runFirst(refusal, resume, browserSecret) {
      switch (refusal.reason) {
        case 'required_actions':
          return machine.start('required-actions', { resume, accountId: refusal.account.id, pending: refusal.pending }, browserSecret);
        case 'not_fresh':
          return machine.start('sign-in', { step: 'credentials', resume, accountId: refusal.account.id }, browserSecret);
        case 'account_inactive':
          if (refusal.session) await sso.end(refusal.session.id);
          return machine.start('sign-in', { step: 'credentials', resume }, browserSecret);
        case 'mfa_required':
          return machine.start('step-up', { resume, accountId: refusal.account.id, pending: ['second-factor'] }, browserSecret);
        case 'app_notice':
          return machine.start('app-notice', { step: 'app-notice', resume, accountId: refusal.account.id, app: refusal.app }, browserSecret);
        case 'no_session':
          return machine.start('sign-in', { step: 'credentials', resume }, browserSecret);
        default:
          throw new Error(`the gate's ${refusal.reason} is answered by the caller, not by a flow`);
      }
    },
    signIn: (resume, browserSecret) => machine.start('sign-in', { step: 'credentials', resume }, browserSecret),
    forgotPassword: (resume, browserSecret) => machine.start('forgot-password', { step: 'fp-username', resume }, browserSecret),
    async sspr(accountId, what, browserSecret) {
      const { kind, action } = SSPR_TASKS[what];
      const resume = { kind: 'portal' as const, path: '/portal/sspr' };
      // The password was given to the SSPR app moments ago in this browser: straight to the task.
      if (await machine.services.flows.recentReauth(accountId, bindingOf(browserSecret))) {
        return machine.start(kind, { resume, accountId, pending: [action] }, browserSecret);
      }
      return machine.start(kind, { step: 'reauth', resume, accountId }, browserSecret);
    },
  };
}
