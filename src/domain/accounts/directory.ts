// The directory of accounts. Durable data on the store:
//   {login:<loginId>} -> account id, claimed with SET NX, which makes login IDs unique
//   (also under concurrency and on a Cluster, since one key decides);
//   {acct:<id>}       -> the account as JSON, updated by compare-and-set;
//   dir:logins, dir:names -> sorted sets of "loginId\0id" and "name\0id" (prefix search);
//   dir:layout        -> the schema version of the claims and both indexes (versions.ts).
// Records are versioned (Account.v, README "Upgrading"): this release reads its own
// version and the previous one, writes its own, and never drops a field it does not know
// (updates work on the parsed JSON as stored, so unknown fields survive every write).
import { keys, type Store } from '../../store/index.ts';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import { INDEX_VERSION, NewerRecordError, recordVersion } from '../versions.ts';
import { ACCOUNT_VERSION, upgradeAccount, type Account } from './account.ts';

/** An account id no account can have (ids are 22 characters): read for unknown login IDs. */
const NO_ACCOUNT_ID = 'none';

export { NewerRecordError, recordVersion } from '../versions.ts';

export class DuplicateLoginIdError extends Error {
  override name = 'DuplicateLoginIdError';
}

/**
 * The account id a login-ID claim names. Version 1 and 2 claims are the bare id; a claim
 * holding JSON (a later layout, {"v":..,"id":..,...}) is read for its `id` (versions.ts).
 */
export function claimedId(raw: string | null): string | null {
  if (raw === null || !raw.startsWith('{')) return raw;
  try {
    const o = JSON.parse(raw) as { id?: unknown };
    return typeof o.id === 'string' ? o.id : null;
  } catch {
    return null;
  }
}

const INDEX_SEPARATOR = '\u0000';

/** One member of dir:logins or dir:names: its first two \0-separated parts (later layouts may add more). */
export function indexEntry(member: string): { key: string; id: string } {
  const [key = '', id = ''] = member.split(INDEX_SEPARATOR);
  return { key, id };
}

export type NewAccount = Omit<Account, 'id' | 'createdAt' | 'updatedAt' | 'lastSignInAt' | 'v'>;

export interface UpdateOptions {
  /** Set updatedAt (default). Migrations leave it alone: they change no one's data. */
  touch?: boolean;
}

function nameKey(a: Pick<Account, 'displayName'>): string {
  return a.displayName.toLocaleLowerCase('en').replace(/\s+/g, ' ').trim();
}

/** The name from each of its parts on: "allen tan" -> ["allen tan", "tan"] (a search by any part is a prefix search). */
export function nameParts(a: Pick<Account, 'displayName'>): string[] {
  const words = nameKey(a).split(' ').filter(Boolean);
  return [...new Set(words.map((_, i) => words.slice(i).join(' ')))];
}

/** The name-part index entries of an account: in its school's index and in the all-schools one. */
function namePartEntries(a: Pick<Account, 'displayName' | 'school' | 'id'>): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  for (const part of nameParts(a)) {
    const member = part + INDEX_SEPARATOR + a.id;
    entries.push([keys.namePartIndex(a.school.code), member], [keys.namePartIndex('*'), member]);
  }
  return entries;
}

export class Directory {
  readonly #store: Store;
  readonly #clock: Clock;

  constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /**
   * Before writing a claim or an index entry: refuses when the layout is newer than this
   * release's (NewerRecordError), and records this release's layout when there is none yet
   * (SET NX: never over another process's record).
   */
  async assertIndexWritable(): Promise<void> {
    const raw = await this.#store.get(keys.directoryLayout());
    if (raw === null) {
      await this.#store.set(keys.directoryLayout(), JSON.stringify({ v: INDEX_VERSION }), { onlyIfAbsent: true });
      return;
    }
    const layout = JSON.parse(raw) as { v?: unknown };
    if (recordVersion(layout) > INDEX_VERSION) {
      throw new NewerRecordError(`login-ID claims and indexes were written by a newer release (layout version ${recordVersion(layout)}, this release writes ${INDEX_VERSION}): upgrade this process`);
    }
  }

  async create(input: NewAccount): Promise<Account> {
    await this.assertIndexWritable();
    const now = this.#clock();
    const account: Account = { v: ACCOUNT_VERSION, ...input, id: newId(), createdAt: now, updatedAt: now, lastSignInAt: null };
    const claimed = await this.#store.set(keys.loginId(account.loginId), account.id, { onlyIfAbsent: true });
    if (!claimed) throw new DuplicateLoginIdError(`login ID already exists: ${account.loginId}`);
    try {
      await this.#store.set(keys.account(account.id), JSON.stringify(account));
      await this.#store.indexAdd(keys.directoryIndex(), account.loginId + INDEX_SEPARATOR + account.id);
      await this.#store.indexAdd(keys.nameIndex(), nameKey(account) + INDEX_SEPARATOR + account.id);
      for (const [key, member] of namePartEntries(account)) await this.#store.indexAdd(key, member);
    } catch (err) {
      // Never leave half an account: its record and index entries may have reached the
      // store although a later write (or its replica confirmation) failed. Undo all of it,
      // the login ID last, so that a retry cannot create a second account beside a ghost.
      for (const [key, member] of namePartEntries(account)) await this.#store.indexRemove(key, member).catch(() => {});
      await this.#store.indexRemove(keys.nameIndex(), nameKey(account) + INDEX_SEPARATOR + account.id).catch(() => {});
      await this.#store.indexRemove(keys.directoryIndex(), account.loginId + INDEX_SEPARATOR + account.id).catch(() => {});
      await this.#store.del(keys.account(account.id)).catch(() => {});
      await this.#store.del(keys.loginId(account.loginId)).catch(() => {});
      throw err;
    }
    return account;
  }

  /** Reads nothing that exists, as long as reading something would take (timing parity). */
  getNothing(): Promise<null> {
    return this.get(NO_ACCOUNT_ID) as Promise<null>;
  }

  async get(id: string): Promise<Account | null> {
    const raw = await this.#store.get(keys.account(id));
    return raw ? (JSON.parse(raw) as Account) : null;
  }

  /**
   * `loginId` must already be normalised (see normaliseLoginId). An unknown login ID reads
   * an account record as a known one does (one that cannot exist): the same two round
   * trips, so the time of a sign-in does not say whether the login ID exists.
   */
  async findByLoginId(loginId: string): Promise<Account | null> {
    const id = claimedId(await this.#store.get(keys.loginId(loginId)));
    return this.get(id ?? NO_ACCOUNT_ID);
  }

  /**
   * Applies `change` to the current account and writes it only if nobody wrote in
   * between (compare-and-set), retrying on conflict. Resolves null when absent.
   */
  async update(id: string, change: (account: Account) => Account | null, options: UpdateOptions = {}): Promise<Account | null> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const raw = await this.#store.get(keys.account(id));
      if (!raw) return null;
      // The parsed JSON as stored, fields this release does not know included: `change`
      // edits it in place (or a spread of it), so nothing it does not name is dropped.
      const current = JSON.parse(raw) as Account;
      if (recordVersion(current) > ACCOUNT_VERSION) {
        throw new NewerRecordError(`account ${id} was written by a newer release (record version ${recordVersion(current)}, this release writes ${ACCOUNT_VERSION}): upgrade this process`);
      }
      const next = change(recordVersion(current) < ACCOUNT_VERSION ? upgradeAccount(structuredClone(current)) : structuredClone(current));
      if (!next) return current;
      if (next.loginId !== current.loginId || next.id !== current.id) throw new Error('login ID and id cannot change through update');
      // Writing upgrades the record (upgradeAccount above): it is written as this version.
      next.v = ACCOUNT_VERSION;
      if (options.touch !== false) next.updatedAt = this.#clock();
      const renamed = nameKey(next) !== nameKey(current);
      if (renamed) await this.assertIndexWritable();
      if (await this.#store.compareAndSet(keys.account(id), raw, JSON.stringify(next))) {
        if (renamed) {
          await this.#store.indexRemove(keys.nameIndex(), nameKey(current) + INDEX_SEPARATOR + id);
          await this.#store.indexAdd(keys.nameIndex(), nameKey(next) + INDEX_SEPARATOR + id);
        }
        if (nameKey(next) !== nameKey(current) || next.school?.code !== current.school?.code) {
          if (current.school) for (const [key, member] of namePartEntries(current)) await this.#store.indexRemove(key, member);
          for (const [key, member] of namePartEntries(next)) await this.#store.indexAdd(key, member);
        }
        return next;
      }
    }
    throw new Error(`account ${id} kept changing; update abandoned`);
  }

  /**
   * Writes an account record as it was backed up (restore): the login ID claim, the record
   * (unknown fields kept) and both index entries, through the store's durable writes.
   * Without `overwrite` an existing login ID is refused (DuplicateLoginIdError). With it,
   * the claim and record are replaced, and the name-index entry of the record it replaces
   * is removed when the name differs (no stale search hit). The caller has checked
   * assertIndexWritable once.
   */
  async restore(record: Account, options: { overwrite?: boolean } = {}): Promise<void> {
    if (options.overwrite) {
      const before = await this.#store.get(keys.account(record.id));
      const old = before ? (JSON.parse(before) as Account) : null;
      if (old && typeof old.displayName === 'string' && nameKey(old) !== nameKey(record)) await this.#store.indexRemove(keys.nameIndex(), nameKey(old) + INDEX_SEPARATOR + record.id);
    }
    const claimed = await this.#store.set(keys.loginId(record.loginId), record.id, options.overwrite ? {} : { onlyIfAbsent: true });
    if (!claimed) throw new DuplicateLoginIdError(`login ID already exists: ${record.loginId}`);
    await this.#store.set(keys.account(record.id), JSON.stringify(record));
    await this.#store.indexAdd(keys.directoryIndex(), record.loginId + INDEX_SEPARATOR + record.id);
    await this.#store.indexAdd(keys.nameIndex(), nameKey(record) + INDEX_SEPARATOR + record.id);
    if (record.school) for (const [key, member] of namePartEntries(record)) await this.#store.indexAdd(key, member);
  }

  /**
   * Removes the dir:logins entry `member` (loginId, id) and what belongs to it alone (restore
   * --force, replacing the directory): the account record and its name-index entry when the
   * record is that login ID's (not a record another entry now owns), and the login-ID claim
   * and the lock when the claim still names this id. Resolves what it removed.
   */
  async removeEntry(member: string): Promise<{ account: boolean; claim: boolean }> {
    const { key: loginId, id } = indexEntry(member);
    let account = false;
    const raw = id ? await this.#store.get(keys.account(id)) : null;
    const record = raw ? (JSON.parse(raw) as Account) : null;
    if (record && record.loginId === loginId) {
      if (typeof record.displayName === 'string') await this.#store.indexRemove(keys.nameIndex(), nameKey(record) + INDEX_SEPARATOR + id);
      await this.#store.del(keys.account(id));
      account = true;
    }
    let claim = false;
    if (loginId && claimedId(await this.#store.get(keys.loginId(loginId))) === id) {
      await this.#store.del(keys.lock(loginId));
      await this.#store.del(keys.loginId(loginId));
      claim = true;
    }
    await this.#store.indexRemove(keys.directoryIndex(), member);
    return { account, claim };
  }

  /** The stored JSON of an account, unparsed (backup, migrations). */
  raw(id: string): Promise<string | null> {
    return this.#store.get(keys.account(id));
  }

  /** Accounts whose display name starts with `prefix` (case-insensitive). */
  async searchNames(prefix: string, limit: number): Promise<Array<{ id: string }>> {
    const members = await this.#store.indexRange(keys.nameIndex(), prefix.toLocaleLowerCase('en'), limit);
    return members.map((m) => ({ id: indexEntry(m).id }));
  }

  /**
   * Accounts with a name part starting with `prefix` (case-insensitive: "tan" finds Allen Tan),
   * in one school (its code) or in all ("*"): one range read of that school's index.
   */
  async searchNameParts(schoolCode: string, prefix: string, limit: number): Promise<Array<{ id: string }>> {
    const normalised = prefix.toLocaleLowerCase('en').replace(/\s+/g, ' ').trim();
    if (!normalised) return [];
    const members = await this.#store.indexRange(keys.namePartIndex(schoolCode), normalised, limit * 4);
    return [...new Set(members.map((m) => m.split(INDEX_SEPARATOR)[1] ?? ''))].filter(Boolean).slice(0, limit).map((id) => ({ id }));
  }

  /**
   * Writes the name-part entries of every account (accounts created before the index
   * existed), once: idempotent, page by page through dir:logins, then marks the index built.
   * Resolves to the number of accounts indexed (0 when already built).
   */
  async buildNamePartIndex(pageSize = 500): Promise<number> {
    if (await this.#store.get(keys.namePartIndexBuilt())) return 0;
    let after: string | undefined;
    let count = 0;
    for (;;) {
      const page = await this.#store.indexRange(keys.directoryIndex(), '', pageSize, after);
      for (const member of page) {
        const id = member.split(INDEX_SEPARATOR)[1] ?? '';
        const account = id ? await this.get(id) : null;
        if (account?.school) {
          for (const [key, entry] of namePartEntries(account)) await this.#store.indexAdd(key, entry);
          count++;
        }
      }
      if (page.length < pageSize) break;
      after = page[page.length - 1];
    }
    await this.#store.set(keys.namePartIndexBuilt(), new Date().toISOString());
    return count;
  }

  /**
   * Login IDs starting with `prefix`, in order; `after` continues a previous page: pass the
   * last entry's `member` (the index member as stored, which a later layout may extend).
   */
  async searchLoginIds(prefix: string, limit: number, after?: string): Promise<Array<{ loginId: string; id: string; member: string }>> {
    const members = await this.#store.indexRange(keys.directoryIndex(), prefix.toLowerCase(), limit, after);
    return members.map((member) => {
      const { key: loginId, id } = indexEntry(member);
      return { loginId, id, member };
    });
  }
}
