// Sign in: the login prompt of every protocol and of the portal.
//
//   step         action (POST /flow/:id/…)   leads to
//   credentials  sign-in                     credentials   (wrong, locked, disabled, throttled: said on the page)
//                                            next          (the account's required actions, then finish)
//   …then the steps of setup-questions and change-password (actions/), as the account needs them.
//   finish: the SSO session is created (or renewed, for the same account) with the time the
//           password was verified here; the browser goes back to the application (or portal).
//   cancel: the application is told the user cancelled (the portal shows "cancelled").
//
// A wrong login ID and a wrong password get the same message. Re-authentication (an
// application asked for a fresh sign-in while the SSO session is live: prompt=login,
// max_age, ForceAuthn) is for the session's account only, as Keycloak does it: the flow
// starts with that account, the page shows it, a posted username is ignored, and "Not you?"
// signs out (single logout) before anyone else can sign in.
import type { SignInFailure } from '../../domain/accounts/authentication.ts';
import { AppError } from '../../domain/errors.ts';
import { message, type Message } from '../../messages/catalogue.ts';
import { changePassword } from '../actions/change-password/index.ts';
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
    default:
      return message('signin.failed');
  }
}

export const signIn: FlowKindSpec = {
  kind: 'sign-in',
  table: {
    credentials: {
      'sign-in': {
        to: ['credentials', 'next'],
        run: async (s, flow, input) => {
          const username = flow.accountId ? (await flowAccount(s, flow)).loginId : field(input.fields, 'username', 254).trim();
          const password = field(input.fields, 'password');
          if (!username || !password) {
            flow.error = message('signin.missing_fields');
            flow.form = { username };
            return 'credentials';
          }
          const result = await s.authenticator.signIn(username, password, { ...requestOf(input), client: resumeClient(flow.resume) });
          // The metric tells the password check that locked a login ID from refusals where nothing was checked.
          s.onSignIn?.(result.ok ? 'success' : result.lockedNow ? 'locked_by_this_attempt' : result.reason);
          if (!result.ok) {
            flow.error = signInMessage(result.reason);
            flow.form = { username };
            return 'credentials';
          }
          if (flow.accountId && flow.accountId !== result.account.id) throw new AppError('SSPR 5102', 'flow began for another account');
          flow.accountId = result.account.id;
          flow.authenticatedAt = s.clock();
          flow.pending = s.credentials.requiredActions(result.account);
          return 'next';
        },
      },
    },
  },
  pages: {
    credentials: async (s, flow) => {
      const reauthAs = flow.accountId ? (await flowAccount(s, flow)).loginId : null;
      // "Cancel" when an application waits for this sign-in (it is told the user cancelled).
      return {
        view: 'sign-in',
        data: { username: reauthAs ?? flow.form?.username ?? '', reauthAs, cancellable: flow.resume.kind !== 'portal' },
        status: flow.error ? 401 : 200,
      };
    },
  },
  actions: [setupQuestions, changePassword],
  finish: 'sign-in',
  cancel: 'tell-app',
};
