// Sign in: the login prompt of every protocol and of the portal.
//   GET  /flow/start?return=/portal   begin a flow for the portal
//   GET  /flow/:id                    show the current step
//   POST /flow/:id/sign-in            check Username and Password
// A wrong login ID and a wrong password get the same message. On success the SSO
// session is created and the browser resumes the request that began the flow; the
// protocol takes the account from the SSO session, never from the form.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Authenticator } from '../../domain/accounts/authentication.ts';
import { AppError } from '../../domain/errors.ts';
import type { SessionCookie, SsoSessions } from '../../domain/sessions/sso-sessions.ts';
import { bindingOf, resumeUrl, safePortalPath, type Flow, type Flows } from '../flow.ts';

export interface SignInDeps {
  flows: Flows;
  authenticator: Authenticator;
  sso: SsoSessions;
  ssoCookie: SessionCookie<Context>;
  /** Secret of the browser-binding cookie (created when absent). */
  browserSecret: (ctx: Context) => string;
  render: (ctx: Context, view: string, data: Record<string, unknown>, status?: number) => Promise<void>;
  onSignIn?: (outcome: string) => void;
}

export const SIGN_IN_FAILED = 'Login failed. The username or password you entered is incorrect. Please try again.';
const DISABLED = 'Your account is disabled. Please contact your administrator (LA/SA) for assistance.';

const form = z.object({
  username: z.string().max(254),
  password: z.string().max(1024),
});

/** Loads the flow for this browser, or throws the page that explains why not. */
export async function currentFlow(deps: Pick<SignInDeps, 'flows' | 'browserSecret'>, ctx: Context, id: string): Promise<Flow> {
  const found = await deps.flows.lookup(id);
  if (found.state === 'missing') throw new AppError('SSPR 5101', 'flow unknown or long expired', { continueTo: '/portal' });
  if (found.flow.binding !== bindingOf(deps.browserSecret(ctx))) {
    throw new AppError('SSPR 5102', 'flow belongs to another browser', { continueTo: '/portal' });
  }
  if (found.state === 'expired') {
    await deps.flows.end(found.flow.id);
    throw new AppError('SSPR 5101', 'flow idle timeout', { continueTo: resumeUrl(found.flow.resume) });
  }
  return found.flow;
}

export function signInRouter(deps: SignInDeps): Router {
  const router = new Router();

  router.get('/flow/start', async (ctx) => {
    const flow = await deps.flows.create('sign-in', 'credentials', { kind: 'portal', path: safePortalPath(ctx.query.return) }, deps.browserSecret(ctx));
    ctx.status = 303;
    ctx.redirect(`/flow/${flow.id}`);
  });

  router.get('/flow/:id', async (ctx) => {
    const flow = await currentFlow(deps, ctx, ctx.params.id!);
    if (flow.step !== 'credentials') throw new AppError('SSPR 5102', `no page for step ${flow.step}`, { continueTo: resumeUrl(flow.resume) });
    const { error, form: previous } = flow;
    if (error) {
      // Shown once.
      delete flow.error;
      await deps.flows.save(flow);
    }
    await deps.render(ctx, 'sign-in', { flowId: flow.id, error, username: previous?.username ?? '', idleSeconds: deps.flows.idleMs / 1000 }, error ? 401 : 200);
  });

  router.post('/flow/:id/sign-in', async (ctx) => {
    const flow = await currentFlow(deps, ctx, ctx.params.id!);
    if (flow.step !== 'credentials') throw new AppError('SSPR 5102', `sign-in posted at step ${flow.step}`, { continueTo: resumeUrl(flow.resume) });
    const parsed = form.safeParse((ctx.request as { body?: unknown }).body);
    if (!parsed.success) throw new AppError('SSPR 5103', 'sign-in form malformed');
    const { username, password } = parsed.data;
    if (!username.trim() || !password) {
      flow.error = 'Please enter your username and password.';
      flow.form = { username: username.trim() };
      await deps.flows.save(flow);
      ctx.status = 303;
      ctx.redirect(`/flow/${flow.id}`);
      return;
    }

    const result = await deps.authenticator.signIn(username, password, {
      ip: ctx.ip,
      requestId: ctx.state.requestId as string,
      client: flow.resume.kind === 'oidc' ? flow.resume.clientId : 'portal',
    });
    deps.onSignIn?.(result.ok ? 'success' : result.reason);
    if (!result.ok) {
      flow.error = result.reason === 'disabled' ? DISABLED : SIGN_IN_FAILED;
      flow.form = { username: username.trim() };
      await deps.flows.save(flow);
      ctx.status = 303;
      ctx.redirect(`/flow/${flow.id}`);
      return;
    }

    // A new SSO session for every password sign-in (no fixation of an earlier id).
    const previous = deps.ssoCookie.read(ctx);
    if (previous) await deps.sso.end(previous);
    const session = await deps.sso.create(result.account.id, ['pwd']);
    deps.ssoCookie.write(ctx, session.id);
    await deps.flows.end(flow.id);
    ctx.status = 303;
    ctx.redirect(resumeUrl(flow.resume));
  });

  return router;
}
