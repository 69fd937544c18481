// Operational endpoints: /healthz (the process answers), /readyz (start-up is done and
// the store can take durable writes now: connected, a master, its replicas online),
// /metrics (Prometheus text format).
import Router from '@koa/router';
import type { Metrics } from '../observability/metrics.ts';
import type { Store } from '../store/index.ts';

export function opsRouter({ store, metrics, started, worker }: { store: Store; metrics: Metrics; started: () => boolean; worker: number }): Router {
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
      ctx.body = { status: 'starting', store: store.kind, error: 'SSPR 5019' };
      return;
    }
    try {
      await Promise.race([store.writable(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2_000).unref())]);
      ctx.body = { status: 'ready', store: store.kind };
    } catch (err) {
      metrics.storeErrors.inc();
      ctx.status = 503;
      ctx.body = { status: 'unavailable', store: store.kind, error: 'SSPR 5019', detail: (err as Error).message };
    }
  });
  router.get('/metrics', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
