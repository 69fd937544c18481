// Password sign-in: one answer for a wrong login ID and a wrong password (same
// message, comparable time), rehash on success when the argon2 parameters changed.
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import { normaliseLoginId, type Account } from './account.ts';
import type { Directory } from './directory.ts';
import type { SecretHasher } from './passwords.ts';
import type { Lockout } from '../security/lockout.ts';

export type SignInFailure = 'unknown_account' | 'bad_password' | 'disabled' | 'invalid_login_id' | 'locked' | 'ip_throttled';
/** `lockedNow`: this attempt's password was checked, was wrong, and locked the login ID (as against a refusal of an already locked one, where nothing was checked). */
export type SignInResult = { ok: true; account: Account } | { ok: false; reason: SignInFailure; lockedNow?: boolean };

export interface RequestContext {
  ip?: string | undefined;
  requestId?: string | undefined;
  client?: string | undefined;
}

export class Authenticator {
  readonly #directory: Directory;
  readonly #hasher: SecretHasher;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #lockout: Lockout;

  constructor(directory: Directory, hasher: SecretHasher, audit: AuditLog, clock: Clock, lockout: Lockout) {
    this.#directory = directory;
    this.#hasher = hasher;
    this.#audit = audit;
    this.#clock = clock;
    this.#lockout = lockout;
  }

  /** Asks a signed-in user for their password again (the SSPR app, sensitive actions). */
  async reauthenticate(accountId: string, password: string, ctx: RequestContext): Promise<SignInResult> {
    const account = await this.#directory.get(accountId);
    if (!account || account.status !== 'active') return { ok: false, reason: 'disabled' };
    return this.#check(account, account.loginId, password, ctx, 'reauth.failure');
  }

  async signIn(rawLoginId: string, password: string, ctx: RequestContext): Promise<SignInResult> {
    const loginId = normaliseLoginId(rawLoginId);
    if (!loginId) {
      await this.#hasher.verifyDecoy(password);
      await this.#audit.record({ type: 'signin.failure', reason: 'invalid_login_id', ...ctx });
      return { ok: false, reason: 'invalid_login_id' };
    }
    const account = await this.#directory.findByLoginId(loginId);
    const result = await this.#check(account, loginId, password, ctx, 'signin.failure');
    if (!result.ok) return result;
    // One verification per sign-in: #check says whether the hash needs upgrading.
    const newHash = result.needsRehash ? await this.#hasher.hash(password) : undefined;
    const verifiedHash = result.account.passwordHash;
    const updated = await this.#directory.update(result.account.id, (a) => {
      a.lastSignInAt = this.#clock();
      // Only replace the hash the password was verified against.
      if (newHash && a.passwordHash === verifiedHash) a.passwordHash = newHash;
      return a;
    });
    if (newHash) await this.#audit.record({ type: 'password.rehashed', accountId: result.account.id, ...ctx });
    await this.#audit.record({ type: 'signin.success', accountId: result.account.id, ...ctx });
    return { ok: true, account: updated ?? result.account };
  }

  /** The password check with lockout around it; unknown accounts cost the same. */
  async #check(account: Account | null, loginId: string, password: string, ctx: RequestContext, failure: 'signin.failure' | 'reauth.failure'): Promise<SignInResult & { needsRehash?: boolean }> {
    const ip = ctx.ip ?? 'unknown';
    const accountId = account?.id;
    const gate = await this.#lockout.beginAttempt(loginId, ip);
    if (!gate.allowed) {
      await this.#audit.record({ type: failure, accountId, loginId: accountId ? undefined : loginId, reason: gate.why, ...ctx });
      return { ok: false, reason: gate.why };
    }
    const verified = account ? await this.#hasher.verify(account.passwordHash, password) : { ok: await this.#hasher.verifyDecoy(password), needsRehash: false };
    const ok = verified.ok;
    if (!ok || !account) {
      const reason = account ? 'bad_password' : 'unknown_account';
      await this.#audit.record({ type: failure, accountId, loginId: accountId ? undefined : loginId, reason, ...ctx });
      if (await this.#lockout.failed(loginId, ip, account !== null)) {
        await this.#audit.record({ type: 'account.locked', accountId, loginId: accountId ? undefined : loginId, reason: 'too many wrong passwords', ...ctx });
        return { ok: false, reason: 'locked', lockedNow: true };
      }
      return { ok: false, reason };
    }
    await this.#lockout.succeeded(loginId);
    if (account.status !== 'active') {
      await this.#audit.record({ type: failure, accountId, reason: 'disabled', ...ctx });
      return { ok: false, reason: 'disabled' };
    }
    return { ok: true, account, needsRehash: verified.needsRehash };
  }
}
