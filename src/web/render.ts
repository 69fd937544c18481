// Renders EJS views inside views/layout.ejs. Templates show data; they decide nothing.
// Every page is sent with Cache-Control: no-store (they carry per-user state and tokens).
import path from 'node:path';
import ejs from 'ejs';
import type { Context } from 'koa';
import { projectRoot } from '../config/settings.ts';

export const VIEWS_DIR = path.join(projectRoot, 'views');

export type Render = (ctx: Context, view: string, data: Record<string, unknown>, status?: number) => Promise<void>;

export function renderer(common: (ctx: Context) => Record<string, unknown>, cache: boolean): Render {
  return async (ctx, view, data, status = 200) => {
    const locals = { ...common(ctx), ...data };
    const opts = { cache, async: true, views: [VIEWS_DIR] };
    const body = await ejs.renderFile(path.join(VIEWS_DIR, `${view}.ejs`), locals, opts);
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await ejs.renderFile(path.join(VIEWS_DIR, 'layout.ejs'), { ...locals, body }, opts);
  };
}
