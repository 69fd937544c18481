// A self-service flow: server-side state with only its id in the URL.
// It has a kind, a current step, the account once known, the request it will resume,
// the required actions still pending, and an idle expiry (default 4 minutes, as the
// guides' "Idle Timeout: 4 minutes"). The record outlives its idle expiry by a grace
// period so that an expired flow can be told apart from a forged one and still offer
// the original destination.
import { createHash } from 'node:crypto';
import type { RequiredAction } from '../domain/accounts/credentials.ts';
import type { Clock } from '../domain/clock.ts';
import { newId } from '../domain/ids.ts';
import type { Resume } from '../domain/sessions/resume.ts';
import { keys, type Store } from '../store/index.ts';
import { JsonRecords } from '../store/records.ts';

/** The request a flow resumes when done: an OIDC interaction, a SAML request, or the portal. */
export type { Resume } from '../domain/sessions/resume.ts';

/** sign-in: the login prompt; sspr-*: the portal's SSPR app for a signed-in user. */
export type FlowKind = 'sign-in' | 'sspr-password' | 'sspr-questions' | 'forgot-password';

/** Every step of every flow; a request may only act on the step the flow is at. */
export type Step =
  | 'credentials'
  | 'reauth'
  | 'questions'
  | 'questions-confirm'
  | 'questions-done'
  | 'password'
  | 'password-wait'
  | 'password-done'
  | 'fp-username'
  | 'fp-answers'
  | 'fp-locked'
  | 'fp-unlocked';

export interface Flow {
  id: string;
  kind: FlowKind;
  step: Step;
  /**
   * Set once the password was verified in this flow or the SSO session vouches for it; set
   * from the start when the flow re-authenticates the account of a live SSO session.
   */
  accountId?: string;
  /** When the password was verified in this flow (a real sign-in); absent when the SSO session vouched. */
  authenticatedAt?: number;
  resume: Resume;
  /** Required actions still to do, in order. */
  pending: RequiredAction[];
  /** Hash of the browser binding cookie: a flow continues only in the browser that began it. */
  binding: string;
  /** Non-secret values to show again on the next render. */
  form?: Record<string, string>;
  /** Messages to show once: a page-level one, and per field. */
  error?: string;
  fieldErrors?: Record<string, string>;
  /** Secret values kept between steps, sealed to this browser (see sealed.ts). */
  sealed?: string;
  /** New password hash between "Change Password" and its commit on "Please Wait". */
  newPasswordHash?: string;
  /** The password hash the change replaces; the commit fails if it changed meanwhile. */
  replacesHash?: string;
  /** After a password change: what the other sessions' apps were told (for the Success page). */
  signOut?: { sessionsEnded: number; told: string[]; notTold: Array<{ name: string; why: string }> };
  /** Forgot password: who the user says they are, and which questions they are asked. */
  candidate?: { loginId: string; accountId?: string; questions: number[]; decoy: boolean };
  idleUntil: number;
  createdAt: number;
}

export type FlowLookup = { state: 'live'; flow: Flow } | { state: 'expired'; flow: Flow } | { state: 'missing' };

const GRACE_MS = 60 * 60 * 1000;

export function bindingOf(secret: string): string {
  return createHash('sha256').update(`flow-binding:${secret}`).digest('base64url');
}

export interface NewFlow {
  kind: FlowKind;
  step: Step;
  resume: Resume;
  accountId?: string;
  pending?: RequiredAction[];
}

export class Flows {
  readonly #records: JsonRecords<Flow>;
  readonly #clock: Clock;
  readonly idleMs: number;

  constructor(store: Store, clock: Clock, idleMs: number) {
    this.#records = new JsonRecords(store, keys.flow, /^[A-Za-z0-9_-]{16,64}$/);
    this.#clock = clock;
    this.idleMs = idleMs;
  }

  async create(init: NewFlow, browserSecret: string): Promise<Flow> {
    const now = this.#clock();
    const flow: Flow = { id: newId(), pending: [], ...init, binding: bindingOf(browserSecret), idleUntil: now + this.idleMs, createdAt: now };
    await this.save(flow);
    return flow;
  }

  async lookup(id: string): Promise<FlowLookup> {
    const flow = await this.#records.get(id);
    if (!flow) return { state: 'missing' };
    return flow.idleUntil <= this.#clock() ? { state: 'expired', flow } : { state: 'live', flow };
  }

  /** Writes the flow and re-arms its idle timer. */
  async save(flow: Flow): Promise<void> {
    flow.idleUntil = this.#clock() + this.idleMs;
    await this.#records.put(flow, this.idleMs + GRACE_MS);
  }

  async end(id: string): Promise<void> {
    await this.#records.delete(id);
  }
}

/** Where to send the browser when the flow is done (never an absolute URL). */
export function resumeUrl(resume: Resume): string {
  switch (resume.kind) {
    case 'oidc':
      return `/interaction/${encodeURIComponent(resume.uid)}`;
    case 'saml':
      return `/saml/resume/${encodeURIComponent(resume.pendingId)}`;
    default:
      return resume.path;
  }
}

/** Where "Cancel" on the sign-in page leads: the application is told the user cancelled. */
export function cancelUrl(resume: Resume): string {
  switch (resume.kind) {
    case 'oidc':
      return `/interaction/${encodeURIComponent(resume.uid)}/abort`;
    case 'saml':
      return `/saml/resume/${encodeURIComponent(resume.pendingId)}/abort`;
    default:
      return '/flow/cancelled';
  }
}

/** The relying party a flow signs in to (audit events): client id, SP id or "portal". */
export function resumeClient(resume: Resume): string {
  return resume.kind === 'oidc' ? resume.clientId : resume.kind === 'saml' ? resume.spId : 'portal';
}

/** The IdP's own pages a flow may return to (portal, admin); anything else falls back to /portal. */
export function safePortalPath(raw: unknown): string {
  return typeof raw === 'string' && /^\/(portal|admin)(\/[A-Za-z0-9/_-]*)?$/.test(raw) && !raw.includes('//') ? raw : '/portal';
}
