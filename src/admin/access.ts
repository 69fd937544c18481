// GET /admin/accounts/:id/access[?format=csv]: the access report of one account (issue 29):
// which apps were given a sign-in for it, when, and what each received (the claims or
// attributes, and the identifier it knows the person by), from the audit trail. For school
// and ministry administrators (the audit capability), for accounts in their scope.
import type { RouterContext } from '@koa/router';
import { csvFile } from '../domain/csv.ts';
import { signedInAdmin, who, type AdminDeps } from './signed-in.ts';

/** What an app received at a sign-in (given by the composition root, which knows the protocols). */
export interface Release {
  app: string;
  protocol: 'OIDC' | 'SAML';
  /** The claims or attributes, and the identifier the app knows the person by. */
  receives: string[];
}

export type ReleasesOf = (event: { type: string; client?: string | undefined; reason?: string | undefined }) => Promise<Release | null>;

/** The audit events that record a sign-in given to an app. */
const RELEASES = new Set(['oidc.authorized', 'saml.assertion']);

export function accessReportHandler(deps: AdminDeps) {
  return async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    deps.administration.require(a.scope, 'audit');
    const account = await deps.administration.target(a.scope, ctx.params.id!);
    const events = await deps.audit.recent(1000, (e) => e.accountId === account.id && RELEASES.has(e.type));
    const rows = [];
    for (const e of events) {
      const release = await deps.releasesOf?.(e);
      if (release) rows.push({ at: e.at, ...release });
    }
    if (ctx.query.format === 'csv') {
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Content-Disposition', `attachment; filename="access-${account.loginId.replace(/[^a-z0-9._-]/gi, '_')}.csv"`);
      ctx.type = 'text/csv; charset=utf-8';
      const columns = ['at', 'app', 'protocol', 'receives', 'loginId'] as const;
      ctx.body = csvFile(columns, rows.map((r) => [r.at, r.app, r.protocol, r.receives.join(' '), account.loginId]));
      return;
    }
    await deps.render(ctx, 'admin/access', { admin: who(a, deps), account, rows });
  };
}
