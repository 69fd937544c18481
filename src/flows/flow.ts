// A self-service flow: server-side state with only its id in the URL.
// It has a kind, a current step, the account once known, the request it will resume
// and an idle expiry (default 4 minutes, as the guides' "Idle Timeout: 4 minutes").
// The record outlives its idle expiry by a grace period so that an expired flow can be
// told apart from a forged one and still offer the original destination.
import { createHash } from 'node:crypto';
import type { Clock } from '../domain/clock.ts';
import { newId } from '../domain/ids.ts';
import { keys, type Store } from '../store/index.ts';

export type Resume = { kind: 'oidc'; uid: string; clientId: string } | { kind: 'portal'; path: string };

export type FlowKind = 'sign-in';

export interface Flow {
  id: string;
  kind: FlowKind;
  step: string;
  accountId?: string;
  resume: Resume;
  /** Hash of the browser binding cookie: a flow continues only in the browser that began it. */
  binding: string;
  /** Values to show again on the next render (never secrets). */
  form?: Record<string, string>;
  error?: string;
  idleUntil: number;
  createdAt: number;
}

export type FlowLookup = { state: 'live'; flow: Flow } | { state: 'expired'; flow: Flow } | { state: 'missing' };

const GRACE_MS = 60 * 60 * 1000;

export function bindingOf(secret: string): string {
  return createHash('sha256').update(`flow-binding:${secret}`).digest('base64url');
}

export class Flows {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly idleMs: number;

  constructor(store: Store, clock: Clock, idleMs: number) {
    this.#store = store;
    this.#clock = clock;
    this.idleMs = idleMs;
  }

  async create(kind: FlowKind, step: string, resume: Resume, browserSecret: string): Promise<Flow> {
    const now = this.#clock();
    const flow: Flow = { id: newId(), kind, step, resume, binding: bindingOf(browserSecret), idleUntil: now + this.idleMs, createdAt: now };
    await this.save(flow);
    return flow;
  }

  async lookup(id: string): Promise<FlowLookup> {
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(id)) return { state: 'missing' };
    const raw = await this.#store.get(keys.flow(id));
    if (!raw) return { state: 'missing' };
    const flow = JSON.parse(raw) as Flow;
    return flow.idleUntil <= this.#clock() ? { state: 'expired', flow } : { state: 'live', flow };
  }

  /** Writes the flow and re-arms its idle timer. */
  async save(flow: Flow): Promise<void> {
    flow.idleUntil = this.#clock() + this.idleMs;
    await this.#store.set(keys.flow(flow.id), JSON.stringify(flow), { ttlMs: this.idleMs + GRACE_MS });
  }

  async end(id: string): Promise<void> {
    await this.#store.del(keys.flow(id));
  }
}

/** Where to send the browser when the flow is done (never an absolute URL). */
export function resumeUrl(resume: Resume): string {
  return resume.kind === 'oidc' ? `/interaction/${encodeURIComponent(resume.uid)}` : resume.path;
}

/** Portal destinations a flow may return to; anything else falls back to /portal. */
export function safePortalPath(raw: unknown): string {
  return typeof raw === 'string' && /^\/portal(\/[A-Za-z0-9/_-]*)?$/.test(raw) ? raw : '/portal';
}
