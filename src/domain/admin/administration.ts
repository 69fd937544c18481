// What school and ministry administrators may do, with the scope rule in one place:
// a school administrator acts only on accounts of their own school; a ministry
// administrator on every school. Every action is audited with the acting administrator.
import type { Account } from '../accounts/account.ts';
import type { ChangeContext, Credentials, SessionRevoker } from '../accounts/credentials.ts';
import type { Directory } from '../accounts/directory.ts';
import type { AuditLog, StoredAuditEvent } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { temporaryPassword } from '../passwords/generate.ts';
import type { PasswordPolicies } from '../passwords/policy.ts';
import type { SignOutReport } from '../sessions/sign-out-report.ts';

export type AdminScope = { kind: 'ministry' } | { kind: 'school'; schoolCode: string };

export function adminScope(actor: Account | null): AdminScope | null {
  if (!actor || actor.status !== 'active') return null;
  if (actor.roles.includes('ministry-admin')) return { kind: 'ministry' };
  if (actor.roles.includes('school-admin')) return { kind: 'school', schoolCode: actor.school.code };
  return null;
}

export function inScope(scope: AdminScope, target: Pick<Account, 'school'>): boolean {
  return scope.kind === 'ministry' || target.school.code === scope.schoolCode;
}

export interface AccountState {
  account: Account;
  lockedSince: number | null;
  /** Whom the lock holds back: every device, or only devices that never signed in to the account (wrong passwords from elsewhere). */
  lockScope: 'everyone' | 'unknown-devices' | null;
  questionsSet: boolean;
  temporaryPassword: boolean;
  recentEvents: StoredAuditEvent[];
}

export interface AdminContext {
  ip?: string | undefined;
  requestId?: string | undefined;
}

export class Administration {
  readonly #directory: Directory;
  readonly #credentials: Credentials;
  readonly #policies: PasswordPolicies;
  readonly #audit: AuditLog;
  readonly #revoker: SessionRevoker;
  readonly #clock: Clock;

  constructor(deps: { directory: Directory; credentials: Credentials; policies: PasswordPolicies; audit: AuditLog; revoker: SessionRevoker; clock: Clock }) {
    this.#directory = deps.directory;
    this.#credentials = deps.credentials;
    this.#policies = deps.policies;
    this.#audit = deps.audit;
    this.#revoker = deps.revoker;
    this.#clock = deps.clock;
  }

  /** The target account, or 403 (also for an id that does not exist: nothing to learn). */
  async target(scope: AdminScope, accountId: string): Promise<Account> {
    const account = /^[A-Za-z0-9_-]{10,64}$/.test(accountId) ? await this.#directory.get(accountId) : null;
    if (!account || !inScope(scope, account)) throw new AppError('SSPR 5403', `account ${accountId} not in the administrator's scope`);
    return account;
  }

  /** Accounts whose login ID or name starts with `query`, in scope, one page at a time. */
  async search(scope: AdminScope, query: string, pageSize: number, after?: string): Promise<{ accounts: Account[]; next?: string }> {
    const prefix = query.trim().toLowerCase();
    const found: Account[] = [];
    let cursor = after;
    // Walk the index until a page of in-scope accounts is found (bounded).
    for (let round = 0; round < 20 && found.length < pageSize; round++) {
      const batch = await this.#directory.searchLoginIds(prefix, 200, cursor);
      if (batch.length === 0) {
        cursor = undefined;
        break;
      }
      for (const { id, member } of batch) {
        cursor = member;
        const account = await this.#directory.get(id);
        if (account && inScope(scope, account)) found.push(account);
        if (found.length >= pageSize) break;
      }
      if (batch.length < 200 && found.length < pageSize) {
        cursor = undefined;
        break;
      }
    }
    // Names by any part ("tan", "lim"), in the administrator's own school's index, on the
    // first page after the login IDs that matched (without duplicates).
    if (after === undefined && prefix.length > 0 && found.length < pageSize) {
      const seen = new Set(found.map((a) => a.id));
      const school = scope.kind === 'school' ? scope.schoolCode : '*';
      for (const { id } of await this.#directory.searchNameParts(school, prefix, pageSize)) {
        if (seen.has(id) || found.length >= pageSize) continue;
        const account = await this.#directory.get(id);
        if (account && inScope(scope, account)) found.push(account);
      }
      if (found.length === 0) {
        // Until the name-part index is built (an upgraded store): whole names, as before.
        for (const { id } of await this.#directory.searchNames(prefix, pageSize * 4)) {
          const account = await this.#directory.get(id);
          if (account && inScope(scope, account) && found.length < pageSize) found.push(account);
        }
      }
      if (found.length === 0) return { accounts: found };
    }
    return cursor ? { accounts: found, next: cursor } : { accounts: found };
  }

  async state(scope: AdminScope, accountId: string): Promise<AccountState> {
    const account = await this.target(scope, accountId);
    const lock = await this.#credentials.lockOf(account);
    return {
      account,
      lockedSince: lock?.since ?? null,
      lockScope: lock?.scope ?? null,
      questionsSet: account.questions.length > 0,
      temporaryPassword: account.mustChangePassword,
      recentEvents: await this.#audit.recent(20, (e) => e.accountId === account.id),
    };
  }

  /**
   * Sets a generated temporary password (returned once, never stored or logged), which
   * must be changed at the next sign-in; clears the lock; revokes sessions and refresh
   * tokens and tells the apps of those sessions what it can (`signOut`); keeps the
   * challenge questions.
   */
  async resetPassword(scope: AdminScope, actor: Account, accountId: string, ctx: AdminContext): Promise<{ account: Account; temporaryPassword: string; signOut: SignOutReport }> {
    const account = await this.target(scope, accountId);
    const password = temporaryPassword(this.#policies.for(account), account);
    const hash = await this.#credentials.hashPassword(password);
    // Also clears a lock and revokes sessions and refresh tokens (see Credentials).
    const { account: updated, signOut } = await this.#credentials.setPasswordHash(account.id, hash, account.passwordHash, this.#change(actor, ctx), { temporary: true, temporaryLifeMs: this.#policies.temporaryLifeMs() });
    await this.#audit.record({ type: 'admin.password.reset', accountId: account.id, actor: actor.id, ...ctx });
    return { account: updated, temporaryPassword: password, signOut };
  }

  async unlock(scope: AdminScope, actor: Account, accountId: string, ctx: AdminContext): Promise<Account> {
    const account = await this.target(scope, accountId);
    await this.#credentials.unlock(account, this.#change(actor, ctx));
    return account;
  }

  async clearQuestions(scope: AdminScope, actor: Account, accountId: string, ctx: AdminContext): Promise<Account> {
    const account = await this.target(scope, accountId);
    const updated = await this.#directory.update(account.id, (a) => ({ ...a, questions: [] }));
    await this.#audit.record({ type: 'questions.cleared', accountId: account.id, actor: actor.id, reason: 'admin', ...ctx });
    return updated ?? account;
  }

  /** Disabling also ends every session and tells their apps what it can (`signOut`). */
  async setStatus(scope: AdminScope, actor: Account, accountId: string, status: 'active' | 'disabled', ctx: AdminContext): Promise<{ account: Account; signOut: SignOutReport | null }> {
    const account = await this.target(scope, accountId);
    if (account.id === actor.id && status === 'disabled') throw new AppError('SSPR 5403', 'an administrator cannot disable their own account');
    const updated = await this.#directory.update(account.id, (a) => ({ ...a, status }));
    await this.#audit.record({ type: status === 'disabled' ? 'account.disabled' : 'account.enabled', accountId: account.id, actor: actor.id, ...ctx });
    const signOut = status === 'disabled' ? await this.#revoker.revokeAccount(account.id, { actor: actor.id, ...ctx }) : null;
    return { account: updated ?? account, signOut };
  }

  #change(actor: Account, ctx: AdminContext): ChangeContext {
    return { actor: actor.id, via: 'admin', ...ctx };
  }
}
