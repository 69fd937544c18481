// Export and restore of the durable directory (README "Backup and restore").
// Included: every account record as stored (argon2id hashes of the password, its history and
// the challenge answers; roles; fields this release does not know) and each login ID's lock.
// Not included: SSO sessions, flows, OIDC artefacts, counters (all ephemeral) and the audit
// trail. Export pages through the directory by login ID, so memory stays flat at any size.
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
      after = page[page.length - 1]!.member;
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

/** An account line's place in export order (login IDs are unique: the id only breaks no tie). */
function orderKey(a: AccountLine): string {
  return `${a.record.loginId}\u0000${a.record.id}`;
}

/** Byte order (the directory orders login IDs bytewise: collate "C"), for the export-order check. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function parseLine(line: string, n: number): AccountLine | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new BackupError(`backup line ${n} is not JSON: nothing restored`);
  }
  const o = v as { type?: unknown; record?: { id?: unknown; loginId?: unknown; displayName?: unknown }; lock?: { value?: unknown; ttlMs?: unknown } };
  if (o.type === 'backup') return null;
  if (o.type !== 'account' || typeof o.record !== 'object' || o.record === null || typeof o.record.id !== 'string' || o.record.id === '' || typeof o.record.loginId !== 'string' || o.record.loginId === '' || typeof o.record.displayName !== 'string') {
    throw new BackupError(`backup line ${n} is not an account record (type, record.id, record.loginId, record.displayName): nothing restored`);
  }
  if (/\u0000/.test(o.record.id + o.record.loginId)) throw new BackupError(`backup line ${n} has a NUL character in its id or login ID: nothing restored`);
  if (o.lock !== undefined && (typeof o.lock !== 'object' || o.lock === null || typeof o.lock.value !== 'string' || typeof o.lock.ttlMs !== 'number')) {
    throw new BackupError(`backup line ${n} has a malformed lock: nothing restored`);
  }
  return v as AccountLine;
}

/** A 52-bit hash of a string (two FNV-1a rounds), for the duplicate-id check without holding every id. */
function hash52(s: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}

export interface VerifiedBackup extends FinalSummary {
  /** Account lines (what a restore writes). */
  accountLines: number;
}

/**
 * Reads the whole file once and writes nothing: authenticated and complete (checksum), every
 * line an account of the expected shape, in export order (ascending "loginId\0id", as export
 * writes them), no login ID twice and no account id twice. Any of these refuses the whole
 * file, so a restore of it writes nothing at all. Memory stays flat: login IDs are checked
 * against their neighbour (export order puts equal ones side by side), account ids through
 * a set of 52-bit hashes, with a second pass confirming the rare collisions exactly.
 */
export async function verifyBackup(file: string, secret: Buffer): Promise<VerifiedBackup> {
  const it = readBackup(file, secret);
  let n = 0;
  let accountLines = 0;
  let previous: { key: string; loginId: string; line: number } | null = null;
  const seen = new Set<number>();
  const suspects = new Set<number>();
  let summary: FinalSummary;
  // A refusal stops reading: the reader is closed (its file with it), not left to the collector.
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) {
        summary = r.value;
        break;
      }
      const a = parseLine(r.value, ++n);
      if (!a) continue;
      accountLines++;
      const key = orderKey(a);
      if (previous && a.record.loginId === previous.loginId) throw new BackupError(`login ID ${a.record.loginId} appears twice in the backup (lines ${previous.line} and ${n}): nothing restored`);
      if (previous && compareBytes(previous.key, key) >= 0) throw new BackupError(`backup line ${n} is out of order (a backup written by export is sorted by login ID): nothing restored`);
      previous = { key, loginId: a.record.loginId, line: n };
      const h = hash52(a.record.id);
      if (seen.has(h)) suspects.add(h);
      else seen.add(h);
    }
  } finally {
    await it.return(undefined as never);
  }
  seen.clear();
  if (suspects.size) {
    const lineOf = new Map<string, number>();
    const again = readBackup(file, secret);
    let m = 0;
    try {
      for (;;) {
        const r = await again.next();
        if (r.done) break;
        const a = parseLine(r.value, ++m);
        if (!a || !suspects.has(hash52(a.record.id))) continue;
        const first = lineOf.get(a.record.id);
        if (first !== undefined) throw new BackupError(`account id ${a.record.id} appears twice in the backup (lines ${first} and ${m}): nothing restored`);
        lineOf.set(a.record.id, m);
      }
    } finally {
      await again.return(undefined as never);
    }
  }
  return { ...summary, accountLines };
}

/** Whether the store holds any account (restore refuses a non-empty store without --force). */
export async function directoryIsEmpty(directory: Directory): Promise<boolean> {
  return (await directory.searchLoginIds('', 1)).length === 0;
}

export interface RestoreCounts extends BackupCounts {
  /** --force: accounts the backup does not have (or that held one of its login IDs under another id), removed. */
  removed: number;
}

/**
 * Restores `file` into the directory. First verified end to end (verifyBackup: a damaged,
 * truncated or wrong-key file, a malformed line or a login ID twice restores nothing), then
 * written account by account, each in one transaction (record, name search, passkeys).
 *
 * Without `force` the directory must have no account. With `force` the directory is
 * *replaced* by the backup's (README "Backup and restore"): every account of the backup is
 * written over what is there (its lock as in the backup, removed when the backup has none),
 * and every account the backup does not have is removed with its lock. Nothing else is
 * touched: SSO sessions, OIDC artefacts, flows, counters, audit and registered apps stay
 * (sessions and tokens are never restored; see the README).
 * Why replace and not merge: restoring means "the directory as it was in the backup"; a
 * merge over a directory that changed since would keep accounts the backup never had.
 */
export async function restoreBackup(store: Store, directory: Directory, file: string, secret: Buffer, options: { force?: boolean; progress?: (counts: RestoreCounts) => void } = {}): Promise<RestoreCounts> {
  const verified = await verifyBackup(file, secret);
  const force = options.force === true;
  if (!force && !(await directoryIsEmpty(directory))) {
    throw new BackupError('the store already has accounts: restore goes into an empty store (run with --force to replace the directory with the backup\'s)');
  }
  const counts: RestoreCounts = { accounts: 0, locks: 0, removed: 0 };
  const stopped = (err: unknown): never => {
    // Verified input cannot stop here; a store that fails, or another process creating the
    // same login ID meanwhile, can: say exactly what was written.
    const why = err instanceof DuplicateLoginIdError ? `${err.message} (created meanwhile by another process)` : (err as Error).message.replace(/: nothing restored$/, '');
    throw new BackupError(`restore stopped after writing ${counts.accounts} of ${verified.accountLines} account(s)${counts.removed ? ` and removing ${counts.removed}` : ''}: ${why}; run it again with --force to finish`);
  };
  const write = async (a: AccountLine) => {
    // The record with all the directory derives from it (name search, passkeys), in one transaction.
    // An account of another id holding this login ID is removed (the backup's wins): counted.
    const displaced = await directory.restore(a.record, { overwrite: force });
    counts.removed += displaced;
    if (a.lock) {
      await store.set(keys.lock(a.record.loginId), a.lock.value, a.lock.ttlMs > 0 ? { ttlMs: a.lock.ttlMs } : {});
      counts.locks++;
    } else if (force) {
      await store.del(keys.lock(a.record.loginId));
    }
    counts.accounts++;
  };
  try {
    const it = readBackup(file, secret);
    let batch: AccountLine[] = [];
    let n = 0;
    try {
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
        if (r.done) break;
      }
    } finally {
      await it.return(undefined as never);
    }
    if (force) await removeOthers(store, directory, file, secret, counts);
  } catch (err) {
    // Also a file changed on disk after the verify pass: refused at the changed chunk, but
    // what came before it is written.
    stopped(err);
  }
  return counts;
}

/**
 * --force, after the backup's accounts are written: walks the directory and the backup side
 * by side (both in login-ID order) and removes every account the backup does not have, with
 * its lock. An account whose login ID the backup has is the backup's (restore replaced it).
 */
async function removeOthers(store: Store, directory: Directory, file: string, secret: Buffer, counts: RestoreCounts): Promise<void> {
  const lines = readBackup(file, secret);
  let n = 0;
  const nextLoginId = async (): Promise<string | null> => {
    for (;;) {
      const r = await lines.next();
      if (r.done) return null;
      const a = parseLine(r.value, ++n);
      if (a) return a.record.loginId;
    }
  };
  try {
    let loginId = await nextLoginId();
    let after: string | undefined;
    for (;;) {
      const page = await directory.searchLoginIds('', PAGE, after);
      if (!page.length) return;
      after = page[page.length - 1]!.member;
      const remove: Array<{ id: string; loginId: string }> = [];
      for (const e of page) {
        while (loginId !== null && compareBytes(loginId, e.loginId) < 0) loginId = await nextLoginId();
        if (loginId === e.loginId) continue;
        remove.push(e);
      }
      for (let i = 0; i < remove.length; i += RESTORE_PARALLEL) {
        await Promise.all(remove.slice(i, i + RESTORE_PARALLEL).map(async (e) => {
          if (await directory.delete(e.id)) counts.removed++;
          await store.del(keys.lock(e.loginId));
        }));
      }
      if (page.length < PAGE) return;
    }
  } finally {
    // Stopped before the end of the backup: its file is closed now, not by the collector.
    await lines.return(undefined as never);
  }
}
