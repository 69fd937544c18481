// /static/*: the CSS and the one script (views/static), cached for an hour; anything else
// under /static is the error page's 404.
import type { Middleware } from 'koa';
import serve from 'koa-static';
import path from 'node:path';
import { AppError } from '../domain/errors.ts';
import { VIEWS_DIR } from './render.ts';

export function staticFiles(): Middleware {
  const files = serve(path.join(VIEWS_DIR, 'static'), { maxage: 3_600_000, gzip: false, brotli: false });
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/static/')) return next();
    const original = ctx.path;
    ctx.path = ctx.path.slice('/static'.length);
    try {
      await files(ctx, async () => {});
    } finally {
      ctx.path = original;
    }
    if (ctx.body === undefined) throw new AppError('SSPR 5404');
  };
}
