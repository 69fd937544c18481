// What every /admin page needs first: the signed-in administrator and their scope, after
// the gate (required actions first, sign-in if none). The scope rule itself is enforced by
// domain/admin/administration.ts for every account touched.
import type { LifecycleReport } from '../domain/provisioning/lifecycle.ts';
import type { LifecyclePopulation } from '../domain/provisioning/roster.ts';
import type { ProvisioningRows } from '../store/directory/provisioning.ts';
import type { AppReleases } from '../domain/privacy/releases.ts';
import type { ReleasableApp } from './releases.ts';
import type { Context } from 'koa';
import type { Account } from '../domain/accounts/account.ts';
import type { Authenticator } from '../domain/accounts/authentication.ts';
import type { Directory } from '../domain/accounts/directory.ts';
import { adminScope, type AdminScope, type Administration } from '../domain/admin/administration.ts';
import type { Importer } from '../domain/admin/import.ts';
import type { AuditLog } from '../domain/audit/audit-log.ts';
import type { Clock } from '../domain/clock.ts';
import { AppError } from '../domain/errors.ts';
import type { Gate, Refusal } from '../domain/sessions/gate.ts';
import type { Mfa } from '../domain/mfa/mfa.ts';
import type { PortalResume } from '../domain/sessions/resume.ts';
import type { SessionCookie, SsoSession, SsoSessions } from '../domain/sessions/sso-sessions.ts';
import { seeOther, type Render } from '../http/respond.ts';
import { classLabel } from '../domain/classes/classes.ts';
import type { Store } from '../store/index.ts';
import type { ReleasesOf } from './access.ts';

export interface AdminDeps {
  importer: Importer;
  store: Store;
  /** Checks a CSRF token of this browser (multipart forms are checked here, after parsing). */
  csrfValid: (ctx: Context, token: unknown) => boolean;
  administration: Administration;
  authenticator: Authenticator;
  directory: Directory;
  audit: AuditLog;
  sso: SsoSessions;
  ssoCookie: SessionCookie<Context>;
  ssoOf: (ctx: Context) => Promise<SsoSession | null>;
  /** May the SSO session proceed; required actions (questions, password change) come first. */
  gate: Gate;
  /** Starts the flow the gate asks for (sign-in, required actions); resolves to its URL. */
  runFirst: (ctx: Context, refusal: Refusal, resume: PortalResume) => Promise<string>;
  clock: Clock;
  /** Second factors: administrators with one confirm actions with it (step-up). */
  mfa: Mfa;
  recentAuthMs: number;
  pageSize: number;
  render: Render;
  /** The portal's address, printed on sign-in slips. */
  portalUrl: string;
  /** What an app received at a sign-in an audit event records (the access report; web/app-releases.ts). */
  releasesOf?: ReleasesOf;
  /** What administrators let each app receive (privacy), and the apps to choose for (composition root). */
  releases?: AppReleases;
  releasableApps?: () => Promise<ReleasableApp[]>;
  /** The roster lifecycle: its rules, what is scheduled, and running it now. */
  lifecycle?: {
    rows: Pick<ProvisioningRows, 'scheduled'>;
    populations: readonly LifecyclePopulation[];
    runEveryMinutes: number;
    run: (actor: string) => Promise<LifecycleReport>;
  };
}

export interface Admin {
  actor: Account;
  scope: AdminScope;
  session: SsoSession;
}

/** The signed-in administrator, or null after sending the browser to sign in. */
export async function signedInAdmin(deps: AdminDeps, ctx: Context): Promise<Admin | null> {
  const verdict = await deps.gate(await deps.ssoOf(ctx));
  // Back here after signing in (the page, not its query: a GET form is simply sent again).
  const back = ctx.method === 'GET' ? ctx.path : '/admin';
  if (!verdict.proceed) {
    seeOther(ctx, await deps.runFirst(ctx, verdict, { kind: 'portal', path: back }));
    return null;
  }
  const scope = adminScope(verdict.account);
  if (!scope) throw new AppError('SSPR 5403', 'not an administrator');
  return { actor: verdict.account, scope, session: verdict.session };
}

/** Whether the person signed in recently enough for a sensitive action (with their second factor, when they have one). */
export function isFresh(deps: AdminDeps, a: Admin): boolean {
  if (deps.mfa.hasSecondFactor(a.actor)) return a.session.amr.includes('mfa') && deps.clock() - (a.session.mfaAt ?? 0) <= deps.recentAuthMs;
  return deps.clock() - a.session.authTime <= deps.recentAuthMs;
}

/** Whether a sensitive action is confirmed with the second factor (step-up) rather than the password. */
export function usesMfa(deps: AdminDeps, a: Admin): boolean {
  return deps.mfa.hasSecondFactor(a.actor);
}

/** Sends a person with two-step sign-in to confirm it, back to `path` (a GET). */
export async function stepUp(deps: AdminDeps, ctx: Context, a: Admin, path: string): Promise<void> {
  const verdict = await deps.gate(a.session, { mfa: { since: deps.clock() - deps.recentAuthMs } });
  if (verdict.proceed || verdict.run === 'refuse') throw new AppError('SSPR 5403', 'step-up not possible');
  seeOther(ctx, await deps.runFirst(ctx, verdict, { kind: 'portal', path }));
}

/**
 * The password typed on a confirmation page (a person without a second factor, not signed
 * in recently): true when it is right, and then the session counts as freshly signed in.
 */
export async function confirmedByPassword(deps: AdminDeps, ctx: Context, a: Admin): Promise<boolean> {
  const password = (ctx.request as { body?: Record<string, unknown> }).body?.password;
  const result = typeof password === 'string' && password ? await deps.authenticator.reauthenticate(a.actor.id, password, ctxOf(ctx)) : null;
  if (!result?.ok) return false;
  deps.ssoCookie.write(ctx, (await deps.sso.renew(a.session, deps.clock(), [...new Set([...a.session.amr, 'pwd'])], a.session.mfaAt)).id);
  await deps.audit.record({ type: 'admin.reauth', accountId: a.actor.id, ...ctxOf(ctx) });
  return true;
}

/** Where a request came from, for the audit log. */
export function ctxOf(ctx: Context) {
  return { ip: ctx.ip, requestId: ctx.state.requestId as string | undefined };
}

/** The administrator (or form teacher) as every page's header shows them, and what their menu offers. */
export function who(a: Admin, deps?: Pick<AdminDeps, 'administration'>) {
  const scope = a.scope.kind === 'ministry' ? 'All schools' : a.scope.kind === 'school' ? a.actor.school.name : `${a.actor.school.name} · ${a.scope.classes.map(classLabel).join(', ')}`;
  return { name: a.actor.displayName, scope, kind: a.scope.kind, may: deps ? [...deps.administration.may(a.scope)] : [] };
}
