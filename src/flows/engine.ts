// What every flow step shares: loading the flow for this browser, refusing stale or
// out-of-order steps, moving to the next required action, and finishing (the SSO
// session is created only when nothing is pending any more).
import type { Context } from 'koa';
import type { Authenticator } from '../domain/accounts/authentication.ts';
import type { ChallengeSettings } from '../domain/accounts/challenge.ts';
import type { Credentials, RequiredAction } from '../domain/accounts/credentials.ts';
import type { Directory } from '../domain/accounts/directory.ts';
import type { Account } from '../domain/accounts/account.ts';
import { AppError } from '../domain/errors.ts';
import type { PasswordPolicies } from '../domain/passwords/policy.ts';
import type { SecretHasher } from '../domain/accounts/passwords.ts';
import type { AnswerLimiter } from '../domain/security/lockout.ts';
import type { AuditLog } from '../domain/audit/audit-log.ts';
import type { Clock } from '../domain/clock.ts';
import type { SessionCookie, SsoSessions } from '../domain/sessions/sso-sessions.ts';
import { seeOther, type Render } from '../http/respond.ts';
import { bindingOf, resumeUrl, type Flow, type Flows, type Resume, type Step } from './flow.ts';


export interface FlowDeps {
  flows: Flows;
  authenticator: Authenticator;
  credentials: Credentials;
  directory: Directory;
  policies: PasswordPolicies;
  challenge: ChallengeSettings;
  sso: SsoSessions;
  ssoCookie: SessionCookie<Context>;
  clock: Clock;
  /** Secret of the browser-binding cookie (created when absent). */
  browserSecret: (ctx: Context) => string;
  render: Render;
  onSignIn?: (outcome: string) => void;
  answerLimiter: AnswerLimiter;
  audit: AuditLog;
  forgotPassword: { askCount: number | null; revealNoQuestions: boolean };
  hasher: SecretHasher;
  /** Key for the deterministic decoy questions of unknown login IDs. */
  decoyKey: string;
}

/** The first step of each required action. */
export const ENTRY_STEP: Record<RequiredAction, Step> = {
  'setup-questions': 'questions',
  'change-password': 'password',
};

/** Loads the flow for this browser, or throws the page that explains why not. */
export async function currentFlow(deps: Pick<FlowDeps, 'flows' | 'browserSecret'>, ctx: Context): Promise<Flow> {
  const found = await deps.flows.lookup(ctx.params.id ?? '');
  if (found.state === 'missing') throw new AppError('SSPR 5101', 'flow unknown or long expired', { continueTo: '/portal' });
  if (found.flow.binding !== bindingOf(deps.browserSecret(ctx))) {
    throw new AppError('SSPR 5102', 'flow belongs to another browser', { continueTo: '/portal' });
  }
  if (found.state === 'expired') {
    await deps.flows.end(found.flow.id);
    throw new AppError('SSPR 5101', 'flow idle timeout', { continueTo: restartUrl(found.flow) });
  }
  return found.flow;
}

/** Where "start again" leads: the original destination. */
export function restartUrl(flow: Flow): string {
  if (flow.kind === 'sspr-password' || flow.kind === 'sspr-questions') return '/portal/sspr';
  return resumeUrl(flow.resume);
}

/** Refuses a request made for another step than the one the flow is at. */
export function expectStep(flow: Flow, ...steps: Step[]): void {
  if (!steps.includes(flow.step)) {
    throw new AppError('SSPR 5102', `request for step ${steps.join('|')} while flow is at ${flow.step}`, { continueTo: `/flow/${flow.id}` });
  }
}

/** The account the flow concerns; only set after the password was verified. */
export async function flowAccount(deps: Pick<FlowDeps, 'directory'>, flow: Flow): Promise<Account> {
  if (!flow.accountId) throw new AppError('SSPR 5102', `step ${flow.step} without an authenticated account`);
  const account = await deps.directory.get(flow.accountId);
  if (!account || account.status !== 'active') throw new AppError('SSPR 5110', 'account missing or disabled during a flow', { continueTo: '/portal' });
  return account;
}

export async function showAgain(deps: Pick<FlowDeps, 'flows'>, ctx: Context, flow: Flow): Promise<void> {
  await deps.flows.save(flow);
  seeOther(ctx, `/flow/${flow.id}`);
}

/** Moves to the next pending required action, or finishes the flow. */
export async function advance(deps: FlowDeps, ctx: Context, flow: Flow): Promise<void> {
  delete flow.error;
  delete flow.fieldErrors;
  delete flow.form;
  delete flow.sealed;
  delete flow.newPasswordHash;
  delete flow.replacesHash;
  const next = flow.pending[0];
  if (next) {
    flow.step = ENTRY_STEP[next];
    await showAgain(deps, ctx, flow);
    return;
  }
  await deps.flows.end(flow.id);
  if (flow.kind === 'forgot-password') {
    // "then sign-in": with the new (or unlocked) password, for the original destination.
    seeOther(ctx, await startSignIn(deps, ctx, flow.resume));
    return;
  }
  if (flow.kind === 'sign-in') {
    if (!flow.accountId) throw new AppError('SSPR 5102', 'finishing a sign-in without an account');
    // Only a password entered here is a sign-in. Required actions run for a live SSO session
    // leave that session as it is: same id, participants, authentication time and methods.
    if (flow.authenticatedAt !== undefined) await signedIn(deps, ctx, flow.accountId, flow.authenticatedAt);
    seeOther(ctx, resumeUrl(flow.resume));
    return;
  }
  seeOther(ctx, resumeUrl(flow.resume));
}

/**
 * A password was verified: the same account's live session continues under a new id with its
 * participants (re-authentication); otherwise a new session replaces whatever the browser had.
 * Either way the id is new (no fixation of an earlier one).
 */
async function signedIn(deps: FlowDeps, ctx: Context, accountId: string, authTime: number): Promise<void> {
  const previous = await deps.sso.get(deps.ssoCookie.read(ctx));
  let session;
  if (previous?.accountId === accountId) {
    session = await deps.sso.renew(previous, authTime, ['pwd']);
  } else {
    if (previous) await deps.sso.end(previous.id);
    session = await deps.sso.create(accountId, ['pwd'], authTime);
  }
  deps.ssoCookie.write(ctx, session.id);
}

export async function startSignIn(deps: Pick<FlowDeps, 'flows' | 'browserSecret'>, ctx: Context, resume: Resume): Promise<string> {
  const flow = await deps.flows.create({ kind: 'sign-in', step: 'credentials', resume }, deps.browserSecret(ctx));
  return `/flow/${flow.id}`;
}

export function requestContext(ctx: Context) {
  return { ip: ctx.ip, requestId: ctx.state.requestId as string | undefined };
}

export function formBody(ctx: Context): Record<string, unknown> {
  const body = (ctx.request as { body?: unknown }).body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AppError('SSPR 5103', 'form body missing');
  return body as Record<string, unknown>;
}

export function field(body: Record<string, unknown>, name: string, max = 1024): string {
  const v = body[name];
  if (v === undefined) return '';
  if (typeof v !== 'string' || v.length > max) throw new AppError('SSPR 5103', `field ${name} malformed`);
  return v;
}
