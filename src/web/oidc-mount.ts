// /oidc/* and /.well-known/*: handed to oidc-provider, which handles its own routes, bodies
// and errors. The handler is asked for per request: a key rotation replaces it (web/app.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Middleware } from 'koa';
import { AppError } from '../domain/errors.ts';
import { seeOther } from '../http/respond.ts';

/**
 * OIDC Core 3.1.2.1 and RP-Initiated Logout 1.0 section 2: the authorization and end-session
 * endpoints accept POST (form-encoded). oidc-provider serves POST there only with
 * SameSite=None session cookies; this IdP's cookies are SameSite=Lax, which a cross-site POST
 * does not carry, so a POST is answered 303 to the same endpoint with the same parameters in
 * the query: the browser's GET carries the cookies, and oidc-provider checks it as any GET.
 */
const POST_AS_GET = new Set(['/oidc/auth', '/oidc/session/end']);
/** Within what a URL may carry (Node reads request heads up to 16 KiB). */
const POST_AS_GET_MAX_BYTES = 8 * 1024;

/** The form body as a query string (parameter order and repetitions kept). */
async function formQuery(ctx: Context): Promise<string> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new AppError('SSPR 5120', `POST ${ctx.path} without a form body`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > POST_AS_GET_MAX_BYTES) throw new AppError('SSPR 5120', `POST ${ctx.path} form over ${POST_AS_GET_MAX_BYTES} bytes`);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8')).toString();
}

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

export function oidcMount(handler: () => NodeHandler): Middleware {
  return async (ctx, next) => {
    if (ctx.method === 'POST' && POST_AS_GET.has(ctx.path)) {
      seeOther(ctx, `${ctx.path}?${await formQuery(ctx)}`);
      return;
    }
    if (ctx.path.startsWith('/oidc/') || ctx.path.startsWith('/.well-known/')) {
      ctx.respond = false;
      await handler()(ctx.req, ctx.res);
      ctx.status = ctx.res.statusCode;
      return;
    }
    return next();
  };
}
