// /static/*: the CSS and the scripts (views/static), cached for an hour; /static/vendor/ the
// browser libraries the pages use, served from their npm packages (no CDN); anything else
// under /static is the error page's 404.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Middleware } from 'koa';
import serve from 'koa-static';
import path from 'node:path';
import { AppError } from '../domain/errors.ts';
import { VIEWS_DIR } from './render.ts';

/**
 * @simplewebauthn/browser's browser bundle (its package exports only the module builds), and
 * jsQR's, the QR decoder the badge scanner uses where the browser has no BarcodeDetector.
 */
function vendorFiles(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const browser = path.join(path.dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js');
  const jsqr = require.resolve('jsqr');
  return new Map([
    ['/static/vendor/simplewebauthn-browser.js', readFileSync(browser, 'utf8')],
    ['/static/vendor/jsqr.js', readFileSync(jsqr, 'utf8')],
  ]);
}

export function staticFiles(): Middleware {
  const files = serve(path.join(VIEWS_DIR, 'static'), { maxage: 3_600_000, gzip: false, brotli: false });
  const vendor = vendorFiles();
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/static/')) return next();
    const bundled = vendor.get(ctx.path);
    if (bundled !== undefined) {
      ctx.type = 'application/javascript; charset=utf-8';
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.body = bundled;
      return;
    }
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
