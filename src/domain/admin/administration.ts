// What school and ministry administrators and form teachers may do, with the scope rule in
// one place: a school administrator acts only on accounts of their own school; a ministry
// administrator on every school; a form teacher only on the students of their classes
// (domain/classes), and only unlocks them, gives them temporary passwords (or asks the
// school administrator for one, where the school wants approval), prints their slips and
// prints or voids their sign-in badges (domain/badges/).
// Every action is audited with the acting person's id and name.
import { nextDue, type Account, type SchoolClass } from '../accounts/account.ts';
import type { ChangeContext, Credentials, SessionRevoker } from '../accounts/credentials.ts';
import type { Directory } from '../accounts/directory.ts';
import type { AuditLog, StoredAuditEvent } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { classLabel, isStudentOnly, mayTeach, sameClass, teaches } from '../classes/classes.ts';
import { temporaryPassword } from '../passwords/generate.ts';
import type { PasswordPolicies } from '../passwords/policy.ts';
import type { SignOutReport } from '../sessions/sign-out-report.ts';
import type { BadgeRecord, Badges, IssuedBadge } from '../badges/badges.ts';

export type AdminScope =
  | { kind: 'ministry' }
  | { kind: 'school'; schoolCode: string }
  | { kind: 'form-teacher'; schoolCode: string; classes: SchoolClass[] };

export function adminScope(actor: Account | null): AdminScope | null {
  if (!actor || actor.status !== 'active') return null;
  if (actor.roles.includes('ministry-admin')) return { kind: 'ministry' };
  if (actor.roles.includes('school-admin')) return { kind: 'school', schoolCode: actor.school.code };
  if (mayTeach(actor) && actor.formClasses?.length) return { kind: 'form-teacher', schoolCode: actor.school.code, classes: actor.formClasses };
  return null;
}

export function inScope(scope: AdminScope, target: Pick<Account, 'school' | 'roles' | 'class'>): boolean {
  if (scope.kind === 'ministry') return true;
  if (target.school.code !== scope.schoolCode) return false;
  return scope.kind === 'school' || (isStudentOnly(target) && teaches(scope.classes, target));
}

/** What can be done in /admin (and the CLI, as a ministry administrator). */
export const CAPABILITIES = ['find', 'classes', 'unlock', 'reset-password', 'request-password', 'slips', 'badges', 'void-badges', 'clear-questions', 'reset-mfa', 'disable', 'enable', 'set-class', 'import', 'audit', 'releases'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Whether a form teacher's temporary passwords need the school administrator's approval, by school code ('default' for the rest). */
export type FormTeacherPasswords = Record<string, 'allowed' | 'approval'>;

/** What a scope may do (the school's setting decides whether a form teacher gives passwords or asks for them). */
export function capabilities(scope: AdminScope, passwords: FormTeacherPasswords = {}): ReadonlySet<Capability> {
  if (scope.kind !== 'form-teacher') return new Set(CAPABILITIES.filter((c) => c !== 'request-password'));
  const approval = (passwords[scope.schoolCode] ?? passwords.default ?? 'allowed') === 'approval';
  // Printing a badge hands out a credential, like a temporary password: where the school wants
  // approval for those, a form teacher does neither (voiding one only takes access away).
  return new Set<Capability>(['find', 'classes', 'unlock', 'void-badges', ...(approval ? (['request-password'] as const) : (['reset-password', 'slips', 'badges'] as const))]);
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

  readonly #formTeacherPasswords: FormTeacherPasswords;
  readonly #badges: Badges | undefined;

  constructor(deps: { directory: Directory; credentials: Credentials; policies: PasswordPolicies; audit: AuditLog; revoker: SessionRevoker; clock: Clock; formTeacherPasswords?: FormTeacherPasswords; badges?: Badges }) {
    this.#directory = deps.directory;
    this.#credentials = deps.credentials;
    this.#policies = deps.policies;
    this.#badges = deps.badges;
    this.#audit = deps.audit;
    this.#revoker = deps.revoker;
    this.#clock = deps.clock;
    this.#formTeacherPasswords = deps.formTeacherPasswords ?? {};
  }

  /** What this scope may do. */
  may(scope: AdminScope): ReadonlySet<Capability> {
    return capabilities(scope, this.#formTeacherPasswords);
  }

  /** 403 unless the scope may do it (every action asks, whatever the page showed). */
  require(scope: AdminScope, capability: Capability): void {
    if (!this.may(scope).has(capability)) throw new AppError('SSPR 5403', `${scope.kind} may not ${capability}`);
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
    this.require(scope, 'reset-password');
    const account = await this.target(scope, accountId);
    const password = temporaryPassword(this.#policies.for(account), account);
    const hash = await this.#credentials.hashPassword(password);
    // Also clears a lock and revokes sessions and refresh tokens (see Credentials).
    const { account: changed, signOut } = await this.#credentials.setPasswordHash(account.id, hash, account.passwordHash, this.#change(actor, scope, ctx), { temporary: true, temporaryLifeMs: this.#policies.temporaryLifeMs() });
    // A form teacher's request for it is answered.
    const updated = changed.passwordRequest ? ((await this.#directory.update(account.id, (a) => ({ ...a, passwordRequest: null }))) ?? changed) : changed;
    await this.#audit.record({ type: 'admin.password.reset', accountId: account.id, ...this.#by(actor, scope), ...ctx });
    return { account: updated, temporaryPassword: password, signOut };
  }

  async unlock(scope: AdminScope, actor: Account, accountId: string, ctx: AdminContext): Promise<Account> {
    this.require(scope, 'unlock');
    const account = await this.target(scope, accountId);
    await this.#credentials.unlock(account, this.#change(actor, scope, ctx));
    return account;
  }

  async clearQuestions(scope: AdminScope, actor: Account, accountId: string, ctx: AdminContext): Promise<Account> {
    this.require(scope, 'clear-questions');
    const account = await this.target(scope, accountId);
    const updated = await this.#directory.update(account.id, (a) => ({ ...a, questions: [] }));
    await this.#audit.record({ type: 'questions.cleared', accountId: account.id, ...this.#by(actor, scope), reason: 'admin', ...ctx });
    return updated ?? account;
  }

  /** Disabling also ends every session and tells their apps what it can (`signOut`). */
  async setStatus(scope: AdminScope, actor: Account, accountId: string, status: 'active' | 'disabled', ctx: AdminContext): Promise<{ account: Account; signOut: SignOutReport | null }> {
    this.require(scope, status === 'disabled' ? 'disable' : 'enable');
    const account = await this.target(scope, accountId);
    if (account.id === actor.id && status === 'disabled') throw new AppError('SSPR 5403', 'an administrator cannot disable their own account');
    const updated = await this.#directory.update(account.id, (a) => {
      if (status === 'disabled' || !a.lifecycle) return { ...a, status };
      // Switched on again: not dormant (its unused time counts from now), and a leaver is back
      // (nothing left to delete).
      const lifecycle = { ...a.lifecycle, dormantAt: null, enabledAt: this.#clock(), leftAt: null, deleteAt: null };
      return { ...a, status, lifecycle: { ...lifecycle, dueAt: nextDue(lifecycle) } };
    });
    await this.#audit.record({ type: status === 'disabled' ? 'account.disabled' : 'account.enabled', accountId: account.id, ...this.#by(actor, scope), ...ctx });
    const signOut = status === 'disabled' ? await this.#revoker.revokeAccount(account.id, { actor: actor.id, ...ctx }) : null;
    return { account: updated ?? account, signOut };
  }

  #change(actor: Account, scope: AdminScope, ctx: AdminContext): ChangeContext {
    return { ...this.#by(actor, scope), via: scope.kind === 'form-teacher' ? 'form teacher' : 'admin', ...ctx };
  }

  /** Who did it, for the audit trail: id and name (a form teacher's classes in the name's place of the reason). */
  #by(actor: Account, scope: AdminScope) {
    return { actor: actor.id, actorName: scope.kind === 'form-teacher' ? `${actor.displayName} (form teacher)` : actor.displayName };
  }

  // --- classes and form teachers

  /** The classes this scope reaches: a form teacher's own; a school's; every school's. */
  async classes(scope: AdminScope): Promise<Array<{ schoolCode: string; year: number; name: string; students: number }>> {
    this.require(scope, 'classes');
    if (scope.kind !== 'form-teacher') return this.#directory.classes(scope.kind === 'school' ? scope.schoolCode : null);
    const counts = await this.#directory.classes(scope.schoolCode);
    return scope.classes
      .map((c) => ({ schoolCode: scope.schoolCode, ...c, students: counts.find((k) => sameClass(k, c))?.students ?? 0 }))
      .sort((a, b) => b.year - a.year || a.name.localeCompare(b.name));
  }

  /**
   * A class's students with what a form teacher needs to help them (lock, questions,
   * temporary password, last sign-in), and its form teachers; 403 for a class out of scope.
   */
  async classRoster(scope: AdminScope, schoolCode: string, c: SchoolClass): Promise<{ students: AccountState[]; teachers: Account[] }> {
    this.require(scope, 'classes');
    const reachable = scope.kind === 'ministry' || (scope.schoolCode === schoolCode && (scope.kind === 'school' || teaches(scope.classes, { class: c })));
    if (!reachable) throw new AppError('SSPR 5403', `class ${classLabel(c)} of ${schoolCode} is not in scope`);
    const all = await this.#directory.inClass(schoolCode, c);
    const teachers = await this.#directory.teachersOf(schoolCode, c);
    // A class exists while someone is in it or teaches it (a form teacher's own class always does).
    if (all.length === 0 && teachers.length === 0 && scope.kind !== 'form-teacher') throw new AppError('SSPR 5404', `no class ${classLabel(c)} at ${schoolCode}`);
    const students = all.filter((a) => inScope(scope, a));
    const states = await Promise.all(students.map(async (account) => {
      const lock = await this.#credentials.lockOf(account);
      return { account, lockedSince: lock?.since ?? null, lockScope: lock?.scope ?? null, questionsSet: account.questions.length > 0, temporaryPassword: account.mustChangePassword, recentEvents: [] };
    }));
    return { students: states, teachers };
  }

  /**
   * New temporary passwords for some students of a class, for printing on slips (returned
   * once, stored nowhere). All are checked first: one out of scope refuses them all.
   */
  async issueSlips(scope: AdminScope, actor: Account, accountIds: string[], ctx: AdminContext): Promise<Array<{ account: Account; temporaryPassword: string }>> {
    this.require(scope, 'slips');
    if (accountIds.length === 0 || accountIds.length > 60) throw new AppError('SSPR 5103', `slips for ${accountIds.length} students (1 to 60)`);
    const ids = [...new Set(accountIds)];
    for (const id of ids) await this.target(scope, id);
    const out: Array<{ account: Account; temporaryPassword: string }> = [];
    for (const id of ids) {
      const { account, temporaryPassword } = await this.resetPassword(scope, actor, id, { ...ctx });
      out.push({ account, temporaryPassword });
    }
    return out.sort((a, b) => a.account.displayName.localeCompare(b.account.displayName));
  }

  /** A form teacher asks the school administrator for a temporary password (the school wants approval). */
  async requestPassword(scope: AdminScope, actor: Account, accountId: string, ctx: AdminContext): Promise<Account> {
    this.require(scope, 'request-password');
    const account = await this.target(scope, accountId);
    const updated = await this.#directory.update(account.id, (a) => ({ ...a, passwordRequest: { by: actor.id, byName: actor.displayName, at: this.#clock() } }));
    await this.#audit.record({ type: 'password.requested', accountId: account.id, ...this.#by(actor, scope), ...ctx });
    return updated ?? account;
  }

  /** Temporary passwords form teachers asked for, waiting for this administrator's school (or all). */
  async passwordRequests(scope: AdminScope): Promise<Account[]> {
    if (scope.kind === 'form-teacher') throw new AppError('SSPR 5403', 'password requests are for school administrators');
    this.require(scope, 'reset-password');
    return this.#directory.withPasswordRequest(scope.kind === 'school' ? scope.schoolCode : null, 200);
  }

  /** Puts a student in a class of their school (or none). */
  async setClass(scope: AdminScope, actor: Account, accountId: string, c: SchoolClass | null, ctx: AdminContext): Promise<Account> {
    this.require(scope, 'set-class');
    const account = await this.target(scope, accountId);
    if (!isStudentOnly(account)) throw new AppError('SSPR 5103', 'only a student belongs to a class');
    if (sameClass(account.class, c)) return account;
    const updated = await this.#directory.update(account.id, (a) => ({ ...a, class: c }));
    await this.#audit.record({ type: 'account.class.set', accountId: account.id, ...this.#by(actor, scope), reason: c ? classLabel(c) : 'no class', ...ctx });
    return updated ?? account;
  }

  /** Makes a staff account form teacher of classes of their school (or of none). */
  async setFormClasses(scope: AdminScope, actor: Account, accountId: string, classes: SchoolClass[], ctx: AdminContext): Promise<Account> {
    this.require(scope, 'set-class');
    const account = await this.target(scope, accountId);
    if (!mayTeach(account)) throw new AppError('SSPR 5103', 'only staff are form teachers');
    const updated = await this.#directory.update(account.id, (a) => ({ ...a, formClasses: classes }));
    await this.#audit.record({ type: 'account.form_classes.set', accountId: account.id, ...this.#by(actor, scope), reason: classes.length ? classes.map(classLabel).join(', ') : 'no classes', ...ctx });
    return updated ?? account;
  }

  #badgesOn(): Badges {
    if (!this.#badges?.enabled) throw new AppError('SSPR 5404', 'sign-in badges are not enabled');
    return this.#badges;
  }

  /** Whether badges are on, and for which levels (the admin pages' words). */
  badgeLevels(): string[] {
    return this.#badges?.enabled ? this.#badges.settings.levels : [];
  }

  /** Whether an account may hold a sign-in badge (an active pupil of an enabled level). */
  mayHoldBadge(account: Account): boolean {
    return this.#badges?.mayHold(account) ?? false;
  }

  /** The valid badge of each of these accounts (checked in scope one by one). */
  async badgesOf(scope: AdminScope, accounts: readonly Account[]): Promise<Map<string, BadgeRecord>> {
    if (!this.#badges?.enabled) return new Map();
    return this.#badges.validFor(accounts.filter((a) => inScope(scope, a)).map((a) => a.id));
  }

  /**
   * New sign-in badges for pupils (each in scope and allowed one; one refused refuses them
   * all), for printing: the secrets are returned once and stored only as keyed hashes. Each
   * pupil's earlier badge stops working.
   */
  async issueBadges(scope: AdminScope, actor: Account, accountIds: string[], ctx: AdminContext): Promise<IssuedBadge[]> {
    this.require(scope, 'badges');
    const badges = this.#badgesOn();
    if (accountIds.length === 0 || accountIds.length > 60) throw new AppError('SSPR 5103', `badges for ${accountIds.length} pupils (1 to 60)`);
    const accounts: Account[] = [];
    for (const id of new Set(accountIds)) {
      const account = await this.target(scope, id);
      if (!badges.mayHold(account)) throw new AppError('SSPR 5103', `a badge for ${account.id}, who may not hold one`);
      accounts.push(account);
    }
    const issued = await badges.issue(accounts, this.#by(actor, scope), ctx);
    return issued.sort((a, b) => a.account.displayName.localeCompare(b.account.displayName));
  }

  /** Voids the badges of pupils in scope; resolves how many were valid. */
  async voidBadges(scope: AdminScope, actor: Account, accountIds: string[], ctx: AdminContext): Promise<number> {
    this.require(scope, 'void-badges');
    const badges = this.#badgesOn();
    const ids = [...new Set(accountIds)];
    for (const id of ids) await this.target(scope, id);
    return badges.voidFor(ids, this.#by(actor, scope), ctx);
  }

  /**
   * Voids every badge of one school, e.g. at the end of a term: a school administrator's own;
   * a ministry administrator names the school (never every school at once).
   */
  async voidSchoolBadges(scope: AdminScope, actor: Account, schoolCode: string, ctx: AdminContext): Promise<number> {
    this.require(scope, 'void-badges');
    if (scope.kind === 'form-teacher') throw new AppError('SSPR 5403', 'a form teacher voids the badges of their own classes only');
    if (scope.kind === 'school' && schoolCode !== scope.schoolCode) throw new AppError('SSPR 5403', `school ${schoolCode} is not the administrator's`);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(schoolCode)) throw new AppError('SSPR 5103', 'school code malformed');
    return this.#badgesOn().voidSchool(schoolCode, this.#by(actor, scope), ctx);
  }
}
