// Changing what an account signs in with: required actions, password change, challenge
// questions. Each change is written by compare-and-set, confirmed by the store before it
// returns, audited, and a password change revokes the account's other sessions and
// refresh tokens, and says which apps of those sessions were told (SignOutReport).
import { StoreUnavailableError } from '../../store/index.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import type { PasswordHistoryCheck, PasswordPolicies } from '../passwords/policy.ts';
import { dueActions, type RequiredAction } from './required-actions.ts';
import { hasSecondFactor } from '../mfa/factors.ts';
import type { Account, ChallengeAnswer } from './account.ts';
import type { Directory } from './directory.ts';
import type { SecretHasher } from './passwords.ts';
import type { Lockout } from '../security/lockout.ts';
import type { SignOutReport } from '../sessions/sign-out-report.ts';

export type { RequiredAction } from './required-actions.ts';

export interface RevokeOptions {
  /** The SSO session that stays (the browser that changed its own password). */
  exceptSsoSession?: string | undefined;
  /** For the audit trail. */
  actor?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
}

/**
 * Ends sessions and OIDC grants of an account and tells the apps of the ended sessions
 * what it can without a browser (implemented where those live); resolves to what it told.
 */
export interface SessionRevoker {
  revokeAccount(accountId: string, options: RevokeOptions): Promise<SignOutReport>;
}

export interface ChangeContext {
  /** Who did it: the account itself, or an administrator's account id. */
  actor: string;
  /** The actor's name, for the audit trail, when someone else acted (an administrator, a form teacher). */
  actorName?: string | undefined;
  /** Which flow or tool: sign-in, sspr, forgot-password, admin, form teacher, cli, seed. */
  via: string;
  ip?: string | undefined;
  requestId?: string | undefined;
  exceptSsoSession?: string | undefined;
}

/** Kept so that `historyLength` can be raised in config without losing history. */
export const MAX_HISTORY = 24;

export class Credentials {
  readonly #directory: Directory;
  readonly #hasher: SecretHasher;
  readonly #audit: AuditLog;
  readonly #policies: PasswordPolicies;
  readonly #revoker: SessionRevoker;
  readonly #clock: Clock;
  readonly #lockout: Lockout;

  readonly #mfaRequired: (account: Account) => boolean;

  constructor(deps: { directory: Directory; hasher: SecretHasher; audit: AuditLog; policies: PasswordPolicies; revoker: SessionRevoker; clock: Clock; lockout: Lockout; mfaRequired?: (account: Account) => boolean }) {
    this.#mfaRequired = deps.mfaRequired ?? (() => false);
    this.#lockout = deps.lockout;
    this.#directory = deps.directory;
    this.#hasher = deps.hasher;
    this.#audit = deps.audit;
    this.#policies = deps.policies;
    this.#revoker = deps.revoker;
    this.#clock = deps.clock;
  }

  get hasher(): SecretHasher {
    return this.#hasher;
  }

  /** What must happen, in order, before anything is issued for this account (required-actions.ts). */
  requiredActions(account: Account): RequiredAction[] {
    return dueActions(account, { now: this.#clock(), policies: this.#policies, mfaRequired: this.#mfaRequired, hasSecondFactor });
  }

  history(account: Account): PasswordHistoryCheck {
    return {
      isCurrent: async (candidate) => (await this.#hasher.verify(account.passwordHash, candidate)).ok,
      inHistory: async (candidate, depth) => {
        for (const hash of account.passwordHistory.slice(0, depth)) {
          if ((await this.#hasher.verify(hash, candidate)).ok) return true;
        }
        return false;
      },
    };
  }

  async matchesPassword(account: Account, candidate: string): Promise<boolean> {
    return (await this.#hasher.verify(account.passwordHash, candidate)).ok;
  }

  hashPassword(password: string): Promise<string> {
    return this.#hasher.hash(password);
  }

  /**
   * Replaces the password by one already checked against the policy and hashed.
   * `expectedCurrentHash` makes the change fail if the password changed meanwhile.
   * Resolves to the account and to what the other sessions' apps were told.
   */
  async setPasswordHash(accountId: string, newHash: string, expectedCurrentHash: string, ctx: ChangeContext, options: { temporary?: boolean; temporaryLifeMs?: number } = {}): Promise<{ account: Account; signOut: SignOutReport }> {
    let conflict = false;
    const updated = await this.#directory.update(accountId, (a) => {
      if (a.passwordHash !== expectedCurrentHash) {
        conflict = true;
        return null;
      }
      a.passwordHistory = [a.passwordHash, ...a.passwordHistory].slice(0, MAX_HISTORY);
      a.passwordHash = newHash;
      const now = this.#clock();
      a.mustChangePassword = options.temporary ?? false;
      a.temporaryUntil = options.temporary && options.temporaryLifeMs !== undefined ? now + options.temporaryLifeMs : null;
      a.passwordChangedAt = now;
      return a;
    });
    if (!updated || conflict) throw new PasswordChangedMeanwhileError();
    // The new password is committed: what follows never turns it into a reported failure. The
    // other sessions end first (a reset after a compromise must not leave the intruder signed
    // in), then the lock goes; each is retried through a store's short outage.
    const signOut = await afterCommit(() => this.#revoker.revokeAccount(accountId, { exceptSsoSession: ctx.exceptSsoSession, actor: ctx.actor, ip: ctx.ip, requestId: ctx.requestId }), { sessionsEnded: 0, notices: [] });
    // A new password also clears a lock and the failure counters.
    const unlocked = await afterCommit(() => this.#lockout.unlock(updated.loginId), false);
    await afterCommit(() => this.#audit.record({ type: 'password.changed', accountId, actor: ctx.actor, actorName: ctx.actorName, reason: ctx.via, ip: ctx.ip, requestId: ctx.requestId }), undefined);
    if (unlocked) await afterCommit(() => this.#audit.record({ type: 'account.unlocked', accountId, actor: ctx.actor, actorName: ctx.actorName, reason: `${ctx.via}: password changed`, ip: ctx.ip, requestId: ctx.requestId }), undefined);
    return { account: updated, signOut };
  }

  /** Clears the lock, keeping the password ("Unlock Password", administrator unlock). */
  async unlock(account: Account, ctx: ChangeContext): Promise<void> {
    await this.#lockout.unlock(account.loginId);
    await this.#audit.record({ type: 'account.unlocked', accountId: account.id, actor: ctx.actor, actorName: ctx.actorName, reason: ctx.via, ip: ctx.ip, requestId: ctx.requestId });
  }

  lockedSince(account: Account): Promise<number | null> {
    return this.#lockout.lockedSince(account.loginId);
  }

  /** The account's lock: since when, and whether it holds back every device or only those it never signed in on. */
  lockOf(account: Account): Promise<{ since: number; scope: 'everyone' | 'unknown-devices' } | null> {
    return this.#lockout.lockOf(account.loginId);
  }

  async setQuestions(accountId: string, answers: ChallengeAnswer[], ctx: ChangeContext): Promise<Account> {
    const updated = await this.#directory.update(accountId, (a) => ({ ...a, questions: answers }));
    if (!updated) throw new Error(`account ${accountId} vanished`);
    await this.#audit.record({ type: 'questions.set', accountId, actor: ctx.actor, reason: ctx.via, ip: ctx.ip, requestId: ctx.requestId });
    return updated;
  }
}

export class PasswordChangedMeanwhileError extends Error {
  override name = 'PasswordChangedMeanwhileError';
}

/**
 * A step after a change was committed: retried while a store is unavailable (a failover's
 * length), then given up with `otherwise`, so that the committed change is still reported as
 * made. What can be lost so is a step of housekeeping (an audit line, a lock already moot),
 * never the change itself.
 */
async function afterCommit<T>(step: () => Promise<T>, otherwise: T, forMs = 10_000): Promise<T> {
  const until = Date.now() + forMs;
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      if (Date.now() > until) return otherwise;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
