// Bodies and CSRF for the routes of the given routers: a route that declares nothing takes
// our own forms (the body parsed; a POST carries this browser's CSRF token); a route that
// declares crossSitePost or multipartUpload (http/body.ts) handles its body itself. Requests
// no route answers are left alone.
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { AppError } from '../domain/errors.ts';
import { crossSitePost, multipartUpload, parseBody } from '../http/body.ts';

type Declared = 'own-form' | 'cross-site' | 'multipart';

function declared(routers: Router[], ctx: Context): Declared | null {
  let found: Declared | null = null;
  for (const router of routers) {
    const matched = router.match(ctx.path, ctx.method);
    if (!matched.route) continue;
    for (const layer of matched.pathAndMethod) {
      if (layer.stack.includes(crossSitePost as never)) return 'cross-site';
      if (layer.stack.includes(multipartUpload as never)) return 'multipart';
    }
    found = 'own-form';
  }
  return found;
}

export function ownForms(routers: Router[], csrfValid: (ctx: Context, token: unknown) => boolean): Middleware {
  return async (ctx, next) => {
    const kind = declared(routers, ctx);
    if (kind === null || kind === 'cross-site') return next();
    await parseBody(ctx, async () => {});
    // Multipart uploads are parsed (and their token checked) by the route that accepts them.
    if (ctx.method === 'POST' && !(kind === 'multipart' && ctx.is('multipart/form-data'))) {
      const token = (ctx.request.body as Record<string, unknown> | undefined)?._csrf;
      if (!csrfValid(ctx, token)) throw new AppError('SSPR 5104', 'CSRF token missing or invalid');
    }
    return next();
  };
}
