// The flows over HTTP: a thin adapter. It reads the request, asks the machine, renders the
// page or redirects (303), and writes the SSO session cookie a sign-in created.
//   GET  /flow/start?return=/portal...   sign-in flow for the portal or /admin
//   GET  /flow/forgot-password?from=ID   "Forgot Password?" for that sign-in's destination
//   GET  /flow/cancelled                 the portal's "cancelled" page
//   GET  /flow/:id                       the current step's page (no-store)
//   POST /flow/:id/<action>              an action of the kind's table (sign-in, questions, ...)
//   POST /flow/:id/cancel                abandons the flow
//   POST /flow/:id/keep-alive            the idle warning's "Stay on this page" (204)
import Router from '@koa/router';
import type { Context } from 'koa';
import type { SessionCookie } from '../domain/sessions/sso-sessions.ts';
import type { DeviceOf } from '../domain/accounts/authentication.ts';
import { AppError } from '../domain/errors.ts';
import { Overloaded, type Admission } from '../domain/security/admission.ts';
import { allowFormTargets } from '../http/form-targets.ts';
import { seeOther, type Render } from '../http/respond.ts';
import { bindingOf, safePortalPath, type Resume } from './flow.ts';
import type { FlowMachine, StepInput } from './machine.ts';
import type { FlowStarts } from './start.ts';

/** What the flows need of the device cookie (domain/security/devices.ts; web/cookies.ts): read it, and add a login ID to it. */
export interface DeviceCookie {
  deviceOf(ctx: Context): DeviceOf;
  remember(ctx: Context, loginId: string, passwordSet: string): void;
}

export interface FlowHttpDeps {
  machine: FlowMachine;
  starts: FlowStarts;
  ssoCookie: SessionCookie<Context>;
  /** Secret of the browser-binding cookie (created when absent). */
  browserSecret: (ctx: Context) => string;
  render: Render;
  /** The name of the application a flow's sign-in is for (relying-party config), shown on its pages. */
  nameOf?: (clientId: string) => string;
  /**
   * Where the request a flow resumes is answered (an OIDC redirect_uri, a SAML ACS URL):
   * its page's forms may lead there (CSP form-action, http/form-targets.ts).
   */
  destinationOf?: (resume: Resume) => Promise<string | undefined>;
  /** Admission control in front of the actions that check or hash a secret (argon2id). */
  admission?: Admission;
  /** The device cookie (a browser that signed in to a login ID before is judged by its own record). */
  devices?: DeviceCookie;
  /** The language of the request's pages (messages a step sends are in it). */
  languageOf?: (ctx: Context) => string;
  /** The name of an application registered while the IdP runs (RFC 7591), when nameOf does not know it. */
  registeredNameOf?: (resume: Resume) => Promise<string | undefined>;
}

export function flowRouter(deps: FlowHttpDeps): Router {
  const { machine, starts } = deps;
  const router = new Router();

  router.get('/flow/start', async (ctx) => {
    seeOther(ctx, await starts.signIn({ kind: 'portal', path: safePortalPath(ctx.query.return) }, deps.browserSecret(ctx)));
  });

  router.get('/flow/forgot-password', async (ctx) => {
    let resume: Resume = { kind: 'portal', path: '/portal' };
    const from = typeof ctx.query.from === 'string' ? await machine.services.flows.lookup(ctx.query.from) : { state: 'missing' as const };
    if (from.state !== 'missing' && from.flow.binding === bindingOf(deps.browserSecret(ctx))) resume = from.flow.resume;
    seeOther(ctx, await starts.forgotPassword(resume, deps.browserSecret(ctx)));
  });

  router.get('/flow/cancelled', async (ctx) => {
    await deps.render(ctx, 'cancelled', {});
  });

  router.get('/flow/:id', async (ctx) => {
    const page = await machine.page(ctx.params.id!, deps.browserSecret(ctx));
    const client = page.data.client;
    const named = typeof client === 'string' && client !== 'portal' && deps.nameOf ? deps.nameOf(client) : null;
    let appName = named && named !== client ? named : null;
    if (!appName && page.resume && deps.registeredNameOf) appName = (await deps.registeredNameOf(page.resume)) ?? null;
    await deps.render(ctx, page.view, { appName, ...page.data }, page.status);
    if (page.resume && deps.destinationOf) allowFormTargets(ctx.res, [await deps.destinationOf(page.resume)]);
  });

  const act = (action: string) => async (ctx: Context & { params: Record<string, string> }) => {
    const body = (ctx.request as { body?: unknown }).body;
    const input: StepInput = {
      fields: typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {},
      browserSecret: deps.browserSecret(ctx),
      ssoSessionId: deps.ssoCookie.read(ctx),
      ip: ctx.ip,
      requestId: ctx.state.requestId as string | undefined,
      deviceOf: deps.devices?.deviceOf(ctx),
      lang: deps.languageOf?.(ctx),
    };
    const outcome = deps.admission && HASHING.has(action) ? await admitted(deps.admission, () => machine.act(ctx.params.id!, action, input)) : await machine.act(ctx.params.id!, action, input);
    if (outcome.session) deps.ssoCookie.write(ctx, outcome.session.id);
    if (outcome.device) deps.devices?.remember(ctx, outcome.device.loginId, outcome.device.passwordSet);
    seeOther(ctx, outcome.redirect);
  };
  // "Stay on this page" of the idle warning (idp.js): re-arms the flow's idle timer.
  // A flow that is only a sealed reference gets a new one (JSON), which the page's forms then use.
  router.post('/flow/:id/keep-alive', async (ctx) => {
    const ref = await machine.keepAlive(ctx.params.id!, deps.browserSecret(ctx));
    ctx.set('Cache-Control', 'no-store');
    if (ref === undefined) ctx.status = 204;
    else ctx.body = { flow: ref };
  });
  // One route per action any kind's table knows; the machine decides whether the flow's step allows it.
  for (const action of machine.actions()) router.post(`/flow/:id/${action}`, act(action));
  return router;
}

/** The actions whose step checks or hashes a password or answers (argon2id): they wait for admission. */
const HASHING: ReadonlySet<string> = new Set(['sign-in', 'reauth', 'forgot/answers', 'password', 'password/commit', 'questions', 'questions/confirm', 'mfa/recovery']);

/** Runs a password action when admitted; a full queue is answered 503 with Retry-After (nothing was done). */
async function admitted<T>(admission: Admission, action: () => Promise<T>): Promise<T> {
  try {
    return await admission.run(action);
  } catch (err) {
    if (err instanceof Overloaded) throw new AppError('SSPR 5140', err.message, { retryAfterSeconds: err.retryAfterSeconds });
    throw err;
  }
}
