// The account record of the directory. Secrets are argon2id hashes only.
export const LEVELS = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'S1', 'S2', 'S3', 'S4', 'S5', 'JC1', 'JC2'] as const;
export type Level = (typeof LEVELS)[number];

export const ROLES = ['student', 'staff', 'school-admin', 'ministry-admin'] as const;
export type Role = (typeof ROLES)[number];

export interface School {
  code: string;
  name: string;
}

export interface ChallengeAnswer {
  question: string;
  answerHash: string;
}

export interface Account {
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
  passwordChangedAt: number;
  /** Hashes of earlier passwords, newest first. */
  passwordHistory: string[];
  questions: ChallengeAnswer[];
  createdAt: number;
  updatedAt: number;
  lastSignInAt: number | null;
}

const EMAIL = /^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/** Normalises a login ID (trim, lower-case); returns null when it is not an email. */
export function normaliseLoginId(raw: string): string | null {
  const v = raw.trim().toLowerCase();
  return v.length <= 254 && EMAIL.test(v) ? v : null;
}
