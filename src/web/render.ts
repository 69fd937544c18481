// Renders EJS views inside views/layout.ejs. Templates show data; they decide nothing.
// Every page is sent with Cache-Control: no-store (they carry per-user state and tokens).
// Values that have side effects (the CSRF token creates the browser cookie) are computed
// only when a template reads them: a page reached by a cross-site POST (SAML bindings,
// which carry no SameSite=Lax cookies) must not replace the browser's cookies.
import path from 'node:path';
import ejs from 'ejs';
import type { Context } from 'koa';
import { projectRoot } from '../config/settings.ts';
import type { Render } from '../http/respond.ts';

export const VIEWS_DIR = path.join(projectRoot, 'views');


type Lazy = Record<string, () => unknown>;

/**
 * Lazy values are computed when a template prints them (`<%= csrf %>` calls toString): ejs
 * copies its locals before rendering, which would run a getter for every page.
 */
function withLazy(values: Record<string, unknown>, lazy: Lazy): Record<string, unknown> {
  const locals = { ...values };
  for (const [name, compute] of Object.entries(lazy)) {
    let cached: string | undefined;
    locals[name] = { toString: () => (cached ??= String(compute())) };
  }
  return locals;
}

export function renderer(common: (ctx: Context) => Record<string, unknown>, lazy: (ctx: Context) => Lazy, cache: boolean): Render {
  return async (ctx, view, data, status = 200) => {
    // `view` names the screen (the layout's title and header follow it).
    const values = { ...common(ctx), view, ...data };
    const computed = lazy(ctx);
    const opts = { cache, async: true, views: [VIEWS_DIR] };
    const body = await ejs.renderFile(path.join(VIEWS_DIR, `${view}.ejs`), withLazy(values, computed), opts);
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await ejs.renderFile(path.join(VIEWS_DIR, 'layout.ejs'), withLazy({ ...values, body }, computed), opts);
  };
}
