// What every /admin page needs first: the signed-in administrator and their scope, after
// the gate (required actions first, sign-in if none). The scope rule itself is enforced by
// domain/admin/administration.ts for every account touched.
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
import type { Store } from '../store/index.ts';

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

/** Where a request came from, for the audit log. */
export function ctxOf(ctx: Context) {
  return { ip: ctx.ip, requestId: ctx.state.requestId as string | undefined };
}

/** The administrator as every page's header shows them. */
export function who(a: Admin) {
  return { name: a.actor.displayName, scope: a.scope.kind === 'ministry' ? 'All schools' : a.actor.school.name };
}
