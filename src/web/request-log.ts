// Request id, log line and metrics for every request. A request id given by the proxy
// (X-Request-Id) is kept when it looks like one; it is on every log line of the request.
import type { Context, Middleware, Next } from 'koa';
import { newId } from '../domain/ids.ts';
import type { Logger } from '../observability/logger.ts';
import { requestScope } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

export function requestLog(logger: Logger, metrics: Metrics): Middleware {
  return async (ctx: Context, next: Next) => {
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : newId(12);
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    await requestScope.run({ requestId }, async () => {
      try {
        await next();
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? routeLabel(ctx.path);
        metrics.httpRequests.inc({ route, method: ctx.method, status: String(ctx.status) });
        metrics.httpDuration.observe({ route, method: ctx.method }, seconds);
        logger.info({ method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 1000), ip: ctx.ip }, 'request');
      }
    });
  };
}

/** A metrics label for requests no router matched (ids replaced, so labels stay few). */
function routeLabel(p: string): string {
  if (p.startsWith('/oidc/') || p.startsWith('/.well-known/')) return p.replace(/\/[A-Za-z0-9_-]{16,}(?=\/|$)/g, '/:id');
  if (p.startsWith('/static/')) return '/static';
  return 'unmatched';
}
