// Operational endpoints: /healthz (the process answers), /readyz (start-up is done and both
// stores can take writes now: the directory's database, and Redis connected to a master),
// /metrics (Prometheus text format).
import Router from '@koa/router';
import type { Metrics } from '../observability/metrics.ts';
import type { Store } from '../store/index.ts';
import type { Database } from '../store/database/index.ts';

export function opsRouter({ store, database, metrics, started, worker }: { store: Store; database: Database; metrics: Metrics; started: () => boolean; worker: number }): Router {
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
    ctx.body = { status: 'unavailable', store: store.kind, database: database.kind, error: 'SSPR 5019', detail };
  });
  router.get('/metrics', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
