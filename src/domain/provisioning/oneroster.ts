// OneRoster 1.2 CSV bulk import (README "Provisioning"): a zip of orgs, academicSessions,
// classes, users, roles and enrollments, as a student information system exports it.
//
//   plan(zip)   reads and checks every file and line (the admin CSV's rules: login IDs are
//               email addresses of the role's domains, names without invisible characters,
//               levels P1..JC2, class names) and says what a commit would do, per user:
//               create, update, move, leave, unchanged, skipped or error. Writes nothing.
//   apply(plan) makes those changes through the Roster (join, update, move, leave, rejoin,
//               setActive), 8 at a time, as one job (a lease in the store: one import at a
//               time), with progress, ending with one `roster.import` audit event. A re-run
//               of the same zip after a crash completes it (each step is idempotent, and a
//               new plan sees what the first run did).
//
// What the files mean here:
//   - a bulk export is a full snapshot of the schools its orgs.csv names (orgs of type
//     "school"; the school code is `identifier`, or the sourcedId without one). Accounts of
//     other schools are never touched: a user whose account is at a school the file does not
//     name is an error line. A user of those schools linked to this source (a sourcedId it
//     gave before) who is absent from users.csv, or has status "tobedeleted", leaves now
//     (disabled, sessions ended, apps told by back channel; deleted after the population's
//     retention). A whole school leaving, or more than a quarter of its linked users (from 5,
//     counting those who left in the last 30 days), is refused unless allowMassLeave: a
//     users.csv cut short must not empty a school, at once or a slice at a time;
//   - a file that cannot be read as a whole (encoding, header, an unclosed quote) refuses the
//     import, even with error lines left out; an administrator's line that would change them
//     is an error line, and an absent administrator does not leave; an account another
//     source holds is an error line (one source keeps an account);
//   - delta exports (manifest file.* = delta) are refused: export a bulk snapshot;
//   - roles: student -> student; teacher, aide, administrator, principal, proctor, counselor,
//     site/district/system administrator -> staff (a roster never makes an administrator; an
//     administrator role an account has is kept); guardian, parent, relative -> skipped;
//   - the login ID is `username` when it is an email address, else `email`; it never changes
//     by import (a sourcedId whose login ID differs from its account's is an error line);
//   - grades (CEDS): 01-06 -> P1-P6, 07-11 -> S1-S5, 12 -> JC1, 13 -> JC2; a student needs one;
//   - enabledUser=false disables the account (sessions end). enabledUser=true never enables:
//     an account an administrator disabled stays so until an administrator enables it;
//   - classes: only homeroom classes are form classes (scheduled ones are skipped): a
//     student enrolled in one belongs to it (Account.class), a teacher enrolled in one is its
//     form teacher (Account.formClasses, for the years of the file's classes; other years
//     kept). The class name is classCode (else title), its year the schoolYear of its first
//     term. Without enrollments.csv, classes are left as they are;
//   - a primaryOrg (school) that changes is a move (Roster.move, now); another class in the
//     same school is an update.
// The source's sourcedIds are kept as externalIds of a provisioning client named
// "oneroster:<source>", created revoked (no token authenticates as it).
import { createHash, randomBytes } from 'node:crypto';
import { LEVELS, normaliseLoginId, ROLES, type Account, type Level, type Role, type School, type SchoolClass } from '../accounts/account.ts';
import { DuplicateLoginIdError, type Directory } from '../accounts/directory.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { classLabel, isStudentOnly, mayTeach, normaliseClassName, parseYear, sameClass } from '../classes/classes.ts';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import { hasInvisibleCharacters } from '../text.ts';
import { keys, StoreUnavailableError, type Store } from '../../store/index.ts';
import type { ProvisioningRows } from '../../store/directory/provisioning.ts';
import type { Database } from '../../store/database/index.ts';
import { list, ONEROSTER_FILES, OTHER_SPEC_FILES, parseOneRosterCsv, type CsvRecord, type LineMessage, type OneRosterFile } from './oneroster-csv.ts';
import { OneRosterRows } from './oneroster-rows.ts';
import { OneRosterFileError, readZip, ZIP_LIMITS, type ZipLimits } from './oneroster-zip.ts';
import type { Roster, RosterContext, RosterPerson } from './roster.ts';
import { isAdministrator } from './roster.ts';
import { mapLimit } from '../map-limit.ts';

/** Leavers of one school (with those of the last 30 days) from which the quarter rule applies; fewer always pass, unless the whole school. */
const MASS_LEAVE_FLOOR = 5;
const MASS_LEAVE_WINDOW_MS = 30 * 86_400_000;

export { OneRosterFileError } from './oneroster-zip.ts';
export type { LineMessage } from './oneroster-csv.ts';

export const ONEROSTER_CONCURRENCY = 8;
const SOURCE = /^[A-Za-z0-9._-]{1,60}$/;
const MAX_USERS = 500_000;
const LEASE_MS = 60_000;
const LINK_BATCH = 500;

export interface OneRosterSettings {
  /** Login ID domains allowed per role (the admin import's: import.domainsByRole). */
  domainsByRole: Record<string, string[]>;
}

export interface PlanOptions {
  /** Names the student information system; its sourcedIds are its own. Default "default". */
  source?: string;
  /** Lets more than a quarter of a school's linked users leave in one import. */
  allowMassLeave?: boolean;
}

export interface FileReport {
  file: string;
  /** Data lines read (the header not counted). */
  rows: number;
  skipped: number;
  errors: LineMessage[];
  warnings: LineMessage[];
}

export type ChangeKind = 'create' | 'update' | 'move' | 'leave' | 'unchanged';

/** What the roster says a user is (the account after the commit). */
export interface Desired {
  loginId: string;
  givenName: string;
  familyName: string;
  displayName: string;
  school: School;
  level: Level | null;
  roles: Role[];
  /** A student's class; undefined: kept (no enrollments.csv, or not a student). */
  class?: SchoolClass | null;
  /** A teacher's form classes after the commit; undefined: kept. */
  formClasses?: SchoolClass[];
  enabled: boolean;
}

export interface UserChange {
  kind: ChangeKind;
  sourcedId: string;
  loginId: string;
  /** users.csv line (0 for a leaver absent from the file). */
  line: number;
  accountId?: string;
  /** What changes, in words: "class 4A (2027) -> 4B (2027)", "school S1 -> S2", "link". */
  steps: string[];
  desired?: Desired;
  /** Steps for apply. */
  rejoin?: boolean;
  move?: boolean;
  setFormClasses?: boolean;
  disable?: boolean;
  link?: boolean;
}

export interface ClassChange {
  kind: 'create' | 'update' | 'unchanged';
  sourcedId: string;
  line: number;
  school: School;
  year: number;
  name: string;
  /** The class's record when it exists. */
  classId?: string;
}

export interface Counts {
  create: number;
  update: number;
  move: number;
  leave: number;
  unchanged: number;
  skipped: number;
  error: number;
}

export interface Plan {
  source: string;
  /** sha256 of the zip (base64url), for the audit trail. */
  digest: string;
  plannedAt: number;
  files: FileReport[];
  /** The schools the file names (its snapshot's reach). */
  schools: School[];
  /** Users (users.csv lines and leavers). */
  counts: Counts;
  classCounts: { create: number; update: number; unchanged: number; skipped: number; error: number };
  /** Every line with an error, in every file. */
  errors: number;
  /** Why no commit may apply this plan, even leaving the error lines out (a mass leave not allowed). */
  refusals: string[];
  users: UserChange[];
  classes: ClassChange[];
}

export interface Progress {
  done: number;
  total: number;
}

export interface ApplyOptions {
  /** Commits a plan with error lines (they are left as they are; their users never leave). */
  allowErrors?: boolean;
  /** Who runs it (an operator, `cli:alice`), for the audit trail. */
  actorName?: string;
  onProgress?: (p: Progress) => void;
}

export interface ApplyResult {
  counts: Counts;
  classes: { created: number; linked: number };
  /** Users whose change failed (the rest were applied); the same import again retries them. */
  failed: Array<{ sourcedId: string; loginId: string; line: number; message: string }>;
  ms: number;
}

/** Another import holds the lease. */
export class OneRosterBusyError extends Error {
  override name = 'OneRosterBusyError';
}

/** The store failed part-way: what was done stays done; the same import again completes it. */
export class OneRosterInterruptedError extends Error {
  override name = 'OneRosterInterruptedError';
  readonly done: number;

  constructor(done: number, total: number, cause: Error) {
    super(`the store failed part-way (${cause.message}) after ${done} of ${total} changes; run the same import again to complete it`, { cause });
    this.done = done;
  }
}

// --- vocabulary ---

const STAFF_ROLES = new Set(['teacher', 'aide', 'administrator', 'principal', 'proctor', 'counselor', 'siteAdministrator', 'districtAdministrator', 'systemAdministrator']);
const FAMILY_ROLES = new Set(['guardian', 'parent', 'relative']);
const ADMIN_ROLES: readonly Role[] = ['school-admin', 'ministry-admin'];

/** A OneRoster role as an account role: 'guardian' (not an account here) or null (unknown). */
export function roleOf(raw: string): Role | 'guardian' | null {
  if (raw === 'student') return 'student';
  if (STAFF_ROLES.has(raw)) return 'staff';
  if (FAMILY_ROLES.has(raw)) return 'guardian';
  return null;
}

/** A CEDS grade (01..13) as a level; our own level names are taken too. */
export function levelOfGrade(raw: string): Level | null {
  const v = raw.trim().toUpperCase();
  if ((LEVELS as readonly string[]).includes(v)) return v as Level;
  if (!/^\d{1,2}$/.test(v)) return null;
  const n = Number(v);
  if (n >= 1 && n <= 6) return `P${n}` as Level;
  if (n >= 7 && n <= 11) return `S${n - 6}` as Level;
  if (n === 12) return 'JC1';
  if (n === 13) return 'JC2';
  return null;
}

const SPEC_FILE_KEYS: Record<string, OneRosterFile> = {
  orgs: 'orgs.csv', academicSessions: 'academicSessions.csv', classes: 'classes.csv', users: 'users.csv', roles: 'roles.csv', enrollments: 'enrollments.csv',
};

// --- the plan ---

/** A user line as read: what the roster says of the user, before classes are known. */
interface UserLine extends Omit<Desired, 'class' | 'formClasses'> {
  sourcedId: string;
  line: number;
}

interface HomeroomClass {
  sourcedId: string;
  line: number;
  school: School;
  schoolSourcedId: string;
  year: number;
  name: string;
}

function emptyCounts(): Counts {
  return { create: 0, update: 0, move: 0, leave: 0, unchanged: 0, skipped: 0, error: 0 };
}

function today(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

/** A date column (YYYY-MM-DD, or a full date-time) as YYYY-MM-DD, or null when empty; 'invalid' when not a date. */
function dateOf(raw: string): string | null | 'invalid' {
  if (!raw) return null;
  return /^\d{4}-\d{2}-\d{2}/.test(raw) && !Number.isNaN(Date.parse(raw.slice(0, 10))) ? raw.slice(0, 10) : 'invalid';
}

function sameClasses(a: readonly SchoolClass[] | undefined, b: readonly SchoolClass[] | undefined): boolean {
  const key = (l: readonly SchoolClass[] | undefined) => (l ?? []).map((c) => `${c.year}\u0000${c.name}`).sort().join('\u0001');
  return key(a) === key(b);
}

export class OneRosterImport {
  readonly #directory: Directory;
  readonly #roster: Roster;
  readonly #rows: ProvisioningRows;
  readonly #reads: OneRosterRows;
  readonly #audit: AuditLog;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #settings: OneRosterSettings;
  readonly #limits: ZipLimits;

  constructor(deps: { directory: Directory; roster: Roster; rows: ProvisioningRows; database: Database; audit: AuditLog; store: Store; clock: Clock; settings: OneRosterSettings; zipLimits?: ZipLimits }) {
    this.#directory = deps.directory;
    this.#roster = deps.roster;
    this.#rows = deps.rows;
    this.#reads = new OneRosterRows(deps.database);
    this.#audit = deps.audit;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
    this.#limits = deps.zipLimits ?? ZIP_LIMITS;
  }

  /** The provisioning client holding this source's sourcedIds, or null before its first commit. */
  async #client(source: string): Promise<string | null> {
    return (await this.#rows.clients()).find((c) => c.name === `oneroster:${source}`)?.id ?? null;
  }

  /**
   * Checks every file and line of the zip and says what a commit would do; writes nothing.
   * Throws OneRosterFileError when the zip as a whole cannot be taken (not a zip, too large,
   * folders, a delta export, orgs.csv or users.csv missing).
   */
  async plan(zip: Uint8Array, options: PlanOptions = {}): Promise<Plan> {
    const source = options.source ?? 'default';
    if (!SOURCE.test(source)) throw new OneRosterFileError(`source: "${source}" is not a source name (1 to 60 letters, digits, . _ -)`);
    const now = this.#clock();
    const { files: raw, ignored } = readZip(zip, this.#limits);
    const reports = new Map<string, FileReport>();
    const report = (file: string): FileReport => {
      let r = reports.get(file);
      if (!r) reports.set(file, (r = { file, rows: 0, skipped: 0, errors: [], warnings: [] }));
      return r;
    };
    // Names as the specification spells them, whatever case the zip has.
    const byLower = new Map([...raw.keys()].map((n) => [n.toLowerCase(), n]));
    const dataOf = (file: string): Buffer | undefined => {
      const name = byLower.get(file.toLowerCase());
      return name === undefined ? undefined : raw.get(name);
    };
    for (const name of ignored) report('(zip)').warnings.push({ line: 0, message: `${name}: not read (operating-system clutter)` });
    for (const name of raw.keys()) {
      const known = Object.keys(ONEROSTER_FILES).find((f) => f.toLowerCase() === name.toLowerCase());
      if (known) continue;
      const spec = OTHER_SPEC_FILES.find((f) => f.toLowerCase() === name.toLowerCase());
      report(name).warnings.push({ line: 0, message: spec ? 'not imported (this import reads orgs, academicSessions, classes, users, roles and enrollments)' : 'not a OneRoster file: not read' });
    }

    const parsed = (file: OneRosterFile) => {
      const data = dataOf(file);
      if (!data) return null;
      const p = parseOneRosterCsv(file, data);
      const r = report(file);
      r.rows = p.records.length + p.errors.filter((e) => e.line > 1).length;
      r.errors.push(...p.errors);
      r.warnings.push(...p.warnings);
      return p;
    };

    // manifest.csv: which files are bulk; delta is refused.
    const manifest = parsed('manifest.csv');
    const absent = new Set<OneRosterFile>();
    if (manifest) {
      const props = new Map(manifest.records.map((r) => [r.get('propertyName'), { value: r.get('value'), line: r.line }]));
      const version = props.get('oneroster.version')?.value;
      if (version && !['1.1', '1.2'].includes(version)) report('manifest.csv').warnings.push({ line: props.get('oneroster.version')!.line, message: `oneroster.version ${version}: read as 1.2` });
      for (const [key, { value, line }] of props) {
        if (!key.startsWith('file.')) continue;
        const file = SPEC_FILE_KEYS[key.slice(5)];
        const mode = value.toLowerCase();
        if (mode === 'delta') throw new OneRosterFileError(`manifest.csv line ${line}: ${key} is a delta file; this import takes bulk exports only (a full snapshot of the schools): export again as bulk`);
        if (mode !== 'bulk' && mode !== 'absent') {
          report('manifest.csv').errors.push({ line, message: `${key}: "${value}" is not bulk, delta or absent` });
          continue;
        }
        if (!file) continue;
        if (mode === 'absent') {
          absent.add(file);
          if (dataOf(file)) report(file).warnings.push({ line: 0, message: `the manifest says ${key}=absent: not read` });
        } else if (!dataOf(file)) {
          report('manifest.csv').errors.push({ line, message: `${key}=bulk but the zip has no ${file}` });
        }
      }
    } else {
      report('manifest.csv').warnings.push({ line: 0, message: 'no manifest.csv: every file the zip has is read as a bulk file' });
    }
    const read = (file: OneRosterFile) => (absent.has(file) ? null : parsed(file));

    const orgsFile = read('orgs.csv');
    const usersFile = read('users.csv');
    if (!orgsFile) throw new OneRosterFileError('The zip has no orgs.csv: it names the schools the import is a snapshot of.');
    if (!usersFile) throw new OneRosterFileError('The zip has no users.csv.');
    const sessionsFile = read('academicSessions.csv');
    const classesFile = read('classes.csv');
    const rolesFile = read('roles.csv');
    const enrollmentsFile = read('enrollments.csv');

    const statusOf = (file: string, r: CsvRecord): 'active' | 'tobedeleted' | null => {
      const s = r.get('status');
      if (s === '' || s === 'active') return 'active';
      if (s === 'tobedeleted') return 'tobedeleted';
      report(file).errors.push({ line: r.line, message: `status: "${s}" is not active or tobedeleted` });
      return null;
    };

    // orgs.csv: the schools.
    const orgs = new Map<string, { type: string; line: number }>();
    const schools = new Map<string, School>();
    const codes = new Map<string, number>();
    for (const r of orgsFile.records) {
      const rep = report('orgs.csv');
      const id = r.get('sourcedId');
      if (!id) {
        rep.errors.push({ line: r.line, message: 'sourcedId: required' });
        continue;
      }
      if (orgs.has(id)) {
        rep.errors.push({ line: r.line, message: `sourcedId: ${id} is also line ${orgs.get(id)!.line}` });
        continue;
      }
      const status = statusOf('orgs.csv', r);
      const type = r.get('type');
      orgs.set(id, { type, line: r.line });
      if (type !== 'school' || status !== 'active') {
        rep.skipped++;
        continue;
      }
      const code = r.get('identifier') || id;
      const name = r.get('name');
      const errors: string[] = [];
      if (!name) errors.push('name: required');
      if (code.length > 40) errors.push(`identifier: the school code "${code.slice(0, 40)}…" is longer than 40 characters`);
      if (name.length > 200) errors.push('name: longer than 200 characters');
      if (hasInvisibleCharacters(code)) errors.push('identifier: contains invisible or control characters (such as zero-width spaces or direction marks)');
      if (hasInvisibleCharacters(name)) errors.push('name: contains invisible or control characters (such as zero-width spaces or direction marks)');
      if (codes.has(code)) errors.push(`identifier: school code ${code} is also line ${codes.get(code)}`);
      if (errors.length) {
        rep.errors.push(...errors.map((message) => ({ line: r.line, message })));
        continue;
      }
      codes.set(code, r.line);
      schools.set(id, { code, name });
    }
    if (schools.size === 0 && report('orgs.csv').errors.length === 0) throw new OneRosterFileError('orgs.csv names no school (an org of type "school"): nothing to import.');
    const schoolCodes = new Set([...schools.values()].map((s) => s.code));

    // academicSessions.csv: the year of each term.
    const years = new Map<string, number>();
    for (const r of sessionsFile?.records ?? []) {
      const id = r.get('sourcedId');
      const year = parseYear(r.get('schoolYear'));
      if (!id) report('academicSessions.csv').errors.push({ line: r.line, message: 'sourcedId: required' });
      else if (year === null) report('academicSessions.csv').errors.push({ line: r.line, message: `schoolYear: "${r.get('schoolYear')}" is not a year (e.g. 2027)` });
      else if (years.has(id)) report('academicSessions.csv').errors.push({ line: r.line, message: `sourcedId: ${id} twice` });
      else years.set(id, year);
    }

    // classes.csv: homeroom classes are form classes; scheduled ones are skipped.
    const homerooms = new Map<string, HomeroomClass>();
    const scheduled = new Set<string>();
    const badClasses = new Set<string>();
    const classNames = new Map<string, number>();
    for (const r of classesFile?.records ?? []) {
      const rep = report('classes.csv');
      const id = r.get('sourcedId');
      const status = statusOf('classes.csv', r);
      if (!id) {
        rep.errors.push({ line: r.line, message: 'sourcedId: required' });
        continue;
      }
      if (homerooms.has(id) || scheduled.has(id) || badClasses.has(id)) {
        rep.errors.push({ line: r.line, message: `sourcedId: ${id} twice` });
        continue;
      }
      const type = r.get('classType');
      if (type !== 'homeroom') {
        scheduled.add(id);
        rep.skipped++;
        if (type !== 'scheduled') rep.warnings.push({ line: r.line, message: `classType: "${type}" is not homeroom or scheduled: skipped` });
        continue;
      }
      if (status !== 'active') {
        scheduled.add(id);
        rep.skipped++;
        continue;
      }
      const errors: string[] = [];
      const schoolId = r.get('schoolSourcedId');
      const school = schools.get(schoolId);
      if (!school) errors.push(orgs.has(schoolId) ? `schoolSourcedId: ${schoolId} is not a school of orgs.csv` : `schoolSourcedId: ${schoolId || '(empty)'} is not in orgs.csv`);
      const raw = r.get('classCode') || r.get('title');
      const name = normaliseClassName(raw);
      if (name === null) errors.push(`classCode: "${raw}" is not a class name (1 to 20 letters, digits, spaces, . / -; e.g. 4A)`);
      const terms = list(r.get('termSourcedIds'));
      const year = terms.length ? years.get(terms[0]!) : undefined;
      if (terms.length === 0) errors.push('termSourcedIds: required (the class\'s school year)');
      else if (year === undefined) errors.push(`termSourcedIds: ${terms[0]} is not in academicSessions.csv`);
      if (!errors.length) {
        const key = `${school!.code}\u0000${year}\u0000${name}`;
        if (classNames.has(key)) errors.push(`class ${name} (${year}) of ${school!.code} is also line ${classNames.get(key)}`);
        else classNames.set(key, r.line);
      }
      if (errors.length) {
        rep.errors.push(...errors.map((message) => ({ line: r.line, message })));
        badClasses.add(id); // its enrollments are not errors twice
        continue;
      }
      homerooms.set(id, { sourcedId: id, line: r.line, school: school!, schoolSourcedId: schoolId, year: year!, name: name! });
    }

    // roles.csv (1.2) or users.csv's role column (1.1).
    const rolesOf = new Map<string, Array<{ role: string; primary: boolean; org: string; line: number }>>();
    if (rolesFile) {
      for (const r of rolesFile.records) {
        const status = statusOf('roles.csv', r);
        const end = dateOf(r.get('endDate'));
        if (status !== 'active' || (end && end !== 'invalid' && end < today(now))) {
          report('roles.csv').skipped++;
          continue;
        }
        const user = r.get('userSourcedId');
        if (roleOf(r.get('role')) === null) {
          report('roles.csv').errors.push({ line: r.line, message: `role: unknown role "${r.get('role')}"` });
          continue;
        }
        const entry = { role: r.get('role'), primary: r.get('roleType') === 'primary', org: r.get('orgSourcedId'), line: r.line };
        rolesOf.set(user, [...(rolesOf.get(user) ?? []), entry]);
      }
    } else if (!usersFile.columns.includes('role') && usersFile.columns.length) {
      report('users.csv').errors.push({ line: 1, message: 'no role: OneRoster 1.2 exports have roles.csv, 1.1 exports a role column' });
    }

    // users.csv.
    const userLines = new Map<string, UserLine>();
    const present = new Set<string>(); // every sourcedId of users.csv that does not leave
    const leaving = new Map<string, number>(); // tobedeleted: sourcedId -> line
    const loginLines = new Map<string, number>();
    const skippedUsers = new Set<number>();
    const rep = report('users.csv');
    if (usersFile.records.length > MAX_USERS) throw new OneRosterFileError(`users.csv has more than ${MAX_USERS} users.`);
    for (const r of usersFile.records) {
      const id = r.get('sourcedId');
      const errors: string[] = [];
      const fail = () => {
        rep.errors.push(...errors.map((message) => ({ line: r.line, message })));
      };
      if (!id) {
        errors.push('sourcedId: required');
        fail();
        continue;
      }
      if (present.has(id) || leaving.has(id)) {
        errors.push(`sourcedId: ${id} is also line ${userLines.get(id)?.line ?? leaving.get(id) ?? '?'}`);
        fail();
        continue;
      }
      const status = statusOf('users.csv', r);
      if (status === 'tobedeleted') {
        leaving.set(id, r.line);
        continue;
      }
      present.add(id);
      if (status === null) continue;
      // Roles.
      const given = rolesFile ? (rolesOf.get(id) ?? []) : list(r.get('role')).map((role) => ({ role, primary: true, org: '', line: r.line }));
      const mapped = new Set<Role>();
      let family = false;
      for (const g of given) {
        const role = roleOf(g.role);
        if (role === null) errors.push(`role: unknown role "${g.role}"`);
        else if (role === 'guardian') family = true;
        else mapped.add(role);
      }
      if (given.length === 0) errors.push(rolesFile ? 'no role in roles.csv' : 'role: required');
      if (!errors.length && mapped.size === 0 && family) {
        rep.skipped++;
        skippedUsers.add(r.line);
        continue; // a guardian is no account here
      }
      const roles = ROLES.filter((role) => mapped.has(role));
      // The school: primaryOrg, else the primary role's org, else the only school named.
      const candidates = [r.get('primaryOrgSourcedId'), ...given.filter((g) => g.primary).map((g) => g.org), ...given.map((g) => g.org), ...list(r.get('orgSourcedIds'))].filter(Boolean);
      const schoolId = candidates.find((c) => schools.has(c));
      const school = schoolId ? schools.get(schoolId)! : undefined;
      if (!school) {
        const unknown = candidates.filter((c) => !orgs.has(c));
        errors.push(candidates.length === 0 ? 'primaryOrgSourcedId: required (the user\'s school)' : unknown.length ? `primaryOrgSourcedId: ${unknown[0]} is not in orgs.csv` : `primaryOrgSourcedId: ${candidates[0]} is not a school of orgs.csv`);
      }
      // The login ID.
      const loginId = normaliseLoginId(r.get('username')) ?? normaliseLoginId(r.get('email'));
      if (!loginId) errors.push(`username: "${r.get('username').slice(0, 80)}" is not an email address${r.has('email') ? ', nor is email' : ''}`);
      else {
        const domain = loginId.split('@')[1]!;
        for (const role of roles) {
          const allowed = this.#settings.domainsByRole[role];
          if (allowed && !allowed.includes(domain)) errors.push(`username: a ${role} login ID must end with @${allowed.join(' or @')}`);
        }
        const first = loginLines.get(loginId);
        if (first !== undefined) errors.push(`username: ${loginId} is also line ${first}`);
      }
      // Names.
      const names = { givenName: r.get('givenName'), familyName: r.get('familyName'), preferredGivenName: r.get('preferredGivenName'), preferredFamilyName: r.get('preferredFamilyName') };
      if (!names.givenName) errors.push('givenName: required');
      if (!names.familyName) errors.push('familyName: required');
      for (const [column, value] of Object.entries(names)) {
        if (value.length > 100) errors.push(`${column}: longer than 100 characters`);
        if (hasInvisibleCharacters(value)) errors.push(`${column}: contains invisible or control characters (such as zero-width spaces or direction marks)`);
      }
      // The level.
      let level: Level | null = null;
      if (roles.includes('student')) {
        const grades = [...new Set(list(r.get('grades')))];
        if (grades.length === 0) errors.push('grades: a student needs one (01-06 primary, 07-11 secondary, 12-13 junior college)');
        else if (grades.length > 1) errors.push(`grades: a student has one grade here, not ${grades.join(', ')}`);
        else {
          level = levelOfGrade(grades[0]!);
          if (level === null) errors.push(`grades: unknown grade "${grades[0]}" (01-06 primary, 07-11 secondary, 12-13 junior college)`);
        }
      }
      const enabled = r.get('enabledUser').toLowerCase();
      if (enabled !== '' && enabled !== 'true' && enabled !== 'false') errors.push(`enabledUser: "${r.get('enabledUser')}" is not true or false`);
      if (errors.length) {
        fail();
        continue;
      }
      loginLines.set(loginId!, r.line);
      const shown = `${names.preferredGivenName || names.givenName} ${names.preferredFamilyName || names.familyName}`;
      userLines.set(id, { sourcedId: id, line: r.line, loginId: loginId!, givenName: names.givenName, familyName: names.familyName, displayName: shown, school: school!, level, roles, enabled: enabled !== 'false' });
    }

    // enrollments.csv: a student's homeroom class, a teacher's form classes.
    const classOf = new Map<string, { c: HomeroomClass; line: number }>();
    // Users with an enrollment in error: their classes are left as they are.
    const troubled = new Set<string>();
    const formOf = new Map<string, HomeroomClass[]>();
    for (const r of enrollmentsFile?.records ?? []) {
      const erep = report('enrollments.csv');
      const status = statusOf('enrollments.csv', r);
      const end = dateOf(r.get('endDate'));
      const begin = dateOf(r.get('beginDate'));
      if (end === 'invalid' || begin === 'invalid') {
        erep.errors.push({ line: r.line, message: `${end === 'invalid' ? 'endDate' : 'beginDate'}: not a date (YYYY-MM-DD)` });
        continue;
      }
      const classId = r.get('classSourcedId');
      if (status !== 'active' || (end && end < today(now)) || (begin && begin > today(now)) || scheduled.has(classId)) {
        erep.skipped++;
        continue;
      }
      const userId = r.get('userSourcedId');
      if (badClasses.has(classId)) {
        erep.skipped++;
        troubled.add(userId); // the user's classes are left as they are
        continue;
      }
      const c = homerooms.get(classId);
      const user = userLines.get(userId);
      if (!c) {
        erep.errors.push({ line: r.line, message: `classSourcedId: ${classId || '(empty)'} is not in classes.csv` });
        continue;
      }
      if (r.get('schoolSourcedId') && r.get('schoolSourcedId') !== c.schoolSourcedId) {
        erep.errors.push({ line: r.line, message: `schoolSourcedId: ${r.get('schoolSourcedId')} is not the school of class ${c.sourcedId} (${c.schoolSourcedId})` });
        continue;
      }
      if (!user) {
        if (present.has(userId) || leaving.has(userId)) erep.skipped++; // its users.csv line is an error, skipped or leaves
        else erep.errors.push({ line: r.line, message: `userSourcedId: ${userId || '(empty)'} is not in users.csv` });
        continue;
      }
      if (user.school.code !== c.school.code) {
        erep.errors.push({ line: r.line, message: `class ${c.name} is of ${c.school.code}, user ${userId} of ${user.school.code}` });
        troubled.add(userId);
        continue;
      }
      const role = roleOf(r.get('role'));
      if (role === 'student') {
        if (!isStudentOnly(user)) {
          erep.errors.push({ line: r.line, message: `role: ${userId} is not a student (only students belong to a class)` });
          troubled.add(userId);
          continue;
        }
        const earlier = classOf.get(userId);
        if (earlier && earlier.c.year === c.year) {
          erep.errors.push({ line: r.line, message: `a student belongs to one homeroom class: ${userId} is in ${earlier.c.name} at line ${earlier.line}` });
          troubled.add(userId);
          continue;
        }
        if (!earlier || c.year > earlier.c.year) classOf.set(userId, { c, line: r.line });
      } else if (r.get('role') === 'teacher') {
        if (!mayTeach(user)) {
          erep.errors.push({ line: r.line, message: `role: ${userId} is not staff (only staff are form teachers)` });
          troubled.add(userId);
          continue;
        }
        formOf.set(userId, [...(formOf.get(userId) ?? []), c]);
      } else {
        erep.skipped++; // an aide or proctor of a homeroom class is no form teacher
      }
    }
    // The years each school's homeroom classes are of: a teacher's form classes of those years are the file's.
    const classYears = new Map<string, Set<number>>();
    for (const c of homerooms.values()) classYears.set(c.school.code, (classYears.get(c.school.code) ?? new Set()).add(c.year));

    // What exists.
    const clientId = await this.#client(source);
    const linked = clientId ? await this.#reads.linkedAccounts(clientId) : new Map<string, Account>();
    const linkOf = new Map([...linked].map(([sourcedId, a]) => [a.id, sourcedId]));
    const unlinked = [...userLines.values()].filter((u) => !linked.has(u.sourcedId)).map((u) => u.loginId);
    const byLogin = await this.#reads.byLoginIds(unlinked);
    // An account another source holds is not this source's to change (two sources would undo each other).
    const heldElsewhere = await this.#reads.heldByOtherSources(clientId, [...byLogin.values()].map((a) => a.id));

    const counts = emptyCounts();
    counts.skipped = skippedUsers.size;
    const users: UserChange[] = [];
    for (const u of userLines.values()) {
      const fromLink = linked.get(u.sourcedId);
      const existing = fromLink ?? byLogin.get(u.loginId);
      const errors: string[] = [];
      if (existing && fromLink === undefined && linkOf.has(existing.id)) errors.push(`username: the account ${u.loginId} is sourcedId ${linkOf.get(existing.id)}'s in source ${source}`);
      if (existing && existing.loginId !== u.loginId) errors.push(`username: the account of sourcedId ${u.sourcedId} has login ID ${existing.loginId}; a login ID does not change by import`);
      if (existing && !schoolCodes.has(existing.school.code)) errors.push(`username: ${existing.loginId} is an account of school ${existing.school.code}, which orgs.csv does not name`);
      if (existing && fromLink === undefined && heldElsewhere.has(existing.id)) errors.push(`username: the account ${u.loginId} belongs to another source (${heldElsewhere.get(existing.id)!.slice('oneroster:'.length)}); one source keeps an account`);
      if (errors.length) {
        rep.errors.push(...errors.map((message) => ({ line: u.line, message })));
        counts.error++;
        continue;
      }
      const studentOnly = isStudentOnly(u);
      const homeroom = classOf.get(u.sourcedId)?.c;
      const desired: Desired = {
        loginId: u.loginId, givenName: u.givenName, familyName: u.familyName, displayName: u.displayName, school: u.school, level: u.level,
        roles: ROLES.filter((r) => u.roles.includes(r) || (ADMIN_ROLES.includes(r) && existing?.roles.includes(r))),
        enabled: u.enabled,
      };
      const enrolled = enrollmentsFile && !troubled.has(u.sourcedId);
      if (enrolled && studentOnly) desired.class = homeroom ? { year: homeroom.year, name: homeroom.name } : null;
      if (enrolled && mayTeach(desired)) {
        const yearsHere = classYears.get(u.school.code) ?? new Set<number>();
        const kept = existing && existing.school.code === u.school.code ? (existing.formClasses ?? []).filter((k) => !yearsHere.has(k.year)) : [];
        const mine = (formOf.get(u.sourcedId) ?? []).map((c) => ({ year: c.year, name: c.name }));
        desired.formClasses = [...kept, ...mine.filter((c, i) => mine.findIndex((d) => sameClass(c, d)) === i)];
      }
      if (!existing) {
        counts.create++;
        users.push({ kind: 'create', sourcedId: u.sourcedId, loginId: u.loginId, line: u.line, steps: ['join', ...(desired.enabled ? [] : ['disabled'])], desired, link: true, setFormClasses: !!desired.formClasses?.length, disable: !desired.enabled });
        continue;
      }
      const change: UserChange = { kind: 'unchanged', sourcedId: u.sourcedId, loginId: u.loginId, line: u.line, accountId: existing.id, steps: [], desired };
      if (existing.lifecycle?.leftAt) {
        change.rejoin = true;
        change.steps.push('rejoins');
      }
      if (existing.school.code !== u.school.code) {
        change.move = true;
        change.steps.push(`school ${existing.school.code} -> ${u.school.code}`);
      }
      if (existing.givenName !== desired.givenName || existing.familyName !== desired.familyName || existing.displayName !== desired.displayName) change.steps.push('name');
      if (existing.level !== desired.level) change.steps.push(`level ${existing.level ?? 'none'} -> ${desired.level ?? 'none'}`);
      if (existing.roles.join() !== desired.roles.join()) change.steps.push(`roles ${existing.roles.join(';')} -> ${desired.roles.join(';')}`);
      if (desired.class !== undefined && !sameClass(existing.class, desired.class)) change.steps.push(`class ${existing.class ? classLabel(existing.class) : 'none'} -> ${desired.class ? classLabel(desired.class) : 'none'}`);
      if (desired.formClasses !== undefined && !sameClasses(change.move ? [] : existing.formClasses, desired.formClasses)) {
        change.setFormClasses = true;
        change.steps.push(`form classes ${(existing.formClasses ?? []).map(classLabel).join(', ') || 'none'} -> ${desired.formClasses.map(classLabel).join(', ') || 'none'}`);
      }
      if (!desired.enabled && (existing.status === 'active' || change.rejoin)) {
        change.disable = true;
        change.steps.push('disabled');
      }
      if (!fromLink) {
        change.link = true;
        change.steps.push('link');
      }
      change.kind = change.move ? 'move' : change.steps.length ? 'update' : 'unchanged';
      // An administrator's account is not a roster's (roster.ts): only linking and form classes are.
      if (isAdministrator(existing) && change.steps.some((step) => step !== 'link' && !step.startsWith('form classes'))) {
        rep.errors.push({ line: u.line, message: `username: ${existing.loginId} is an administrator: a roster does not change administrators (${change.steps.filter((st) => st !== 'link').join(', ')}); their administrators do, in /admin` });
        counts.error++;
        continue;
      }
      counts[change.kind]++;
      users.push(change);
    }

    // Leavers: linked users of the file's schools absent from users.csv, or tobedeleted.
    const leavers = new Map<string, number>();
    for (const [sourcedId, account] of linked) {
      if (account.lifecycle?.leftAt || !schoolCodes.has(account.school.code)) continue;
      if (leaving.has(sourcedId) || !present.has(sourcedId)) {
        if (isAdministrator(account)) {
          rep.warnings.push({ line: leaving.get(sourcedId) ?? 0, message: `${account.loginId} is absent but an administrator: a roster does not remove administrators` });
          continue;
        }
        users.push({ kind: 'leave', sourcedId, loginId: account.loginId, line: leaving.get(sourcedId) ?? 0, accountId: account.id, steps: ['leaves'] });
        counts.leave++;
        leavers.set(account.school.code, (leavers.get(account.school.code) ?? 0) + 1);
      }
    }
    for (const [sourcedId, line] of leaving) {
      const account = linked.get(sourcedId);
      if (!account || account.lifecycle?.leftAt || !schoolCodes.has(account.school.code)) {
        rep.skipped++;
        counts.skipped++;
        rep.warnings.push({ line, message: `tobedeleted: ${sourcedId} ${account ? 'has left already or is of another school' : 'has no account from this source'}` });
      }
    }
    const refusals: string[] = [];
    if (!options.allowMassLeave) {
      // A quarter of a school's users from this source, counting those who left in the last
      // 30 days (several imports cannot empty a school a slice at a time); a whole school always.
      const linkedIn = new Map<string, number>();
      const recentlyLeft = new Map<string, number>();
      for (const a of linked.values()) {
        if (!a.lifecycle?.leftAt) linkedIn.set(a.school.code, (linkedIn.get(a.school.code) ?? 0) + 1);
        else if (a.lifecycle.leftAt > now - MASS_LEAVE_WINDOW_MS) recentlyLeft.set(a.school.code, (recentlyLeft.get(a.school.code) ?? 0) + 1);
      }
      for (const [code, n] of leavers) {
        const of = linkedIn.get(code) ?? 0;
        const recent = recentlyLeft.get(code) ?? 0;
        if (n === of || ((n + recent) >= MASS_LEAVE_FLOOR && (n + recent) * 4 > of + recent)) {
          const message = `${n} of the ${of} users of school ${code} from source ${source} would leave (absent from users.csv)${recent ? `, after ${recent} in the last 30 days` : ''}: is users.csv cut short? If this is right, plan again allowing a mass leave (CLI: --allow-mass-leave)`;
          rep.errors.push({ line: 0, message });
          refusals.push(message);
        }
      }
    }

    // Classes.
    const classCounts = { create: 0, update: 0, unchanged: 0, skipped: classesFile ? report('classes.csv').skipped : 0, error: classesFile ? new Set(report('classes.csv').errors.map((e) => e.line)).size : 0 };
    const classes: ClassChange[] = [];
    if (homerooms.size) {
      const linkedClasses = clientId ? await this.#reads.linkedClasses(clientId) : new Map<string, string>();
      const existing = await this.#rows.classes([...schoolCodes], { offset: 0, limit: 1_000_000 });
      const byName = new Map(existing.rows.map((c) => [`${c.schoolCode}\u0000${c.year}\u0000${c.name}`, c.id]));
      for (const c of homerooms.values()) {
        const classId = byName.get(`${c.school.code}\u0000${c.year}\u0000${c.name}`);
        const kind = !classId ? 'create' : linkedClasses.get(c.sourcedId) === classId ? 'unchanged' : 'update';
        classCounts[kind]++;
        classes.push({ kind, sourcedId: c.sourcedId, line: c.line, school: c.school, year: c.year, name: c.name, ...(classId ? { classId } : {}) });
      }
    }

    // A file that could not be read (its encoding, its header, a quote never closed) holds
    // nobody: with it nothing is imported, not even with the error lines left out (its
    // users would otherwise all count as absent, and leave).
    for (const r of reports.values()) {
      for (const e of r.errors) if (e.line <= 1 && !refusals.some((m) => m.startsWith(`${r.file}:`))) refusals.push(`${r.file}: ${e.message}: the file could not be read as a whole; nothing is imported`);
    }

    counts.error = new Set(rep.errors.filter((e) => e.line > 1).map((e) => e.line)).size;
    const files = [...reports.values()].sort((a, b) => fileOrder(a.file) - fileOrder(b.file) || a.file.localeCompare(b.file));
    for (const f of files) f.errors.sort((a, b) => a.line - b.line);
    const errors = files.reduce((n, f) => n + f.errors.length, 0);
    return {
      source, digest: createHash('sha256').update(zip).digest('base64url'), plannedAt: now,
      files, schools: [...schools.values()], counts, classCounts, errors, refusals, users, classes,
    };
  }

  // --- the commit ---

  /**
   * Applies a plan as one job: refused (OneRosterBusyError) while another import runs, and
   * (unless allowErrors) when the plan has errors. Resolves what was done; a change that
   * failed is reported and the rest go on; when the store fails, OneRosterInterruptedError
   * (the same import again completes it).
   */
  async apply(plan: Plan, options: ApplyOptions = {}): Promise<ApplyResult> {
    if (plan.refusals.length) throw new OneRosterFileError(plan.refusals.join('; '));
    if (plan.errors > 0 && !options.allowErrors) throw new OneRosterFileError(`${plan.errors} error(s) in the files; nothing was imported (fix them, or commit with the errors left out)`);
    const started = Date.now();
    const lease = await this.#acquire(plan.source, options.actorName);
    try {
      const ctx: RosterContext = { actor: `oneroster:${plan.source}`, actorName: options.actorName };
      const clientId = await this.#ensureClient(plan.source);
      const work = plan.users.filter((u) => u.kind !== 'unchanged');
      const classWork = plan.classes.filter((c) => c.kind !== 'unchanged');
      const total = work.length + classWork.length;
      let done = 0;
      let lastReport = 0;
      const progress = (force = false) => {
        const at = Date.now();
        if (!force && at - lastReport < 250) return;
        lastReport = at;
        options.onProgress?.({ done, total });
      };
      progress(true);
      let interrupted: Error | undefined;
      const failed: ApplyResult['failed'] = [];
      const run = async <T>(items: T[], fn: (item: T) => Promise<void>, describe: (item: T) => { sourcedId: string; loginId: string; line: number }) => {
        await mapLimit(items, ONEROSTER_CONCURRENCY, async (item) => {
          if (interrupted) return;
          try {
            await fn(item);
          } catch (err) {
            if (err instanceof StoreUnavailableError) {
              interrupted ??= err;
              return;
            }
            failed.push({ ...describe(item), message: (err as Error).message });
          }
          done++;
          progress();
        });
      };
      // New links are written LINK_BATCH at a time (one statement each); a crash before a batch
      // is written leaves accounts without their link, which the next plan finds by login ID.
      const links = { user: [] as Array<{ targetId: string; externalId: string; line: number; loginId: string }>, group: [] as Array<{ targetId: string; externalId: string; line: number; loginId: string }> };
      const flush = async (kind: 'user' | 'group', all = false) => {
        while (links[kind].length >= (all ? 1 : LINK_BATCH)) {
          const batch = links[kind].splice(0, LINK_BATCH);
          for (const l of await this.#reads.addLinks(clientId, kind, batch)) {
            const one = batch.find((b) => b.externalId === l.externalId)!;
            try {
              await this.#rows.setExternalId(clientId, kind, l.targetId, l.externalId);
            } catch (err) {
              if (err instanceof StoreUnavailableError) throw err;
              failed.push({ sourcedId: l.externalId, loginId: one.loginId, line: one.line, message: (err as Error).message });
            }
          }
        }
      };
      const classes = { created: 0, linked: 0 };
      await run(classWork, async (c) => {
        const record = c.classId ? { id: c.classId } : await this.#rows.ensureClass({ id: newId(12), schoolCode: c.school.code, year: c.year, name: c.name, createdAt: this.#clock(), updatedAt: this.#clock() });
        if (!c.classId) classes.created++;
        // A class's record may hold another sourcedId of this source (renamed in the SIS): replaced.
        await this.#rows.setExternalId(clientId, 'group', record.id, c.sourcedId);
        classes.linked++;
      }, (c) => ({ sourcedId: c.sourcedId, loginId: '', line: c.line }));
      const applied = emptyCounts();
      if (!interrupted) {
        await run(work, async (u) => {
          const link = await this.#applyUser(u, ctx);
          if (link) links.user.push({ targetId: link, externalId: u.sourcedId, line: u.line, loginId: u.loginId });
          await flush('user');
          applied[u.kind]++;
        }, (u) => ({ sourcedId: u.sourcedId, loginId: u.loginId, line: u.line }));
      }
      try {
        await flush('user', true);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        interrupted ??= err;
      }
      progress(true);
      applied.unchanged = plan.counts.unchanged;
      applied.skipped = plan.counts.skipped;
      applied.error = plan.counts.error;
      const summary = `source ${plan.source}, zip ${plan.digest.slice(0, 16)}: created ${applied.create}, updated ${applied.update}, moved ${applied.move}, left ${applied.leave}, unchanged ${applied.unchanged}, skipped ${applied.skipped}, error lines ${plan.errors}, failed ${failed.length}; classes created ${classes.created}, linked ${classes.linked}${interrupted ? `; INTERRUPTED after ${done} of ${total}` : ''}`;
      await this.#audit.record({ type: 'roster.import', actor: ctx.actor, actorName: ctx.actorName, reason: summary }).catch((err: unknown) => {
        interrupted ??= err as Error;
      });
      if (interrupted) throw new OneRosterInterruptedError(done, total, interrupted);
      return { counts: applied, classes, failed, ms: Date.now() - started };
    } finally {
      await lease.release();
    }
  }

  /** Applies one user's change; resolves the account id to link to the sourcedId, if it is not yet. */
  async #applyUser(u: UserChange, ctx: RosterContext): Promise<string | null> {
    if (u.kind === 'leave') {
      await this.#roster.leave(u.accountId!, null, ctx);
      return null;
    }
    const d = u.desired!;
    const person: Omit<RosterPerson, 'loginId' | 'school'> = { givenName: d.givenName, familyName: d.familyName, displayName: d.displayName, level: d.level, roles: d.roles, ...(d.class !== undefined ? { class: d.class } : {}) };
    let id = u.accountId;
    let created = false;
    if (u.kind === 'create') {
      try {
        id = (await this.#roster.join({ ...person, loginId: d.loginId, school: d.school }, ctx)).id;
        created = true;
      } catch (err) {
        if (!(err instanceof DuplicateLoginIdError)) throw err;
        // Created meanwhile (another process, or a run that crashed before linking it).
        const found = await this.#directory.findByLoginId(d.loginId);
        if (!found) throw err;
        id = found.id;
      }
    }
    if (!created) {
      if (u.rejoin) await this.#roster.rejoin(id!, ctx);
      const current = await this.#directory.get(id!);
      if (!current) throw new Error(`the account of ${u.loginId} is gone`);
      if (current.school.code !== d.school.code) await this.#roster.move(id!, { school: d.school, class: d.class ?? null }, null, ctx);
      await this.#roster.update(id!, person, ctx);
    }
    if (d.formClasses !== undefined && (u.setFormClasses || !created)) {
      const current = await this.#directory.get(id!);
      if (current && !sameClasses(current.formClasses, d.formClasses)) {
        await this.#roster.setFormClasses(id!, d.formClasses, ctx);
      }
    }
    if (!d.enabled) await this.#roster.setActive(id!, false, ctx);
    return u.link || created ? id! : null;
  }

  /** The source's provisioning client, created revoked (its token hash is of a random secret nobody holds). */
  async #ensureClient(source: string): Promise<string> {
    const existing = await this.#client(source);
    if (existing) return existing;
    const id = newId(9);
    const now = this.#clock();
    await this.#rows.addClient({ id, name: `oneroster:${source}`, tokenHash: createHash('sha256').update(randomBytes(32)).digest('base64url'), schools: ['*'], createdAt: now, revokedAt: null });
    await this.#rows.revokeClient(id, now);
    // Two first imports of one source at once are kept apart by the lease; this re-reads all the same.
    return (await this.#client(source)) ?? id;
  }

  /** One import at a time, across processes: a key in the store, renewed while the job runs. */
  async #acquire(source: string, by: string | undefined): Promise<{ release(): Promise<void> }> {
    const key = keys.oneRosterJob();
    const token = newId(12);
    const value = JSON.stringify({ token, source, by: by ?? null, startedAt: new Date(this.#clock()).toISOString() });
    if (!(await this.#store.set(key, value, { onlyIfAbsent: true, ttlMs: LEASE_MS }))) {
      const holder = await this.#store.get(key);
      let who = '';
      try {
        const h = JSON.parse(holder ?? '{}') as { source?: string; by?: string | null; startedAt?: string };
        who = ` (source ${h.source}${h.by ? `, by ${h.by}` : ''}, started ${h.startedAt})`;
      } catch {
        // an unreadable holder: said without details
      }
      throw new OneRosterBusyError(`another OneRoster import is running${who}: wait for it to finish (its lease lapses ${LEASE_MS / 1000} s after it stops)`);
    }
    const renew = setInterval(() => {
      void (async () => {
        if ((await this.#store.get(key)) === value) await this.#store.expire(key, LEASE_MS);
      })().catch(() => {});
    }, LEASE_MS / 3);
    renew.unref();
    return {
      release: async () => {
        clearInterval(renew);
        try {
          if ((await this.#store.get(key)) === value) await this.#store.del(key);
        } catch {
          // lapses by itself
        }
      },
    };
  }
}

const FILE_ORDER = ['(zip)', 'manifest.csv', 'orgs.csv', 'academicSessions.csv', 'classes.csv', 'users.csv', 'roles.csv', 'enrollments.csv'];
function fileOrder(file: string): number {
  const i = FILE_ORDER.indexOf(file);
  return i === -1 ? FILE_ORDER.length : i;
}

/** The plan as a report (what --json prints): files, counts and changes, without what apply needs. */
export function planReport(plan: Plan, options: { changes?: boolean } = {}) {
  return {
    source: plan.source,
    schools: plan.schools,
    counts: plan.counts,
    classes: plan.classCounts,
    errors: plan.errors,
    files: plan.files,
    ...(options.changes === false ? {} : {
      changes: plan.users.filter((u) => u.kind !== 'unchanged').map((u) => ({ kind: u.kind, sourcedId: u.sourcedId, loginId: u.loginId, line: u.line, steps: u.steps })),
      classChanges: plan.classes.filter((c) => c.kind !== 'unchanged').map((c) => ({ kind: c.kind, sourcedId: c.sourcedId, line: c.line, school: c.school.code, year: c.year, name: c.name })),
    }),
  };
}
