// GET  /admin/lifecycle       the roster's lifecycle: each population's rules, the steps
//                             scheduled in this administrator's reach, the latest runs
// POST /admin/lifecycle/run   runs the scheduled steps now (ministry administrators)
import type { RouterContext } from '@koa/router';
import type { Account } from '../domain/accounts/account.ts';
import { AppError } from '../domain/errors.ts';
import { seeOther } from '../http/respond.ts';
import { signedInAdmin, who, type AdminDeps } from './signed-in.ts';

const SHOWN = 200;

export function lifecycleHandlers(deps: AdminDeps) {
  const show = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    deps.administration.require(a.scope, 'audit');
    if (!deps.lifecycle) throw new AppError('SSPR 5404', 'no lifecycle in this process');
    const school = a.scope.kind === 'ministry' ? null : a.actor.school.code;
    const ids = await deps.lifecycle.rows.scheduled(school, SHOWN);
    const scheduled = (await Promise.all(ids.map((id) => deps.directory.get(id)))).filter((x): x is Account => x !== null);
    // A run's counts are of every school: shown to ministry administrators only.
    const runs = a.scope.kind === 'ministry' ? await deps.audit.recent(10, (e) => e.type === 'lifecycle.run') : [];
    await deps.render(ctx, 'admin/lifecycle', {
      admin: who(a, deps), populations: deps.lifecycle.populations, everyMinutes: deps.lifecycle.runEveryMinutes, scheduled, runs,
      mayRun: a.scope.kind === 'ministry', ran: typeof ctx.query.ran === 'string' ? ctx.query.ran : null,
    });
  };

  const run = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    if (a.scope.kind !== 'ministry') throw new AppError('SSPR 5403', 'only ministry administrators run the lifecycle');
    if (!deps.lifecycle) throw new AppError('SSPR 5404', 'no lifecycle in this process');
    const r = await deps.lifecycle.run(a.actor.id);
    seeOther(ctx, `/admin/lifecycle?ran=${encodeURIComponent(`${r.moved},${r.left},${r.deleted},${r.dormant},${r.failed}`)}`);
  };

  return { show, run };
}
