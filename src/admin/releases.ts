// GET  /admin/apps                 what each app may receive of pupils     (issue 29, privacy)
// POST /admin/apps/release         a choice: the kinds of data one app may receive
// A ministry administrator chooses for every school; a school administrator for their own
// school's pupils, within the ministry's choice. An app gets what its file allows, the
// ministry allows and the school allows (domain/privacy/releases.ts). Audited.
import type { RouterContext } from '@koa/router';
import { AppError } from '../domain/errors.ts';
import { RELEASE_ITEMS, type ReleaseItem } from '../domain/privacy/releases.ts';
import { seeOther } from '../http/respond.ts';
import { signedInAdmin, who, type AdminDeps } from './signed-in.ts';

/** An app as the page lists it (given by the composition root, which knows the protocols). */
export interface ReleasableApp {
  key: string;
  name: string;
  protocol: 'OIDC' | 'SAML';
  /** The kinds its file lets it have at all. */
  allows: ReleaseItem[];
}

export function releaseHandlers(deps: AdminDeps) {
  const list = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    deps.administration.require(a.scope, 'releases');
    if (!deps.releases || !deps.releasableApps) throw new AppError('SSPR 5404', 'no apps to choose for in this process');
    const school = a.scope.kind === 'ministry' ? '*' : a.actor.school.code;
    const choices = await deps.releases.choices();
    const apps = (await deps.releasableApps()).map((app) => {
      const mine = choices.get(app.key) ?? [];
      const ministry = mine.find((c) => c.schoolCode === '*') ?? null;
      const own = school === '*' ? ministry : (mine.find((c) => c.schoolCode === school) ?? null);
      // What this administrator may tick: the file's kinds, within the ministry's choice for a school.
      const offered = app.allows.filter((i) => school === '*' || !ministry || ministry.items.includes(i));
      const chosen = own ? own.items : offered;
      return { ...app, ministry, own, offered, chosen, receives: offered.filter((i) => chosen.includes(i)) };
    });
    await deps.render(ctx, 'admin/apps', { admin: who(a, deps), apps, items: RELEASE_ITEMS, school, done: ctx.query.done === 'saved' ? String(ctx.query.app ?? '') : null });
  };

  const choose = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    deps.administration.require(a.scope, 'releases');
    if (!deps.releases || !deps.releasableApps) throw new AppError('SSPR 5404', 'no apps to choose for in this process');
    const body = (ctx.request as { body?: Record<string, unknown> }).body ?? {};
    const app = (await deps.releasableApps()).find((x) => x.key === body.app);
    if (!app) throw new AppError('SSPR 5404', 'no such app');
    const raw = Array.isArray(body.items) ? body.items : body.items === undefined ? [] : [body.items];
    if (raw.some((i) => typeof i !== 'string' || !(RELEASE_ITEMS as readonly string[]).includes(i))) throw new AppError('SSPR 5120', 'unknown kind of data');
    const school = a.scope.kind === 'ministry' ? '*' : a.actor.school.code;
    // A kind the app's file does not allow cannot be chosen for it (it would be saved as nothing).
    if ((raw as string[]).some((i) => !app.allows.includes(i as ReleaseItem))) throw new AppError('SSPR 5120', `${app.key} cannot receive that kind of data at all`);
    const items = body.reset === '1' ? null : app.allows.filter((i) => (raw as string[]).includes(i));
    await deps.releases.choose(app.key, school, items, { id: a.actor.id, name: a.actor.displayName });
    seeOther(ctx, `/admin/apps?done=saved&app=${encodeURIComponent(app.key)}#${encodeURIComponent(app.key)}`);
  };

  return { list, choose };
}
