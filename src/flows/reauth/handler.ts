// The SSPR app asks a signed-in user for their current password before it changes
// anything ("Your current password is required to access this application").
//   step reauth: POST /flow/:id/reauth
import { AppError } from '../../domain/errors.ts';
import { signInMessage } from '../sign-in/handler.ts';
import { advance, currentFlow, expectStep, field, formBody, requestContext, showAgain } from '../engine.ts';
import { pageData, type FlowModule } from '../steps.ts';

export const reauth: FlowModule = {
  views: {
    reauth: async (deps, ctx, flow) => {
      await deps.render(ctx, 'reauth', { ...pageData(deps, flow), purpose: flow.kind === 'sspr-password' ? 'Change Password' : 'Setup Security Questions' }, flow.error ? 401 : 200);
    },
  },

  routes(router, deps) {
    router.post('/flow/:id/reauth', async (ctx) => {
      const flow = await currentFlow(deps, ctx);
      expectStep(flow, 'reauth');
      const password = field(formBody(ctx), 'password');
      if (!flow.accountId) throw new AppError('SSPR 5102', 'reauth without an account');
      const result = password === '' ? null : await deps.authenticator.reauthenticate(flow.accountId, password, requestContext(ctx));
      if (!result?.ok) {
        flow.error = result && !result.ok ? signInMessage(result.reason) : 'Please enter your password.';
        return showAgain(deps, ctx, flow);
      }
      flow.pending = flow.kind === 'sspr-password' ? ['change-password'] : ['setup-questions'];
      await advance(deps, ctx, flow);
    });
  },
};
