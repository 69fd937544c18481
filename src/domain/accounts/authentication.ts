// Password sign-in: one answer for a wrong login ID and a wrong password (same
// message, comparable time), rehash on success when the argon2 parameters changed.
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import { normaliseLoginId, type Account } from './account.ts';
import type { Directory } from './directory.ts';
import type { SecretHasher } from './passwords.ts';

export type SignInFailure = 'unknown_account' | 'bad_password' | 'disabled' | 'invalid_login_id';
export type SignInResult = { ok: true; account: Account } | { ok: false; reason: SignInFailure };

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

  constructor(directory: Directory, hasher: SecretHasher, audit: AuditLog, clock: Clock) {
    this.#directory = directory;
    this.#hasher = hasher;
    this.#audit = audit;
    this.#clock = clock;
  }

  /** Asks a signed-in user for their password again (the SSPR app, sensitive actions). */
  async reauthenticate(accountId: string, password: string, ctx: RequestContext): Promise<boolean> {
    const account = await this.#directory.get(accountId);
    if (!account || account.status !== 'active') return false;
    const ok = (await this.#hasher.verify(account.passwordHash, password)).ok;
    if (!ok) await this.#audit.record({ type: 'reauth.failure', accountId, ...ctx });
    return ok;
  }

  async signIn(rawLoginId: string, password: string, ctx: RequestContext): Promise<SignInResult> {
    const loginId = normaliseLoginId(rawLoginId);
    const account = loginId ? await this.#directory.findByLoginId(loginId) : null;
    if (!account) {
      await this.#hasher.verifyDecoy(password);
      const reason = loginId ? 'unknown_account' : 'invalid_login_id';
      await this.#audit.record({ type: 'signin.failure', loginId: loginId ?? undefined, reason, ...ctx });
      return { ok: false, reason };
    }
    const verified = await this.#hasher.verify(account.passwordHash, password);
    if (!verified.ok) {
      await this.#audit.record({ type: 'signin.failure', accountId: account.id, reason: 'bad_password', ...ctx });
      return { ok: false, reason: 'bad_password' };
    }
    if (account.status !== 'active') {
      await this.#audit.record({ type: 'signin.failure', accountId: account.id, reason: 'disabled', ...ctx });
      return { ok: false, reason: 'disabled' };
    }
    const newHash = verified.needsRehash ? await this.#hasher.hash(password) : undefined;
    const updated = await this.#directory.update(account.id, (a) => {
      a.lastSignInAt = this.#clock();
      // Only replace the hash the password was verified against.
      if (newHash && a.passwordHash === account.passwordHash) a.passwordHash = newHash;
      return a;
    });
    if (newHash) await this.#audit.record({ type: 'password.rehashed', accountId: account.id, ...ctx });
    await this.#audit.record({ type: 'signin.success', accountId: account.id, ...ctx });
    return { ok: true, account: updated ?? account };
  }
}
