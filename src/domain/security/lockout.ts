// Lockout and throttling, counted atomically in the store.
// - Sign-in: consecutive wrong passwords per login ID (known or not, so that locking
//   reveals nothing) lock it at `maxFailures` within `windowMinutes`. An attempt is
//   counted *before* the password is checked, so parallel attempts can never get more
//   than `maxFailures` checks. A lock lasts until unlocked (challenge questions or an
//   administrator) or `lockMinutes`. A per-IP counter across accounts limits spraying.
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

export type AttemptGate = { allowed: true } | { allowed: false; why: 'locked' | 'ip_throttled' };

/**
 * A lock record, {login:<id>}:locked: JSON with `since` (ms) and, from version 2, `v`
 * (versions.ts). Version 1 ({since}) and later versions are read for `since`, fields this
 * release does not know are kept: a lock is only ever created (SET NX, never over an
 * existing one), deleted by an unlock, or written back verbatim by a restore.
 */
export interface LockRecord {
  v?: number;
  since: number;
}

/** When a stored lock began (any version), or null when there is none. */
export function lockSince(raw: string | null): number | null {
  if (raw === null) return null;
  const lock = JSON.parse(raw) as Partial<LockRecord>;
  return Number(lock.since);
}

/** The version of a stored lock (absent = 1). */
export function lockVersion(raw: string): number {
  return recordVersion(JSON.parse(raw) as { v?: unknown });
}

function newLock(since: number): string {
  const lock: LockRecord = { v: LOCK_VERSION, since };
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

  async lockedSince(loginId: string): Promise<number | null> {
    return lockSince(await this.#store.get(keys.lock(loginId)));
  }

  /** Called before checking a password: refuses, or counts the attempt. */
  async beginAttempt(loginId: string, ip: string): Promise<AttemptGate> {
    // Both reads at once (one round trip to Redis); the IP's throttle is answered first.
    const [rawIpFailures, lockedSince] = await Promise.all([this.#store.get(keys.ipSignInFailures(ip)), this.lockedSince(loginId)]);
    if (Number(rawIpFailures ?? 0) >= this.#s.maxFailuresPerIp) return { allowed: false, why: 'ip_throttled' };
    if (lockedSince !== null) return { allowed: false, why: 'locked' };
    const n = await this.#store.increment(keys.signInFailures(loginId), this.#s.windowMinutes * 60_000);
    if (n > this.#s.maxFailures) return { allowed: false, why: 'locked' };
    return { allowed: true };
  }

  /** The password was wrong. Resolves true when this failure locked the login ID. */
  async failed(loginId: string, ip: string, known: boolean): Promise<boolean> {
    await this.#store.increment(keys.ipSignInFailures(ip), this.#s.ipWindowMinutes * 60_000);
    const raw = await this.#store.get(keys.signInFailures(loginId));
    if (Number(raw ?? 0) < this.#s.maxFailures) return false;
    const ttlMs = known ? (this.#s.lockMinutes === null ? undefined : this.#s.lockMinutes * 60_000) : UNKNOWN_LOCK_MS;
    return this.#store.set(keys.lock(loginId), newLock(this.#clock()), { onlyIfAbsent: true, ...(ttlMs === undefined ? {} : { ttlMs }) });
  }

  /** The password was right: the count of consecutive failures starts again. */
  async succeeded(loginId: string): Promise<void> {
    await this.#store.del(keys.signInFailures(loginId));
  }

  /**
   * Locks a known login ID as too many wrong passwords would (seed files and the CLI set up
   * test accounts so). A login ID already locked stays as it is: its lock (its `since`, its
   * expiry, and fields a newer release wrote) is never written over.
   */
  async lock(loginId: string): Promise<void> {
    const ttlMs = this.#s.lockMinutes === null ? undefined : this.#s.lockMinutes * 60_000;
    await this.#store.set(keys.lock(loginId), newLock(this.#clock()), { onlyIfAbsent: true, ...(ttlMs === undefined ? {} : { ttlMs }) });
  }

  /** Clears the lock and the failure counters (unlock, password change, reset). */
  async unlock(loginId: string): Promise<boolean> {
    const wasLocked = (await this.lockedSince(loginId)) !== null;
    await this.#store.del(keys.lock(loginId));
    await this.#store.del(keys.signInFailures(loginId));
    await this.#store.del(keys.answerFailures(loginId));
    return wasLocked;
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
