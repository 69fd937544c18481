// Operational endpoints: /healthz (the process answers), /readyz (start-up is done and both
// stores can take writes now: the directory's database, and Redis connected to a master),
// /metrics (Prometheus text format): with a bearer token when one is set (server.metricsToken),
// otherwise only to clients on this machine (loopback, no proxy header): never to the world.
import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Metrics } from '../observability/metrics.ts';
import type { Store } from '../store/index.ts';
import type { Database } from '../store/database/index.ts';

/** Whether this request may read /metrics. */
function mayReadMetrics(ctx: Context, token: string | undefined): boolean {
  if (token !== undefined) {
    const given = /^Bearer (.+)$/.exec(ctx.get('Authorization'))?.[1] ?? '';
    const digest = (v: string) => createHash('sha256').update(v).digest();
    return timingSafeEqual(digest(given), digest(token));
  }
  const peer = ctx.req.socket.remoteAddress ?? '';
  const local = peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
  return local && !PROXY_HEADERS.some((h) => ctx.req.headers[h] !== undefined);
}

/** Headers a proxy on this machine may have added: any of them, even empty, and the request is not this machine's own. */
const PROXY_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip', 'true-client-ip', 'cf-connecting-ip', 'x-client-ip', 'x-forwarded-host', 'x-forwarded-proto', 'via'];

export function opsRouter({ store, database, metrics, started, worker, metricsToken }: { store: Store; database: Database; metrics: Metrics; started: () => boolean; worker: number; metricsToken?: string | undefined }): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    // With several IdP processes (server.workers > 1): which one answered.
    ctx.body = worker ? { status: 'ok', worker } : { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (!started()) {
      ctx.status = 503;
      ctx.body = { status: 'starting', store: store.kind, database: database.kind, error: 'SSPR 5019' };
      return;
    }
    const within2s = <T>(what: string, p: Promise<T>) => Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within 2 s`)), 2_000).unref())]);
    const [sessions, directory] = await Promise.allSettled([within2s('store', store.writable()), within2s('database', database.writable())]);
    if (sessions.status === 'fulfilled' && directory.status === 'fulfilled') {
      ctx.body = { status: 'ready', store: store.kind, database: database.kind };
      return;
    }
    metrics.storeErrors.inc();
    ctx.status = 503;
    const detail = [sessions, directory].flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : [])).join('; ');
    // Which store failed is for anyone (a load balancer); what it said, for those who may read the metrics.
    const failed = { store: sessions.status === 'rejected' ? 'unavailable' : 'ready', database: directory.status === 'rejected' ? 'unavailable' : 'ready' };
    ctx.body = { status: 'unavailable', store: store.kind, database: database.kind, error: 'SSPR 5019', failed, ...(mayReadMetrics(ctx, metricsToken) ? { detail } : {}) };
  });
  router.get('/metrics', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (!mayReadMetrics(ctx, metricsToken)) {
      ctx.status = metricsToken === undefined ? 403 : 401;
      if (metricsToken !== undefined) ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
      ctx.body = { error: metricsToken === undefined ? 'metrics are served to this machine only, not through a proxy (set IDP_METRICS_TOKEN to read them from elsewhere)' : 'a bearer token is required' };
      return;
    }
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
