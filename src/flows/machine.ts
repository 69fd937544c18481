// The flow machine: how every flow kind runs its table. Nothing here knows HTTP.
//   A kind (kinds.ts) is a table of states: for each step, the actions a request may take
//   there, what each does (a plain function of the flow and the input) and the steps it may
//   lead to. A kind also says how it finishes and where Cancel leads.
//   A required action (actions/<name>/) is a table of its own that kinds take in.
// `act` loads the flow for this browser, refuses an action its step does not allow,
// runs the step, checks that the step went where its table says it may, saves, and
// answers where the browser goes next (with the SSO session a real sign-in created).
import type { AppReleases } from '../domain/privacy/releases.ts';
import type { Authenticator, DeviceOf } from '../domain/accounts/authentication.ts';
import type { ChallengeSettings } from '../domain/accounts/challenge.ts';
import type { Credentials } from '../domain/accounts/credentials.ts';
import type { Directory } from '../domain/accounts/directory.ts';
import { normaliseLoginId, type Account } from '../domain/accounts/account.ts';
import type { SecretHasher } from '../domain/accounts/passwords.ts';
import type { AuditLog } from '../domain/audit/audit-log.ts';
import type { Clock } from '../domain/clock.ts';
import { AppError } from '../domain/errors.ts';
import { message } from '../messages/catalogue.ts';
import type { PasswordPolicies } from '../domain/passwords/policy.ts';
import type { AnswerLimiter } from '../domain/security/lockout.ts';
import { passwordStamp } from '../domain/security/devices.ts';
import type { SsoSession, SsoSessions } from '../domain/sessions/sso-sessions.ts';
import type { Mfa } from '../domain/mfa/mfa.ts';
import type { Badges } from '../domain/badges/badges.ts';
import type { RecoveryCodes } from '../domain/recovery/codes.ts';
import type { RecoveryEmails } from '../domain/recovery/recovery-email.ts';
import { bindingOf, cancelUrl, flowRef, flowUrl, resumeClient, resumeUrl, type FinishedWhat, type Flow, type FlowKind, type FlowLookup, type Flows, type Pending, type Resume, type Step } from './flow.ts';

/** The domain services steps use (no HTTP). */
export interface FlowServices {
  flows: Flows;
  authenticator: Authenticator;
  credentials: Credentials;
  directory: Directory;
  policies: PasswordPolicies;
  challenge: ChallengeSettings;
  sso: SsoSessions;
  clock: Clock;
  answerLimiter: AnswerLimiter;
  audit: AuditLog;
  forgotPassword: { askCount: number | null; revealNoQuestions: boolean; windowMinutes?: number };
  hasher: SecretHasher;
  /** Key for the deterministic decoy questions of unknown login IDs. */
  decoyKey: string;
  mfa: Mfa;
  /** The recovery email (offer, change, notifications) and its codes. */
  recoveryEmails: RecoveryEmails;
  recoveryCodes: RecoveryCodes;
  /** Sign-in badges: scans and PINs. */
  badges: Badges;
  /** What administrators let each app receive (the first-use notice says only that). */
  releases?: AppReleases | undefined;
  /** Counts sign-in outcomes (metrics). */
  onSignIn?: ((outcome: string) => void) | undefined;
  /**
   * Whether the request a flow resumes can still be answered (the OIDC interaction, the
   * pending SAML sign-in); the portal always can. Absent: only the portal is known to be.
   */
  resumeAlive?: ((resume: Resume) => Promise<boolean>) | undefined;
}

/** What a request brings to a step. */
export interface StepInput {
  /** The posted form, as parsed (steps read it with `field`). */
  fields: Record<string, unknown>;
  /** The browser's own secret: the flow is bound to it, sealed values open only with it. */
  browserSecret: string;
  /** The browser's SSO session id, if it has one. */
  ssoSessionId?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
  /** This browser's device nonce for a login ID (device cookies), when it signed in to it before. */
  deviceOf?: DeviceOf | undefined;
  /** The language of the page (messages sent because of this request are in it). */
  lang?: string | undefined;
}

/**
 * Where a step leads: a step of the same flow, `next` (the next pending required action,
 * or the kind's finish when none is left), or `end` (the flow is over, with an error page).
 */
export type Target = Step | 'next' | 'end';

export type StepFn = (s: FlowServices, flow: Flow, input: StepInput) => Promise<Target>;

export interface Transition {
  to: readonly Target[];
  run: StepFn;
}

/** For each step, the actions allowed there (an action is the last part of its URL, /flow/:id/<action>). */
export type Table = Partial<Record<Step, Record<string, Transition>>>;

/** A page: the view to render and its data (messages as ids; the page renders their words). */
export interface Page {
  view: string;
  data: Record<string, unknown>;
  status?: number;
  /** The request the flow resumes (where its forms may lead in the end), on a live flow's page. */
  resume?: Resume;
}
export type PageFn = (s: FlowServices, flow: Flow, browserSecret: string) => Promise<Page>;

/** A group of steps a flow runs when it is next in `pending`: a required action, or the second factor. */
export interface RequiredActionSpec {
  action: Pending;
  /** The step it begins with. */
  entry: Step;
  table: Table;
  pages: Partial<Record<Step, PageFn>>;
}

/**
 * How a kind ends when nothing is pending:
 *   sign-in        a password was verified here: the browser's SSO session is created (or renewed for the same account)
 *   keep-session   the SSO session that vouched for the account goes on as it is (id, participants, auth time)
 *   sign-in-again  a new sign-in flow for the same destination (after forgot password)
 *   step-up        the browser's session (same account) is renewed with the second factor it now has
 */
export type Finish = 'sign-in' | 'keep-session' | 'sign-in-again' | 'step-up';

/** Where Cancel leads: the waiting application is told, a new sign-in, or back to the start page. */
export type Cancel = 'tell-app' | 'sign-in-again' | 'restart';

export interface FlowKindSpec {
  kind: FlowKind;
  /** Its own steps (the required actions bring theirs). */
  table: Table;
  pages: Partial<Record<Step, PageFn>>;
  /** The required actions it may run after its own steps. */
  actions: readonly RequiredActionSpec[];
  finish: Finish;
  cancel: Cancel;
  /** Where "start again" leads after it expired (default: the destination it resumes). */
  restart?: string;
}

/** The whole table of a kind: its own steps and those of the required actions it runs. */
export function tableOf(spec: FlowKindSpec): Table {
  const table: Table = { ...spec.table };
  for (const a of spec.actions) Object.assign(table, a.table);
  return table;
}

export function pageOf(spec: FlowKindSpec, step: Step): PageFn | undefined {
  return spec.pages[step] ?? spec.actions.find((a) => a.pages[step])?.pages[step];
}

/** Ends a flow from inside a step with an error page (the table must allow `end`). */
export class EndFlow extends Error {
  readonly error: AppError;

  constructor(error: AppError) {
    super(error.message);
    this.error = error;
  }
}

/** Where the browser goes after an action, and the SSO session to carry, if one was created. */
export interface Outcome {
  redirect: string;
  session?: SsoSession | undefined;
  /** A password sign-in finished: this browser is now a known device for this login ID, with the password set at `passwordSet`. */
  device?: { loginId: string; passwordSet: string } | undefined;
}

export class FlowMachine {
  readonly #s: FlowServices;
  readonly #kinds: Readonly<Record<FlowKind, FlowKindSpec>>;
  readonly #entry: Readonly<Record<Pending, Step>>;

  constructor(services: FlowServices, kinds: Readonly<Record<FlowKind, FlowKindSpec>>) {
    this.#s = services;
    this.#kinds = kinds;
    const entry: Partial<Record<Pending, Step>> = {};
    for (const spec of Object.values(kinds)) for (const a of spec.actions) entry[a.action] = a.entry;
    this.#entry = entry as Record<Pending, Step>;
  }

  get services(): FlowServices {
    return this.#s;
  }

  spec(kind: FlowKind): FlowKindSpec {
    return this.#kinds[kind];
  }

  /** Every action some kind's table knows, and cancel (each is a URL: POST /flow/:id/<action>). */
  actions(): Set<string> {
    const all = new Set<string>(['cancel']);
    for (const spec of Object.values(this.#kinds)) for (const byAction of Object.values(tableOf(spec))) for (const action of Object.keys(byAction)) all.add(action);
    return all;
  }

  /** Loads the flow for this browser, or throws the page that explains why not. */
  async open(id: string, browserSecret: string, lookedUp?: FlowLookup): Promise<Flow> {
    const found = lookedUp ?? (await this.#s.flows.lookup(id));
    if (found.state === 'missing') throw new AppError('SSPR 5101', 'flow unknown or long expired', { continueTo: '/portal' });
    if (found.flow.binding !== bindingOf(browserSecret)) throw new AppError('SSPR 5102', 'flow belongs to another browser', { continueTo: '/portal' });
    if (found.state === 'expired') {
      if (found.flow.token === undefined) await this.#s.flows.end(found.flow.id);
      throw new AppError('SSPR 5101', 'flow expired', { continueTo: this.restartUrl(found.flow) });
    }
    return found.flow;
  }

  /** The page of the step the flow is at; messages are shown once. */
  async page(id: string, browserSecret: string): Promise<Page> {
    const found = await this.#s.flows.lookup(id);
    const finished = await this.#finished(found, id, browserSecret);
    if (finished) return { view: 'flow-finished', data: { what: finished.what, next: finished.next } };
    const flow = await this.open(id, browserSecret, found);
    const page = pageOf(this.#kinds[flow.kind], flow.step);
    if (!page) throw new AppError('SSPR 5102', `no page for step ${flow.step} of ${flow.kind}`);
    const shown = await page(this.#s, flow, browserSecret);
    const common = { flowId: flowRef(flow), idleSeconds: this.#s.flows.idleMs / 1000, error: flow.error, notice: flow.notice ?? null, fieldErrors: flow.fieldErrors ?? {}, client: resumeClient(flow.resume) };
    // (A flow that is only a reference keeps its messages in it: a reload shows them again.)
    if (flow.token === undefined && (flow.error || flow.fieldErrors || flow.problems || flow.notice)) {
      delete flow.error;
      delete flow.notice;
      delete flow.fieldErrors;
      delete flow.problems;
      await this.#s.flows.save(flow);
    }
    return { ...shown, data: { ...common, ...shown.data }, resume: flow.resume };
  }

  /** Runs `action` on the flow for this browser. */
  async act(id: string, action: string, input: StepInput): Promise<Outcome> {
    const found = await this.#s.flows.lookup(id);
    // A form of a finished flow sent again (Back, then submit): refused, in words that say it is done.
    const finished = await this.#finished(found, id, input.browserSecret);
    if (finished) throw new AppError('SSPR 5101', 'flow already finished', { continueTo: finished.next, messageId: `finished.${finished.what}` });
    if ((action === 'sign-in' || action === 'badge') && found.state !== 'live') {
      const fresh = await this.#freshSignIn(found, input, action);
      if (fresh) return fresh;
    }
    const flow = await this.open(id, input.browserSecret, found);
    const spec = this.#kinds[flow.kind];
    if (action === 'cancel') return this.#cancel(spec, flow, input);
    const transition = tableOf(spec)[flow.step]?.[action];
    if (!transition) throw new AppError('SSPR 5102', `${action} while the ${flow.kind} flow is at ${flow.step}`, { continueTo: flowUrl(flow) });
    let target: Target;
    try {
      target = await transition.run(this.#s, flow, input);
    } catch (err) {
      if (!(err instanceof EndFlow)) throw err;
      if (!transition.to.includes('end')) throw new Error(`${flow.kind}: ${flow.step} --${action}--> end is not in its table`);
      if (flow.token === undefined) await this.#s.flows.end(flow.id);
      throw err.error;
    }
    if (!transition.to.includes(target)) throw new Error(`${flow.kind}: ${flow.step} --${action}--> ${target} is not in its table`);
    if (target === 'next') return this.#next(spec, flow, input);
    flow.step = target as Step;
    await this.#s.flows.save(flow);
    return { redirect: flowUrl(flow) };
  }

  /** Begins a flow of `kind` at its first step (or its first pending required action). */
  async start(kind: FlowKind, init: { step?: Step; resume: Resume; accountId?: string | undefined; pending?: Pending[]; app?: Flow['app'] }, browserSecret: string): Promise<string> {
    const first = init.pending?.[0];
    const step = init.step ?? (first ? this.#entry[first] : undefined);
    if (!step) throw new Error(`${kind}: nothing to start with`);
    const flow = await this.#s.flows.create({ kind, ...init, step }, browserSecret);
    return flowUrl(flow);
  }

  /**
   * The login form (or a badge scan: a classroom tablet's page stays open) posted to a sign-in flow that expired (left open in class) or is no
   * longer known: a fresh sign-in flow in this browser takes the post, so the first submit
   * works. The expired flow must be this browser's and at its login prompt (anything else
   * is refused as before). When the request it resumes is still alive, the posted username
   * and password are checked in the fresh flow exactly as on a live page (lockout, audit);
   * when nothing tells where it led any more, the fresh login prompt (for the portal) shows
   * the username again with a line saying why, and the password is not checked.
   * Only for a flow that is not live. Null: not such a post (a flow of another kind, step or browser).
   */
  async #freshSignIn(found: FlowLookup, input: StepInput, action: 'sign-in' | 'badge'): Promise<Outcome | null> {
    const username = field(input.fields, 'username', 254).trim();
    let resume: Resume = { kind: 'portal', path: '/portal' };
    let accountId: string | undefined;
    let alive = false;
    if (found.state === 'expired') {
      const old = found.flow;
      if (old.kind !== 'sign-in' || old.step !== 'credentials' || old.binding !== bindingOf(input.browserSecret)) return null;
      if (old.token === undefined) await this.#s.flows.end(old.id);
      resume = old.resume;
      accountId = old.accountId;
      alive = old.resume.kind === 'portal' || ((await this.#s.resumeAlive?.(old.resume)) ?? false);
    }
    if (alive) {
      const flow = await this.#s.flows.create({ kind: 'sign-in', step: 'credentials', resume, accountId }, input.browserSecret);
      return this.act(flowRef(flow), action, input);
    }
    const flow = await this.#s.flows.create({ kind: 'sign-in', step: 'credentials', resume: { kind: 'portal', path: resume.kind === 'portal' ? resume.path : '/portal' } }, input.browserSecret);
    flow.notice = message('signin.page_expired');
    if (username && normaliseLoginId(username)) flow.form = { username };
    await this.#s.flows.save(flow);
    return { redirect: flowUrl(flow) };
  }

  /** Where "start again" leads: the original destination, or the kind's own start page. */
  restartUrl(flow: Flow): string {
    return this.#kinds[flow.kind]?.restart ?? resumeUrl(flow.resume);
  }

  /** The next pending required action, or the kind's finish. */
  async #next(spec: FlowKindSpec, flow: Flow, input: StepInput): Promise<Outcome> {
    for (const k of ['error', 'notice', 'problems', 'fieldErrors', 'form', 'sealed', 'newPasswordHash', 'replacesHash', 'challenge', 'badgeId'] as const) delete flow[k];
    const next = flow.pending[0];
    if (next) {
      if (!spec.actions.some((a) => a.action === next)) throw new Error(`${flow.kind} cannot run ${next}`);
      flow.step = this.#entry[next];
      await this.#s.flows.save(flow);
      return { redirect: flowUrl(flow) };
    }
    await this.#s.flows.endFinished(flow, finishedWhat(flow), flow.resume.kind === 'portal' ? resumeUrl(flow.resume) : '/portal');
    switch (spec.finish) {
      case 'sign-in-again':
        return { redirect: await this.start('sign-in', { step: 'credentials', resume: flow.resume }, input.browserSecret) };
      case 'sign-in': {
        if (!flow.accountId || flow.authenticatedAt === undefined) throw new AppError('SSPR 5102', 'finishing a sign-in without a verified password');
        // The device is remembered with the password the account has now (a required action may have changed it).
        const account = flow.deviceLogin ? await this.#s.directory.get(flow.accountId) : null;
        const device = account ? { loginId: account.loginId, passwordSet: passwordStamp(account) } : undefined;
        return { redirect: resumeUrl(flow.resume), session: await this.#signedIn(flow, flow.accountId, flow.authenticatedAt, input.ssoSessionId), device };
      }
      case 'step-up': {
        const session = await this.#s.sso.get(input.ssoSessionId);
        if (!session || session.accountId !== flow.accountId || flow.mfaAt === undefined) throw new AppError('SSPR 5102', 'step-up without the session it was for', { continueTo: '/portal' });
        const amr = [...new Set([...session.amr, ...(flow.amr ?? [])])];
        return { redirect: resumeUrl(flow.resume), session: await this.#s.sso.renew(session, flow.mfaAt, amr, flow.mfaAt) };
      }
      default:
        return { redirect: resumeUrl(flow.resume) };
    }
  }

  /**
   * "Stay on this page": the idle timer starts again (the page's typed input is kept by the
   * browser). Resolves the flow's new reference when it is one (the page's forms move to it).
   */
  async keepAlive(id: string, browserSecret: string): Promise<string | undefined> {
    const flow = await this.open(id, browserSecret);
    await this.#s.flows.save(flow);
    return flow.token;
  }

  /** A finished flow of this browser: only a flow that is no longer live may have finished (no read while it is). */
  async #finished(found: FlowLookup, id: string, browserSecret: string) {
    if (found.state === 'live') return null;
    const marker = await this.#s.flows.finished(id);
    return marker && marker.binding === bindingOf(browserSecret) ? marker : null;
  }

  async #cancel(spec: FlowKindSpec, flow: Flow, input: StepInput): Promise<Outcome> {
    await this.#s.flows.endFinished(flow, 'cancelled', flow.resume.kind === 'portal' ? resumeUrl(flow.resume) : '/portal');
    switch (spec.cancel) {
      case 'sign-in-again':
        return { redirect: await this.start('sign-in', { step: 'credentials', resume: flow.resume }, input.browserSecret) };
      case 'tell-app':
        return { redirect: cancelUrl(flow.resume) };
      default:
        return { redirect: this.restartUrl(flow) };
    }
  }

  /**
   * A password was verified: the same account's live session continues under a new id with
   * its participants (re-authentication); otherwise a new session replaces whatever the
   * browser had. Either way the id is new (no fixation of an earlier one).
   */
  async #signedIn(flow: Flow, accountId: string, authTime: number, previousId: string | undefined): Promise<SsoSession> {
    const amr = flow.amr ?? ['pwd'];
    const previous = await this.#s.sso.get(previousId);
    if (previous?.accountId === accountId) return this.#s.sso.renew(previous, authTime, amr, flow.mfaAt);
    if (previous) await this.#s.sso.end(previous.id);
    return this.#s.sso.create(accountId, amr, authTime, flow.mfaAt);
  }
}

// --- helpers for steps

/** What a flow that finishes at its current step did (its last page said so). */
function finishedWhat(flow: Flow): FinishedWhat {
  switch (flow.step) {
    case 'password-done': return 'password';
    case 'questions-done': return 'questions';
    case 'fp-unlocked': return 'unlocked';
    default: return 'signed_in';
  }
}

/** The account the flow concerns; only set once verified or vouched for. */
export async function flowAccount(s: Pick<FlowServices, 'directory'>, flow: Flow): Promise<Account> {
  if (!flow.accountId) throw new AppError('SSPR 5102', `step ${flow.step} without an authenticated account`);
  const account = await s.directory.get(flow.accountId);
  if (!account || account.status !== 'active') throw new AppError('SSPR 5110', 'account missing or disabled during a flow', { continueTo: '/portal' });
  return account;
}

/** A posted field as a string ('' when absent); anything else is a malformed request. */
export function field(fields: Record<string, unknown>, name: string, max = 1024): string {
  const v = fields[name];
  if (v === undefined) return '';
  if (typeof v !== 'string' || v.length > max) throw new AppError('SSPR 5103', `field ${name} malformed`);
  return v;
}

/** For audit events. */
export function requestOf(input: StepInput) {
  return { ip: input.ip, requestId: input.requestId };
}
