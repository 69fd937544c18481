// Loading accounts at start-up: the demo school, and an integration tester's own JSON
// file (IDP_SEED_FILE). Loading is idempotent: an existing login ID is updated.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.ts';
import { LEVELS, ROLES, normaliseLoginId, type Account } from './account.ts';
import { normaliseAnswer } from './answers.ts';
import { isStudentOnly, mayTeach, normaliseClassName, schoolYear } from '../classes/classes.ts';
import { Directory, DuplicateLoginIdError } from './directory.ts';
import type { SecretHasher } from './passwords.ts';

/** The part of the lockout the seed uses (absent: `locked` is refused). */
export interface SeedLockout {
  lock(loginId: string): Promise<void>;
  unlock(loginId: string): Promise<boolean>;
}

const seedAccount = z.strictObject({
  loginId: z.string().transform((v, ctx) => normaliseLoginId(v) ?? (ctx.addIssue({ code: 'custom', message: 'must be an email address' }), z.NEVER)),
  password: z.string().min(1).max(128),
  temporary: z.boolean(),
  givenName: z.string().trim().min(1).max(100),
  familyName: z.string().trim().min(1).max(100),
  displayName: z.string().trim().min(1).max(200).optional(),
  school: z.strictObject({ code: z.string().trim().min(1).max(20), name: z.string().trim().min(1).max(200) }),
  level: z.enum(LEVELS).nullable().optional(),
  roles: z.array(z.enum(ROLES)).min(1),
  questions: z.array(z.strictObject({ question: z.string().trim().min(1), answer: z.string().trim().min(1).max(100) })).optional(),
  /** A student's class in the current school year (e.g. "2A"). */
  class: z.string().transform((v, ctx) => normaliseClassName(v) ?? (ctx.addIssue({ code: 'custom', message: 'a class name: 1 to 20 letters, digits, spaces, . / - (e.g. 2A)' }), z.NEVER)).optional(),
  /** The classes a staff member is form teacher of in the current school year. */
  formClasses: z.array(z.string().transform((v, ctx) => normaliseClassName(v) ?? (ctx.addIssue({ code: 'custom', message: 'a class name: 1 to 20 letters, digits, spaces, . / - (e.g. 2A)' }), z.NEVER))).optional(),
  // States an integration tester sets up (README "For app developers"):
  /** disabled: sign-in is refused. */
  status: z.enum(['active', 'disabled']).default('active'),
  /** true: locked as by too many wrong passwords; false: unlocked; absent: left as it is. */
  locked: z.boolean().optional(),
  /** When the password was last changed (ISO date); with a policy maxAgeDays an old date means expired. */
  passwordChangedAt: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
  /** Shorthand for a passwordChangedAt long ago: expired under any policy maxAgeDays. */
  passwordExpired: z.boolean().optional(),
  /** Two-step sign-in with an authenticator app of this base32 secret (the tester computes the codes); null removes every factor. */
  totpSecret: z.string().regex(/^[A-Za-z2-7 =]{16,160}$/, 'a base32 secret (A-Z, 2-7), at least 16 characters').nullable().optional(),
}).superRefine((s, ctx) => {
  if (s.class !== undefined && !isStudentOnly(s)) ctx.addIssue({ code: 'custom', path: ['class'], message: 'only students belong to a class (form teachers: formClasses)' });
  if (s.formClasses?.length && !mayTeach(s)) ctx.addIssue({ code: 'custom', path: ['formClasses'], message: 'only staff are form teachers' });
});

/** The part of two-step sign-in the seed uses (absent: `totpSecret` is refused). */
export interface SeedMfa {
  setTotpSecret(account: Account, secret: string, rc: { actor?: string }): Promise<void>;
  reset(account: Account, rc: { actor: string }): Promise<void>;
}

export type SeedAccount = z.input<typeof seedAccount>;
export type ParsedSeedAccount = z.output<typeof seedAccount>;

/** When a seeded password was last changed: the date given, long ago when expired, else now. */
function passwordChangedAt(s: ParsedSeedAccount, now: number): number {
  if (s.passwordExpired) return 0;
  if (s.passwordChangedAt) return Date.parse(s.passwordChangedAt);
  return now;
}

export class SeedError extends Error {
  override name = 'SeedError';
}

/** Validates seed data; errors name the index and field, e.g. `[2].school.code: ...`. */
export function parseSeed(data: unknown, source: string): z.output<typeof seedAccount>[] {
  const result = z.array(seedAccount).safeParse(data);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const [index, ...rest] = i.path;
      const where = index === undefined ? '(top level)' : `[${String(index)}]${rest.map((p) => `.${String(p)}`).join('')}`;
      return `  ${where}: ${i.message}`;
    });
    throw new SeedError(`${source}: invalid seed data\n${lines.join('\n')}`);
  }
  const seen = new Set<string>();
  result.data.forEach((a, i) => {
    if (seen.has(a.loginId)) throw new SeedError(`${source}: [${i}].loginId: duplicate login ID ${a.loginId}`);
    seen.add(a.loginId);
  });
  return result.data;
}

export function readSeedFile(file: string): z.output<typeof seedAccount>[] {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SeedError(`${file}: cannot read seed file (${(err as Error).message})`);
  }
  return parseSeed(data, file);
}

export async function loadSeed(
  accounts: z.output<typeof seedAccount>[],
  deps: { directory: Directory; hasher: SecretHasher; audit: AuditLog; now: number; lockout?: SeedLockout; mfa?: SeedMfa },
): Promise<{ created: number; updated: number }> {
  let created = 0;
  let updated = 0;
  for (const s of accounts) {
    const passwordHash = await deps.hasher.hash(s.password);
    const questions = await Promise.all(
      (s.questions ?? []).map(async (q) => ({ question: q.question, answerHash: await deps.hasher.hash(normaliseAnswer(q.answer)) })),
    );
    const fields = {
      displayName: s.displayName ?? `${s.givenName} ${s.familyName}`,
      givenName: s.givenName,
      familyName: s.familyName,
      school: s.school,
      level: s.level ?? null,
      roles: s.roles,
      passwordHash,
      mustChangePassword: s.temporary,
      passwordChangedAt: passwordChangedAt(s, deps.now),
      questions,
      status: s.status,
      ...(s.class !== undefined ? { class: { year: schoolYear(deps.now), name: s.class } } : {}),
      ...(s.formClasses !== undefined ? { formClasses: s.formClasses.map((name) => ({ year: schoolYear(deps.now), name })) } : {}),
    } satisfies Partial<Account>;
    const existing = await deps.directory.findByLoginId(s.loginId);
    if (existing) {
      await deps.directory.update(existing.id, (a) => ({ ...a, ...fields }));
      await deps.audit.record({ type: 'account.updated', accountId: existing.id, actor: 'seed' });
      await applyLock(s, deps.lockout);
      await applyMfa(s, deps);
      updated++;
      continue;
    }
    try {
      const account = await deps.directory.create({ loginId: s.loginId, passwordHistory: [], ...fields });
      await deps.audit.record({ type: 'account.created', accountId: account.id, actor: 'seed' });
      created++;
    } catch (err) {
      if (!(err instanceof DuplicateLoginIdError)) throw err;
      // Another process seeded it at the same moment: update instead.
      const other = await deps.directory.findByLoginId(s.loginId);
      if (other) await deps.directory.update(other.id, (a) => ({ ...a, ...fields }));
      updated++;
    }
    await applyLock(s, deps.lockout);
    await applyMfa(s, deps);
  }
  return { created, updated };
}

async function applyMfa(s: ParsedSeedAccount, deps: { directory: Directory; mfa?: SeedMfa }): Promise<void> {
  if (s.totpSecret === undefined) return;
  if (!deps.mfa) throw new SeedError(`${s.loginId}: "totpSecret" cannot be applied here`);
  const account = await deps.directory.findByLoginId(s.loginId);
  if (!account) return;
  if (s.totpSecret === null) await deps.mfa.reset(account, { actor: 'seed' });
  else await deps.mfa.setTotpSecret(account, s.totpSecret, { actor: 'seed' });
}

async function applyLock(s: ParsedSeedAccount, lockout: SeedLockout | undefined): Promise<void> {
  if (s.locked === undefined) return;
  if (!lockout) throw new SeedError(`${s.loginId}: "locked" cannot be applied here`);
  if (s.locked) await lockout.lock(s.loginId);
  else await lockout.unlock(s.loginId);
}
