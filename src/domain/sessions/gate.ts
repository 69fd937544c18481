// One gate for every entry point (OIDC interaction, SAML resume, portal and its SSPR app,
// /admin): may this browser's SSO session proceed for what is asked, or which flow must run
// first? The checks run in order, each named like oidc-provider's prompt checks; the first
// that fails decides, and says what to run:
//   no_session        no live SSO session                        -> run sign-in
//   account_inactive  the account is gone or disabled            -> run sign-in (the session is over)
//   other_account     the request names another account          -> refuse (sign out first)
//   not_fresh         the password was entered before `since`    -> run sign-in again, same account
//   required_actions  a required action is due (required-actions.ts: one named check each;
//                     a badge session is not asked the password's: questions, password change)
//                                                                -> run required-actions, session kept
//   mfa_required      two-step sign-in is asked (acr mfa: OIDC acr_values, SAML
//                     RequestedAuthnContext, /admin actions) and the session has none
//                     recent enough, but the account has a second factor -> run step-up
//   mfa_unavailable   the same, and the account has no second factor -> the caller decides
//                     (OIDC: a lower acr, or an error when essential; SAML: NoAuthnContext)
//   app_notice        the app is about to receive something of a person who must be told
//                     first (privacy.noticeRoles), and was not -> run app-notice
// Callers hand a refusal to the flows (`runFirst`, src/flows/start.ts); a protocol that may
// not show pages (prompt=none, IsPassive) answers its relying party instead.
import type { Account } from '../accounts/account.ts';
import { PASSWORD_ACTIONS, type RequiredAction } from '../accounts/required-actions.ts';
import type { SsoSession } from './sso-sessions.ts';

export interface Need {
  /** A password entered at or after this time (ms): prompt=login, max_age, ForceAuthn. */
  authenticatedSince?: number | undefined;
  /** Only this account will do (id_token_hint). */
  accountId?: string | undefined;
  /** Two-step sign-in is needed, verified at or after `mfaSince` (ms) when given. */
  mfa?: { since?: number | undefined } | undefined;
  /** The app about to receive the person's data, and what it receives (the first-use notice). */
  app?: AppNotice | undefined;
}

/** An app as the first-use notice names it: its key ("oidc:<client_id>", "saml:<sp id>"), its name, and what it receives (claim or attribute names). */
export interface AppNotice {
  key: string;
  name: string;
  receives: string[];
}

export type Verdict =
  | { proceed: true; reason?: undefined; run?: undefined; session: SsoSession; account: Account }
  | { proceed: false; reason: 'no_session' | 'account_inactive'; run: 'sign-in'; session: SsoSession | null }
  | { proceed: false; reason: 'other_account'; run: 'refuse'; session: SsoSession; account: Account }
  | { proceed: false; reason: 'not_fresh'; run: 'sign-in'; session: SsoSession; account: Account }
  | { proceed: false; reason: 'required_actions'; run: 'required-actions'; session: SsoSession; account: Account; pending: RequiredAction[] }
  | { proceed: false; reason: 'mfa_required'; run: 'step-up'; session: SsoSession; account: Account }
  | { proceed: false; reason: 'mfa_unavailable'; run: 'refuse'; session: SsoSession; account: Account }
  | { proceed: false; reason: 'app_notice'; run: 'app-notice'; session: SsoSession; account: Account; app: AppNotice };

/** A refusal: what the flows must run before the caller may proceed. */
export type Refusal = Exclude<Verdict, { proceed: true }>;

export interface GateDeps {
  account: (accountId: string) => Promise<Account | null>;
  requiredActions: (account: Account) => RequiredAction[];
  hasSecondFactor: (account: Account) => boolean;
  /** Whether the person must be told what an app receives before its first use (and was not). */
  noticeDue?: (account: Account, appKey: string) => boolean;
}

export type Gate = (session: SsoSession | null, need?: Need) => Promise<Verdict>;

type Check = (session: SsoSession, account: Account, need: Need, deps: GateDeps) => Refusal | null;

/** The checks for a live session of an active account, in order. */
const CHECKS: ReadonlyArray<[name: string, check: Check]> = [
  ['other_account', (session, account, need) => (need.accountId !== undefined && need.accountId !== account.id ? { proceed: false, reason: 'other_account', run: 'refuse', session, account } : null)],
  ['not_fresh', (session, account, need) => (need.authenticatedSince !== undefined && session.authTime < need.authenticatedSince ? { proceed: false, reason: 'not_fresh', run: 'sign-in', session, account } : null)],
  ['required_actions', (session, account, _need, deps) => {
    // A badge session used no password: the password's own actions wait for the next password sign-in.
    const pending = deps.requiredActions(account).filter((a) => !session.amr.includes('badge') || !PASSWORD_ACTIONS.has(a));
    return pending.length > 0 ? { proceed: false, reason: 'required_actions', run: 'required-actions', session, account, pending } : null;
  }],
  ['mfa', (session, account, need, deps) => {
    if (!need.mfa) return null;
    // A badge session is never two-step (domain/badges/), whatever came after the badge.
    if (session.amr.includes('mfa') && !session.amr.includes('badge') && (need.mfa.since === undefined || (session.mfaAt ?? 0) >= need.mfa.since)) return null;
    return deps.hasSecondFactor(account)
      ? { proceed: false, reason: 'mfa_required', run: 'step-up', session, account }
      : { proceed: false, reason: 'mfa_unavailable', run: 'refuse', session, account };
  }],
  ['app_notice', (session, account, need, deps) => (need.app && deps.noticeDue?.(account, need.app.key) ? { proceed: false, reason: 'app_notice', run: 'app-notice', session, account, app: need.app } : null)],
];

export function sessionGate(deps: GateDeps): Gate {
  return async (session, need = {}) => {
    if (!session) return { proceed: false, reason: 'no_session', run: 'sign-in', session };
    const account = await deps.account(session.accountId);
    if (!account || account.status !== 'active') return { proceed: false, reason: 'account_inactive', run: 'sign-in', session };
    for (const [, check] of CHECKS) {
      const refusal = check(session, account, need, deps);
      if (refusal) return refusal;
    }
    return { proceed: true, session, account };
  };
}
