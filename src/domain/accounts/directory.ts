// The directory of accounts, on the database (store/directory/accounts.ts): one row per
// account holding its record as JSON, with the login ID (unique: the database refuses a
// second account for it, also under concurrency), the name, the school, the name's parts and
// the passkeys' credential ids beside it, all written in one transaction with the record.
// Concurrent changes to one account are serialised by the database (a compare-and-set on the
// row's version, or SELECT … FOR UPDATE: store/directory/accounts.ts), so a rule over the
// whole record (the last second factor stays) holds.
// Records are versioned (Account.v, README "Upgrading"): this release reads its own
// version and the previous one, writes its own, and never drops a field it does not know
// (updates work on the parsed JSON as stored, so unknown fields survive every write).
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { NotReplicatedError, OutcomeUnknownError, type Database } from '../../store/database/index.ts';
import { StoreUnavailableError } from '../../store/index.ts';
import { AccountRows, LoginIdTakenError, type AccountProjection, type AccountRow } from '../../store/directory/accounts.ts';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import { NewerRecordError, recordVersion } from '../versions.ts';
import { ACCOUNT_VERSION, upgradeAccount, type Account, type SchoolClass } from './account.ts';

/** An account id no account can have (ids are 22 characters): read for unknown login IDs. */
const NO_ACCOUNT_ID = 'none';

export { NewerRecordError, recordVersion } from '../versions.ts';
export { PasskeyTakenError } from '../../store/directory/accounts.ts';

/** How long a write whose outcome was not confirmed is checked by reading it back (a failover's length). */
const CONFIRM_MS = 10_000;

export class DuplicateLoginIdError extends Error {
  override name = 'DuplicateLoginIdError';
}

export type NewAccount = Omit<Account, 'id' | 'createdAt' | 'updatedAt' | 'lastSignInAt' | 'v'>;

export interface UpdateOptions {
  /** Set updatedAt (default). Migrations leave it alone: they change no one's data. */
  touch?: boolean;
}

function nameKey(a: Pick<Account, 'displayName'>): string {
  return String(a.displayName ?? '').toLocaleLowerCase('en').replace(/\s+/g, ' ').trim();
}

/** The name from each of its parts on: "allen tan" -> ["allen tan", "tan"] (a search by any part is a prefix search). */
export function nameParts(a: Pick<Account, 'displayName'>): string[] {
  const words = nameKey(a).split(' ').filter(Boolean);
  return [...new Set(words.map((_, i) => words.slice(i).join(' ')))];
}

/** A passkey's credential id as the directory indexes it (public, but unbounded in length: its SHA-256). */
export function passkeyHash(credentialId: string): string {
  return createHash('sha256').update(credentialId).digest('base64url');
}

/** What the database keeps beside a record (searched, or unique), derived from the record alone. */
export function projection(a: Account): AccountProjection {
  const passkeys = (a as { mfa?: { passkeys?: Array<{ id?: unknown }> } }).mfa?.passkeys ?? [];
  return {
    id: a.id,
    loginId: a.loginId,
    nameKey: nameKey(a),
    schoolCode: a.school?.code ?? null,
    nameParts: a.school ? nameParts(a) : [],
    passkeys: passkeys.filter((p) => typeof p.id === 'string').map((p) => passkeyHash(p.id as string)),
  };
}

function row(a: Account): AccountRow<Account> {
  return { projection: projection(a), record: a };
}

export class Directory {
  readonly #rows: AccountRows<Account>;
  readonly #database: Database;
  readonly #clock: Clock;

  constructor(database: Database, clock: Clock) {
    this.#rows = new AccountRows<Account>(database);
    this.#database = database;
    this.#clock = clock;
  }

  async create(input: NewAccount): Promise<Account> {
    const now = this.#clock();
    const account: Account = { v: ACCOUNT_VERSION, ...input, id: newId(), createdAt: now, updatedAt: now, lastSignInAt: null };
    try {
      await this.#rows.insert(row(account));
    } catch (err) {
      if (err instanceof LoginIdTakenError) throw new DuplicateLoginIdError(err.message);
      if (err instanceof OutcomeUnknownError && (await this.#confirm(account.id, (found) => found !== null, err))) return account;
      throw err;
    }
    return account;
  }

  /**
   * After a write whose answer was lost (OutcomeUnknownError): reads the account back until
   * the database answers. When the write is there, makes sure it has reached the synchronous
   * standby too (Database.barrier) and resolves true: the change is reported as saved. When
   * it is not there, the outcome stays unknown (the session that sent it may still be
   * committing: a commit waiting for its standby is not yet visible), and so does it when the
   * database does not answer in time. Nobody is told "failed" for a write that was saved.
   */
  async #confirm(id: string, saved: (found: Account | null) => boolean, unknown: OutcomeUnknownError): Promise<true> {
    // On the primary but perhaps not on its standby: what the primary shows proves nothing.
    if (unknown instanceof NotReplicatedError) throw unknown;
    const until = Date.now() + CONFIRM_MS;
    while (Date.now() < until) {
      let found: Account | null;
      try {
        found = await this.#rows.get(id);
        if (!saved(found)) throw unknown;
        await this.#database.barrier();
        return true;
      } catch (err) {
        if (err === unknown || !(err instanceof StoreUnavailableError) || err instanceof NotReplicatedError) throw err;
        await sleep(250);
      }
    }
    throw unknown;
  }

  /** Reads nothing that exists, as long as reading something would take (timing parity). */
  getNothing(): Promise<null> {
    return this.get(NO_ACCOUNT_ID) as Promise<null>;
  }

  get(id: string): Promise<Account | null> {
    return this.#rows.get(id);
  }

  /**
   * `loginId` must already be normalised (see normaliseLoginId). One query whether or not
   * the login ID exists, so the time of a sign-in does not say which.
   */
  findByLoginId(loginId: string): Promise<Account | null> {
    return this.#rows.byLoginId(loginId);
  }

  /** The account that registered a passkey (by its credential id). */
  findByPasskey(credentialId: string): Promise<Account | null> {
    return this.#rows.byPasskey(passkeyHash(credentialId));
  }

  /**
   * Applies `change` to the current account, serialised by the database against every other
   * change of it (store/directory/accounts.ts: compare-and-set on the row's version, or a
   * locked read in one transaction; `change` may run again on a conflict). `change` returns
   * null to write nothing. Resolves the account as written, or null when absent.
   */
  async update(id: string, change: (account: Account) => Account | null, options: UpdateOptions = {}): Promise<Account | null> {
    // What was read and what was written, for reading back a write whose answer was lost.
    let attempt: { next: Account } | undefined;
    try {
      return await this.#update(id, change, options, (next) => (attempt = { next }));
    } catch (err) {
      if (!(err instanceof OutcomeUnknownError) || !attempt) throw err;
      const { next } = attempt;
      await this.#confirm(id, (found) => isDeepStrictEqual(found, next), err);
      return next;
    }
  }

  async #update(id: string, change: (account: Account) => Account | null, options: UpdateOptions, writing: (next: Account) => void): Promise<Account | null> {
    const result = await this.#rows.update(id, (current) => {
      // The parsed JSON as stored, fields this release does not know included: `change`
      // edits it in place (or a spread of it), so nothing it does not name is dropped.
      if (recordVersion(current) > ACCOUNT_VERSION) {
        throw new NewerRecordError(`account ${id} was written by a newer release (record version ${recordVersion(current)}, this release writes ${ACCOUNT_VERSION}): upgrade this process`);
      }
      const next = change(recordVersion(current) < ACCOUNT_VERSION ? upgradeAccount(structuredClone(current)) : structuredClone(current));
      if (!next) return null;
      if (next.loginId !== current.loginId || next.id !== current.id) throw new Error('login ID and id cannot change through update');
      // Writing upgrades the record (upgradeAccount above): it is written as this version.
      next.v = ACCOUNT_VERSION;
      if (options.touch !== false) next.updatedAt = this.#clock();
      // As the database will return it (JSON): compared with what is read back after a lost answer.
      writing(JSON.parse(JSON.stringify(next)) as Account);
      return row(next);
    }, projection);
    return result ? result[1] : null;
  }

  /**
   * Writes an account record as it was backed up (restore), unknown fields kept. Without
   * `overwrite` an existing login ID is refused (DuplicateLoginIdError); with it, the
   * account of that id is replaced, and another account holding the login ID is removed.
   * Resolves how many other accounts it removed so (0 or 1).
   */
  async restore(record: Account, options: { overwrite?: boolean } = {}): Promise<number> {
    try {
      return await this.#rows.put(row(record), options.overwrite === true);
    } catch (err) {
      if (err instanceof LoginIdTakenError) throw new DuplicateLoginIdError(err.message);
      throw err;
    }
  }

  /** Removes an account and all that belongs to it in the directory. */
  delete(id: string): Promise<boolean> {
    return this.#rows.delete(id);
  }

  /** The stored JSON of an account (backup, migrations). */
  async raw(id: string): Promise<string | null> {
    const a = await this.#rows.get(id);
    return a ? JSON.stringify(a) : null;
  }

  /** Accounts whose display name starts with `prefix` (case-insensitive). */
  async searchNames(prefix: string, limit: number): Promise<Array<{ id: string }>> {
    return (await this.#rows.byNamePrefix(prefix.toLocaleLowerCase('en'), limit)).map((id) => ({ id }));
  }

  /**
   * Accounts with a name part starting with `prefix` (case-insensitive: "tan" finds Allen Tan),
   * in one school (its code) or in all ("*").
   */
  async searchNameParts(schoolCode: string, prefix: string, limit: number): Promise<Array<{ id: string }>> {
    const normalised = prefix.toLocaleLowerCase('en').replace(/\s+/g, ' ').trim();
    if (!normalised) return [];
    return (await this.#rows.byNamePart(schoolCode, normalised, limit)).map((id) => ({ id }));
  }

  /**
   * Login IDs starting with `prefix`, in order; `after` continues a previous page: pass the
   * last entry's `member`.
   */
  async searchLoginIds(prefix: string, limit: number, after?: string): Promise<Array<{ loginId: string; id: string; member: string }>> {
    return (await this.#rows.loginIds(prefix.toLowerCase(), limit, after)).map((e) => ({ ...e, member: e.loginId }));
  }

  /** The students of a class of a school, by name. */
  inClass(schoolCode: string, c: SchoolClass): Promise<Account[]> {
    return this.#rows.inClass(schoolCode, c.year, c.name);
  }

  /** The classes that have students, of one school or of all (null), with how many. */
  classes(schoolCode: string | null): Promise<Array<{ schoolCode: string; year: number; name: string; students: number }>> {
    return this.#rows.classes(schoolCode);
  }

  /** The form teachers of a class of a school. */
  teachersOf(schoolCode: string, c: SchoolClass): Promise<Account[]> {
    return this.#rows.teachersOf(schoolCode, c.year, c.name);
  }

  /** Accounts waiting for a temporary password a form teacher asked for, oldest request first. */
  withPasswordRequest(schoolCode: string | null, limit: number): Promise<Account[]> {
    return this.#rows.withPasswordRequest(schoolCode, limit);
  }

  /** How many accounts there are. */
  count(): Promise<number> {
    return this.#rows.count();
  }
}
