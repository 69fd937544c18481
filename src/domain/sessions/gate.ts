// One gate for every entry point (OIDC interaction, portal, /admin, and whatever else
// issues something on the strength of the SSO session): may this browser's SSO session
// proceed for what is asked, or what must happen first? The checks run in order, each
// named like oidc-provider's prompt checks; the first that fails decides.
//   no_session        no live SSO session                        -> sign in
//   account_inactive  the account is gone or disabled            -> sign in (the session is over)
//   other_account     the request names another account          -> refused (sign out first)
//   not_fresh         the password was entered before `since`    -> sign in again (same account)
//   required_actions  questions or a password change are pending -> those flows first
import type { Account } from '../accounts/account.ts';
import type { RequiredAction } from '../accounts/credentials.ts';
import type { SsoSession } from './sso-sessions.ts';

export interface Need {
  /** A password entered at or after this time (ms): prompt=login, max_age, ForceAuthn. */
  authenticatedSince?: number | undefined;
  /** Only this account will do (id_token_hint). */
  accountId?: string | undefined;
}

export type Verdict =
  | { proceed: true; reason?: undefined; session: SsoSession; account: Account }
  | { proceed: false; reason: 'no_session' | 'account_inactive'; session: SsoSession | null }
  | { proceed: false; reason: 'other_account' | 'not_fresh'; session: SsoSession; account: Account }
  | { proceed: false; reason: 'required_actions'; session: SsoSession; account: Account; pending: RequiredAction[] };

export interface GateDeps {
  account: (accountId: string) => Promise<Account | null>;
  requiredActions: (account: Account) => RequiredAction[];
}

export type Gate = (session: SsoSession | null, need?: Need) => Promise<Verdict>;

export function sessionGate(deps: GateDeps): Gate {
  return async (session, need = {}) => {
    if (!session) return { proceed: false, reason: 'no_session', session };
    const account = await deps.account(session.accountId);
    if (!account || account.status !== 'active') return { proceed: false, reason: 'account_inactive', session };
    if (need.accountId !== undefined && need.accountId !== account.id) return { proceed: false, reason: 'other_account', session, account };
    if (need.authenticatedSince !== undefined && session.authTime < need.authenticatedSince) return { proceed: false, reason: 'not_fresh', session, account };
    const pending = deps.requiredActions(account);
    if (pending.length > 0) return { proceed: false, reason: 'required_actions', session, account, pending };
    return { proceed: true, session, account };
  };
}
