// The accounts table (store/database/migrations.ts): each account's record as JSON, and what
// the database must enforce or search beside it, derived from the record by the domain and
// written in the same transaction as the record (never one without the other):
// the login ID (unique), the lower-cased name, the school, the name's parts (search by any
// part) and the hashed credential ids of its passkeys (one passkey, one account).
import { likePrefix, uniqueViolation, type Database, type Sql } from '../database/index.ts';

/** What the database keeps beside a record, derived from it (domain/accounts/directory.ts). */
export interface AccountProjection {
  id: string;
  loginId: string;
  nameKey: string;
  schoolCode: string | null;
  /** The name from each of its parts on. */
  nameParts: string[];
  /** SHA-256 (base64url) of each passkey's credential id. */
  passkeys: string[];
}

export interface AccountRow<R> {
  projection: AccountProjection;
  record: R;
}

export class LoginIdTakenError extends Error {
  override name = 'LoginIdTakenError';
}

export class PasskeyTakenError extends Error {
  override name = 'PasskeyTakenError';
}

function conflict(err: unknown, loginId: string): unknown {
  const constraint = uniqueViolation(err);
  if (constraint === null) return err;
  if (/passkeys/.test(constraint)) return new PasskeyTakenError('a passkey of this account is registered to another account');
  if (/login_id/.test(constraint)) return new LoginIdTakenError(`login ID already exists: ${loginId}`);
  return err;
}

async function writeDerived(tx: Sql, p: AccountProjection, replace: boolean): Promise<void> {
  if (replace) {
    await tx.query('delete from account_name_parts where account_id = $1', [p.id]);
    await tx.query('delete from passkeys where account_id = $1', [p.id]);
  }
  if (p.nameParts.length) {
    await tx.query(
      `insert into account_name_parts (part, school_code, account_id) select unnest($1::text[]), $2, $3 on conflict do nothing`,
      [p.nameParts, p.schoolCode ?? '', p.id],
    );
  }
  if (p.passkeys.length) {
    await tx.query(`insert into passkeys (credential_hash, account_id) select unnest($1::text[]), $2`, [p.passkeys, p.id]);
  }
}

function sameDerived(a: AccountProjection, b: AccountProjection): boolean {
  return a.schoolCode === b.schoolCode && a.nameParts.join('\n') === b.nameParts.join('\n') && a.passkeys.join('\n') === b.passkeys.join('\n');
}

export class AccountRows<R extends object> {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Inserts a new account; LoginIdTakenError when its login ID is someone's. */
  async insert(row: AccountRow<R>): Promise<void> {
    const p = row.projection;
    try {
      await this.#db.transaction(async (tx) => {
        await tx.query('insert into accounts (id, login_id, name_key, school_code, record) values ($1, $2, $3, $4, $5)', [p.id, p.loginId, p.nameKey, p.schoolCode, JSON.stringify(row.record)]);
        await writeDerived(tx, p, false);
      });
    } catch (err) {
      throw conflict(err, p.loginId);
    }
  }

  async get(id: string): Promise<R | null> {
    const [row] = await this.#db.query<{ record: R }>('select record from accounts where id = $1', [id]);
    return row?.record ?? null;
  }

  async byLoginId(loginId: string): Promise<R | null> {
    const [row] = await this.#db.query<{ record: R }>('select record from accounts where login_id = $1', [loginId]);
    return row?.record ?? null;
  }

  /** The account whose passkey has this hashed credential id. */
  async byPasskey(credentialHash: string): Promise<R | null> {
    const [row] = await this.#db.query<{ record: R }>('select a.record from passkeys p join accounts a on a.id = p.account_id where p.credential_hash = $1', [credentialHash]);
    return row?.record ?? null;
  }

  /**
   * Writes what `change` makes of the account, serialised by the database against every
   * other change of it. `change` returns null to write nothing. Resolves [before, after], or
   * null when there is no such account. Two ways, by what changes:
   * - only the record (a sign-in's time, a password, answers, factors' counters): one read,
   *   then one UPDATE that applies only if the record is still the one read (compare-and-set
   *   in a single statement: two round trips, not four);
   * - also what is derived from it (name, school, passkeys), or another change came between
   *   twice (many changes of one account at once): one transaction that reads the account
   *   FOR UPDATE, so the changes queue in the database, then writes the record with its rows.
   * Either way a rule over the whole record (the last second factor stays) is checked
   * against exactly the version it replaces.
   */
  async update(id: string, change: (current: R) => AccountRow<R> | null, derive: (record: R) => AccountProjection): Promise<[R, R] | null> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const [row] = await this.#db.query<{ record: R; rev: number }>('select record, rev from accounts where id = $1', [id]);
      if (!row) return null;
      const next = change(row.record);
      if (!next) return [row.record, row.record];
      const p = next.projection;
      if (!sameDerived(derive(row.record), p)) return this.#updateLocked(id, change, derive);
      const written = await this.#db.query(
        'update accounts set name_key = $2, record = $3, rev = rev + 1 where id = $1 and rev = $4 returning 1',
        [id, p.nameKey, JSON.stringify(next.record), row.rev],
      );
      if (written.length) return [row.record, next.record];
    }
    return this.#updateLocked(id, change, derive);
  }

  async #updateLocked(id: string, change: (current: R) => AccountRow<R> | null, derive: (record: R) => AccountProjection): Promise<[R, R] | null> {
    return this.#db.transaction(async (tx) => {
      const [row] = await tx.query<{ record: R }>('select record from accounts where id = $1 for update', [id]);
      if (!row) return null;
      const next = change(row.record);
      if (!next) return [row.record, row.record];
      const p = next.projection;
      const before = derive(row.record);
      try {
        await tx.query('update accounts set name_key = $2, school_code = $3, record = $4, rev = rev + 1 where id = $1', [id, p.nameKey, p.schoolCode, JSON.stringify(next.record)]);
        if (!sameDerived(before, p)) await writeDerived(tx, p, true);
      } catch (err) {
        throw conflict(err, p.loginId);
      }
      return [row.record, next.record];
    });
  }

  /**
   * Writes a record as it was backed up. Without `overwrite` an existing login ID is refused
   * (LoginIdTakenError); with it, the account of that id is replaced, and another account
   * holding the login ID is removed (the backup's directory wins). Resolves how many other
   * accounts it removed so (0 or 1).
   */
  async put(row: AccountRow<R>, overwrite: boolean): Promise<number> {
    const p = row.projection;
    try {
      return await this.#db.transaction(async (tx) => {
        let displaced = 0;
        if (overwrite) {
          displaced = (await tx.query('delete from accounts where login_id = $1 and id <> $2 returning id', [p.loginId, p.id])).length;
          await tx.query(
            `insert into accounts (id, login_id, name_key, school_code, record) values ($1, $2, $3, $4, $5)
             on conflict (id) do update set login_id = excluded.login_id, name_key = excluded.name_key, school_code = excluded.school_code, record = excluded.record, rev = accounts.rev + 1`,
            [p.id, p.loginId, p.nameKey, p.schoolCode, JSON.stringify(row.record)],
          );
        } else {
          await tx.query('insert into accounts (id, login_id, name_key, school_code, record) values ($1, $2, $3, $4, $5)', [p.id, p.loginId, p.nameKey, p.schoolCode, JSON.stringify(row.record)]);
        }
        await writeDerived(tx, p, overwrite);
        return displaced;
      });
    } catch (err) {
      throw conflict(err, p.loginId);
    }
  }

  /** Removes an account (its name parts and passkeys go with it). */
  async delete(id: string): Promise<boolean> {
    return (await this.#db.query('delete from accounts where id = $1 returning id', [id])).length > 0;
  }

  /** Login IDs starting with `prefix`, in byte order, after `after` (a login ID) when given. */
  async loginIds(prefix: string, limit: number, after?: string): Promise<Array<{ loginId: string; id: string }>> {
    const rows = await this.#db.query<{ login_id: string; id: string }>(
      `select login_id, id from accounts where login_id like $1 escape '\\' and ($2::text is null or login_id > $2) order by login_id limit $3`,
      [likePrefix(prefix), after ?? null, limit],
    );
    return rows.map((r) => ({ loginId: r.login_id, id: r.id }));
  }

  /** Ids of accounts whose lower-cased name starts with `prefix`, by name. */
  async byNamePrefix(prefix: string, limit: number): Promise<string[]> {
    const rows = await this.#db.query<{ id: string }>(`select id from accounts where name_key like $1 escape '\\' order by name_key, id limit $2`, [likePrefix(prefix), limit]);
    return rows.map((r) => r.id);
  }

  /** Ids of accounts with a name part starting with `prefix`, in one school (its code) or all ("*"). */
  async byNamePart(schoolCode: string, prefix: string, limit: number): Promise<string[]> {
    const rows = await this.#db.query<{ account_id: string }>(
      `select account_id from account_name_parts where part like $1 escape '\\' and ($2 = '*' or school_code = $2)
       group by account_id order by min(part), account_id limit $3`,
      [likePrefix(prefix), schoolCode, limit],
    );
    return rows.map((r) => r.account_id);
  }

  /** The accounts in a class of a school (Account.class), by name. */
  async inClass(schoolCode: string, year: number, name: string): Promise<R[]> {
    const rows = await this.#db.query<{ record: R }>(
      `select record from accounts where school_code = $1 and record->'class'->>'year' = $2 and record->'class'->>'name' = $3 order by name_key, id limit 2000`,
      [schoolCode, String(year), name],
    );
    return rows.map((r) => r.record);
  }

  /** The classes that have students, of one school or of all (null), with how many. */
  async classes(schoolCode: string | null): Promise<Array<{ schoolCode: string; year: number; name: string; students: number }>> {
    const rows = await this.#db.query<{ school_code: string; year: string; name: string; n: number }>(
      `select school_code, record->'class'->>'year' as year, record->'class'->>'name' as name, count(*)::int as n from accounts
       where ($1::text is null or school_code = $1) and jsonb_typeof(record->'class') = 'object'
       group by 1, 2, 3 order by 1, 2 desc, 3 limit 2000`,
      [schoolCode],
    );
    return rows.map((r) => ({ schoolCode: r.school_code, year: Number(r.year), name: r.name, students: r.n }));
  }

  /** The accounts of a school that are form teacher of a class (Account.formClasses). */
  async teachersOf(schoolCode: string, year: number, name: string): Promise<R[]> {
    const rows = await this.#db.query<{ record: R }>(
      `select record from accounts where school_code = $1 and record->'formClasses' @> $2::jsonb order by name_key, id limit 100`,
      [schoolCode, JSON.stringify([{ year, name }])],
    );
    return rows.map((r) => r.record);
  }

  /** Accounts with a temporary password asked for by a form teacher (Account.passwordRequest), of one school or all (null). */
  async withPasswordRequest(schoolCode: string | null, limit: number): Promise<R[]> {
    const rows = await this.#db.query<{ record: R }>(
      `select record from accounts where jsonb_typeof(record->'passwordRequest') = 'object' and ($1::text is null or school_code = $1)
       order by (record->'passwordRequest'->>'at')::bigint, id limit $2`,
      [schoolCode, limit],
    );
    return rows.map((r) => r.record);
  }

  async count(): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>('select count(*)::int as n from accounts');
    return row?.n ?? 0;
  }
}
