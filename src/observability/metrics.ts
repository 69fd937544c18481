// Prometheus metrics: request rate and latency by route, sign-in outcomes, store errors,
// SAML messages refused.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KeyInfo } from '../config/key-material.ts';

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
    help: 'Password sign-in attempts by outcome: success, bad_password, unknown_account, locked_by_this_attempt (a checked wrong password that locked the login ID), locked (refused, nothing checked), ip_throttled, held_back (spraying alarm, nothing checked), disabled, invalid_login_id',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly samlRefusals = new Counter({
    name: 'idp_saml_refused_total',
    help: 'Inbound SAML messages refused, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly sprayingAlarms = new Counter({
    name: 'idp_spraying_alarms_total',
    help: 'Times the password-spraying alarm went on (failed accounts a minute from unknown devices above the threshold), for all schools or one school',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  /** Admission control in front of password checks: active, queued, refused (set by watchAdmission). */
  watchAdmission(admission: { active: number; queued: number; refused: number; admitted: number }): void {
    new Gauge({ name: 'idp_password_checks_active', help: 'Password actions running now (admission control)', registers: [this.registry], collect() { this.set(admission.active); } });
    new Gauge({ name: 'idp_password_checks_queued', help: 'Password actions waiting for admission now', registers: [this.registry], collect() { this.set(admission.queued); } });
    new Counter({ name: 'idp_password_checks_refused_total', help: 'Password actions answered 503 with Retry-After (queue full or waited too long)', registers: [this.registry], collect() { this.reset(); this.inc(admission.refused); } });
  }
  readonly mail = new Counter({
    name: 'idp_mail_total',
    help: 'Outbound mail tries by outcome (sent; retry: a try failed and another follows; given_up: every try failed) and template',
    labelNames: ['outcome', 'template'] as const,
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'idp_store_errors_total',
    help: 'Requests that failed because the store was unreachable',
    registers: [this.registry],
  });

  #keys: readonly KeyInfo[] = [];
  readonly samlCertificateExpiry = new Gauge({
    name: 'idp_saml_certificate_expiry_seconds',
    help: 'Seconds until each published SAML signing certificate expires (notAfter), by state (current, next, retiring) and id',
    labelNames: ['state', 'id'] as const,
    registers: [this.registry],
    collect: () => {
      this.samlCertificateExpiry.reset();
      const now = Date.now();
      for (const k of this.#keys) if (k.kind === 'saml' && k.expires !== undefined) this.samlCertificateExpiry.set({ state: k.life.state, id: k.id }, Math.round((k.expires - now) / 1000));
    },
  });
  readonly signingKeyAge = new Gauge({
    name: 'idp_key_age_seconds',
    help: 'Age of each key (since created), by kind (oidc, saml, cookie), state and id',
    labelNames: ['kind', 'state', 'id'] as const,
    registers: [this.registry],
    collect: () => {
      this.signingKeyAge.reset();
      const now = Date.now();
      for (const k of this.#keys) this.signingKeyAge.set({ kind: k.kind, state: k.life.state, id: k.id }, Math.round((now - Date.parse(k.life.created)) / 1000));
    },
  });

  /** The keys in use (after start and after each rotation). */
  setKeys(keys: readonly KeyInfo[]): void {
    this.#keys = keys;
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'idp_' });
  }
}
