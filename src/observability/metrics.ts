// Prometheus metrics: request rate and latency by route, sign-in outcomes, store errors,
// SAML messages refused.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'idp_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'idp_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly signIns = new Counter({
    name: 'idp_signin_total',
    help: 'Password sign-in attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly samlRefusals = new Counter({
    name: 'idp_saml_refused_total',
    help: 'Inbound SAML messages refused, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'idp_store_errors_total',
    help: 'Requests that failed because the store was unreachable',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'idp_' });
  }
}
