// Sign in: the login prompt of every protocol and of the portal.
//
//   step         action (POST /flow/:id/…)   leads to
//   credentials  sign-in                     credentials   (wrong, locked, disabled, throttled: said on the page)
//                                            next          (the second factor if the account has one, then its required actions)
//                passkey                     credentials   (a passkey alone: unknown, refused or cancelled)
//                                            next          (verified with user verification: two factors in one)
//                badge                       credentials   (a scanned badge: unknown, voided, not allowed here or now, locked)
//                                            badge-pin     (the badge has a PIN)
//                                            next          (signed in by badge: amr ["badge"])
//   badge-pin    pin                         badge-pin     (wrong PIN; five lock the login ID, as wrong passwords do)
//                                            credentials   (locked, or the badge was voided meanwhile)
//                                            next          (amr ["badge", "pin"])
//                badge-back                  credentials   ("This is not my badge")
//   …then the steps of second-factor, setup-questions (and the recovery email's offer after
//   it), change-password and setup-mfa (actions/), as the account needs them.
//   finish: the SSO session is created (or renewed, for the same account) with the time the
//           account was authenticated here and how (amr); the browser goes back to the
//           application (or portal).
//   cancel: the application is told the user cancelled (the portal shows "cancelled").
//
// A wrong login ID and a wrong password get the same message. Re-authentication (an
// application asked for a fresh sign-in while the SSO session is live: prompt=login,
// max_age, ForceAuthn) is for the session's account only, as Keycloak does it: the flow
// starts with that account, the page shows it, a posted username is ignored, and "Not you?"
// signs out (single logout) before anyone else can sign in.
import type { SignInFailure } from '../../domain/accounts/authentication.ts';
import { normaliseLoginId } from '../../domain/accounts/account.ts';
import { AppError } from '../../domain/errors.ts';
import { message, type Message } from '../../messages/catalogue.ts';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { passkeyMethod } from '../../domain/mfa/factors.ts';
import { changePassword } from '../actions/change-password/index.ts';
import { passkeyResponse, secondFactor } from '../actions/second-factor/index.ts';
import { setupMfa } from '../actions/setup-mfa/index.ts';
import { recoveryEmail } from '../actions/recovery-email/index.ts';
import { setupQuestions } from '../actions/setup-questions/index.ts';
import { resumeClient } from '../flow.ts';
import { field, flowAccount, requestOf, type FlowKindSpec, type FlowServices, type StepInput } from '../machine.ts';
import type { Flow } from '../flow.ts';
import type { Account } from '../../domain/accounts/account.ts';
import { PASSWORD_ACTIONS } from '../../domain/accounts/required-actions.ts';
import type { ScanFailure } from '../../domain/badges/badges.ts';
import { passwordStamp } from '../../domain/security/devices.ts';

/** What the page says when a badge does not sign in. */
function badgeMessage(reason: ScanFailure | 'bad_pin'): Message {
  switch (reason) {
    case 'badge_voided': return message('badge.voided');
    case 'badge_not_allowed': return message('badge.not_allowed');
    case 'badge_other_account': return message('badge.other_account');
    case 'badge_hours': return message('badge.hours');
    case 'badge_network': return message('badge.network');
    case 'disabled': return message('signin.disabled');
    case 'locked': return message('signin.locked');
    case 'ip_throttled': return message('signin.ip_throttled');
    case 'bad_pin': return message('badge.pin_wrong');
    default: return message('badge.unknown');
  }
}

/** A badge signed the pupil in: no password was used, so the password's required actions wait for the next password sign-in. */
function signedInByBadge(s: FlowServices, flow: Flow, account: Account, amr: string[]): 'next' {
  if (flow.accountId && flow.accountId !== account.id) throw new AppError('SSPR 5102', 'flow began for another account');
  flow.accountId = account.id;
  flow.authenticatedAt = s.clock();
  flow.amr = amr;
  flow.deviceLogin = account.loginId;
  delete flow.badgeId;
  flow.pending = s.credentials.requiredActions(account).filter((a) => !PASSWORD_ACTIONS.has(a));
  return 'next';
}

function badgeContext(flow: Flow, input: StepInput) {
  return { ...requestOf(input), client: resumeClient(flow.resume), language: input.lang };
}

/** This browser's device nonce for the account (a known device), for the lock's scope. */
function deviceFor(input: StepInput) {
  return (account: Account) => input.deviceOf?.(account.loginId, passwordStamp(account));
}

/** What the page says for each failure; an unknown login ID and a wrong password look the same. */
export function signInMessage(reason: SignInFailure): Message {
  switch (reason) {
    case 'disabled':
      return message('signin.disabled');
    case 'locked':
      return message('signin.locked');
    case 'ip_throttled':
      return message('signin.ip_throttled');
    case 'temporary_expired':
      return message('signin.temporary_expired');
    default:
      return message('signin.failed');
  }
}

export const signIn: FlowKindSpec = {
  kind: 'sign-in',
  table: {
    credentials: {
      passkey: {
        to: ['credentials', 'next'],
        run: async (s, flow, input) => {
          const response = passkeyResponse<AuthenticationResponseJSON>(flow, input);
          if (!response) return 'credentials';
          const expected = flow.accountId ? await flowAccount(s, flow) : null;
          const checked = await s.mfa.checkPasskey(response.credential, response.challenge, expected, { ...requestOf(input), client: resumeClient(flow.resume) });
          s.onSignIn?.(checked?.userVerified ? 'success' : 'passkey_refused');
          // A passkey alone must have verified the user (PIN, biometrics): possession and that, two factors.
          if (!checked || !checked.userVerified) {
            flow.error = message('mfa.passkey_unknown');
            return 'credentials';
          }
          const now = s.clock();
          flow.accountId = checked.account.id;
          flow.authenticatedAt = now;
          flow.amr = [passkeyMethod(checked.passkey), 'user', 'mfa'];
          flow.mfaAt = now;
          await s.audit.record({ type: 'signin.success', accountId: checked.account.id, reason: 'passkey', client: resumeClient(flow.resume), ...requestOf(input) });
          flow.pending = s.credentials.requiredActions(checked.account);
          return 'next';
        },
      },
      badge: {
        to: ['credentials', 'badge-pin', 'next'],
        run: async (s, flow, input) => {
          const scanned = field(input.fields, 'badge', 200).trim();
          delete flow.challenge;
          // Re-authentication (prompt=login) is for the session's pupil only: another's badge is refused in the scan.
          const result = await s.badges.scan(scanned, badgeContext(flow, input), deviceFor(input), flow.accountId);
          s.onSignIn?.(result.ok ? (result.needsPin ? 'badge_scanned' : 'badge_success') : result.reason);
          if (!result.ok) {
            flow.error = badgeMessage(result.reason);
            return 'credentials';
          }
          if (result.needsPin) {
            flow.badgeId = result.badge.id;
            return 'badge-pin';
          }
          return signedInByBadge(s, flow, result.account, ['badge']);
        },
      },
      'sign-in': {
        to: ['credentials', 'next'],
        run: async (s, flow, input) => {
          const username = flow.accountId ? (await flowAccount(s, flow)).loginId : field(input.fields, 'username', 254).trim();
          const password = field(input.fields, 'password');
          // Only a login ID is shown again: a password typed into Username is never kept.
          const again = { username: normaliseLoginId(username) ? username : '' };
          if (!username || !password) {
            flow.error = message('signin.missing_fields');
            flow.form = again;
            return 'credentials';
          }
          const result = await s.authenticator.signIn(username, password, { ...requestOf(input), client: resumeClient(flow.resume), language: input.lang }, input.deviceOf);
          // Held back by the spraying alarm: nothing was checked or kept; the waiting page sends the form again.
          if (!result.ok && result.reason === 'held_back') {
            s.onSignIn?.('held_back');
            throw new AppError('SSPR 5141', 'unknown device held back by the spraying alarm', { retryAfterSeconds: result.retryAfterSeconds ?? 60 });
          }
          // The metric tells the password check that locked a login ID from refusals where nothing was checked.
          s.onSignIn?.(result.ok ? 'success' : result.lockedNow ? 'locked_by_this_attempt' : result.reason);
          delete flow.challenge;
          if (!result.ok) {
            flow.error = signInMessage(result.reason);
            flow.form = again;
            return 'credentials';
          }
          if (flow.accountId && flow.accountId !== result.account.id) throw new AppError('SSPR 5102', 'flow began for another account');
          flow.accountId = result.account.id;
          flow.authenticatedAt = s.clock();
          flow.amr = ['pwd'];
          flow.deviceLogin = result.account.loginId;
          flow.pending = [...(s.mfa.hasSecondFactor(result.account) ? (['second-factor'] as const) : []), ...s.credentials.requiredActions(result.account)];
          return 'next';
        },
      },
    },
    'badge-pin': {
      pin: {
        to: ['badge-pin', 'credentials', 'next'],
        run: async (s, flow, input) => {
          const pin = field(input.fields, 'pin', 32).trim();
          if (!flow.badgeId) throw new AppError('SSPR 5102', 'badge-pin without a scanned badge');
          if (!pin) {
            flow.error = message('badge.pin_missing');
            return 'badge-pin';
          }
          const result = await s.badges.checkPin(flow.badgeId, pin, badgeContext(flow, input), deviceFor(input));
          s.onSignIn?.(result.ok ? 'badge_success' : result.lockedNow ? 'locked_by_this_attempt' : result.reason);
          if (result.ok) return signedInByBadge(s, flow, result.account, ['badge', 'pin']);
          flow.error = badgeMessage(result.reason);
          if (result.reason === 'bad_pin') return 'badge-pin';
          delete flow.badgeId;
          return 'credentials';
        },
      },
      'badge-back': {
        to: ['credentials'],
        run: async (_s, flow) => {
          delete flow.badgeId;
          return 'credentials';
        },
      },
    },
  },
  pages: {
    'badge-pin': async (s, flow) => {
      const badge = flow.badgeId ? await s.badges.pinOf(flow.badgeId) : null;
      if (!badge) {
        // Voided meanwhile (by a teacher, or by too many wrong PINs): back to the sign-in page, saying so.
        delete flow.badgeId;
        flow.step = 'credentials';
        flow.error = message('badge.voided');
        await s.flows.save(flow);
        return signIn.pages.credentials!(s, flow, '');
      }
      return { view: 'badge-pin', data: { name: badge.givenName || badge.displayName, digits: s.badges.settings.pinDigits || 4 }, status: flow.error ? 401 : 200 };
    },
    credentials: async (s, flow) => {
      const account = flow.accountId ? await flowAccount(s, flow) : null;
      const reauthAs = account?.loginId ?? null;
      // "Sign in with a passkey": any passkey (discoverable), or the re-authenticating account's.
      // A flow that is only a reference has a challenge derived from it (nothing is stored for a page view).
      // Students are not offered passkeys: the anonymous page offers the button only where some
      // population may hold one, and says whose it is ("Staff: …") when students may not.
      const passkeysFor = account ? 'everyone' : s.mfa.policy.passkeysFor();
      const options = passkeysFor && (!account || s.mfa.hasSecondFactor(account)) ? await s.mfa.authenticationOptions(account, flow.token === undefined ? undefined : flow.challenge) : null;
      if (options && flow.token === undefined) {
        flow.challenge = options.challenge;
        await s.flows.save(flow);
      }
      // "Cancel" when an application waits for this sign-in (it is told the user cancelled).
      return {
        view: 'sign-in',
        data: { username: reauthAs ?? flow.form?.username ?? '', reauthAs, cancellable: flow.resume.kind !== 'portal', passkeyOptions: options ? JSON.stringify(options) : null, passkeyLabel: passkeysFor === 'staff' ? 'mfa.passkey.sign_in_staff' : 'mfa.passkey.sign_in', badges: account ? s.badges.mayHold(account) : s.badges.enabled },
        status: flow.error ? 401 : 200,
      };
    },
  },
  actions: [secondFactor, setupQuestions, recoveryEmail, changePassword, setupMfa],
  finish: 'sign-in',
  cancel: 'tell-app',
};
