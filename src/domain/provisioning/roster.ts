// Accounts that follow a school's roster (README "Provisioning"): what SCIM, the OneRoster
// import and the lifecycle scheduler do to accounts, in one place and the same way for each.
//   join   an account is created; it has no password anyone knows yet: the school hands out
//          the first credential (a sign-in slip or a badge, per population) as for any pupil;
//   move   a transfer keeps the account and its login ID, changes school and class, drops
//          form classes of the old school, ends its sessions (apps told by back-channel
//          logout), and so leaves the old school's administrators' reach, at once or at a date;
//   leave  disabled at the leaving date, sessions ended and apps told; deleted after the
//          population's retention period, its audit trail anonymised;
//   rejoin a leaver (not yet deleted) comes back: enabled, nothing scheduled.
// Every step is idempotent (it reads the account inside the directory's serialised update and
// does nothing when the step is already done) and audited with who asked.
import { createHash } from 'node:crypto';
import { nextDue, type Account, type AccountLifecycle, type Level, type Role, type School, type SchoolClass } from '../accounts/account.ts';
import type { SessionRevoker } from '../accounts/credentials.ts';
import type { Directory } from '../accounts/directory.ts';
import type { SecretHasher } from '../accounts/passwords.ts';
import type { AuditLog, AuditType } from '../audit/audit-log.ts';
import { classLabel, sameClass } from '../classes/classes.ts';
import type { Clock } from '../clock.ts';
import type { SignOutReport } from '../sessions/sign-out-report.ts';
import type { ProvisioningRows } from '../../store/directory/provisioning.ts';

export const DAY_MS = 86_400_000;

/** What the lifecycle does to one population (README "Provisioning"). */
export interface LifecyclePopulation {
  name: string;
  /** Accounts all of whose roles are among these belong to the population. */
  roles: Role[];
  /** Disabled after this many days without a sign-in (null: never). */
  dormantDays: number | null;
  /** A leaver is deleted this many days after leaving (null: kept). */
  retentionDays: number | null;
  /** The first credential the school hands out to someone who joined: a sign-in slip or a badge. */
  joinCredential: 'slip' | 'badge';
}

export interface LifecycleSettings {
  /** How often the server runs the scheduled steps (minutes; 0: only `cli lifecycle run`). */
  runEveryMinutes: number;
  populations: LifecyclePopulation[];
}

/** Who asked, for the audit trail. */
export interface RosterContext {
  /** An administrator's account id, `scim:<client id>`, `oneroster`, `lifecycle`. */
  actor: string;
  actorName?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
}

export interface RosterPerson {
  /** Normalised (normaliseLoginId). */
  loginId: string;
  givenName: string;
  familyName: string;
  displayName?: string | undefined;
  school: School;
  level: Level | null;
  roles: Role[];
  /** A student's class; undefined keeps it. */
  class?: SchoolClass | null | undefined;
}

export class RosterError extends Error {
  override name = 'RosterError';
}

/**
 * Accounts holding an administrator role are the school system's own, not a roster's: a
 * roster may not rename, move, disable or remove them (moving a school administrator would
 * make them one of the new school; disabling them would lock a school out of its own
 * administration). Administrators change them in /admin or the CLI.
 */
export function isAdministrator(a: Pick<Account, 'roles'>): boolean {
  return a.roles.includes('school-admin') || a.roles.includes('ministry-admin');
}

function refuseAdministrator(a: Account, what: string): void {
  if (isAdministrator(a)) throw new RosterError(`${a.loginId} is an administrator: a roster does not ${what} administrators (their administrators do, in /admin)`);
}

export function populationOf(populations: readonly LifecyclePopulation[], account: Pick<Account, 'roles'>): LifecyclePopulation | null {
  return populations.find((p) => account.roles.length > 0 && account.roles.every((r) => p.roles.includes(r))) ?? null;
}

/** A deleted account's id in its anonymised audit trail: stable, and not the id. */
export function pseudonymOf(accountId: string): string {
  return `deleted-${createHash('sha256').update(`school-idp:deleted:${accountId}`).digest('base64url').slice(0, 16)}`;
}

function withDue(l: AccountLifecycle): AccountLifecycle {
  return { ...l, dueAt: nextDue(l) };
}

export class Roster {
  readonly #directory: Directory;
  readonly #rows: ProvisioningRows;
  readonly #audit: AuditLog;
  readonly #revoker: SessionRevoker;
  readonly #clock: Clock;
  readonly #hasher: SecretHasher;
  readonly settings: LifecycleSettings;

  constructor(deps: { directory: Directory; rows: ProvisioningRows; audit: AuditLog; revoker: SessionRevoker; clock: Clock; hasher: SecretHasher; settings: LifecycleSettings }) {
    this.#directory = deps.directory;
    this.#rows = deps.rows;
    this.#audit = deps.audit;
    this.#revoker = deps.revoker;
    this.#clock = deps.clock;
    this.#hasher = deps.hasher;
    this.settings = deps.settings;
  }

  async #record(type: AuditType, accountId: string, ctx: RosterContext, reason: string): Promise<void> {
    await this.#audit.record({ type, accountId, actor: ctx.actor, actorName: ctx.actorName, ip: ctx.ip, requestId: ctx.requestId, reason });
  }

  /** Creates the account of someone who joined (DuplicateLoginIdError when the login ID is taken). */
  async join(p: RosterPerson, ctx: RosterContext): Promise<Account> {
    const now = this.#clock();
    const account = await this.#directory.create({
      loginId: p.loginId, givenName: p.givenName, familyName: p.familyName, displayName: p.displayName || `${p.givenName} ${p.familyName}`,
      school: p.school, level: p.level, roles: p.roles, status: 'active',
      ...(p.class !== undefined ? { class: p.class } : {}),
      // No password anyone knows: the first sign-in is with a slip or a badge from the school.
      passwordHash: await this.#hasher.unusableHash(), mustChangePassword: true, temporaryUntil: now,
      passwordChangedAt: now, passwordHistory: [], questions: [],
      lifecycle: { source: ctx.actor },
    });
    await this.#record('account.created', account.id, ctx, `joined (${populationOf(this.settings.populations, account)?.joinCredential ?? 'slip'} to be handed out)`);
    return account;
  }

  /**
   * Changes names, level, roles and class within the account's school. Resolves the account
   * (unchanged when nothing differs); a change of school is a move (move()).
   */
  async update(id: string, p: Omit<RosterPerson, 'loginId' | 'school'>, ctx: RosterContext): Promise<Account | null> {
    let changed = false;
    const updated = await this.#directory.update(id, (a) => {
      const next: Account = {
        ...a, givenName: p.givenName, familyName: p.familyName, displayName: p.displayName || `${p.givenName} ${p.familyName}`, level: p.level, roles: p.roles,
        ...(p.class !== undefined ? { class: p.class } : {}),
      };
      if (next.givenName === a.givenName && next.familyName === a.familyName && next.displayName === a.displayName && next.level === a.level
        && next.roles.join() === a.roles.join() && sameClass(next.class, a.class)) return null;
      refuseAdministrator(a, 'change');
      changed = true;
      return next;
    });
    if (!changed) return this.#directory.get(id);
    await this.#record('account.updated', id, ctx, 'roster');
    return updated;
  }

  /**
   * A transfer to another school (and a class there, or none), at `at` (null or past: now).
   * A move scheduled for later replaces an earlier scheduled one.
   */
  async move(id: string, to: { school: School; class: SchoolClass | null }, at: number | null, ctx: RosterContext): Promise<{ account: Account | null; signOut: SignOutReport | null; scheduled: boolean }> {
    const now = this.#clock();
    if (at !== null && at > now) {
      let changed = false;
      const account = await this.#directory.update(id, (a) => {
        const current = a.lifecycle?.move;
        if (current && current.at === at && current.school.code === to.school.code && sameClass(current.class, to.class)) return null;
        if (a.school.code !== to.school.code) refuseAdministrator(a, 'move');
        changed = true;
        return { ...a, lifecycle: withDue({ ...a.lifecycle, move: { at, school: to.school, class: to.class, by: ctx.actor } }) };
      });
      if (changed) await this.#record('account.move.scheduled', id, ctx, `to ${to.school.code} on ${new Date(at).toISOString().slice(0, 10)}`);
      return { account: account ?? (await this.#directory.get(id)), signOut: null, scheduled: true };
    }
    let from = '';
    const account = await this.#directory.update(id, (a) => {
      if (a.school.code === to.school.code && sameClass(a.class, to.class) && !a.lifecycle?.move) return null;
      if (a.school.code !== to.school.code) refuseAdministrator(a, 'move');
      from = a.school.code;
      const formClasses = a.school.code === to.school.code ? a.formClasses : [];
      return { ...a, school: to.school, class: to.class, ...(formClasses !== undefined ? { formClasses } : {}), lifecycle: withDue({ ...a.lifecycle, move: null }) };
    });
    if (!account) return { account: await this.#directory.get(id), signOut: null, scheduled: false };
    // A new school: what the old one's apps were given (sessions, grants) ends now.
    const signOut = from !== to.school.code ? await this.#revoker.revokeAccount(id, { actor: ctx.actor, ip: ctx.ip, requestId: ctx.requestId }) : null;
    await this.#record('account.moved', id, ctx, from !== to.school.code ? `from ${from} to ${to.school.code}${to.class ? ` class ${to.class.name} (${to.class.year})` : ''}` : `class ${to.class ? `${to.class.name} (${to.class.year})` : 'none'}`);
    return { account, signOut, scheduled: false };
  }

  /** Leaving at `at` (null or past: now): disabled, sessions ended, apps told; deleted after retention. */
  async leave(id: string, at: number | null, ctx: RosterContext): Promise<{ account: Account | null; signOut: SignOutReport | null; scheduled: boolean }> {
    const now = this.#clock();
    if (at !== null && at > now) {
      let changed = false;
      const account = await this.#directory.update(id, (a) => {
        if (a.lifecycle?.leftAt || a.lifecycle?.leaveAt === at) return null;
        refuseAdministrator(a, 'remove');
        changed = true;
        return { ...a, lifecycle: withDue({ ...a.lifecycle, leaveAt: at }) };
      });
      if (changed) await this.#record('account.leave.scheduled', id, ctx, `on ${new Date(at).toISOString().slice(0, 10)}`);
      return { account: account ?? (await this.#directory.get(id)), signOut: null, scheduled: true };
    }
    let left = false;
    const account = await this.#directory.update(id, (a) => {
      if (a.lifecycle?.leftAt) return null;
      refuseAdministrator(a, 'remove');
      left = true;
      const retention = populationOf(this.settings.populations, a)?.retentionDays ?? null;
      return { ...a, status: 'disabled', lifecycle: withDue({ ...a.lifecycle, leaveAt: null, move: null, leftAt: now, deleteAt: retention === null ? null : now + retention * DAY_MS }) };
    });
    if (!left) return { account: await this.#directory.get(id), signOut: null, scheduled: false };
    const signOut = await this.#revoker.revokeAccount(id, { actor: ctx.actor, ip: ctx.ip, requestId: ctx.requestId });
    await this.#record('account.left', id, ctx, account?.lifecycle?.deleteAt ? `deleted on ${new Date(account.lifecycle.deleteAt).toISOString().slice(0, 10)}` : 'kept (no retention period)');
    return { account, signOut, scheduled: false };
  }

  /** A leaver comes back, or a scheduled leave is called off: enabled (unless disabled otherwise), nothing scheduled to leave. */
  async rejoin(id: string, ctx: RosterContext): Promise<Account | null> {
    let changed = false;
    const account = await this.#directory.update(id, (a) => {
      const l = a.lifecycle ?? {};
      if (!l.leftAt && !l.leaveAt) return null;
      changed = true;
      return { ...a, status: l.leftAt ? 'active' : a.status, lifecycle: withDue({ ...l, leftAt: null, leaveAt: null, deleteAt: null }) };
    });
    if (changed) await this.#record('account.rejoined', id, ctx, 'roster');
    return account ?? (await this.#directory.get(id));
  }

  /** Disables or enables without leaving (SCIM `active`); disabling ends sessions and tells apps. */
  async setActive(id: string, active: boolean, ctx: RosterContext): Promise<{ account: Account | null; signOut: SignOutReport | null }> {
    let changed = false;
    const account = await this.#directory.update(id, (a) => {
      if (a.lifecycle?.leftAt) return null; // a leaver comes back only by rejoin()
      if ((a.status === 'active') === active) return null;
      refuseAdministrator(a, active ? 'enable' : 'disable');
      changed = true;
      return { ...a, status: active ? 'active' : 'disabled', ...(active ? { lifecycle: { ...a.lifecycle, dormantAt: null, enabledAt: this.#clock() } } : {}) };
    });
    if (!changed) return { account: account ?? (await this.#directory.get(id)), signOut: null };
    await this.#record(active ? 'account.enabled' : 'account.disabled', id, ctx, 'roster');
    const signOut = active ? null : await this.#revoker.revokeAccount(id, { actor: ctx.actor, ip: ctx.ip, requestId: ctx.requestId });
    return { account, signOut };
  }

  /** Disables an account nobody used for the population's dormantDays (the lifecycle decided so). */
  async disableDormant(id: string, before: number, ctx: RosterContext): Promise<Account | null> {
    const now = this.#clock();
    let changed = false;
    const account = await this.#directory.update(id, (a) => {
      if (a.status !== 'active' || Math.max(a.lastSignInAt ?? 0, a.createdAt, a.lifecycle?.enabledAt ?? 0) >= before) return null;
      changed = true;
      return { ...a, status: 'disabled', lifecycle: { ...a.lifecycle, dormantAt: now } };
    });
    if (!changed) return null;
    await this.#record('account.dormant', id, ctx, `not used since ${new Date(Math.max(account!.lastSignInAt ?? 0, account!.createdAt, account!.lifecycle?.enabledAt ?? 0)).toISOString().slice(0, 10)}`);
    await this.#revoker.revokeAccount(id, { actor: ctx.actor });
    return account;
  }

  /** Deletes a leaver whose retention period is over: the account, its externalIds, its audit trail anonymised. */
  async deleteLeaver(id: string, ctx: RosterContext): Promise<boolean> {
    const account = await this.#directory.get(id);
    const deleteAt = account?.lifecycle?.deleteAt;
    if (!account || !account.lifecycle?.leftAt || typeof deleteAt !== 'number' || deleteAt > this.#clock()) return false;
    const pseudonym = pseudonymOf(id);
    await this.#rows.forgetTarget(id);
    if (!(await this.#directory.delete(id))) return false;
    const anonymised = await this.#rows.anonymiseAudit(id, pseudonym);
    await this.#audit.record({ type: 'account.deleted', accountId: pseudonym, actor: ctx.actor, reason: `retention period over; ${anonymised} audit events anonymised` });
    return true;
  }

  /** Puts a student in a class of their school (null: in none); a class of another year is replaced. */
  async assignClass(id: string, c: SchoolClass | null, ctx: RosterContext): Promise<Account | null> {
    let changed = false;
    const account = await this.#directory.update(id, (a) => {
      if (sameClass(a.class, c)) return null;
      changed = true;
      return { ...a, class: c };
    });
    if (changed) await this.#record('account.class.set', id, ctx, c ? `${c.name} (${c.year})` : 'none');
    return account ?? (await this.#directory.get(id));
  }

  /** Makes a staff account form teacher of a class of their school, or no longer. */
  async teach(id: string, c: SchoolClass, teaching: boolean, ctx: RosterContext): Promise<Account | null> {
    let changed = false;
    const account = await this.#directory.update(id, (a) => {
      const current = a.formClasses ?? [];
      const has = current.some((k) => sameClass(k, c));
      if (has === teaching) return null;
      changed = true;
      return { ...a, formClasses: teaching ? [...current, c] : current.filter((k) => !sameClass(k, c)) };
    });
    if (changed) await this.#record('account.form_classes.set', id, ctx, `${teaching ? 'teaches' : 'no longer teaches'} ${c.name} (${c.year})`);
    return account ?? (await this.#directory.get(id));
  }

  /** Makes a staff account form teacher of exactly these classes of their school (a roster's whole list). */
  async setFormClasses(id: string, classes: SchoolClass[], ctx: RosterContext): Promise<Account | null> {
    let changed = false;
    const account = await this.#directory.update(id, (a) => {
      const current = a.formClasses ?? [];
      if (current.length === classes.length && current.every((k) => classes.some((c) => sameClass(c, k)))) return null;
      changed = true;
      return { ...a, formClasses: classes };
    });
    if (changed) await this.#record('account.form_classes.set', id, ctx, classes.length ? classes.map(classLabel).join(', ') : 'no classes');
    return account ?? (await this.#directory.get(id));
  }

  /** A class renamed (or removed: `to` null): its students and form teachers follow. */
  async renameClass(schoolCode: string, from: SchoolClass, to: SchoolClass | null, ctx: RosterContext): Promise<void> {
    for (const student of await this.#directory.inClass(schoolCode, from)) await this.assignClass(student.id, to, ctx);
    for (const teacher of await this.#directory.teachersOf(schoolCode, from)) {
      await this.teach(teacher.id, from, false, ctx);
      if (to) await this.teach(teacher.id, to, true, ctx);
    }
  }

  /** A class created, renamed or deleted by a roster (who is in it changes through assignClass/teach). */
  async classChanged(type: 'class.created' | 'class.renamed' | 'class.deleted', schoolCode: string, what: string, ctx: RosterContext): Promise<void> {
    await this.#audit.record({ type, actor: ctx.actor, actorName: ctx.actorName, ip: ctx.ip, requestId: ctx.requestId, reason: `${schoolCode}: ${what}` });
  }

  /** Runs the scheduled move of an account when it is due (the lifecycle). */
  async applyScheduledMove(id: string, ctx: RosterContext): Promise<boolean> {
    const account = await this.#directory.get(id);
    const move = account?.lifecycle?.move;
    if (!account || !move || move.at > this.#clock() || account.lifecycle?.leftAt) return false;
    await this.move(id, { school: move.school, class: move.class }, null, ctx);
    return true;
  }
}
