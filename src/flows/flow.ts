// A self-service flow: server-side state with only its id in the URL. It has a kind (what
// it is for: kinds.ts), the step it is at, the account once known, the request it resumes,
// the required actions still pending, and two expiries checked against the clock on every
// read: idle (default 4 minutes, the guides' "Idle Timeout: 4 minutes") and absolute (a
// page left open all day). The store's TTL only cleans up: the record outlives both by a
// grace period so that an expired flow can be told apart from a forged one and still
// offer the original destination.
//
// Nothing is stored for strangers: a flow begins as a sealed reference (AES-256-GCM under a
// key of the IdP's, `t.…`) that carries the whole flow in its URL, and is written to the
// store only once it holds something a stranger cannot cause cheaply: a verified password or
// answers, a second factor, a required action, a secret sealed to the browser. Until then
// (the login prompt, Forgotten Password's username and answers pages, with their messages)
// every save seals a new reference instead, so a flood of visitors, or of wrong passwords,
// leaves no key behind. A reference is the flow's id once stored: the first write puts it
// under that id, and the reference then leads to the stored flow (or to its end marker).
import { createCipheriv, createDecipheriv, createHash, createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import type { RequiredAction } from '../domain/accounts/required-actions.ts';
import type { Clock } from '../domain/clock.ts';
import { newId } from '../domain/ids.ts';
import type { Resume } from '../domain/sessions/resume.ts';
import type { Message } from '../messages/catalogue.ts';
import { keys, type Store } from '../store/index.ts';
import { JsonRecords } from '../store/records.ts';

/** The request a flow resumes when done: an OIDC interaction, a SAML request, or the portal. */
export type { Resume } from '../domain/sessions/resume.ts';

/**
 *   sign-in           the login prompt: a password entered here, then the account's required actions
 *   required-actions  required actions for an SSO session that is already signed in (the session is kept)
 *   forgot-password   challenge answers instead of the password, then a new password or an unlock
 *   sspr-password / sspr-questions / sspr-mfa / sspr-email   the portal's SSPR app, after the current password
 *   step-up           a second factor for a session signed in with a password (acr mfa, /admin actions)
 */
export type FlowKind = 'sign-in' | 'required-actions' | 'forgot-password' | 'sspr-password' | 'sspr-questions' | 'sspr-mfa' | 'sspr-email' | 'step-up' | 'app-notice';

/**
 * What a flow must still do, in order: the account's required actions, the second factor
 * of an account that has one (sign-in, step-up), and the recovery email's offer (after the
 * questions at first sign-in; an offer, not a required action: the gate never asks for it).
 */
export type Pending = RequiredAction | 'second-factor' | 'recovery-email';

/** Every step of every flow; a request may only act on the step the flow is at. */
export type Step =
  | 'credentials'
  | 'badge-pin'
  | 'app-notice'
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
  | 'fp-unlocked'
  | 'fp-code'
  | 're-offer'
  | 're-confirm'
  | 're-done'
  | 'second-factor'
  | 'mfa-choose'
  | 'mfa-totp'
  | 'mfa-passkey'
  | 'mfa-recovery';

export interface Flow {
  id: string;
  kind: FlowKind;
  step: Step;
  /**
   * Set once the password (or the answers) were verified in this flow, or from the start
   * when the SSO session vouches for the account (required actions, SSPR, re-authentication).
   */
  accountId?: string;
  /** When the password was verified in this flow (a real sign-in); absent when the SSO session vouched. */
  authenticatedAt?: number;
  resume: Resume;
  /** Required actions (and the second factor) still to do, in order. */
  pending: Pending[];
  /** How the account was authenticated in this flow (RFC 8176 amr), when it was. */
  amr?: string[];
  /** The login ID whose password was verified in this flow: the browser becomes a known device for it when the sign-in finishes. */
  deviceLogin?: string;
  /** When a second factor was verified (or enrolled) in this flow. */
  mfaAt?: number;
  /** The app a first-use notice is about (app-notice flows). */
  app?: { key: string; name: string; receives: string[] };
  /** A scanned sign-in badge whose PIN is asked next (its id; the account is set only once the PIN is right). */
  badgeId?: string;
  /** The WebAuthn challenge of the page shown last (used once). */
  challenge?: string;
  /** Hash of the browser binding cookie: a flow continues only in the browser that began it. */
  binding: string;
  /** Non-secret values to show again on the next render. */
  form?: Record<string, string>;
  /** Messages to show once: a page-level one, its details, and per field. */
  error?: Message;
  /** A line shown once that is not an error (a fresh sign-in page after an expired one). */
  notice?: Message;
  problems?: Message[];
  fieldErrors?: Record<string, Message>;
  /** Secret values kept between steps, sealed to this browser (see sealed.ts). */
  sealed?: string;
  /** While nothing is stored for the flow: the sealed reference that carries it (its URL). Never stored. */
  token?: string;
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
  accountId?: string | undefined;
  pending?: Pending[];
  app?: { key: string; name: string; receives: string[] } | undefined;
}

/** Steps a flow may be at while it is only a sealed reference (before anything was verified in it). */
const UNSTORED_STEPS: ReadonlySet<Step> = new Set<Step>(['credentials', 'fp-username', 'fp-answers', 'fp-code']);
const TOKEN = 't.';

export class Flows {
  readonly #records: JsonRecords<Flow>;
  readonly #clock: Clock;
  readonly idleMs: number;
  readonly maxMs: number;
  readonly #tokenKey: KeyObject;
  readonly #challengeKey: KeyObject;

  readonly #store: Store;

  /** `secret`: a long-lived secret of the deployment (references and passkey challenges are derived from it). */
  constructor(store: Store, clock: Clock, idleMs: number, maxMs: number, secret: string) {
    this.#store = store;
    this.#records = new JsonRecords(store, keys.flow, /^[A-Za-z0-9_-]{16,64}$/);
    this.#clock = clock;
    this.idleMs = idleMs;
    this.maxMs = maxMs;
    this.#tokenKey = createSecretKey(Buffer.from(hkdfSync('sha256', secret, 'flow references', 'idp flow reference', 32)));
    this.#challengeKey = createSecretKey(Buffer.from(hkdfSync('sha256', secret, 'flow challenges', 'idp flow passkey challenge', 32)));
  }

  /** A new flow, as a sealed reference: nothing is stored until it holds something worth keeping (save). */
  async create(init: NewFlow, browserSecret: string): Promise<Flow> {
    const now = this.#clock();
    const { accountId, ...rest } = init;
    const flow: Flow = { id: newId(), pending: [], ...rest, ...(accountId ? { accountId } : {}), binding: bindingOf(browserSecret), idleUntil: now + this.idleMs, createdAt: now };
    flow.token = this.#seal(flow);
    return flow;
  }

  /** The flow, and whether it is still live by the clock (idle and absolute expiry). `ref`: its id or its sealed reference. */
  async lookup(ref: string): Promise<FlowLookup> {
    let flow: Flow | null;
    if (ref.startsWith(TOKEN)) {
      const sealed = this.#open(ref);
      if (!sealed) return { state: 'missing' };
      // Written since (it went on), or finished: the store's answer wins over the reference.
      const [stored, done] = await Promise.all([this.#records.get(sealed.id), this.#store.get(keys.flowDone(sealed.id))]);
      if (done !== null && !stored) return { state: 'missing' };
      flow = stored ?? { ...sealed, token: ref, challenge: this.#challenge(sealed.id) };
    } else {
      flow = await this.#records.get(ref);
    }
    if (!flow) return { state: 'missing' };
    const now = this.#clock();
    return flow.idleUntil <= now || flow.createdAt + this.maxMs <= now ? { state: 'expired', flow: upgrade(flow) } : { state: 'live', flow: upgrade(flow) };
  }

  /**
   * Writes the flow and re-arms its idle timer. A flow that is still only a reference and
   * holds nothing worth storing is sealed into a new reference instead (flow.token, its URL).
   */
  async save(flow: Flow): Promise<void> {
    const now = this.#clock();
    flow.idleUntil = Math.min(now + this.idleMs, flow.createdAt + this.maxMs);
    if (flow.token !== undefined && unstored(flow)) {
      flow.token = this.#seal(flow);
      return;
    }
    delete flow.token;
    await this.#records.put(flow, Math.max(1, flow.idleUntil - now) + GRACE_MS);
  }

  async end(id: string): Promise<void> {
    if (this.#records.validId(id)) await this.#records.delete(id);
  }

  /**
   * Ends a flow that finished (or was cancelled), leaving a small marker for a while: Back
   * to one of its pages then says what was done and leads on, instead of "nothing was
   * changed" (the marker holds no account, only the browser binding and what was done).
   * A flow cancelled before anything was stored leaves nothing (a stranger's click stores nothing).
   */
  async endFinished(flow: Flow, what: FinishedWhat, next: string): Promise<void> {
    if (flow.token !== undefined && what === 'cancelled') return;
    const marker: FinishedFlow = { binding: flow.binding, what, next };
    // Both writes at once (one round trip): the marker is only read once the flow is gone.
    await Promise.all([this.#store.set(keys.flowDone(flow.id), JSON.stringify(marker), { ttlMs: FINISHED_MS }), this.#records.delete(flow.id)]);
  }

  /** The SSPR app was given the current password in this browser (its next step within minutes does not ask again). */
  async rememberReauth(accountId: string, binding: string): Promise<void> {
    await this.#store.set(keys.ssprReauth(accountId, binding), '1', { ttlMs: SSPR_REAUTH_MS });
  }

  async recentReauth(accountId: string, binding: string): Promise<boolean> {
    return (await this.#store.get(keys.ssprReauth(accountId, binding))) !== null;
  }

  /** The marker of a finished flow, if it is still kept (`ref`: its id or its sealed reference). */
  async finished(ref: string): Promise<FinishedFlow | null> {
    const id = ref.startsWith(TOKEN) ? this.#open(ref)?.id : ref;
    if (!this.#records.validId(id)) return null;
    const raw = await this.#store.get(keys.flowDone(id));
    return raw ? (JSON.parse(raw) as FinishedFlow) : null;
  }

  /**
   * The WebAuthn challenge of a flow that is only a reference: derived from its id (the
   * same on every page of it), used once because a verified passkey moves the flow on
   * (stored at a later step, or finished with its marker), after which the reference no
   * longer leads to a page that takes it.
   */
  #challenge(id: string): string {
    return createHmac('sha256', this.#challengeKey).update(id).digest('base64url');
  }

  #seal(flow: Flow): string {
    const { token: _token, challenge: _challenge, ...kept } = flow;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#tokenKey, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(kept), 'utf8'), cipher.final()]);
    return TOKEN + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  #open(ref: string): Flow | null {
    if (ref.length > 4096) return null;
    try {
      const raw = Buffer.from(ref.slice(TOKEN.length), 'base64url');
      if (raw.length < 29) return null;
      const decipher = createDecipheriv('aes-256-gcm', this.#tokenKey, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const flow = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as Flow;
      return this.#records.validId(flow.id) ? flow : null;
    } catch {
      return null;
    }
  }
}

/** Whether a flow still holds nothing a stranger could not cause cheaply (it may stay a reference). */
function unstored(flow: Flow): boolean {
  return UNSTORED_STEPS.has(flow.step) && flow.authenticatedAt === undefined && flow.mfaAt === undefined && flow.sealed === undefined && flow.pending.length === 0;
}

/** How long the SSPR app does not ask again for the password it was just given (same browser, same account). */
export const SSPR_REAUTH_MS = 5 * 60 * 1000;

/** How long a finished flow's page still says it is finished. */
const FINISHED_MS = 60 * 60 * 1000;

export type FinishedWhat = 'password' | 'questions' | 'unlocked' | 'signed_in' | 'cancelled';

export interface FinishedFlow {
  binding: string;
  what: FinishedWhat;
  /** Where the page leads on (a path of this IdP). */
  next: string;
}

/**
 * A flow written by the previous release (a rolling upgrade; flows live minutes): required
 * actions of a live session were a 'sign-in' flow without a verified password, and messages
 * were sentences (dropped: they are shown once anyway).
 */
function upgrade(flow: Flow): Flow {
  if (flow.kind === 'sign-in' && flow.step !== 'credentials' && flow.step !== 'badge-pin' && flow.authenticatedAt === undefined) flow.kind = 'required-actions';
  if (typeof flow.error === 'string') delete flow.error;
  if (flow.fieldErrors && Object.values(flow.fieldErrors).some((m) => typeof m === 'string')) delete flow.fieldErrors;
  return flow;
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

/** Where "Cancel" leads when an application waits: it is told the user cancelled. */
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
  return typeof raw === 'string' && raw.length <= 256 && /^\/(portal|admin)(\/[A-Za-z0-9/_-]*)?$/.test(raw) && !raw.includes('//') ? raw : '/portal';
}

/** How the flow is reached: its sealed reference while nothing is stored, else its id. */
export function flowRef(flow: Pick<Flow, 'id' | 'token'>): string {
  return flow.token ?? flow.id;
}

export function flowUrl(flow: Pick<Flow, 'id' | 'token'>): string {
  return `/flow/${flowRef(flow)}`;
}
