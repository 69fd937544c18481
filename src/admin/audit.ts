// GET /admin/audit[?account=&type=&format=csv]: recent events the administrator may see
// (an account in scope, or any for a ministry administrator), as a page or a CSV file.
import { csvFile } from '../domain/csv.ts';
import type { Context } from 'koa';
import { inScope } from '../domain/admin/administration.ts';
import type { StoredAuditEvent } from '../domain/audit/audit-log.ts';
import { signedInAdmin, who, type AdminDeps } from './signed-in.ts';

const EVENT_TYPE = /^[a-z.]{3,40}$/;

export function auditHandler(deps: AdminDeps) {
  return async (ctx: Context) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    deps.administration.require(a.scope, 'audit');
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
    // People by login ID and name, not by opaque id (the account, and whoever acted).
    const people = new Map<string, { loginId: string; name: string } | null>();
    for (const id of new Set(events.flatMap((e) => [e.accountId, e.actor]).filter((v): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{10,64}$/.test(v)))) {
      if (people.size >= 1000) break;
      const acc = await deps.directory.get(id);
      people.set(id, acc ? { loginId: acc.loginId, name: acc.displayName } : null);
    }
    const named = events.map((e) => {
      const account = e.accountId ? people.get(e.accountId) : undefined;
      const actor = e.actor ? people.get(e.actor) : undefined;
      return { ...e, loginId: e.loginId ?? account?.loginId, accountName: account?.name, actorName: e.actorName ?? actor?.name ?? (e.actor && !people.has(e.actor) ? e.actor : undefined) };
    });
    if (ctx.query.format === 'csv') {
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Content-Disposition', 'attachment; filename="audit.csv"');
      ctx.type = 'text/csv; charset=utf-8';
      const columns = ['at', 'type', 'accountId', 'loginId', 'actor', 'client', 'ip', 'reason', 'requestId', 'actorName', 'accountName'] as const;
      ctx.body = csvFile(columns, named.map((e) => columns.map((c) => String(e[c] ?? ''))));
      return;
    }
    await deps.render(ctx, 'admin/audit', { admin: who(a, deps), events: named, type: type ?? '', accountId: accountId ?? '' });
  };
}
