// Export and restore of the durable directory (README "Backup and restore").
// Included: every account record as stored (argon2id hashes of the password, its history and
// the challenge answers; roles; fields this release does not know) and each login ID's lock.
// Not included: SSO sessions, flows, OIDC artefacts, counters (all ephemeral) and the audit
// stream. Export pages through the dir:logins index, so memory stays flat at any size.
import { rm } from 'node:fs/promises';
import type { Account } from '../accounts/account.ts';
import { ACCOUNT_VERSION } from '../accounts/account.ts';
import { DuplicateLoginIdError, type Directory } from '../accounts/directory.ts';
import { keys, type Store } from '../../store/index.ts';
import { BackupError, BackupWriter, readBackup, type FinalSummary } from './format.ts';

const PAGE = 500;
const RESTORE_PARALLEL = 32;

export interface BackupCounts {
  accounts: number;
  locks: number;
}

interface AccountLine {
  type: 'account';
  record: Account;
  lock?: { value: string; ttlMs: number };
}

/** The operator's key: IDP_BACKUP_KEY (a passphrase) or the bytes of a key file. */
export function backupSecret(env: NodeJS.ProcessEnv, keyFile: Buffer | null): Buffer {
  const secret = keyFile ?? (env.IDP_BACKUP_KEY ? Buffer.from(env.IDP_BACKUP_KEY, 'utf8') : null);
  if (!secret) throw new BackupError('no backup key: set IDP_BACKUP_KEY (a passphrase) or IDP_BACKUP_KEY_FILE / --key-file (a key file)');
  const trimmed = Buffer.from(secret.toString('latin1').replace(/\r?\n$/, ''), 'latin1');
  if (trimmed.length < 16) throw new BackupError('backup key too short: use a passphrase or key file of at least 16 characters');
  return trimmed;
}

/** Writes every account and lock to `file` (created, never overwritten). */
export async function exportBackup(store: Store, directory: Directory, file: string, secret: Buffer, progress?: (counts: BackupCounts) => void): Promise<FinalSummary & BackupCounts> {
  const writer = await BackupWriter.create(file, secret);
  const counts: BackupCounts = { accounts: 0, locks: 0 };
  try {
    await writer.line(JSON.stringify({ type: 'backup', format: 1, accountVersion: ACCOUNT_VERSION, createdAt: new Date().toISOString() }));
    let after: string | undefined;
    for (;;) {
      const page = await directory.searchLoginIds('', PAGE, after);
      if (!page.length) break;
      after = `${page[page.length - 1]!.loginId}\u0000${page[page.length - 1]!.id}`;
      const rows = await Promise.all(page.map(async ({ loginId, id }) => {
        const [raw, lock, ttl] = await Promise.all([directory.raw(id), store.get(keys.lock(loginId)), store.ttl(keys.lock(loginId))]);
        return { raw, lock, ttl };
      }));
      for (const { raw, lock, ttl } of rows) {
        if (!raw) continue; // deleted meanwhile, or an index entry left by an interrupted create
        const line: AccountLine = { type: 'account', record: JSON.parse(raw) as Account };
        // A lock that expired between its GET and its PTTL (-2) is no lock: never restore it as
        // a lock without expiry (-1 is the only "until unlocked").
        if (lock !== null && ttl !== -2) {
          line.lock = { value: lock, ttlMs: ttl };
          counts.locks++;
        }
        counts.accounts++;
        await writer.line(JSON.stringify(line));
      }
      progress?.(counts);
      if (page.length < PAGE) break;
    }
    return { ...(await writer.finish({ ...counts })), ...counts };
  } catch (err) {
    writer.abort();
    await rm(file, { force: true });
    throw err;
  }
}

function parseLine(line: string, n: number): AccountLine | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new BackupError(`backup line ${n} is not JSON: nothing restored`);
  }
  const o = v as { type?: unknown; record?: { id?: unknown; loginId?: unknown } };
  if (o.type === 'backup') return null;
  if (o.type !== 'account' || typeof o.record?.id !== 'string' || typeof o.record.loginId !== 'string') throw new BackupError(`backup line ${n} is not an account record: nothing restored`);
  return v as AccountLine;
}

/** Reads the whole file once: authenticated, complete, every line an account. Writes nothing. */
export async function verifyBackup(file: string, secret: Buffer): Promise<FinalSummary> {
  const it = readBackup(file, secret);
  let n = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
    parseLine(r.value, ++n);
  }
}

/** Whether the store holds any account (restore refuses a non-empty store without --force). */
export async function directoryIsEmpty(directory: Directory): Promise<boolean> {
  return (await directory.searchLoginIds('', 1)).length === 0;
}

/**
 * Restores `file` into the store: first verified end to end (a damaged, truncated or
 * wrong-key file restores nothing), then written through the Directory and the store's
 * durable writes (WAIT applies). Refuses a store that has accounts unless `force`.
 */
export async function restoreBackup(store: Store, directory: Directory, file: string, secret: Buffer, options: { force?: boolean; progress?: (counts: BackupCounts) => void } = {}): Promise<BackupCounts> {
  await verifyBackup(file, secret);
  if (!options.force && !(await directoryIsEmpty(directory))) {
    throw new BackupError('the store already has accounts: restore goes into an empty store (run with --force to write over it)');
  }
  const counts: BackupCounts = { accounts: 0, locks: 0 };
  const write = async (a: AccountLine) => {
    try {
      await directory.restore(a.record, { overwrite: options.force === true });
    } catch (err) {
      if (err instanceof DuplicateLoginIdError) throw new BackupError(`login ID ${a.record.loginId} appears twice in the backup or already exists: run with --force to write over it`);
      throw err;
    }
    if (a.lock) {
      await store.set(keys.lock(a.record.loginId), a.lock.value, a.lock.ttlMs > 0 ? { ttlMs: a.lock.ttlMs } : {});
      counts.locks++;
    }
    counts.accounts++;
  };
  const it = readBackup(file, secret);
  let batch: AccountLine[] = [];
  let n = 0;
  for (;;) {
    const r = await it.next();
    if (!r.done) {
      const a = parseLine(r.value, ++n);
      if (a) batch.push(a);
    }
    if (batch.length >= RESTORE_PARALLEL || (r.done && batch.length)) {
      await Promise.all(batch.map(write));
      batch = [];
      options.progress?.(counts);
    }
    if (r.done) return counts;
  }
}
