// The portal's SSPR app for a signed-in user: Change Password, Setup Security Questions,
// add a second factor (a passkey or an authenticator app), or the recovery email.
// It asks for the current password first ("Your current password is required to access
// this application"), whatever the SSO session says; once given, the app's other task in
// the next few minutes (Setup Security Questions after Change Password) does not ask again.
//
//   step    action (POST /flow/:id/…)   leads to
//   reauth  reauth                      reauth   (missing or wrong: said on the page; wrong ones count towards lockout)
//                                       next     (change-password, or setup-questions)
//   …then that action's steps (actions/).
//   finish: back to the SSPR app (/portal/sspr); the SSO session goes on as it was.
//   cancel: back to the SSPR app.
import { message } from '../../messages/catalogue.ts';
import { changePassword } from '../actions/change-password/index.ts';
import { setupMfa } from '../actions/setup-mfa/index.ts';
import { recoveryEmail } from '../actions/recovery-email/index.ts';
import { setupQuestions } from '../actions/setup-questions/index.ts';
import type { FlowKind } from '../flow.ts';
import { AppError } from '../../domain/errors.ts';
import { field, requestOf, type FlowKindSpec } from '../machine.ts';
import { signInMessage } from '../sign-in/index.ts';
import type { RequiredActionSpec } from '../machine.ts';

function ssprKind(kind: FlowKind & `sspr-${string}`, action: RequiredActionSpec, purpose: 'reauth.purpose.password' | 'reauth.purpose.questions' | 'reauth.purpose.mfa' | 'reauth.purpose.email'): FlowKindSpec {
  return {
    kind,
    table: {
      reauth: {
        reauth: {
          to: ['reauth', 'next'],
          run: async (s, flow, input) => {
            if (!flow.accountId) throw new AppError('SSPR 5102', 'reauth without an account');
            const password = field(input.fields, 'password');
            if (password === '') {
              flow.error = message('reauth.missing_password');
              return 'reauth';
            }
            const result = await s.authenticator.reauthenticate(flow.accountId, password, requestOf(input));
            if (!result.ok) {
              // Only the password was asked: a wrong one is said so (not "username or password").
              flow.error = result.reason === 'disabled' || result.reason === 'locked' || result.reason === 'ip_throttled' ? signInMessage(result.reason) : message('reauth.failed');
              return 'reauth';
            }
            await s.flows.rememberReauth(flow.accountId, flow.binding);
            flow.pending = [action.action];
            return 'next';
          },
        },
      },
    },
    pages: {
      reauth: async (_s, flow) => ({ view: 'reauth', data: { purpose: message(purpose) }, status: flow.error ? 401 : 200 }),
    },
    actions: [action],
    finish: 'keep-session',
    cancel: 'restart',
    restart: '/portal/sspr',
  };
}

export const ssprPassword = ssprKind('sspr-password', changePassword, 'reauth.purpose.password');
export const ssprQuestions = ssprKind('sspr-questions', setupQuestions, 'reauth.purpose.questions');
/** Add a passkey or an authenticator app (staff to whom two-step sign-in is offered). */
export const ssprMfa = ssprKind('sspr-mfa', setupMfa, 'reauth.purpose.mfa');
/** Add, change or remove the recovery email (the old address is told). */
export const ssprEmail = ssprKind('sspr-email', recoveryEmail, 'reauth.purpose.email');
