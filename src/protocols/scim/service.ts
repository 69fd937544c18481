// The SCIM service provider's operations on Users (accounts) and Groups (classes), for one
// provisioning client at a time (RFC 7644 §3): what the client may see is the accounts and
// classes of its schools (a leaver is gone: 404); each change goes through the roster
// (domain/provisioning/roster.ts), so a change of school is a transfer, DELETE is leaving,
// and every step is audited as the client. No HTTP here (routes.ts).
import { scimPatch, type ScimPatchOperation, type ScimResource } from 'scim-patch';
import { type Account, type SchoolClass } from '../../domain/accounts/account.ts';
import { DuplicateLoginIdError, type Directory } from '../../domain/accounts/directory.ts';
import { mayTeach, isStudentOnly, normaliseClassName, sameClass, schoolYear } from '../../domain/classes/classes.ts';
import type { Clock } from '../../domain/clock.ts';
import { newId } from '../../domain/ids.ts';
import type { ImportSettings } from '../../domain/admin/import.ts';
import { clientReaches, type ProvisioningClient } from '../../domain/provisioning/clients.ts';
import type { Roster, RosterContext } from '../../domain/provisioning/roster.ts';
import { ClassExistsError, ExternalIdTakenError, type ClassRecord, type ProvisioningRows } from '../../store/directory/provisioning.ts';
import { groupConditions, userConditions } from './filter.ts';
import { canonical, canonicalPath, classRef, groupResource, invalid, readGroup, readUser, ScimError, userResource, versionOf, type ClassRef, type UserInput } from './resources.ts';
import type { Exclusive } from './lock.ts';
import { DEFAULT_COUNT, MAX_RESULTS, URN } from './schemas.ts';

type Json = Record<string, unknown>;

export interface ListQuery {
  filter?: string | undefined;
  startIndex?: number | undefined;
  count?: number | undefined;
}

export interface Caller {
  client: ProvisioningClient;
  requestId?: string | undefined;
  ip?: string | undefined;
}

const notFound = (what: string) => new ScimError(404, `${what} not found`);

function page(q: ListQuery): { offset: number; limit: number; startIndex: number } {
  const startIndex = Math.max(1, Math.floor(q.startIndex ?? 1));
  const limit = Math.min(MAX_RESULTS, Math.max(0, Math.floor(q.count ?? DEFAULT_COUNT)));
  return { offset: startIndex - 1, limit, startIndex };
}

/** Checks an If-Match precondition (RFC 7644 §3.14): "*" or one of the listed versions. */
export function checkIfMatch(ifMatch: string | undefined, current: Json): void {
  if (!ifMatch) return;
  const version = (current.meta as Json).version as string;
  const wanted = ifMatch.split(',').map((v) => v.trim());
  // The version as it was given out (meta.version, ETag), or "*".
  if (!wanted.includes('*') && !wanted.includes(version)) {
    throw new ScimError(412, 'the resource changed since that version (If-Match)');
  }
}

export class ScimService {
  readonly #directory: Directory;
  readonly #roster: Roster;
  readonly #rows: ProvisioningRows;
  readonly #clock: Clock;
  readonly #import: ImportSettings;
  readonly #exclusive: Exclusive;
  readonly base: string;

  constructor(deps: { directory: Directory; roster: Roster; rows: ProvisioningRows; clock: Clock; importSettings: ImportSettings; base: string; exclusive: Exclusive }) {
    this.#exclusive = deps.exclusive;
    this.#directory = deps.directory;
    this.#roster = deps.roster;
    this.#rows = deps.rows;
    this.#clock = deps.clock;
    this.#import = deps.importSettings;
    this.base = deps.base;
  }

  #ctx(caller: Caller): RosterContext {
    return { actor: `scim:${caller.client.id}`, actorName: caller.client.name, requestId: caller.requestId, ip: caller.ip };
  }

  #visible(caller: Caller, a: Account | null): a is Account {
    return !!a && clientReaches(caller.client, a.school.code) && !a.lifecycle?.leftAt;
  }

  async #account(caller: Caller, id: string): Promise<Account> {
    const a = await this.#directory.get(id);
    if (!this.#visible(caller, a)) throw notFound(`User ${id}`);
    return a;
  }

  async #groupsOf(a: Account): Promise<ClassRef[]> {
    const classes = [...(a.class ? [a.class] : []), ...(a.formClasses ?? [])];
    const refs: ClassRef[] = [];
    for (const c of classes) {
      const record = await this.#rows.classByName(a.school.code, c.year, c.name);
      if (record) refs.push(classRef(record));
    }
    return refs;
  }

  async #userJson(caller: Caller, a: Account): Promise<Json> {
    const external = await this.#rows.externalIdsOf(caller.client.id, 'user', [a.id]);
    return userResource(this.base, a, external.get(a.id), await this.#groupsOf(a));
  }

  // --- Users ---

  async getUser(caller: Caller, id: string): Promise<Json> {
    return this.#userJson(caller, await this.#account(caller, id));
  }

  async listUsers(caller: Caller, q: ListQuery): Promise<Json> {
    const conditions = userConditions(q.filter, caller.client.id);
    const p = page(q);
    const { total, ids } = await this.#rows.accounts(caller.client.schools, conditions, p);
    const accounts = (await Promise.all(ids.map((id) => this.#directory.get(id)))).filter((a): a is Account => a !== null);
    const external = await this.#rows.externalIdsOf(caller.client.id, 'user', accounts.map((a) => a.id));
    const resources = await Promise.all(accounts.map(async (a) => userResource(this.base, a, external.get(a.id), await this.#groupsOf(a))));
    return { schemas: [URN.list], totalResults: total, startIndex: p.startIndex, itemsPerPage: resources.length, Resources: resources };
  }

  /** The school a user is to be at; its name is the directory's when the school has accounts (schoolName only names a new one). */
  async #school(caller: Caller, input: UserInput, current?: Account): Promise<{ code: string; name: string }> {
    const code = input.schoolCode ?? current?.school.code ?? (caller.client.schools.length === 1 && caller.client.schools[0] !== '*' ? caller.client.schools[0] : undefined);
    if (!code) throw invalid(`schoolCode is required (${URN.school}:schoolCode): this client provisions several schools`);
    if (!clientReaches(caller.client, code)) throw new ScimError(403, `this client may not provision school ${code}`);
    const known = current && current.school.code === code ? current.school.name : await this.#rows.schoolName(code);
    return { code, name: known ?? input.schoolName ?? code };
  }

  #future(at: number | null | undefined, name: string): void {
    if (typeof at === 'number' && at <= this.#clock()) throw invalid(`${name} is not in the future (to leave now, DELETE the user)`);
  }

  #checkDomain(input: UserInput): void {
    const allowed = this.#import.domainsByRole[input.role];
    const domain = input.loginId.split('@')[1]!;
    if (allowed && !allowed.includes(domain)) throw invalid(`userName: a ${input.role} login ID must end with @${allowed.join(' or @')}`);
  }

  async createUser(caller: Caller, body: unknown): Promise<Json> {
    const input = readUser(body, { requireSchemas: true });
    this.#checkDomain(input);
    this.#future(input.leavingDate, 'leavingDate');
    const school = await this.#school(caller, input);
    return this.#exclusive(`user-ext:${caller.client.id}:${input.externalId ?? input.loginId}`, () => this.#create(caller, input, school));
  }

  async #create(caller: Caller, input: UserInput, school: { code: string; name: string }): Promise<Json> {
    const ctx = this.#ctx(caller);
    if (input.externalId && (await this.#rows.externalTarget(caller.client.id, 'user', input.externalId))) {
      throw new ScimError(409, `externalId ${input.externalId} already names another user of this client`, 'uniqueness');
    }
    let account: Account;
    try {
      account = await this.#roster.join({ loginId: input.loginId, givenName: input.givenName, familyName: input.familyName, displayName: input.displayName, school, level: input.level, roles: [input.role] }, ctx);
    } catch (err) {
      if (err instanceof DuplicateLoginIdError) throw new ScimError(409, `userName ${input.loginId} is taken`, 'uniqueness');
      throw err;
    }
    await this.#linkExternal(caller, account.id, input.externalId);
    if (input.active === false) await this.#roster.setActive(account.id, false, ctx);
    if (input.leavingDate) await this.#roster.leave(account.id, input.leavingDate, ctx);
    return this.getUser(caller, account.id);
  }

  async #linkExternal(caller: Caller, targetId: string, externalId: string | null | undefined, kind: 'user' | 'group' = 'user'): Promise<void> {
    if (externalId === undefined) return;
    try {
      await this.#rows.setExternalId(caller.client.id, kind, targetId, externalId);
    } catch (err) {
      if (err instanceof ExternalIdTakenError) throw new ScimError(409, err.message, 'uniqueness');
      throw err;
    }
  }

  /** Makes the account what `input` says (PUT, or a PATCH's result). */
  async #applyUser(caller: Caller, a: Account, input: UserInput): Promise<void> {
    if (input.loginId !== a.loginId) throw invalid('userName cannot change (a new login ID is a new account)', 'mutability');
    this.#checkDomain(input);
    if (input.leavingDate !== a.lifecycle?.leaveAt) this.#future(input.leavingDate, 'leavingDate');
    if (input.transferDate !== undefined && input.transferDate !== null && (input.schoolCode ?? a.school.code) === a.school.code && input.transferDate !== a.lifecycle?.move?.at) {
      throw invalid('transferDate is the date a change of schoolCode takes effect: give the new schoolCode with it');
    }
    const ctx = this.#ctx(caller);
    const school = await this.#school(caller, input, a);
    await this.#linkExternal(caller, a.id, input.externalId === undefined ? undefined : input.externalId);
    // Administrators keep their administrator roles; provisioning changes only student/staff.
    const adminRoles = a.roles.filter((r) => r === 'school-admin' || r === 'ministry-admin');
    const roles = [input.role, ...adminRoles];
    const keepClass = input.role === 'student' && a.roles.includes('student') ? undefined : null;
    await this.#roster.update(a.id, { givenName: input.givenName, familyName: input.familyName, displayName: input.displayName, level: input.level, roles, ...(keepClass === null ? { class: null } : {}) }, ctx);
    if (school.code !== a.school.code || (a.lifecycle?.move && input.transferDate === null)) {
      await this.#roster.move(a.id, { school, class: null }, input.transferDate ?? null, ctx);
    } else if (school.name !== a.school.name) {
      await this.#directory.update(a.id, (cur) => (cur.school.code === school.code ? { ...cur, school } : null));
    }
    if (input.leavingDate !== undefined) {
      if (input.leavingDate === null) {
        if (a.lifecycle?.leaveAt) await this.#roster.rejoin(a.id, ctx);
      } else {
        await this.#roster.leave(a.id, input.leavingDate, ctx);
      }
    }
    if (input.active !== undefined) await this.#roster.setActive(a.id, input.active, ctx);
  }

  async replaceUser(caller: Caller, id: string, body: unknown, ifMatch?: string): Promise<Json> {
    return this.#exclusive(`user:${id}`, () => this.#replaceUser(caller, id, body, ifMatch));
  }

  async #replaceUser(caller: Caller, id: string, body: unknown, ifMatch?: string): Promise<Json> {
    const a = await this.#account(caller, id);
    checkIfMatch(ifMatch, await this.#userJson(caller, a));
    const input = readUser(body, { requireSchemas: true });
    // PUT replaces: what is absent is cleared (a scheduled leave or transfer is called off).
    await this.#applyUser(caller, a, { ...input, transferDate: input.transferDate ?? null, leavingDate: input.leavingDate ?? null, externalId: input.externalId ?? null });
    return this.getUser(caller, id);
  }

  async patchUser(caller: Caller, id: string, body: unknown, ifMatch?: string): Promise<Json> {
    return this.#exclusive(`user:${id}`, async () => {
      const a = await this.#account(caller, id);
      const current = await this.#userJson(caller, a);
      checkIfMatch(ifMatch, current);
      const next = applyPatch(current, body, USER_PATHS);
      const ext = (next[URN.school] ?? {}) as Json;
      if (ext.schoolCode === undefined || ext.schoolCode === null || ext.schoolCode === '') throw invalid('schoolCode cannot be removed (a change of school is a transfer)', 'mutability');
      const input = readUser(next, { requireSchemas: false });
      // An externalId removed (or emptied) by the patch is forgotten.
      await this.#applyUser(caller, a, { ...input, externalId: next.externalId === undefined || next.externalId === null || next.externalId === '' ? (current.externalId === undefined ? undefined : null) : input.externalId });
      return this.getUser(caller, id);
    });
  }

  async deleteUser(caller: Caller, id: string, ifMatch?: string): Promise<void> {
    await this.#exclusive(`user:${id}`, async () => {
      const a = await this.#account(caller, id);
      checkIfMatch(ifMatch, await this.#userJson(caller, a));
      await this.#roster.leave(a.id, null, this.#ctx(caller));
    });
  }

  // --- Groups (classes) ---

  /**
   * Classes given to accounts elsewhere (the admin CSV, /admin, the CLI, seeds) become
   * Groups too: what a client sees is the school's real classes (looked for at most every
   * 10 s per client and process).
   */
  async #adopt(caller: Caller): Promise<void> {
    const key = caller.client.id;
    const now = Date.now();
    if ((this.#adopted.get(key) ?? 0) > now - 10_000) return;
    if (this.#adopted.size > 1000) this.#adopted.clear();
    this.#adopted.set(key, now);
    await this.#rows.adoptClasses(caller.client.schools, this.#clock());
  }

  readonly #adopted = new Map<string, number>();

  async #class(caller: Caller, id: string): Promise<ClassRecord> {
    await this.#adopt(caller);
    const c = await this.#rows.classById(id);
    if (!c || !clientReaches(caller.client, c.schoolCode)) throw notFound(`Group ${id}`);
    return c;
  }

  async #members(c: ClassRecord): Promise<Account[]> {
    const k: SchoolClass = { year: c.year, name: c.name };
    const [students, teachers] = await Promise.all([this.#directory.inClass(c.schoolCode, k), this.#directory.teachersOf(c.schoolCode, k)]);
    return [...teachers, ...students].filter((a) => !a.lifecycle?.leftAt);
  }

  async #groupJson(caller: Caller, c: ClassRecord): Promise<Json> {
    const external = await this.#rows.externalIdsOf(caller.client.id, 'group', [c.id]);
    const members = await this.#members(c);
    // Who is in a class lives on the accounts: the class changed when one of them did.
    const lastModified = Math.max(c.updatedAt, ...members.map((m) => m.updatedAt));
    return groupResource(this.base, { ...c, updatedAt: lastModified }, external.get(c.id), members);
  }

  async getGroup(caller: Caller, id: string): Promise<Json> {
    return this.#groupJson(caller, await this.#class(caller, id));
  }

  async listGroups(caller: Caller, q: ListQuery): Promise<Json> {
    const cond = groupConditions(q.filter);
    await this.#adopt(caller);
    const p = page(q);
    let rows: ClassRecord[];
    let total: number;
    if (cond.id !== undefined || cond.member !== undefined) {
      // Few classes per school: the rest of the filter is applied to the school's classes.
      const all = cond.id !== undefined
        ? [await this.#rows.classById(cond.id)].filter((c): c is ClassRecord => c !== null && clientReaches(caller.client, c.schoolCode))
        : (await this.#rows.classes(caller.client.schools, { offset: 0, limit: 100_000 }, cond.displayName, cond.externalId ? { clientId: caller.client.id, ...cond.externalId } : undefined)).rows;
      const external = await this.#rows.externalIdsOf(caller.client.id, 'group', all.map((c) => c.id));
      const matching: ClassRecord[] = [];
      for (const c of all) {
        if (cond.displayName && (cond.displayName.op === 'eq' ? c.name !== cond.displayName.value : !c.name.startsWith(cond.displayName.value))) continue;
        if (cond.externalId) {
          const e = external.get(c.id);
          if (e === undefined || (cond.externalId.op === 'eq' ? e !== cond.externalId.value : !e.startsWith(cond.externalId.value))) continue;
        }
        if (cond.member !== undefined && !(await this.#members(c)).some((m) => m.id === cond.member)) continue;
        matching.push(c);
      }
      total = matching.length;
      rows = matching.slice(p.offset, p.offset + p.limit);
    } else {
      ({ total, rows } = await this.#rows.classes(caller.client.schools, p, cond.displayName, cond.externalId ? { clientId: caller.client.id, ...cond.externalId } : undefined));
    }
    const resources = await Promise.all(rows.map((c) => this.#groupJson(caller, c)));
    return { schemas: [URN.list], totalResults: total, startIndex: p.startIndex, itemsPerPage: resources.length, Resources: resources };
  }

  async createGroup(caller: Caller, body: unknown): Promise<Json> {
    await this.#adopt(caller);
    const input = readGroup(body, { requireSchemas: true });
    const name = normaliseClassName(input.displayName);
    if (!name) throw invalid('displayName must be a class name: 1 to 20 of A-Z, 0-9, space . / - (e.g. 4A)');
    const schoolCode = input.schoolCode ?? (caller.client.schools.length === 1 && caller.client.schools[0] !== '*' ? caller.client.schools[0] : undefined);
    if (!schoolCode) throw invalid(`schoolCode is required (${URN.classOf}:schoolCode): this client provisions several schools`);
    if (!clientReaches(caller.client, schoolCode)) throw new ScimError(403, `this client may not provision school ${schoolCode}`);
    if (input.externalId && (await this.#rows.externalTarget(caller.client.id, 'group', input.externalId))) {
      throw new ScimError(409, `externalId ${input.externalId} already names another group of this client`, 'uniqueness');
    }
    const now = this.#clock();
    let c: ClassRecord;
    try {
      c = await this.#rows.addClass({ id: newId(12), schoolCode, year: input.year ?? schoolYear(now), name, createdAt: now, updatedAt: now });
    } catch (err) {
      if (err instanceof ClassExistsError) throw new ScimError(409, err.message, 'uniqueness');
      throw err;
    }
    await this.#roster.classChanged('class.created', c.schoolCode, `${c.name} (${c.year})`, this.#ctx(caller));
    await this.#linkExternal(caller, c.id, input.externalId, 'group');
    if (input.members?.length) await this.#setMembers(caller, c, [], input.members);
    return this.getGroup(caller, c.id);
  }

  /** Adds and removes members: a student's class becomes (or stops being) this one; staff become (or stop being) its form teachers. */
  async #setMembers(caller: Caller, c: ClassRecord, before: string[], after: string[]): Promise<void> {
    const k: SchoolClass = { year: c.year, name: c.name };
    const ctx = this.#ctx(caller);
    const added = [...new Set(after)].filter((id) => !before.includes(id));
    const removed = before.filter((id) => !after.includes(id));
    // Checked first: a refused member leaves the class as it was.
    const adding = await Promise.all(added.map(async (id) => {
      const a = await this.#directory.get(id);
      if (!this.#visible(caller, a) || a.school.code !== c.schoolCode) throw invalid(`members: ${id} is not a user of school ${c.schoolCode}`);
      if (!isStudentOnly(a) && !mayTeach(a)) throw invalid(`members: ${id} can be neither a student nor a form teacher`);
      return a;
    }));
    for (const a of adding) {
      if (isStudentOnly(a)) await this.#roster.assignClass(a.id, k, ctx);
      else await this.#roster.teach(a.id, k, true, ctx);
    }
    for (const id of removed) {
      const a = await this.#directory.get(id);
      if (!a) continue;
      if (sameClass(a.class, k)) await this.#roster.assignClass(a.id, null, ctx);
      if ((a.formClasses ?? []).some((f) => sameClass(f, k))) await this.#roster.teach(a.id, k, false, ctx);
    }
    if (added.length || removed.length) await this.#rows.touchClass(c.id, this.#clock());
  }

  async #applyGroup(caller: Caller, c: ClassRecord, current: Json, next: Json, replace: boolean): Promise<void> {
    const input = readGroup(next, { requireSchemas: false });
    const name = normaliseClassName(input.displayName);
    if (!name) throw invalid('displayName must be a class name: 1 to 20 of A-Z, 0-9, space . / - (e.g. 4A)');
    const ext = ((canonical(next) as Json)[URN.classOf] ?? {}) as Json;
    if ((ext.schoolCode !== undefined && ext.schoolCode !== c.schoolCode) || (ext.year !== undefined && Number(ext.year) !== c.year)) {
      throw invalid('a class\'s schoolCode and year cannot change (create another class)', 'mutability');
    }
    await this.#linkExternal(caller, c.id, replace ? (input.externalId ?? null) : input.externalId, 'group');
    const before = ((current.members as Json[] | undefined) ?? []).map((m) => m.value as string);
    await this.#setMembers(caller, c, before, input.members ?? []);
    if (name !== c.name) {
      const now = this.#clock();
      try {
        await this.#rows.renameClass(c.id, name, now);
      } catch (err) {
        if (err instanceof ClassExistsError) throw new ScimError(409, err.message, 'uniqueness');
        throw err;
      }
      await this.#roster.renameClass(c.schoolCode, { year: c.year, name: c.name }, { year: c.year, name }, this.#ctx(caller));
      await this.#roster.classChanged('class.renamed', c.schoolCode, `${c.name} (${c.year}) to ${name}`, this.#ctx(caller));
    }
  }

  async replaceGroup(caller: Caller, id: string, body: unknown, ifMatch?: string): Promise<Json> {
    return this.#exclusive(`group:${id}`, async () => {
      const c = await this.#class(caller, id);
      const current = await this.#groupJson(caller, c);
      checkIfMatch(ifMatch, current);
      readGroup(body, { requireSchemas: true });
      await this.#applyGroup(caller, c, current, body as Json, true);
      return this.getGroup(caller, id);
    });
  }

  async patchGroup(caller: Caller, id: string, body: unknown, ifMatch?: string): Promise<Json> {
    return this.#exclusive(`group:${id}`, async () => {
      const c = await this.#class(caller, id);
      const current = await this.#groupJson(caller, c);
      checkIfMatch(ifMatch, current);
      await this.#applyGroup(caller, c, current, applyPatch(current, body, GROUP_PATHS), false);
      return this.getGroup(caller, id);
    });
  }

  async deleteGroup(caller: Caller, id: string, ifMatch?: string): Promise<void> {
    await this.#exclusive(`group:${id}`, async () => {
      const c = await this.#class(caller, id);
      const current = await this.#groupJson(caller, c);
      checkIfMatch(ifMatch, current);
      await this.#roster.renameClass(c.schoolCode, { year: c.year, name: c.name }, null, this.#ctx(caller));
      await this.#rows.deleteClass(c.id);
      await this.#roster.classChanged('class.deleted', c.schoolCode, `${c.name} (${c.year})`, this.#ctx(caller));
    });
  }
}

/** What a PATCH may name, per resource type: top-level attributes and their sub-attributes. */
interface PatchPaths {
  writable: Record<string, readonly string[] | null>;
  /** Named in a path: 400 mutability. */
  readOnly: readonly string[];
  /** Never removed: 400 mutability. */
  required: readonly string[];
}

export const USER_PATHS: PatchPaths = {
  writable: { externalId: null, name: ['givenName', 'familyName'], displayName: null, userType: null, active: null, [URN.school]: ['schoolCode', 'schoolName', 'level', 'transferDate', 'leavingDate'], userName: null },
  readOnly: ['id', 'emails', 'groups', 'meta', 'schemas', 'name.formatted'],
  required: ['userName', 'name', 'name.givenName', 'name.familyName', 'userType', 'active', `${URN.school}:schoolCode`, URN.school],
};

export const GROUP_PATHS: PatchPaths = {
  writable: { externalId: null, displayName: null, members: null, [URN.classOf]: ['schoolCode', 'year'] },
  readOnly: ['id', 'meta', 'schemas'],
  required: ['displayName', URN.classOf, `${URN.classOf}:schoolCode`, `${URN.classOf}:year`],
};

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The attribute a path names, as [top, sub]: "name.givenName" -> ["name", "givenName"], "urn:…:User:level" -> [urn, "level"], "members[value eq "x"]" -> ["members", undefined]. */
function pathParts(path: string): [string, string | undefined] {
  for (const urn of [URN.school, URN.classOf]) {
    if (path === urn) return [urn, undefined];
    if (path.startsWith(`${urn}:`)) return [urn, path.slice(urn.length + 1).split(/[.[]/)[0]];
  }
  const top = path.split(/[.[]/)[0]!;
  const rest = path.slice(top.length);
  return [top, rest.startsWith('.') ? rest.slice(1).split(/[.[]/)[0] : undefined];
}

/**
 * One client operation as the operations scim-patch applies: complex values without a path
 * (or with the path of a complex attribute) become one operation per sub-attribute, so that
 * what they do not name is left as it is (RFC 7644 §3.5.2.1, §3.5.2.3); members removed by
 * value (as Entra ID sends it) become one removal per member.
 */
function expand(o: { op: 'add' | 'replace' | 'remove'; path?: string; value?: unknown }, paths: PatchPaths, i: number): Array<{ op: 'add' | 'replace' | 'remove'; path?: string; value?: unknown }> {
  const complex = (key: string) => Array.isArray(paths.writable[key]);
  const subPath = (key: string, sub: string) => (key.startsWith('urn:') ? `${key}:${sub}` : `${key}.${sub}`);
  if (o.op === 'remove' && o.path === 'members' && Array.isArray(o.value) && o.value.length > 0) {
    return o.value.map((m, k) => {
      const id = m && typeof m === 'object' ? (m as Json).value : undefined;
      if (typeof id !== 'string' || !ID.test(id)) throw invalid(`Operations[${i}].value[${k}].value must be a user's id`);
      return { op: 'remove' as const, path: `members[value eq "${id}"]` };
    });
  }
  if (o.op !== 'remove' && o.value && typeof o.value === 'object' && !Array.isArray(o.value) && (o.path === undefined || complex(o.path))) {
    const entries = Object.entries(canonical(o.value) as Json);
    if (entries.length === 0) throw invalid(`Operations[${i}].value names no attribute`, 'invalidValue');
    return entries.flatMap(([k, v]) => {
      const key = o.path === undefined ? canonicalPath(k) : subPath(o.path, canonicalPath(k));
      return expand({ op: o.op, path: key, value: v }, paths, i);
    });
  }
  if (o.path === undefined) throw invalid(`Operations[${i}]: without a path, the value must be an object of attributes`, 'invalidValue');
  return [o];
}

/** Whether a path names something the resource has and a client may change; throws the SCIM error that says why not. */
function checkPath(op: string, path: string, paths: PatchPaths, i: number): void {
  const [top, sub] = pathParts(path);
  const named = sub === undefined ? top : top.startsWith('urn:') ? `${top}:${sub}` : `${top}.${sub}`;
  if (paths.readOnly.includes(top) || paths.readOnly.includes(named)) throw invalid(`Operations[${i}]: ${named} cannot be changed`, 'mutability');
  if (!(top in paths.writable)) throw invalid(`Operations[${i}]: no attribute ${top}`, 'invalidPath');
  const subs = paths.writable[top];
  if (sub !== undefined && subs && !subs.includes(sub)) throw invalid(`Operations[${i}]: no attribute ${named}`, 'invalidPath');
  if (sub !== undefined && subs === null && !path.includes('[')) throw invalid(`Operations[${i}]: ${top} has no sub-attribute ${sub}`, 'invalidPath');
  if (op === 'remove' && (paths.required.includes(named) || paths.required.includes(top) && sub === undefined)) throw invalid(`Operations[${i}]: ${named} cannot be removed`, 'mutability');
}

/** A PATCH request (RFC 7644 §3.5.2) applied to a resource, by scim-patch; its errors become 400s. */
export function applyPatch(current: Json, body: unknown, paths: PatchPaths): Json {
  const b = canonical(body) as Json;
  if (!b || typeof b !== 'object' || !Array.isArray(b.schemas) || !b.schemas.some((s) => typeof s === 'string' && s.toLowerCase() === URN.patch.toLowerCase())) {
    throw invalid(`a PATCH body has schemas [${URN.patch}]`, 'invalidSyntax');
  }
  if (!Array.isArray(b.Operations) || b.Operations.length === 0) throw invalid('Operations must be a non-empty list', 'invalidSyntax');
  if (b.Operations.length > 1000) throw invalid('at most 1000 Operations', 'tooMany');
  const operations = b.Operations.flatMap((o, i): ScimPatchOperation[] => {
    if (!o || typeof o !== 'object') throw invalid(`Operations[${i}] must be an object`, 'invalidSyntax');
    const op = String((o as Json).op ?? '').toLowerCase();
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw invalid(`Operations[${i}].op must be add, replace or remove`, 'invalidSyntax');
    const path = (o as Json).path;
    if (path !== undefined && (typeof path !== 'string' || !path.trim())) throw invalid(`Operations[${i}].path must be an attribute path`, 'invalidPath');
    if (op === 'remove' && !path) throw invalid(`Operations[${i}]: remove needs a path`, 'noTarget');
    const value = (o as Json).value;
    if (op !== 'remove' && value === undefined) throw invalid(`Operations[${i}]: ${op} needs a value`, 'invalidValue');
    return expand({ op, ...(path ? { path: canonicalPath(path) } : {}), ...(value !== undefined ? { value } : {}) }, paths, i).map((e) => {
      checkPath(e.op, e.path!, paths, i);
      return e as ScimPatchOperation;
    });
  });
  if (operations.length > 1000) throw invalid('at most 1000 operations', 'tooMany');
  const resource = structuredClone(current) as Json;
  delete resource.meta;
  try {
    const meta = { created: new Date(0), lastModified: new Date(0) };
    const patched = scimPatch({ ...resource, meta } as unknown as ScimResource, operations, { mutateDocument: false, treatMissingAsAdd: true }) as unknown as Json;
    delete patched.meta;
    return patched;
  } catch (err) {
    const e = err as { scimCode?: string };
    throw invalid('the operations cannot be applied to this resource (a filter that matches nothing, or a value of the wrong kind)', e.scimCode ?? 'invalidValue');
  }
}

export { versionOf };
