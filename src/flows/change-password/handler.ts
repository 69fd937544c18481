// Change Password, then Please Wait, then Success.
//   step password:       POST /flow/:id/password          (Change Password)
//   step password-wait:  POST /flow/:id/password/commit   (sent by the Please Wait page)
//   step password-done:  POST /flow/:id/continue          (Continue; see router.ts)
// The server checks every rule of the account's policy; the new password is hashed at
// once and only its hash waits in the flow. The commit replaces the password only if
// it has not changed meanwhile, then revokes the account's other sessions and tokens.
import { PasswordChangedMeanwhileError } from '../../domain/accounts/credentials.ts';
import { AppError } from '../../domain/errors.ts';
import { describeReport } from '../../domain/sessions/sign-out-report.ts';
import { nameParts } from '../../domain/passwords/policy.ts';
import { currentFlow, expectStep, field, flowAccount, formBody, requestContext, showAgain } from '../engine.ts';
import { pageData, type FlowModule } from '../steps.ts';

export const changePassword: FlowModule = {
  views: {
    password: async (deps, ctx, flow) => {
      const account = await flowAccount(deps, flow);
      const policy = deps.policies.for(account);
      await deps.render(
        ctx,
        'change-password',
        {
          ...pageData(deps, flow),
          requirements: policy.requirements(),
          rules: policy.rules,
          nameParts: policy.rules.noNameParts ? nameParts(account, policy.rules.namePartMinLength) : [],
          problems: flow.form?.problems ? flow.form.problems.split('\n') : [],
        },
        flow.error ? 400 : 200,
      );
    },
    'password-wait': async (deps, ctx, flow) => {
      await deps.render(ctx, 'please-wait', pageData(deps, flow));
    },
    'password-done': async (deps, ctx, flow) => {
      await deps.render(ctx, 'password-changed', { ...pageData(deps, flow), signOut: flow.signOut ?? null });
    },
  },

  routes(router, deps) {
    router.post('/flow/:id/password', async (ctx) => {
      const flow = await currentFlow(deps, ctx);
      expectStep(flow, 'password');
      const account = await flowAccount(deps, flow);
      const body = formBody(ctx);
      const candidate = field(body, 'newPassword', 4096);
      const confirmation = field(body, 'confirmPassword', 4096);
      delete flow.form;
      if (!candidate) {
        flow.error = 'Password missing';
        return showAgain(deps, ctx, flow);
      }
      if (candidate !== confirmation) {
        flow.error = 'Passwords do not match. Please type the same new password in both fields.';
        return showAgain(deps, ctx, flow);
      }
      const violations = await deps.policies.for(account).check(candidate, account, deps.credentials.history(account));
      if (violations.length > 0) {
        flow.error = 'The new password does not meet the password requirements.';
        flow.form = { problems: violations.map((v) => v.message).join('\n') };
        return showAgain(deps, ctx, flow);
      }
      delete flow.error;
      flow.newPasswordHash = await deps.credentials.hashPassword(candidate);
      flow.replacesHash = account.passwordHash;
      flow.step = 'password-wait';
      await showAgain(deps, ctx, flow);
    });

    router.post('/flow/:id/password/commit', async (ctx) => {
      const flow = await currentFlow(deps, ctx);
      expectStep(flow, 'password-wait');
      const account = await flowAccount(deps, flow);
      if (!flow.newPasswordHash || !flow.replacesHash) throw new AppError('SSPR 5102', 'nothing to commit');
      try {
        const { signOut } = await deps.credentials.setPasswordHash(account.id, flow.newPasswordHash, flow.replacesHash, {
          actor: account.id,
          via: flow.kind,
          // The browser's own SSO session (if any: the SSPR app, required actions of a live
          // session) continues; every other session of the account ends.
          exceptSsoSession: deps.ssoCookie.read(ctx),
          ...requestContext(ctx),
        });
        flow.signOut = { sessionsEnded: signOut.sessionsEnded, ...describeReport(signOut) };
      } catch (err) {
        if (err instanceof PasswordChangedMeanwhileError) throw new AppError('SSPR 5102', 'password changed meanwhile', { continueTo: '/portal' });
        throw err;
      }
      delete flow.newPasswordHash;
      delete flow.replacesHash;
      flow.step = 'password-done';
      await showAgain(deps, ctx, flow);
    });
  },
};
