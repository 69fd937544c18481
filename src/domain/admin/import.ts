// Bulk import of a cohort from CSV: preview (per-row validation), then commit.
// Columns: loginId, givenName, familyName, schoolCode, schoolName, level, roles
// (roles separated by ";" or "|"); optional: class (a student's, e.g. 4A), formClasses (the
// classes a staff member is form teacher of, separated by ";") and classYear (the school year
// of both; this year when empty). A row whose file has no class column keeps the account's
// class; an empty cell removes it. New accounts get a temporary password, returned
// once in the result; existing accounts are updated (never reset); re-importing the same
// file changes nothing. A school administrator may import only rows of their school.
//
// Temporary passwords (random: > 80 bits; words: > 45 bits) live passwordPolicy.temporaryPasswordDays
// and are hashed with the cheaper `importArgon2` parameters; the first sign-in forces a
// change, which hashes the user's own password with the full parameters.
import { parse } from 'csv-parse/sync';
import { LEVELS, normaliseLoginId, ROLES, type Account, type Level, type Role, type SchoolClass } from '../accounts/account.ts';
import { normaliseClassName, parseClassList, parseYear, sameClass, schoolYear } from '../classes/classes.ts';
import type { Directory } from '../accounts/directory.ts';
import { DuplicateLoginIdError } from '../accounts/directory.ts';
import { StoreUnavailableError } from '../../store/index.ts';
import type { SecretHasher } from '../accounts/passwords.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { temporaryPassword } from '../passwords/generate.ts';
import type { PasswordPolicies } from '../passwords/policy.ts';
import { inScope, type AdminScope } from './administration.ts';
import { AppError } from '../errors.ts';
import { hasInvisibleCharacters } from '../text.ts';
import { mapLimit } from '../map-limit.ts';

export const COLUMNS = ['loginId', 'givenName', 'familyName', 'schoolCode', 'schoolName', 'level', 'roles'] as const;
/** Columns a file may have besides COLUMNS. */
export const OPTIONAL_COLUMNS = ['class', 'formClasses', 'classYear'] as const;
export const MAX_BYTES = 5 * 1024 * 1024;
export const MAX_ROWS = 20_000;
const MAX_LINE = 2_000;

export interface ImportSettings {
  /** Login ID domains allowed per role; a row's domain must suit each of its roles. */
  domainsByRole: Record<string, string[]>;
}

export interface ImportRow {
  line: number;
  loginId: string;
  givenName: string;
  familyName: string;
  school: { code: string; name: string };
  level: Level | null;
  roles: Role[];
  /** A student's class: undefined when the file has no class column (kept as it is). */
  class?: SchoolClass | null;
  /** A teacher's form classes of the row's year: undefined when the file has no formClasses column. */
  formClasses?: SchoolClass[];
}

export type RowOutcome =
  | { line: number; loginId: string; action: 'create' | 'update' | 'unchanged'; row: ImportRow; existingId?: string }
  | { line: number; loginId: string; action: 'error'; errors: string[] };

export interface Preview {
  rows: RowOutcome[];
  counts: { create: number; update: number; unchanged: number; error: number };
}

/** The whole file is refused (not a row): encoding, header, size, a line too long. */
export class ImportFileError extends Error {
  override name = 'ImportFileError';
}

/**
 * The store failed part-way through a commit. `passwords` are those of the accounts whose
 * creation the store confirmed (the only copy: hand them out); running the same import
 * again creates the rest and leaves these unchanged.
 */
export class ImportInterruptedError extends Error {
  override name = 'ImportInterruptedError';
  readonly passwords: Array<{ loginId: string; temporaryPassword: string }>;

  constructor(passwords: Array<{ loginId: string; temporaryPassword: string }>, cause: Error) {
    super(`the store failed part-way (${cause.message}): ${passwords.length} account(s) created and confirmed; run the same import again for the rest`, { cause });
    this.passwords = passwords;
  }
}

export function parseCsv(data: Buffer): Record<string, string>[] {
  if (data.length === 0) throw new ImportFileError('The file is empty.');
  if (data.length > MAX_BYTES) throw new ImportFileError(`The file is larger than ${MAX_BYTES / 1024 / 1024} MB.`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    throw new ImportFileError('The file is not UTF-8 text. Save it as "CSV UTF-8" and try again.');
  }
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: (header: string[]) => header.map((h) => h.trim()), bom: true, skip_empty_lines: true, trim: true, max_record_size: MAX_LINE, relax_column_count: false }) as Record<string, string>[];
  } catch (err) {
    const e = err as { code?: string; lines?: number; message: string };
    if (e.code === 'CSV_MAX_RECORD_SIZE') throw new ImportFileError(`Line ${e.lines ?? '?'} is longer than ${MAX_LINE} characters.`);
    throw new ImportFileError(`The file is not valid CSV (line ${e.lines ?? '?'}): ${e.code ?? 'parse error'}.`);
  }
  const header = records.length > 0 ? Object.keys(records[0]!) : text.split(/\r?\n/)[0]!.split(',').map((h) => h.trim());
  const missing = COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) throw new ImportFileError(`Missing column(s): ${missing.join(', ')}. The first line must be: ${COLUMNS.join(',')}`);
  const extra = header.filter((h) => !(COLUMNS as readonly string[]).includes(h) && !(OPTIONAL_COLUMNS as readonly string[]).includes(h));
  if (extra.length > 0) throw new ImportFileError(`Unknown column(s): ${extra.join(', ')}.`);
  if (records.length > MAX_ROWS) throw new ImportFileError(`More than ${MAX_ROWS} rows; split the file.`);
  return records;
}

function validate(record: Record<string, string>, line: number, scope: AdminScope, settings: ImportSettings, thisYear: number): ImportRow | string[] {
  const errors: string[] = [];
  const loginId = normaliseLoginId(record.loginId ?? '');
  if (!loginId) errors.push('loginId: not an email address');
  const roles = (record.roles ?? '').split(/[;|]/).map((r) => r.trim()).filter(Boolean);
  const badRole = roles.find((r) => !(ROLES as readonly string[]).includes(r));
  if (roles.length === 0) errors.push('roles: at least one is required');
  if (badRole) errors.push(`roles: unknown role "${badRole}"`);
  if (scope.kind === 'school' && roles.some((r) => r === 'school-admin' || r === 'ministry-admin')) errors.push('roles: a school administrator cannot import administrators');
  const level = record.level ? record.level.toUpperCase() : '';
  if (level && !(LEVELS as readonly string[]).includes(level)) errors.push(`level: unknown level "${record.level}" (P1-P6, S1-S5, JC1-JC2, or empty for staff)`);
  if (roles.includes('student') && !level) errors.push('level: required for a student');
  if (!record.givenName) errors.push('givenName: required');
  if (!record.familyName) errors.push('familyName: required');
  if (!record.schoolCode || !record.schoolName) errors.push('schoolCode and schoolName: required');
  if (loginId && !badRole) {
    const domain = loginId.split('@')[1]!;
    for (const role of roles) {
      const allowed = settings.domainsByRole[role];
      if (allowed && !allowed.includes(domain)) errors.push(`loginId: a ${role} login ID must end with @${allowed.join(' or @')}`);
    }
  }
  if (scope.kind === 'school' && record.schoolCode && record.schoolCode !== scope.schoolCode) errors.push(`schoolCode: ${record.schoolCode} is not your school`);
  if ((record.givenName ?? '').length > 100 || (record.familyName ?? '').length > 100 || (record.schoolName ?? '').length > 200) errors.push('a name is too long');
  for (const column of ['givenName', 'familyName', 'schoolName', 'schoolCode'] as const) {
    if (hasInvisibleCharacters(record[column] ?? '')) errors.push(`${column}: contains invisible or control characters (such as zero-width spaces or direction marks)`);
  }
  const year = record.classYear ? parseYear(record.classYear) : thisYear;
  if (year === null) errors.push(`classYear: "${record.classYear}" is not a year (e.g. ${thisYear})`);
  let schoolClass: SchoolClass | null | undefined;
  if (record.class !== undefined && year !== null) {
    const name = record.class ? normaliseClassName(record.class) : null;
    if (record.class && name === null) errors.push(`class: "${record.class}" is not a class name (1 to 20 letters, digits, spaces, . / -; e.g. 4A)`);
    else if (name && !roles.every((r) => r === 'student')) errors.push('class: only students belong to a class (form teachers: formClasses)');
    schoolClass = name ? { year, name } : null;
  }
  let formClasses: SchoolClass[] | undefined;
  if (record.formClasses !== undefined && year !== null) {
    const parsed = parseClassList(record.formClasses, year);
    if ('invalid' in parsed) errors.push(`formClasses: ${parsed.invalid.map((n) => `"${n}"`).join(', ')} is not a class name`);
    else if (parsed.classes.length && !roles.some((r) => r === 'staff' || r === 'school-admin')) errors.push('formClasses: only staff are form teachers');
    else formClasses = parsed.classes;
  }
  if (errors.length > 0) return errors;
  return {
    line,
    loginId: loginId!,
    givenName: record.givenName!,
    familyName: record.familyName!,
    school: { code: record.schoolCode!, name: record.schoolName! },
    level: (level || null) as Level | null,
    roles: roles as Role[],
    ...(schoolClass !== undefined ? { class: schoolClass } : {}),
    ...(formClasses !== undefined ? { formClasses } : {}),
  };
}

/** An account's form classes after an import row: the row's year replaced, other years kept. */
function formClassesAfter(a: Pick<Account, 'formClasses'>, r: ImportRow): SchoolClass[] | undefined {
  if (r.formClasses === undefined) return a.formClasses;
  const year = r.formClasses[0]?.year;
  const others = (a.formClasses ?? []).filter((k) => year === undefined ? false : k.year !== year);
  return [...others, ...r.formClasses];
}

function sameAccount(a: Account, r: ImportRow): boolean {
  const after = formClassesAfter(a, r) ?? [];
  const before = a.formClasses ?? [];
  const sameClasses = (r.class === undefined || sameClass(a.class, r.class)) && after.length === before.length && after.every((k, i) => sameClass(k, before[i]));
  return a.givenName === r.givenName && a.familyName === r.familyName && a.school.code === r.school.code && a.school.name === r.school.name && a.level === r.level && a.roles.join() === r.roles.join() && sameClasses;
}

export class Importer {
  readonly #directory: Directory;
  readonly #hasher: SecretHasher;
  readonly #policies: PasswordPolicies;
  readonly #audit: AuditLog;
  readonly #settings: ImportSettings;
  readonly #now: () => number;

  constructor(deps: { directory: Directory; importHasher: SecretHasher; policies: PasswordPolicies; audit: AuditLog; settings: ImportSettings; now: () => number }) {
    this.#directory = deps.directory;
    this.#hasher = deps.importHasher;
    this.#policies = deps.policies;
    this.#audit = deps.audit;
    this.#settings = deps.settings;
    this.#now = deps.now;
  }

  /** Validates every row and says what a commit would do; writes nothing. */
  async preview(data: Buffer, scope: AdminScope): Promise<Preview> {
    if (scope.kind === 'form-teacher') throw new AppError('SSPR 5403', 'form teachers do not import accounts');
    const records = parseCsv(data);
    const seen = new Map<string, number>();
    const rows: RowOutcome[] = [];
    const lookups = await mapLimit(records, 32, async (record, i) => {
      const line = i + 2; // the header is line 1
      const v = validate(record, line, scope, this.#settings, schoolYear(this.#now()));
      if (Array.isArray(v)) return { line, loginId: record.loginId ?? '', action: 'error', errors: v } as RowOutcome;
      const existing = await this.#directory.findByLoginId(v.loginId);
      if (existing && !inScope(scope, existing)) return { line, loginId: v.loginId, action: 'error', errors: ['loginId: the account belongs to another school'] } as RowOutcome;
      if (!existing) return { line, loginId: v.loginId, action: 'create', row: v } as RowOutcome;
      return { line, loginId: v.loginId, action: sameAccount(existing, v) ? 'unchanged' : 'update', row: v, existingId: existing.id } as RowOutcome;
    });
    for (const outcome of lookups) {
      const first = seen.get(outcome.loginId);
      if (outcome.loginId && first !== undefined && outcome.action !== 'error') {
        rows.push({ line: outcome.line, loginId: outcome.loginId, action: 'error', errors: [`loginId: duplicate of line ${first}`] });
        continue;
      }
      if (outcome.loginId && outcome.action !== 'error') seen.set(outcome.loginId, outcome.line);
      rows.push(outcome);
    }
    const counts = { create: 0, update: 0, unchanged: 0, error: 0 };
    for (const r of rows) counts[r.action]++;
    return { rows, counts };
  }

  /**
   * Applies a preview without errors. Resolves to the temporary passwords of the
   * accounts it created (returned once, stored nowhere).
   */
  async commit(data: Buffer, scope: AdminScope, actor: string): Promise<{ counts: Preview['counts']; passwords: Array<{ loginId: string; temporaryPassword: string }> }> {
    const preview = await this.preview(data, scope);
    if (preview.counts.error > 0) throw new ImportFileError(`${preview.counts.error} row(s) have errors; nothing was imported.`);
    const passwords: Array<{ loginId: string; temporaryPassword: string }> = [];
    let failure: Error | undefined;
    await mapLimit(preview.rows, 8, async (r) => {
      if (r.action === 'error' || r.action === 'unchanged' || failure) return;
      try {
        await this.#apply(r, actor, passwords);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        failure ??= err;
      }
    });
    passwords.sort((a, b) => a.loginId.localeCompare(b.loginId));
    if (failure) throw new ImportInterruptedError(passwords, failure);
    return { counts: preview.counts, passwords };
  }

  /** Creates or updates the account of one row; a created account's password goes into `passwords`. */
  async #apply(r: Extract<RowOutcome, { row: ImportRow }>, actor: string, passwords: Array<{ loginId: string; temporaryPassword: string }>): Promise<void> {
    const fields = { givenName: r.row.givenName, familyName: r.row.familyName, displayName: `${r.row.givenName} ${r.row.familyName}`, school: r.row.school, level: r.row.level, roles: r.row.roles };
    const classes = (a: Pick<Account, 'class' | 'formClasses'>) => ({
      ...(r.row.class !== undefined ? { class: r.row.class } : a.class !== undefined ? { class: a.class } : {}),
      ...(formClassesAfter(a, r.row) !== undefined ? { formClasses: formClassesAfter(a, r.row)! } : {}),
    });
    if (r.action === 'update') {
      await this.#directory.update(r.existingId!, (a) => ({ ...a, ...fields, ...classes(a) }));
      await this.#audit.record({ type: 'account.updated', accountId: r.existingId, actor, reason: 'import' });
      return;
    }
    const now = this.#now();
    const password = temporaryPassword(this.#policies.for({ loginId: r.loginId, roles: r.row.roles }), { loginId: r.loginId, ...fields });
    try {
      const account = await this.#directory.create({
        loginId: r.loginId, ...fields, ...classes({}), status: 'active', passwordHash: await this.#hasher.hash(password), mustChangePassword: true, temporaryUntil: now + this.#policies.temporaryLifeMs(),
        passwordChangedAt: now, passwordHistory: [], questions: [],
      });
      passwords.push({ loginId: r.loginId, temporaryPassword: password });
      await this.#audit.record({ type: 'account.created', accountId: account.id, actor, reason: 'import' });
    } catch (err) {
      if (!(err instanceof DuplicateLoginIdError)) throw err; // created meanwhile: leave it
    }
  }
}
