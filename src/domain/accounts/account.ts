// The account record of the directory. Secrets are argon2id hashes only.
export const LEVELS = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'S1', 'S2', 'S3', 'S4', 'S5', 'JC1', 'JC2'] as const;
export type Level = (typeof LEVELS)[number];

export const ROLES = ['student', 'staff', 'school-admin', 'ministry-admin'] as const;
export type Role = (typeof ROLES)[number];

export interface School {
  code: string;
  name: string;
}

/** A class of a school in one school year, e.g. { year: 2027, name: '4A' }. */
export interface SchoolClass {
  year: number;
  /** As the school writes it, upper-cased: '4A', 'P2 EXCELLENCE'. */
  name: string;
}

/** A personal email for self-service reset, confirmed by a code sent to it. Never shown whole. */
export interface RecoveryEmail {
  /** Lower-cased. */
  address: string;
  confirmedAt: number;
}

export interface ChallengeAnswer {
  question: string;
  answerHash: string;
}

/**
 * The schema version this release writes (README "Upgrading"). Records without `v` are
 * version 1 (written by releases before versioning). Readers accept this version and the
 * previous one; a record with a newer `v` is read but never written (NewerRecordError).
 */
export const ACCOUNT_VERSION = 2;

export interface Account {
  /** Schema version of the stored record; absent means 1. */
  v?: number;
  /** Stable opaque id; the OIDC `sub`. Never the email. */
  id: string;
  /** Email, stored lower-case; compared case-insensitively. */
  loginId: string;
  displayName: string;
  givenName: string;
  familyName: string;
  school: School;
  level: Level | null;
  roles: Role[];
  status: 'active' | 'disabled';
  passwordHash: string;
  /** Temporary password (import, administrator reset): must be changed at next sign-in. */
  mustChangePassword: boolean;
  /**
   * Until when a generated temporary password signs in (import, reset by an administrator
   * or form teacher; passwordPolicy.temporaryPasswordDays). Absent: no limit (a seeded or
   * operator-chosen password).
   */
  temporaryUntil?: number | null;
  passwordChangedAt: number;
  /** Hashes of earlier passwords, newest first. */
  passwordHistory: string[];
  questions: ChallengeAnswer[];
  createdAt: number;
  updatedAt: number;
  lastSignInAt: number | null;
  /** The class a student belongs to (of their own school), if any. */
  class?: SchoolClass | null;
  /** Classes of their own school a staff account is form teacher of. */
  formClasses?: SchoolClass[];
  /** A temporary password a form teacher asked the school administrator for (when the school wants approval). */
  passwordRequest?: { by: string; byName: string; at: number } | null;
  /** The language the person last signed in in (en, zh, ms, ta): told to apps as `locale`. */
  language?: string | null;
  /** Where a reset code may be sent (added at first sign-in or in the SSPR app). */
  recoveryEmail?: RecoveryEmail | null;
  /** The apps ("oidc:<client_id>", "saml:<sp id>") the person was told, before first use, what each receives. */
  appsNoticed?: string[];
  /** Where the roster stands (domain/provisioning/lifecycle.ts): scheduled steps and what happened. */
  lifecycle?: AccountLifecycle;
}

/** A move to another school (and class) at a date (a transfer). */
export interface ScheduledMove {
  at: number;
  school: School;
  class: SchoolClass | null;
  /** Who asked (a provisioning client's id, an administrator's account id). */
  by: string;
}

export interface AccountLifecycle {
  /** When the next scheduled step is due: the earliest of move.at, leaveAt and deleteAt (indexed). */
  dueAt?: number | null;
  move?: ScheduledMove | null;
  /** The leaving date: disabled then. */
  leaveAt?: number | null;
  /** When the account left (was disabled as a leaver): it is deleted retention days later. */
  leftAt?: number | null;
  deleteAt?: number | null;
  /** Disabled for not being used (lifecycle dormantDays), when. */
  dormantAt?: number | null;
  /** Switched on again by an administrator or a roster, when: unused time counts from then. */
  enabledAt?: number | null;
  /** Who created it, when it came from a roster: 'scim:<client id>', 'oneroster'. */
  source?: string;
}

/** The earliest scheduled step of a lifecycle, or null. */
export function nextDue(l: AccountLifecycle): number | null {
  const times = [l.move?.at, l.leaveAt, l.deleteAt].filter((t): t is number => typeof t === 'number');
  return times.length ? Math.min(...times) : null;
}

const EMAIL = /^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/** Normalises a login ID (trim, lower-case); returns null when it is not an email. */
export function normaliseLoginId(raw: string): string | null {
  const v = raw.trim().toLowerCase();
  return v.length <= 254 && EMAIL.test(v) ? v : null;
}

/**
 * A record of an earlier version as this version has it (v1 -> v2: `v`, and the fields later
 * code reads without checking, which the earliest v1 records lack). Unknown fields are kept.
 */
export function upgradeAccount(record: Account): Account {
  const r = record as Partial<Account> & Account;
  return {
    ...r,
    v: ACCOUNT_VERSION,
    passwordHistory: Array.isArray(r.passwordHistory) ? r.passwordHistory : [],
    questions: Array.isArray(r.questions) ? r.questions : [],
    roles: Array.isArray(r.roles) ? r.roles : [],
    mustChangePassword: r.mustChangePassword === true,
    lastSignInAt: r.lastSignInAt ?? null,
    status: r.status ?? 'active',
  };
}
