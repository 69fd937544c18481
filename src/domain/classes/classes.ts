// Classes of a school and their form teachers. A class is a name the school gives it ('4A')
// in one school year (Singapore's school year is the calendar year); a student belongs to
// at most one class of their own school (Account.class), a staff account may be form teacher
// of several (Account.formClasses). What a form teacher may reach follows from these two
// fields alone (domain/admin/administration.ts: the form-teacher scope).
import type { Account, SchoolClass } from '../accounts/account.ts';

/** The time zone whose calendar year is the school year. */
export const SCHOOL_TIME_ZONE = 'Asia/Singapore';

const CLASS_NAME = /^[A-Z0-9][A-Z0-9 ./-]{0,19}$/;

/** A class name as stored: trimmed, upper-case, single spaces; null when it is not one (1–20 of A–Z, 0–9, space . / -). */
export function normaliseClassName(raw: string): string | null {
  const v = raw.trim().replace(/\s+/g, ' ').toUpperCase();
  return CLASS_NAME.test(v) ? v : null;
}

/** The school year at `now`. */
export function schoolYear(now: number): number {
  return Number(new Intl.DateTimeFormat('en', { timeZone: SCHOOL_TIME_ZONE, year: 'numeric' }).format(new Date(now)));
}

/** A year as given ('2027'), or null: 2000–2100. */
export function parseYear(raw: string): number | null {
  return /^\d{4}$/.test(raw.trim()) && Number(raw) >= 2000 && Number(raw) <= 2100 ? Number(raw) : null;
}

export function sameClass(a: SchoolClass | null | undefined, b: SchoolClass | null | undefined): boolean {
  return (a ?? null) === (b ?? null) || (!!a && !!b && a.year === b.year && a.name === b.name);
}

/** '4A (2027)'. */
export function classLabel(c: SchoolClass): string {
  return `${c.name} (${c.year})`;
}

/**
 * A list of class names ('4A;4B', '4A, 4B' or '4A|4B') in one year, or the names that are
 * not class names. An empty list is valid (no classes).
 */
export function parseClassList(raw: string, year: number): { classes: SchoolClass[] } | { invalid: string[] } {
  const parts = raw.split(/[;,|]/).map((p) => p.trim()).filter(Boolean);
  const invalid = parts.filter((p) => normaliseClassName(p) === null);
  if (invalid.length) return { invalid };
  const names = [...new Set(parts.map((p) => normaliseClassName(p)!))];
  return { classes: names.map((name) => ({ year, name })) };
}

/** Only students are in a class; only staff (and school administrators) teach one. */
export function isStudentOnly(a: Pick<Account, 'roles'>): boolean {
  return a.roles.includes('student') && a.roles.every((r) => r === 'student');
}

export function mayTeach(a: Pick<Account, 'roles'>): boolean {
  return a.roles.includes('staff') || a.roles.includes('school-admin');
}

/** Whether a form teacher (their classes) teaches the class of a student. */
export function teaches(classes: readonly SchoolClass[], student: Pick<Account, 'class'>): boolean {
  return !!student.class && classes.some((c) => sameClass(c, student.class));
}
