// Sign in: the login prompt of every protocol and of the portal.
//   step credentials: POST /flow/:id/sign-in checks Username and Password.
// A wrong login ID and a wrong password get the same message. A correct password moves
// the flow to the account's required actions (questions, then password change), or
// finishes it; the protocol then takes the account from the SSO session, never a form.
// Re-authentication (an application asked for a fresh sign-in while the SSO session is
// live: prompt=login, max_age, ForceAuthn) is for the session's account only, as Keycloak
// does it: the page shows that account, a posted username is ignored, and "Not you?" signs
// out (single logout) before anyone else can sign in.
import { AppError } from '../../domain/errors.ts';
import { resumeClient } from '../flow.ts';
import { advance, currentFlow, expectStep, field, flowAccount, formBody, requestContext, showAgain } from '../engine.ts';
import { pageData, type FlowModule } from '../steps.ts';

import type { SignInFailure } from '../../domain/accounts/authentication.ts';

export const SIGN_IN_FAILED = 'Login failed. The username or password you entered is incorrect. Please try again.';

/** What the sign-in page says for each failure; unknown and wrong look the same. */
export function signInMessage(reason: SignInFailure): string {
  switch (reason) {
    case 'disabled':
      return 'Your account is disabled. Please contact your administrator (LA/SA) for assistance.';
    case 'locked':
      return 'Your account has been locked due to excessive incorrect login attempts. Please use "Forgot Password?" to unlock it or to set a new password, or approach your teachers or MIMS administrator.';
    case 'ip_throttled':
      return 'There have been too many failed sign-in attempts from your network. Please wait a few minutes and try again.';
    default:
      return SIGN_IN_FAILED;
  }
}

export const signIn: FlowModule = {
  views: {
    credentials: async (deps, ctx, flow) => {
      const reauthAs = flow.accountId ? (await flowAccount(deps, flow)).loginId : null;
      // "Cancel" when an application waits for this sign-in (it is told the user cancelled).
      await deps.render(ctx, 'sign-in', { ...pageData(deps, flow), username: reauthAs ?? flow.form?.username ?? '', reauthAs, cancellable: flow.resume.kind !== 'portal' }, flow.error ? 401 : 200);
    },
  },

  routes(router, deps) {
    router.post('/flow/:id/sign-in', async (ctx) => {
      const flow = await currentFlow(deps, ctx);
      expectStep(flow, 'credentials');
      const body = formBody(ctx);
      const username = flow.accountId ? (await flowAccount(deps, flow)).loginId : field(body, 'username', 254).trim();
      const password = field(body, 'password');
      if (!username || !password) {
        flow.error = 'Please enter your username and password.';
        flow.form = { username };
        return showAgain(deps, ctx, flow);
      }
      const result = await deps.authenticator.signIn(username, password, {
        ...requestContext(ctx),
        client: resumeClient(flow.resume),
      });
      // The metric tells the password check that locked a login ID from refusals where nothing was checked.
      deps.onSignIn?.(result.ok ? 'success' : result.lockedNow ? 'locked_by_this_attempt' : result.reason);
      if (!result.ok) {
        flow.error = signInMessage(result.reason);
        flow.form = { username };
        return showAgain(deps, ctx, flow);
      }
      if (flow.accountId && flow.accountId !== result.account.id) throw new AppError('SSPR 5102', 'flow began for another account');
      flow.accountId = result.account.id;
      flow.authenticatedAt = deps.clock();
      flow.pending = deps.credentials.requiredActions(result.account);
      await advance(deps, ctx, flow);
    });
  },
};
