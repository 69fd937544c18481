// `account show|set|create`: accounts in any state for integration testers, on the same
// store as the server. Hashes are secrets: `show` says whether one is set, never prints it.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { normaliseLoginId, type Account } from '../domain/accounts/account.ts';
import { loadSeed, parseSeed } from '../domain/accounts/seed.ts';
import type { Store } from '../store/index.ts';
import type { Services } from '../services.ts';

export const ACCOUNT_USAGE = `  account show <loginId>                               the account's state as JSON (no hashes)
  account create <file.json>                           create or update accounts (seed-file format: an object or an array)
  account set <loginId> [--locked|--unlocked] [--disabled|--enabled] [--temporary|--not-temporary]
              [--no-questions] [--password-expired] [--password <new>]
              [--totp-secret <base32>] [--no-mfa]
                                                       put an account into a state to test`;

export class AccountUsageError extends Error {}

type Open = (command: string) => Promise<{ store: Store; services: Services; close?: () => Promise<void> }>;

/** What `account show` prints: the state a sign-in will meet, without secrets. */
export async function accountState(s: Services, a: Account): Promise<Record<string, unknown>> {
  const lockedSince = await s.lockout.lockedSince(a.loginId);
  const maxAgeDays = s.policies.for(a).rules.maxAgeDays;
  return {
    id: a.id,
    loginId: a.loginId,
    displayName: a.displayName,
    school: a.school,
    level: a.level,
    roles: a.roles,
    status: a.status,
    locked: lockedSince !== null,
    lockedSince: lockedSince === null ? null : new Date(lockedSince).toISOString(),
    password: {
      set: a.passwordHash.length > 0,
      temporary: a.mustChangePassword,
      changedAt: new Date(a.passwordChangedAt).toISOString(),
      policyMaxAgeDays: maxAgeDays,
      expired: maxAgeDays !== null && Date.now() - a.passwordChangedAt > maxAgeDays * 86_400_000,
      history: a.passwordHistory.length,
    },
    questions: a.questions.map((q) => q.question),
    requiredActions: s.credentials.requiredActions(a),
    mfa: s.mfa.describe(a),
    lastSignInAt: a.lastSignInAt === null ? null : new Date(a.lastSignInAt).toISOString(),
  };
}

export async function accountCommand(argv: string[], out: (line: string) => void, open: Open): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      locked: { type: 'boolean' }, unlocked: { type: 'boolean' },
      disabled: { type: 'boolean' }, enabled: { type: 'boolean' },
      temporary: { type: 'boolean' }, 'not-temporary': { type: 'boolean' },
      'no-questions': { type: 'boolean' }, 'password-expired': { type: 'boolean' },
      password: { type: 'string' },
      'totp-secret': { type: 'string' }, 'no-mfa': { type: 'boolean' },
    },
  });
  const [action, arg] = positionals;
  if (action !== 'show' && action !== 'set' && action !== 'create') throw new AccountUsageError(`account needs one of: show, set, create\n${ACCOUNT_USAGE}`);
  if (!arg) throw new AccountUsageError(`account ${action} needs ${action === 'create' ? 'a JSON file' : 'a login ID'}`);
  if ((values.locked && values.unlocked) || (values.disabled && values.enabled) || (values.temporary && values['not-temporary'])) throw new AccountUsageError('contradictory options');
  // Read and validate before touching the store.
  const seed = action === 'create' ? parseSeed(((d: unknown) => (Array.isArray(d) ? d : [d]))(JSON.parse(readFileSync(arg, 'utf8'))), arg) : null;

  const { store, services: s, close } = await open('account');
  const actor = `cli:${userInfo().username}`;
  try {
    if (seed) {
      const r = await loadSeed(seed, { directory: s.directory, hasher: s.hasher, audit: s.audit, lockout: s.lockout, mfa: s.mfa, now: Date.now() });
      out(`created ${r.created}, updated ${r.updated}: ${seed.map((a) => a.loginId).join(', ')}`);
      return 0;
    }
    const loginId = normaliseLoginId(arg);
    if (!loginId) throw new AccountUsageError(`not a login ID: ${arg}`);
    let a = await s.directory.findByLoginId(loginId);
    if (!a) throw new AccountUsageError(`no account with login ID ${loginId}`);
    if (action === 'set') {
      const passwordHash = values.password === undefined ? undefined : await s.hasher.hash(values.password);
      const updated = await s.directory.update(a.id, (x) => ({
        ...x,
        ...(values.temporary ? { mustChangePassword: true } : values['not-temporary'] ? { mustChangePassword: false } : {}),
        ...(values['no-questions'] ? { questions: [] } : {}),
        ...(passwordHash ? { passwordHash, passwordChangedAt: Date.now() } : {}),
        ...(values['password-expired'] ? { passwordChangedAt: 0 } : {}),
      }));
      if (!updated) throw new AccountUsageError(`no account with login ID ${loginId}`);
      a = updated;
      await s.audit.record({ type: 'account.updated', accountId: a.id, actor });
      // Disabling ends the account's sessions, as an administrator's would.
      const status = values.disabled ? 'disabled' : values.enabled ? 'active' : null;
      if (status && status !== a.status) a = (await s.administration.setStatus({ kind: 'ministry' }, { id: actor } as Account, a.id, status, {})).account;
      if (values.locked) await s.lockout.lock(a.loginId);
      if (values.unlocked) await s.lockout.unlock(a.loginId);
      if (values['no-mfa']) await s.mfa.reset(a, { actor });
      if (values['totp-secret'] !== undefined) await s.mfa.setTotpSecret(a, values['totp-secret'], { actor });
      a = (await s.directory.get(a.id)) ?? a;
    }
    out(JSON.stringify(await accountState(s, a), null, 2));
    return 0;
  } finally {
    await close?.();
    await store.close();
  }
}
