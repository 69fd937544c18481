// Lockout and throttling, counted atomically in the store.
// - Sign-in: wrong passwords per login ID (known or not, so that locking reveals nothing)
//   lock it at `maxFailures` within `windowMinutes`, with the guides' screens and Unlock
//   path. Every attempt is *reserved* before the password is checked (INCR, given back when
//   the password was right), so parallel attempts can never get more checks than a limit.
// - Devices (devices.ts): a browser that signed in to the login ID before is counted on its
//   own (one count for the login ID's known devices). Wrong passwords from unknown devices
//   lock the login ID for unknown devices only (OWASP's advice, so that whoever knows a
//   pupil's login ID cannot lock the pupil out: Keycloak #26172); wrong passwords from a
//   known device lock it for everyone, as the guides do (it is the pupil's own computer).
//   An administrator, a seed file or the CLI lock it for everyone. Unlock clears both.
// - A per-IP budget of wrong passwords across accounts (password spraying from one
//   address) holds back unknown devices only: a class behind one NAT keeps signing in on
//   the devices it used before. Right passwords give their reservation back.
// - Forgot password: wrong answer sets per login ID from one IP, per login ID from all
//   IPs, and per IP across accounts; each refuses further tries for its window.
import { keys, type Store } from '../../store/index.ts';
import type { Clock } from '../clock.ts';
import { LOCK_VERSION, recordVersion } from '../versions.ts';

export interface LockoutSettings {
  maxFailures: number;
  windowMinutes: number;
  lockMinutes: number | null;
  maxFailuresPerIp: number;
  ipWindowMinutes: number;
}

export interface AnswerLimitSettings {
  maxFailuresPerAccountPerIp: number;
  maxFailuresPerAccount: number;
  maxFailuresPerIp: number;
  windowMinutes: number;
}

/** A reserved attempt: settle it with `failed` or `succeeded` once the password was checked. */
export interface Attempt {
  loginId: string;
  ip: string;
  /** This browser's device nonce for the login ID, when it is a known device. */
  device?: string | undefined;
  /** The attempt's place in its count (1: the first in the window). */
  n: number;
}

export type AttemptGate = { allowed: true; attempt: Attempt } | { allowed: false; why: 'locked' | 'ip_throttled' } | { allowed: false; why: 'held_back'; retryAfterSeconds: number; scope: string };

/** Asked for an unknown device once the address's budget let it through (the spraying alarm, security/spraying.ts). */
export type HoldBack = () => Promise<{ admitted: true } | { admitted: false; retryAfterSeconds: number; scope: string }>;

/**
 * A lock record, {login:<id>}:locked: JSON with `since` (ms), from version 2 `v`
 * (versions.ts), and `scope` 'unknown-devices' when it holds back only browsers that never
 * signed in to the login ID (absent: everyone). Version 1 ({since}) and later versions are
 * read for `since`, fields this release does not know are kept: a lock is only ever created
 * (SET NX, never over an existing one), widened to everyone (compare-and-set), deleted by an
 * unlock, or written back verbatim by a restore.
 */
export interface LockRecord {
  v?: number;
  since: number;
  scope?: 'unknown-devices';
}

/** When a stored lock began (any version), or null when there is none. */
export function lockSince(raw: string | null): number | null {
  if (raw === null) return null;
  const lock = JSON.parse(raw) as Partial<LockRecord>;
  return Number(lock.since);
}

/** Whether a stored lock holds back every browser, or only unknown devices. */
export function lockScope(raw: string): 'everyone' | 'unknown-devices' {
  return (JSON.parse(raw) as Partial<LockRecord>).scope === 'unknown-devices' ? 'unknown-devices' : 'everyone';
}

/** The version of a stored lock (absent = 1). */
export function lockVersion(raw: string): number {
  return recordVersion(JSON.parse(raw) as { v?: unknown });
}

function newLock(since: number, scope?: 'unknown-devices'): string {
  const lock: LockRecord = { v: LOCK_VERSION, since, ...(scope ? { scope } : {}) };
  return JSON.stringify(lock);
}

/** Locks of login IDs that do not exist expire, so junk cannot pile up forever. */
const UNKNOWN_LOCK_MS = 24 * 3_600_000;

export class Lockout {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #s: LockoutSettings;

  constructor(store: Store, clock: Clock, settings: LockoutSettings) {
    this.#store = store;
    this.#clock = clock;
    this.#s = settings;
  }

  get settings(): LockoutSettings {
    return this.#s;
  }

  async lockedSince(loginId: string): Promise<number | null> {
    return lockSince(await this.#store.get(keys.lock(loginId)));
  }

  /** The lock of a login ID as it stands: since when, and whom it holds back. */
  async lockOf(loginId: string): Promise<{ since: number; scope: 'everyone' | 'unknown-devices' } | null> {
    const raw = await this.#store.get(keys.lock(loginId));
    return raw === null ? null : { since: Number(lockSince(raw)), scope: lockScope(raw) };
  }

  /**
   * Called before checking a password: refuses, or reserves the attempt in every count it
   * belongs to (so that parallel attempts cannot exceed any of them).
   */
  async beginAttempt(loginId: string, ip: string, device?: string, holdBack?: HoldBack): Promise<AttemptGate> {
    const window = this.#s.windowMinutes * 60_000;
    const lock = await this.#store.get(keys.lock(loginId));
    if (device) {
      if (lock !== null && lockScope(lock) === 'everyone') return { allowed: false, why: 'locked' };
      const n = await this.#store.increment(keys.knownDeviceFailures(loginId), window);
      if (n > this.#s.maxFailures) return { allowed: false, why: 'locked' };
      return { allowed: true, attempt: { loginId, ip, device, n } };
    }
    if (lock !== null) return { allowed: false, why: 'locked' };
    const onIp = await this.#store.increment(keys.ipSignInFailures(ip), this.#s.ipWindowMinutes * 60_000);
    if (onIp > this.#s.maxFailuresPerIp) return { allowed: false, why: 'ip_throttled' };
    // Held back: the address's reservation is given back, and nothing is written for the login ID.
    const held = holdBack ? await holdBack() : { admitted: true as const };
    if (!held.admitted) {
      await this.#giveBack(ip);
      return { allowed: false, why: 'held_back', retryAfterSeconds: held.retryAfterSeconds, scope: held.scope };
    }
    const n = await this.#store.increment(keys.signInFailures(loginId), window);
    if (n > this.#s.maxFailures) {
      await this.#giveBack(ip);
      return { allowed: false, why: 'locked' };
    }
    return { allowed: true, attempt: { loginId, ip, n } };
  }

  /**
   * A badge scan that named no badge (domain/badges/): counted per address in a window of its
   * own, apart from wrong passwords, so that junk scans (a prank, a broken scanner, old cards)
   * never hold back a school's passwords or valid badges. Resolves the count.
   */
  async badgeMiss(ip: string): Promise<number> {
    return this.#store.increment(keys.ipBadgeMisses(ip), this.#s.ipWindowMinutes * 60_000);
  }

  /** The password was wrong. Resolves true when this failure locked the login ID (for whom it locks). */
  async failed(attempt: Attempt, known: boolean): Promise<boolean> {
    if (attempt.n < this.#s.maxFailures) return false;
    const now = this.#clock();
    if (!attempt.device) {
      const ttlMs = known ? this.#lockTtl() : UNKNOWN_LOCK_MS;
      return this.#store.set(keys.lock(attempt.loginId), newLock(now, 'unknown-devices'), { onlyIfAbsent: true, ...(ttlMs === undefined ? {} : { ttlMs }) });
    }
    // The login ID's own device: locked for everyone (widening a lock for unknown devices).
    const ttlMs = this.#lockTtl();
    if (await this.#store.set(keys.lock(attempt.loginId), newLock(now), { onlyIfAbsent: true, ...(ttlMs === undefined ? {} : { ttlMs }) })) return true;
    const raw = await this.#store.get(keys.lock(attempt.loginId));
    if (raw === null || lockScope(raw) === 'everyone') return false;
    const { scope: _scope, ...wider } = JSON.parse(raw) as LockRecord;
    return this.#store.compareAndSet(keys.lock(attempt.loginId), raw, JSON.stringify(wider));
  }

  /** The password was right: its count starts again, and the IP gets its reservation back. */
  async succeeded(attempt: Attempt): Promise<void> {
    if (attempt.device) {
      await this.#store.del(keys.knownDeviceFailures(attempt.loginId));
      return;
    }
    await Promise.all([this.#store.del(keys.signInFailures(attempt.loginId)), this.#giveBack(attempt.ip)]);
  }

  /**
   * Locks a known login ID as too many wrong passwords would (seed files and the CLI set up
   * test accounts so). A login ID already locked stays as it is: its lock (its `since`, its
   * expiry, and fields a newer release wrote) is never written over.
   */
  async lock(loginId: string): Promise<void> {
    const ttlMs = this.#lockTtl();
    await this.#store.set(keys.lock(loginId), newLock(this.#clock()), { onlyIfAbsent: true, ...(ttlMs === undefined ? {} : { ttlMs }) });
  }

  /** Clears the lock and the failure counters (unlock, password change, reset). */
  async unlock(loginId: string): Promise<boolean> {
    const wasLocked = (await this.lockedSince(loginId)) !== null;
    await this.#store.del(keys.lock(loginId));
    await this.#store.del(keys.signInFailures(loginId));
    await this.#store.del(keys.knownDeviceFailures(loginId));
    await this.#store.del(keys.answerFailures(loginId));
    return wasLocked;
  }

  #lockTtl(): number | undefined {
    return this.#s.lockMinutes === null ? undefined : this.#s.lockMinutes * 60_000;
  }

  async #giveBack(ip: string): Promise<void> {
    await this.#store.increment(keys.ipSignInFailures(ip), this.#s.ipWindowMinutes * 60_000, -1);
  }
}

export type AnswerGate = { allowed: true; lastTry: boolean } | { allowed: false; why: 'account' | 'ip' };

export class AnswerLimiter {
  readonly #store: Store;
  readonly #s: AnswerLimitSettings;

  constructor(store: Store, settings: AnswerLimitSettings) {
    this.#store = store;
    this.#s = settings;
  }

  /**
   * Called before checking an answer set: refuses, or counts the try (so that parallel
   * tries cannot exceed the limit). `lastTry`: a wrong answer now reaches the limit.
   */
  async begin(loginId: string, ip: string): Promise<AnswerGate> {
    const window = this.#s.windowMinutes * 60_000;
    if (Number((await this.#store.get(keys.ipAnswerFailures(ip))) ?? 0) >= this.#s.maxFailuresPerIp) return { allowed: false, why: 'ip' };
    const [mine, all] = await Promise.all([
      this.#store.increment(keys.answerFailures(loginId, ip), window),
      this.#store.increment(keys.answerFailures(loginId), window),
    ]);
    if (mine > this.#s.maxFailuresPerAccountPerIp || all > this.#s.maxFailuresPerAccount) return { allowed: false, why: 'account' };
    return { allowed: true, lastTry: mine === this.#s.maxFailuresPerAccountPerIp || all === this.#s.maxFailuresPerAccount };
  }

  /** Whether answers would be refused now (nothing counted): 'ip', 'account', or null. */
  async blocked(loginId: string, ip: string): Promise<'ip' | 'account' | null> {
    const [fromIp, mine, all] = await Promise.all([keys.ipAnswerFailures(ip), keys.answerFailures(loginId, ip), keys.answerFailures(loginId)].map(async (k) => Number((await this.#store.get(k)) ?? 0)));
    if (fromIp! >= this.#s.maxFailuresPerIp) return 'ip';
    return mine! >= this.#s.maxFailuresPerAccountPerIp || all! >= this.#s.maxFailuresPerAccount ? 'account' : null;
  }

  /** The answers were wrong: also counts against the client IP. */
  async failed(ip: string): Promise<void> {
    await this.#store.increment(keys.ipAnswerFailures(ip), this.#s.windowMinutes * 60_000);
  }

  /** The answers were right: the account's counters clear. */
  async succeeded(loginId: string, ip: string): Promise<void> {
    await this.#store.del(keys.answerFailures(loginId, ip));
    await this.#store.del(keys.answerFailures(loginId));
  }
}
