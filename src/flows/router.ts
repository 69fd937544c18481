// The /flow routes: starting a flow, showing whatever step it is at, Continue and
// Cancel, and the step modules' own POST routes.
//   GET  /flow/start?return=/portal...   sign-in flow for the portal
//   GET  /flow/:id                       the current step's page (no-store)
//   POST /flow/:id/continue              leaves a Success page for the next action
//   POST /flow/:id/cancel                abandons the flow
import Router from '@koa/router';
import type { Context } from 'koa';
import type { RequiredAction } from '../domain/accounts/credentials.ts';
import { AppError } from '../domain/errors.ts';
import { changePassword } from './change-password/handler.ts';
import { advance, currentFlow, ENTRY_STEP, expectStep, restartUrl, startSignIn, type FlowDeps } from './engine.ts';
import { seeOther } from '../http/respond.ts';
import { bindingOf, cancelUrl, safePortalPath, type Resume } from './flow.ts';
import { reauth } from './reauth/handler.ts';
import { setupQuestions } from './setup-questions/handler.ts';
import { signIn } from './sign-in/handler.ts';
import { forgotPassword } from './forgot-password/handler.ts';
import type { FlowModule } from './steps.ts';

const MODULES: FlowModule[] = [signIn, reauth, setupQuestions, changePassword, forgotPassword];

export function flowRouter(deps: FlowDeps): Router {
  const router = new Router();

  router.get('/flow/start', async (ctx) => {
    const flow = await deps.flows.create({ kind: 'sign-in', step: 'credentials', resume: { kind: 'portal', path: safePortalPath(ctx.query.return) } }, deps.browserSecret(ctx));
    seeOther(ctx, `/flow/${flow.id}`);
  });

  // "Forgot Password?" from a sign-in page keeps that page's destination.
  router.get('/flow/forgot-password', async (ctx) => {
    let resume: Resume = { kind: 'portal', path: '/portal' };
    const from = typeof ctx.query.from === 'string' ? await deps.flows.lookup(ctx.query.from) : { state: 'missing' as const };
    if (from.state !== 'missing' && from.flow.binding === bindingOf(deps.browserSecret(ctx))) resume = from.flow.resume;
    const flow = await deps.flows.create({ kind: 'forgot-password', step: 'fp-username', resume }, deps.browserSecret(ctx));
    seeOther(ctx, `/flow/${flow.id}`);
  });

  router.get('/flow/cancelled', async (ctx) => {
    await deps.render(ctx, 'cancelled', {});
  });

  router.get('/flow/:id', async (ctx) => {
    const flow = await currentFlow(deps, ctx);
    const view = MODULES.map((m) => m.views[flow.step]).find(Boolean);
    if (!view) throw new AppError('SSPR 5102', `no page for step ${flow.step}`);
    await view(deps, ctx, flow);
    // Messages are shown once.
    if (flow.error || flow.fieldErrors) {
      delete flow.error;
      delete flow.fieldErrors;
      await deps.flows.save(flow);
    }
  });

  router.post('/flow/:id/continue', async (ctx) => {
    const flow = await currentFlow(deps, ctx);
    expectStep(flow, 'questions-done', 'password-done', 'fp-unlocked');
    const done: RequiredAction | null = flow.step === 'questions-done' ? 'setup-questions' : flow.step === 'password-done' ? 'change-password' : null;
    flow.pending = flow.pending.filter((a) => a !== done);
    await advance(deps, ctx, flow);
  });

  router.post('/flow/:id/cancel', async (ctx) => {
    const flow = await currentFlow(deps, ctx);
    await deps.flows.end(flow.id);
    if (flow.kind === 'forgot-password') {
      // Back to signing in, for the same destination.
      seeOther(ctx, await startSignIn(deps, ctx, flow.resume));
    } else if (flow.kind === 'sign-in') {
      // An application waiting for this sign-in is told that the user cancelled.
      seeOther(ctx, cancelUrl(flow.resume));
    } else {
      seeOther(ctx, restartUrl(flow));
    }
  });

  for (const m of MODULES) m.routes(router, deps);
  return router;
}

/** Starts a flow (used by the protocols and the portal, which do not import flows). */
export function flowStarter(deps: FlowDeps) {
  return {
    /**
     * The login prompt for a protocol request or the portal; with a live SSO session of an
     * active account (a fresh sign-in was asked for), the re-authentication of that account.
     */
    signIn: async (ctx: Context, resume: Resume) => {
      const live = await deps.sso.get(deps.ssoCookie.read(ctx));
      const account = live ? await deps.directory.get(live.accountId) : null;
      const accountId = account?.status === 'active' ? account.id : undefined;
      return `/flow/${(await deps.flows.create({ kind: 'sign-in', step: 'credentials', resume, accountId }, deps.browserSecret(ctx))).id}`;
    },
    /** Required actions for an account the SSO session already vouches for. */
    requiredActions: async (ctx: Context, accountId: string, pending: RequiredAction[], resume: Resume) => {
      const first = pending[0];
      if (!first) throw new Error('no required action');
      const flow = await deps.flows.create({ kind: 'sign-in', step: ENTRY_STEP[first], resume, accountId, pending }, deps.browserSecret(ctx));
      return `/flow/${flow.id}`;
    },
    /** The portal's SSPR app: change password or set up questions, after re-authentication. */
    sspr: async (ctx: Context, accountId: string, what: 'password' | 'questions') =>
      `/flow/${(await deps.flows.create({ kind: what === 'password' ? 'sspr-password' : 'sspr-questions', step: 'reauth', resume: { kind: 'portal', path: '/portal/sspr' }, accountId }, deps.browserSecret(ctx))).id}`,
  };
}
