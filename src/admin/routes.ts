// /admin: school and ministry administrators, signed in through the same SSO session.
//   GET  /admin                              find accounts (login ID or name prefix)
//   GET  /admin/accounts/:id                 an account's state and recent events
//   GET  /admin/accounts/:id/:action         confirmation page
//   POST /admin/accounts/:id/:action         reset-password | unlock | clear-questions | disable | enable
//   POST /admin/reauth                       re-enter password (recent sign-in for actions)
//   GET  /admin/audit[?account=&type=&format=csv]
// The scope rule (own school, or all for a ministry administrator) is enforced by
// domain/admin/administration.ts for every account touched, whatever the URL says.
import Router from '@koa/router';
import { stringify } from 'csv-stringify/sync';
import type { Context } from 'koa';
import type { Account } from '../domain/accounts/account.ts';
import type { Authenticator } from '../domain/accounts/authentication.ts';
import type { RequiredAction } from '../domain/accounts/credentials.ts';
import type { Directory } from '../domain/accounts/directory.ts';
import { adminScope, inScope, type AdminScope, type Administration } from '../domain/admin/administration.ts';
import type { AuditLog, StoredAuditEvent } from '../domain/audit/audit-log.ts';
import type { Clock } from '../domain/clock.ts';
import { AppError } from '../domain/errors.ts';
import type { Gate } from '../domain/sessions/gate.ts';
import { seeOther, type Render } from '../http/respond.ts';
import type { PortalResume } from '../domain/sessions/resume.ts';
import type { SessionCookie, SsoSession, SsoSessions } from '../domain/sessions/sso-sessions.ts';
import multer from '@koa/multer';
import { ImportFileError, ImportInterruptedError, MAX_BYTES, type Importer } from '../domain/admin/import.ts';
import { newId } from '../domain/ids.ts';
import { keys, type Store } from '../store/index.ts';
import { describeReport, type SignOutReport } from '../domain/sessions/sign-out-report.ts';

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
  beginRequiredActions: (ctx: Context, accountId: string, pending: RequiredAction[], resume: PortalResume) => Promise<string>;
  clock: Clock;
  recentAuthMs: number;
  pageSize: number;
  render: Render;
}

const ACTIONS = {
  'reset-password': { label: 'Reset Password', question: 'Reset the password of this account to a new temporary password? The student must change it at the next sign-in; their security questions are kept; their sessions at the MIMS Portal end, and the apps they are signed in to are told to sign them out where that is possible (the next page names any app that could not be told).' },
  unlock: { label: 'Unlock Account', question: 'Unlock this account? The password is not changed.' },
  'clear-questions': { label: 'Clear Security Questions', question: 'Clear the security questions of this account? The student sets new ones at the next sign-in.' },
  disable: { label: 'Disable Account', question: 'Disable this account? The user cannot sign in; their sessions at the MIMS Portal end, and the apps they are signed in to are told to sign them out where that is possible (the next page names any app that could not be told).' },
  enable: { label: 'Enable Account', question: 'Enable this account again?' },
} as const;
type Action = keyof typeof ACTIONS;

const EVENT_TYPE = /^[a-z.]{3,40}$/;
/** How long the page after an action can show what the apps were told. */
const REPORT_MS = 10 * 60_000;

/** What a page shows of a SignOutReport. */
function shown(report: SignOutReport) {
  return { sessionsEnded: report.sessionsEnded, ...describeReport(report) };
}

interface Admin {
  actor: Account;
  scope: AdminScope;
  session: SsoSession;
}

function isAction(v: string | undefined): v is Action {
  return v !== undefined && Object.hasOwn(ACTIONS, v);
}

export function adminRouter(deps: AdminDeps): Router {
  const router = new Router();

  /** The signed-in administrator, or null after sending the browser to sign in. */
  async function admin(ctx: Context): Promise<Admin | null> {
    const verdict = await deps.gate(await deps.ssoOf(ctx));
    // Back here after signing in (the page, not its query: a GET form is simply sent again).
    const back = ctx.method === 'GET' ? ctx.path : '/admin';
    if (verdict.reason === 'required_actions') {
      seeOther(ctx, await deps.beginRequiredActions(ctx, verdict.account.id, verdict.pending, { kind: 'portal', path: back }));
      return null;
    }
    if (!verdict.proceed) {
      seeOther(ctx, `/flow/start?return=${encodeURIComponent(back)}`);
      return null;
    }
    const scope = adminScope(verdict.account);
    if (!scope) throw new AppError('SSPR 5403', 'not an administrator');
    return { actor: verdict.account, scope, session: verdict.session };
  }

  function fresh(a: Admin): boolean {
    return deps.clock() - a.session.authTime <= deps.recentAuthMs;
  }

  function ctxOf(ctx: Context) {
    return { ip: ctx.ip, requestId: ctx.state.requestId as string | undefined };
  }

  function who(a: Admin) {
    return { name: a.actor.displayName, scope: a.scope.kind === 'ministry' ? 'All schools' : a.actor.school.name };
  }

  router.get('/admin', async (ctx) => {
    const a = await admin(ctx);
    if (!a) return;
    const q = typeof ctx.query.q === 'string' ? ctx.query.q.slice(0, 100) : '';
    const after = typeof ctx.query.after === 'string' ? ctx.query.after.slice(0, 400) : undefined;
    // An empty search (q present but blank) lists every account in scope.
    const page = ctx.query.q !== undefined || after !== undefined ? await deps.administration.search(a.scope, q, deps.pageSize, after) : null;
    await deps.render(ctx, 'admin/search', { admin: who(a), q, page });
  });

  router.get('/admin/accounts/:id', async (ctx) => {
    const a = await admin(ctx);
    if (!a) return;
    const state = await deps.administration.state(a.scope, ctx.params.id!);
    // What the action just done told the apps: kept for this administrator and account only.
    const reportId = typeof ctx.query.report === 'string' && /^[A-Za-z0-9_-]{16,64}$/.test(ctx.query.report) ? ctx.query.report : null;
    const saved = reportId ? await deps.store.get(keys.adminSignOutReport(reportId)) : null;
    const report = saved ? (JSON.parse(saved) as { adminId: string; accountId: string; signOut: ReturnType<typeof shown> }) : null;
    const signOut = report && report.adminId === a.actor.id && report.accountId === state.account.id ? report.signOut : null;
    await deps.render(ctx, 'admin/account', { admin: who(a), state, actions: ACTIONS, notice: typeof ctx.query.done === 'string' && isAction(ctx.query.done) ? ctx.query.done : null, signOut });
  });

  router.get('/admin/accounts/:id/:action', async (ctx) => {
    const a = await admin(ctx);
    if (!a) return;
    const action = ctx.params.action;
    if (!isAction(action)) throw new AppError('SSPR 5404');
    const account = await deps.administration.target(a.scope, ctx.params.id!);
    await deps.render(ctx, 'admin/confirm', { admin: who(a), account, action, ...ACTIONS[action], needsPassword: !fresh(a) });
  });

  router.post('/admin/accounts/:id/:action', async (ctx) => {
    const a = await admin(ctx);
    if (!a) return;
    const action = ctx.params.action;
    if (!isAction(action)) throw new AppError('SSPR 5404');
    const id = ctx.params.id!;
    await deps.administration.target(a.scope, id); // 403 before anything else
    if (!fresh(a)) {
      // Sensitive actions need a recent sign-in: the confirmation page asks for the password.
      const password = (ctx.request as { body?: Record<string, unknown> }).body?.password;
      const result = typeof password === 'string' && password ? await deps.authenticator.reauthenticate(a.actor.id, password, ctxOf(ctx)) : null;
      if (!result?.ok) {
        const account = await deps.administration.target(a.scope, id);
        await deps.render(ctx, 'admin/confirm', { admin: who(a), account, action, ...ACTIONS[action], needsPassword: true, error: 'Please enter your current password to confirm.' }, 401);
        return;
      }
      deps.ssoCookie.write(ctx, (await deps.sso.renew(a.session, deps.clock(), ['pwd'])).id);
      await deps.audit.record({ type: 'admin.reauth', accountId: a.actor.id, ...ctxOf(ctx) });
    }
    const rc = ctxOf(ctx);
    switch (action) {
      case 'reset-password': {
        const { account, temporaryPassword, signOut } = await deps.administration.resetPassword(a.scope, a.actor, id, rc);
        // Shown once, on this response only; never stored in plain text nor logged.
        await deps.render(ctx, 'admin/reset-done', { admin: who(a), account, temporaryPassword, signOut: shown(signOut) });
        return;
      }
      case 'unlock':
        await deps.administration.unlock(a.scope, a.actor, id, rc);
        break;
      case 'clear-questions':
        await deps.administration.clearQuestions(a.scope, a.actor, id, rc);
        break;
      case 'disable': {
        const { signOut } = await deps.administration.setStatus(a.scope, a.actor, id, 'disabled', rc);
        const reportId = newId();
        await deps.store.set(keys.adminSignOutReport(reportId), JSON.stringify({ adminId: a.actor.id, accountId: id, signOut: shown(signOut!) }), { ttlMs: REPORT_MS });
        seeOther(ctx, `/admin/accounts/${encodeURIComponent(id)}?done=${action}&report=${reportId}`);
        return;
      }
      case 'enable':
        await deps.administration.setStatus(a.scope, a.actor, id, 'active', rc);
        break;
    }
    seeOther(ctx, `/admin/accounts/${encodeURIComponent(id)}?done=${action}`);
  });

  const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: MAX_BYTES, files: 1, fields: 5, parts: 8 } });
  const PENDING_MS = 30 * 60_000;

  router.get('/admin/import', async (ctx) => {
    const a = await admin(ctx);
    if (!a) return;
    await deps.render(ctx, 'admin/import', { admin: who(a) });
  });

  router.post('/admin/import/preview', async (ctx) => {
    const a = await admin(ctx);
    if (!a) return;
    try {
      await upload.single('file')(ctx, async () => {});
    } catch (err) {
      throw new AppError('SSPR 5103', `upload refused: ${(err as Error).message}`, { continueTo: '/admin/import' });
    }
    if (!deps.csrfValid(ctx, (ctx.request as { body?: Record<string, unknown> }).body?._csrf)) throw new AppError('SSPR 5104', 'CSRF token missing on import');
    const file = (ctx as unknown as { file?: { buffer: Buffer } }).file;
    if (!file) throw new AppError('SSPR 5103', 'no file uploaded', { continueTo: '/admin/import' });
    let preview;
    try {
      preview = await deps.importer.preview(file.buffer, a.scope);
    } catch (err) {
      if (!(err instanceof ImportFileError)) throw err;
      await deps.render(ctx, 'admin/import', { admin: who(a), fileError: err.message }, 400);
      return;
    }
    let importId: string | null = null;
    if (preview.counts.error === 0 && preview.counts.create + preview.counts.update > 0) {
      importId = newId();
      await deps.store.set(keys.pendingImport(importId), JSON.stringify({ adminId: a.actor.id, data: file.buffer.toString('base64') }), { ttlMs: PENDING_MS });
    }
    await deps.render(ctx, 'admin/import-preview', { admin: who(a), preview, rows: preview.rows.slice(0, 1000), importId }, preview.counts.error > 0 ? 400 : 200);
  });

  router.post('/admin/import/:id/commit', async (ctx) => {
    const a = await admin(ctx);
    if (!a) return;
    const key = keys.pendingImport(ctx.params.id ?? '');
    const raw = /^[A-Za-z0-9_-]{16,64}$/.test(ctx.params.id ?? '') ? await deps.store.get(key) : null;
    const pending = raw ? (JSON.parse(raw) as { adminId: string; data: string }) : null;
    if (!pending || pending.adminId !== a.actor.id) throw new AppError('SSPR 5101', 'import preview expired or not yours', { continueTo: '/admin/import' });
    // One commit per preview, even if the button is pressed twice.
    await deps.store.del(key);
    let result;
    let interrupted = false;
    try {
      result = await deps.importer.commit(Buffer.from(pending.data, 'base64'), a.scope, a.actor.id);
    } catch (err) {
      if (err instanceof ImportInterruptedError) {
        // The store failed part-way: what was created is confirmed, and its passwords exist
        // only here. Hand them out as a partial file; importing the file again does the rest.
        interrupted = true;
        result = { passwords: err.passwords, counts: { create: 0, update: 0, unchanged: 0, error: 0 } };
      } else {
        if (!(err instanceof ImportFileError)) throw err;
        await deps.render(ctx, 'admin/import', { admin: who(a), fileError: err.message }, 409);
        return;
      }
    }
    if (!interrupted) await deps.audit.record({ type: 'admin.import', accountId: a.actor.id, actor: a.actor.id, reason: `created ${result.passwords.length}, updated ${result.counts.update}, unchanged ${result.counts.unchanged}`, ...ctxOf(ctx) });
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Import-Summary', interrupted ? `interrupted; created=${result.passwords.length}; import the same file again for the rest` : `created=${result.passwords.length}; updated=${result.counts.update}; unchanged=${result.counts.unchanged}`);
    ctx.set('Content-Disposition', `attachment; filename="temporary-passwords-${interrupted ? 'PARTIAL-' : ''}${new Date(deps.clock()).toISOString().slice(0, 10)}.csv"`);
    ctx.type = 'text/csv; charset=utf-8';
    // Generated once: this response is the only place the temporary passwords exist.
    ctx.body = stringify(result.passwords.map((p) => [p.loginId, p.temporaryPassword]), { header: true, columns: ['loginId', 'temporaryPassword'] });
  });

  router.get('/admin/audit', async (ctx) => {
    const a = await admin(ctx);
    if (!a) return;
    const accountId = typeof ctx.query.account === 'string' ? ctx.query.account : undefined;
    const type = typeof ctx.query.type === 'string' && EVENT_TYPE.test(ctx.query.type) ? ctx.query.type : undefined;
    if (accountId) await deps.administration.target(a.scope, accountId);
    const schoolOf = new Map<string, boolean>();
    const visible = async (e: StoredAuditEvent): Promise<boolean> => {
      if (accountId) return e.accountId === accountId;
      if (a.scope.kind === 'ministry') return true;
      if (!e.accountId) return false;
      if (!schoolOf.has(e.accountId)) {
        const acc = await deps.directory.get(e.accountId);
        schoolOf.set(e.accountId, acc !== null && inScope(a.scope, acc));
      }
      return schoolOf.get(e.accountId)!;
    };
    const candidates = await deps.audit.recent(5000, (e) => !type || e.type === type);
    const events: StoredAuditEvent[] = [];
    for (const e of candidates) {
      if (events.length >= 500) break;
      if (await visible(e)) events.push(e);
    }
    if (ctx.query.format === 'csv') {
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Content-Disposition', 'attachment; filename="audit.csv"');
      ctx.type = 'text/csv; charset=utf-8';
      const columns = ['at', 'type', 'accountId', 'loginId', 'actor', 'client', 'ip', 'reason', 'requestId'] as const;
      ctx.body = stringify(events.map((e) => columns.map((c) => e[c] ?? '')), { header: true, columns: [...columns] });
      return;
    }
    await deps.render(ctx, 'admin/audit', { admin: who(a), events, type: type ?? '', accountId: accountId ?? '' });
  });

  return router;
}
