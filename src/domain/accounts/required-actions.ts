// Required actions: what an account must do before anything is issued for it, each one a
// named check, in the order they run. The gate (domain/sessions/gate.ts) asks these on
// every entry point; each action is carried out by its flow folder (src/flows/actions/).
// A new required action is one check here plus one folder there.
import type { Account } from './account.ts';
import type { PasswordPolicies } from '../passwords/policy.ts';

export type RequiredAction = 'setup-questions' | 'change-password' | 'setup-mfa';

export interface RequiredActionContext {
  now: number;
  policies: PasswordPolicies;
  /** Whether two-step sign-in is required for the account (domain/mfa/policy.ts). */
  mfaRequired: (account: Account) => boolean;
  hasSecondFactor: (account: Account) => boolean;
}

export interface RequiredActionCheck {
  action: RequiredAction;
  /** Why, for a reader and for the CLI's `account show`. */
  description: string;
  due(account: Account, ctx: RequiredActionContext): boolean;
}

export const REQUIRED_ACTION_CHECKS: readonly RequiredActionCheck[] = [
  {
    action: 'setup-questions',
    description: 'no challenge questions set up yet (first sign-in, or cleared by an administrator)',
    due: (account) => account.questions.length === 0,
  },
  {
    action: 'change-password',
    description: 'a temporary password, or the password is older than its policy allows',
    due: (account, { now, policies }) => {
      const maxAgeDays = policies.for(account).rules.maxAgeDays;
      const expired = maxAgeDays !== null && now - account.passwordChangedAt > maxAgeDays * 86_400_000;
      return account.mustChangePassword || expired;
    },
  },
  {
    action: 'setup-mfa',
    description: 'two-step sign-in is required for the account (administrators by default) and no second factor is set up',
    due: (account, { mfaRequired, hasSecondFactor }) => mfaRequired(account) && !hasSecondFactor(account),
  },
];

/**
 * The actions that belong to the password (the guides' first sign-in: questions, then a new
 * password): not asked of a session that signed in by badge (domain/badges/), which used none;
 * they wait for the pupil's next sign-in with the password.
 */
export const PASSWORD_ACTIONS: ReadonlySet<RequiredAction> = new Set<RequiredAction>(['setup-questions', 'change-password']);

/** The account's pending required actions, in order. */
export function dueActions(account: Account, ctx: RequiredActionContext): RequiredAction[] {
  return REQUIRED_ACTION_CHECKS.filter((c) => c.due(account, ctx)).map((c) => c.action);
}
