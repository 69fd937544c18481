// Recovery-email codes: 6 digits from crypto's random source, one live code per account
// and purpose (typing back a new address: `confirm`; Forgotten Password: `reset`), valid
// `codeMinutes` (10 by default), used once. The store keeps only an HMAC-SHA-256 of the
// code (under a key derived from the deployment's secret, bound to the account, the flow
// that asked for it and the address it went to), with its expiry, in Redis: what may be
// lost (a lost code is asked for again).
//
// Throttles: codes *sent* are counted per login ID (known or not: an unknown one counts
// the same) and per client IP, so the address cannot be flooded and a stranger learns
// nothing from a refusal. Wrong codes typed at Forgotten Password count in the same
// counters as wrong answers (security/lockout.ts, AnswerLimiter: per login ID from one IP,
// per login ID, per IP): one budget of guesses per account, whichever way it is guessed.
// A confirmation code (the signed-in owner typing back a new address) is dropped after
// `maxConfirmTries` wrong tries.
import { createHmac, hkdfSync, randomInt, timingSafeEqual } from 'node:crypto';
import { keys, type Store } from '../../store/index.ts';
import type { Clock } from '../clock.ts';
import type { RecoveryEmailSettings } from './recovery-email.ts';

export type CodePurpose = 'confirm' | 'reset';

interface CodeRecord {
  hash: string;
  expiresAt: number;
  tries: number;
}

/** What checking a code found: right (and now used), wrong, or none live (expired, used, never sent, dropped). */
export type CodeCheck = 'ok' | 'wrong' | 'none';

export class RecoveryCodes {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #key: Buffer;
  readonly #s: RecoveryEmailSettings;

  /** `secret`: the deployment's long-lived secret (the key is derived from it for this use alone). */
  constructor(store: Store, clock: Clock, secret: string, settings: RecoveryEmailSettings) {
    this.#store = store;
    this.#clock = clock;
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'recovery email codes', 'idp recovery email code', 32));
    this.#s = settings;
  }

  get codeMinutes(): number {
    return this.#s.codeMinutes;
  }

  /**
   * Counts a code asked for `loginId` from `ip`; false when either budget is spent (no
   * code may be sent). Called for unknown login IDs too, so they are throttled alike. The
   * login ID's budget is per purpose: reset codes asked for by anyone at Forgotten Password
   * do not stop the signed-in owner from confirming a new address, nor the other way round.
   */
  async maySend(purpose: CodePurpose, loginId: string, ip: string): Promise<boolean> {
    const window = this.#s.sendWindowMinutes * 60_000;
    // Per purpose: a stranger asking for reset codes never uses up the owner's confirmations.
    const [mine, fromIp] = await Promise.all([this.#store.increment(keys.recoverySends(purpose, loginId), window), this.#store.increment(keys.ipRecoverySends(ip), window)]);
    return mine <= this.#s.maxSendsPerAccount && fromIp <= this.#s.maxSendsPerIp;
  }

  /** A new code for the account (the previous one of that purpose stops working). */
  async issue(purpose: CodePurpose, accountId: string, bind: { flowId: string; address: string }): Promise<string> {
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const ttlMs = this.#s.codeMinutes * 60_000;
    const record: CodeRecord = { hash: this.#hash(purpose, accountId, bind, code), expiresAt: this.#clock() + ttlMs, tries: 0 };
    await this.#store.set(keys.recoveryCode(purpose, accountId), JSON.stringify(record), { ttlMs });
    return code;
  }

  /**
   * Checks a typed code. Right: the code is used up (atomically: of two parallel tries with
   * the right code, one wins). Wrong: a confirmation code counts the try and is dropped at
   * the limit. `accountId` null (an unknown login ID): the same work, never right.
   */
  async check(purpose: CodePurpose, accountId: string | null, bind: { flowId: string; address: string }, typed: string): Promise<CodeCheck> {
    const code = typed.replace(/\s+/g, '');
    // An unknown login ID reads a key no account has: the same round trip as a known one.
    const key = keys.recoveryCode(purpose, accountId ?? 'none');
    const raw = await this.#store.get(key);
    const candidate = Buffer.from(this.#hash(purpose, accountId ?? 'none', bind, code), 'base64url');
    if (!raw) return 'none';
    const record = JSON.parse(raw) as CodeRecord;
    if (record.expiresAt <= this.#clock()) {
      await this.#store.del(key);
      return 'none';
    }
    const stored = Buffer.from(record.hash, 'base64url');
    const right = /^\d{6}$/.test(code) && stored.length === candidate.length && timingSafeEqual(stored, candidate);
    if (right) return (await this.#store.compareAndSet(key, raw, JSON.stringify({ ...record, expiresAt: 0, hash: '' }))) ? 'ok' : 'none';
    if (purpose === 'confirm') {
      const tries = record.tries + 1;
      if (tries >= this.#s.maxConfirmTries) await this.#store.del(key);
      else await this.#store.compareAndSet(key, raw, JSON.stringify({ ...record, tries }));
    }
    return 'wrong';
  }

  /** For a login ID with no address on file: the store round trip `issue` makes, and nothing else (nothing is written). */
  async issueNothing(): Promise<void> {
    await this.#store.get(keys.recoveryCode('reset', 'none'));
  }

  /** Drops the account's live code of that purpose (an address changed meanwhile). */
  async drop(purpose: CodePurpose, accountId: string): Promise<void> {
    await this.#store.del(keys.recoveryCode(purpose, accountId));
  }

  #hash(purpose: CodePurpose, accountId: string, bind: { flowId: string; address: string }, code: string): string {
    return createHmac('sha256', this.#key).update(`${purpose}\u0000${accountId}\u0000${bind.flowId}\u0000${bind.address}\u0000${code}`).digest('base64url');
  }
}
