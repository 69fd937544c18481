// Sign in: the login prompt of every protocol and of the portal.
//
//   step         action (POST /flow/:id/…)   leads to
//   credentials  sign-in                     credentials   (wrong, locked, disabled, throttled: said on the page)
//                                            next          (the second factor if the account has one, then its required actions)
//                passkey                     credentials   (a passkey alone: unknown, refused or cancelled)
//                                            next          (verified with user verification: two factors in one)
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
import { field, flowAccount, requestOf, type FlowKindSpec } from '../machine.ts';

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
  },
  pages: {
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
        data: { username: reauthAs ?? flow.form?.username ?? '', reauthAs, cancellable: flow.resume.kind !== 'portal', passkeyOptions: options ? JSON.stringify(options) : null, passkeyLabel: passkeysFor === 'staff' ? 'mfa.passkey.sign_in_staff' : 'mfa.passkey.sign_in' },
        status: flow.error ? 401 : 200,
      };
    },
  },
  actions: [secondFactor, setupQuestions, recoveryEmail, changePassword, setupMfa],
  finish: 'sign-in',
  cancel: 'tell-app',
};
