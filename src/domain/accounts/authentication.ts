// Password sign-in: one answer for a wrong login ID and a wrong password (same
// message, comparable time), rehash on success when the argon2 parameters changed.
// Before a password is checked: the spraying alarm may hold an unknown device back
// (security/spraying.ts), then the attempt is reserved in its counts (security/lockout.ts);
// a browser that signed in to the login ID before is judged by its own count (devices.ts).
// A disabled account answers "disabled" whatever the password (it is no password oracle).
// A generated temporary password past its life (Account.temporaryUntil) is refused, after
// it was checked, with words that say to ask for a new one.
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import { normaliseLoginId, type Account } from './account.ts';
import type { Directory } from './directory.ts';
import type { SecretHasher } from './passwords.ts';
import type { Lockout } from '../security/lockout.ts';
import type { Spraying } from '../security/spraying.ts';
import { passwordStamp } from '../security/devices.ts';

export type SignInFailure = 'unknown_account' | 'bad_password' | 'disabled' | 'invalid_login_id' | 'locked' | 'ip_throttled' | 'held_back' | 'temporary_expired';
/**
 * `lockedNow`: this attempt's password was checked, was wrong, and locked the login ID (as
 * against a refusal of an already locked one, where nothing was checked). `retryAfterSeconds`:
 * held back (spraying alarm), nothing checked; the same attempt may come again then.
 */
export type SignInResult = { ok: true; account: Account } | { ok: false; reason: SignInFailure; lockedNow?: boolean; retryAfterSeconds?: number };

/** This browser's device nonce for a login ID (device cookies), when it signed in to it before with its current password (`passwordSet`, passwordStamp()). */
export type DeviceOf = (loginId: string, passwordSet: string) => string | undefined;

export interface RequestContext {
  ip?: string | undefined;
  requestId?: string | undefined;
  client?: string | undefined;
  /** The language of the page signed in on: kept on the account (Account.language), in the same write as the time. */
  language?: string | undefined;
}

export class Authenticator {
  readonly #directory: Directory;
  readonly #hasher: SecretHasher;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #lockout: Lockout;
  readonly #spraying: Spraying | undefined;

  constructor(directory: Directory, hasher: SecretHasher, audit: AuditLog, clock: Clock, lockout: Lockout, spraying?: Spraying) {
    this.#directory = directory;
    this.#hasher = hasher;
    this.#audit = audit;
    this.#clock = clock;
    this.#lockout = lockout;
    this.#spraying = spraying;
  }

  /** Asks a signed-in user for their password again (the SSPR app, sensitive actions). */
  async reauthenticate(accountId: string, password: string, ctx: RequestContext): Promise<SignInResult> {
    const account = await this.#directory.get(accountId);
    if (!account || account.status !== 'active') return { ok: false, reason: 'disabled' };
    // The browser holds the account's live session: counted as the account's own device.
    return this.#check(account, account.loginId, password, ctx, 'reauth.failure', 'session');
  }

  async signIn(rawLoginId: string, password: string, context: RequestContext, deviceOf?: DeviceOf): Promise<SignInResult> {
    const { language, ...ctx } = context;
    const loginId = normaliseLoginId(rawLoginId);
    if (!loginId) {
      await this.#hasher.verifyDecoy(password);
      await this.#audit.record({ type: 'signin.failure', reason: 'invalid_login_id', ...ctx });
      return { ok: false, reason: 'invalid_login_id' };
    }
    const account = await this.#directory.findByLoginId(loginId);
    const result = await this.#check(account, loginId, password, ctx, 'signin.failure', account ? deviceOf?.(loginId, passwordStamp(account)) : undefined);
    if (!result.ok) return result;
    const until = result.account.temporaryUntil;
    if (result.account.mustChangePassword && typeof until === 'number' && this.#clock() > until) {
      // The right temporary password, past its life: said only to whoever knows it.
      await this.#audit.record({ type: 'signin.failure', accountId: result.account.id, reason: 'temporary_expired', ...ctx });
      return { ok: false, reason: 'temporary_expired' };
    }
    // One verification per sign-in: #check says whether the hash needs upgrading.
    const newHash = result.needsRehash ? await this.#hasher.hash(password) : undefined;
    const verifiedHash = result.account.passwordHash;
    const updated = await this.#directory.update(result.account.id, (a) => {
      a.lastSignInAt = this.#clock();
      if (language) a.language = language;
      // Only replace the hash the password was verified against.
      if (newHash && a.passwordHash === verifiedHash) a.passwordHash = newHash;
      return a;
    });
    if (newHash) await this.#audit.record({ type: 'password.rehashed', accountId: result.account.id, ...ctx });
    await this.#audit.record({ type: 'signin.success', accountId: result.account.id, ...ctx });
    return { ok: true, account: updated ?? result.account };
  }

  /** The password check with lockout around it; unknown accounts cost the same. `device`: a known device's nonce. */
  async #check(account: Account | null, loginId: string, password: string, ctx: RequestContext, failure: 'signin.failure' | 'reauth.failure', device: string | undefined): Promise<SignInResult & { needsRehash?: boolean }> {
    const ip = ctx.ip ?? 'unknown';
    const accountId = account?.id;
    const who = { accountId, loginId: accountId ? undefined : loginId };
    // The spraying alarm is asked only for an attempt the lock and the address's budget let through.
    const spraying = this.#spraying;
    const holdBack = !device && spraying ? () => spraying.admit(account ? account.school.code : undefined, ip) : undefined;
    const gate = await this.#lockout.beginAttempt(loginId, ip, device, holdBack);
    if (!gate.allowed) {
      if (gate.why === 'held_back') {
        await this.#audit.record({ type: failure, ...who, reason: `held_back (spraying alarm: ${gate.scope})`, ...ctx });
        return { ok: false, reason: 'held_back', retryAfterSeconds: gate.retryAfterSeconds };
      }
      await this.#audit.record({ type: failure, ...who, reason: gate.why, ...ctx });
      return { ok: false, reason: gate.why };
    }
    const verified = account ? await this.#hasher.verify(account.passwordHash, password) : { ok: await this.#hasher.verifyDecoy(password), needsRehash: false };
    if (account && account.status !== 'active') {
      // The same answer for any password: nothing counted, nothing learnt.
      await this.#lockout.succeeded(gate.attempt);
      await this.#audit.record({ type: failure, accountId, reason: 'disabled', ...ctx });
      return { ok: false, reason: 'disabled' };
    }
    if (!verified.ok || !account) {
      const reason = account ? 'bad_password' : 'unknown_account';
      await this.#audit.record({ type: failure, ...who, reason, ...ctx });
      if (!device && gate.attempt.n === 1) await this.#spraying?.failedAccount(account?.school.code);
      if (await this.#lockout.failed(gate.attempt, account !== null)) {
        await this.#audit.record({ type: 'account.locked', ...who, reason: device ? 'too many wrong passwords' : 'too many wrong passwords from unknown devices (devices that signed in before still may)', ...ctx });
        return { ok: false, reason: 'locked', lockedNow: true };
      }
      return { ok: false, reason };
    }
    await this.#lockout.succeeded(gate.attempt);
    if (!device) await this.#spraying?.succeededAccount(account.school.code, loginId);
    return { ok: true, account, needsRehash: verified.needsRehash };
  }
}
