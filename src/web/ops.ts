// Operational endpoints: /healthz (the process answers), /readyz (the store answers),
// /metrics (Prometheus text format).
import Router from '@koa/router';
import type { Metrics } from '../observability/metrics.ts';
import type { Store } from '../store/index.ts';

export function opsRouter({ store, metrics }: { store: Store; metrics: Metrics }): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await Promise.race([store.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2_000).unref())]);
      ctx.body = { status: 'ready', store: store.kind };
    } catch {
      metrics.storeErrors.inc();
      ctx.status = 503;
      ctx.body = { status: 'unavailable', store: store.kind, error: 'SSPR 5019' };
    }
  });
  router.get('/metrics', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
