// GET /admin: find accounts (login ID or name prefix), a page at a time.
import type { Context } from 'koa';
import { signedInAdmin, who, type AdminDeps } from './signed-in.ts';

export function searchHandler(deps: AdminDeps) {
  return async (ctx: Context) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    deps.administration.require(a.scope, 'find');
    // Control characters are never part of a login ID or name (and PostgreSQL refuses NUL in text): dropped.
    const printable = (v: string) => v.replace(/[\u0000-\u001f\u007f]/g, '');
    const q = typeof ctx.query.q === 'string' ? printable(ctx.query.q.slice(0, 100)) : '';
    const after = typeof ctx.query.after === 'string' ? printable(ctx.query.after.slice(0, 400)) : undefined;
    // An empty search (q present but blank) lists every account in scope.
    const page = ctx.query.q !== undefined || after !== undefined ? await deps.administration.search(a.scope, q, deps.pageSize, after) : null;
    await deps.render(ctx, 'admin/search', { admin: who(a, deps), q, page });
  };
}
