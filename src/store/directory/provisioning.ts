// Provisioning in the directory's database (migration 4): provisioning clients (a token's
// SHA-256 and its schools), each client's externalIds, classes as resources with stable ids,
// and the accounts the lifecycle must look at (a step due, or not used for a while).
import { likePrefix, uniqueViolation, type Database, type Sql } from '../database/index.ts';

export interface ProvisioningClientRecord {
  id: string;
  name: string;
  tokenHash: string;
  /** School codes the client may read and change; ['*'] for every school. */
  schools: string[];
  createdAt: number;
  revokedAt: number | null;
}

export interface ClassRecord {
  id: string;
  schoolCode: string;
  year: number;
  name: string;
  createdAt: number;
  updatedAt: number;
}

export type ExternalKind = 'user' | 'group';

export class ExternalIdTakenError extends Error {
  override name = 'ExternalIdTakenError';
}

export class ClassExistsError extends Error {
  override name = 'ClassExistsError';
}

type ClientRow = { id: string; name: string; token_hash: string; schools: string[]; created_at: string; revoked_at: string | null };
type ClassRow = { id: string; school_code: string; year: number; name: string; created_at: string; updated_at: string };

const clientOf = (r: ClientRow): ProvisioningClientRecord => ({ id: r.id, name: r.name, tokenHash: r.token_hash, schools: r.schools, createdAt: Number(r.created_at), revokedAt: r.revoked_at === null ? null : Number(r.revoked_at) });
const classOf = (r: ClassRow): ClassRecord => ({ id: r.id, schoolCode: r.school_code, year: Number(r.year), name: r.name, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) });
const CLASS_COLUMNS = 'id, school_code, year, name, created_at::text as created_at, updated_at::text as updated_at';

/** A condition on accounts a provisioning query may ask for (built by the SCIM filter, never from raw text). */
export type AccountCondition =
  | { attribute: 'loginId'; op: 'eq' | 'sw'; value: string }
  | { attribute: 'externalId'; op: 'eq' | 'sw'; value: string; clientId: string }
  | { attribute: 'updatedAt'; op: 'gt' | 'ge' | 'lt' | 'le' | 'eq'; value: number }
  | { attribute: 'id'; op: 'eq'; value: string };

export class ProvisioningRows {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  // --- clients ---

  async addClient(c: ProvisioningClientRecord): Promise<void> {
    await this.#db.query('insert into provisioning_clients (id, name, token_hash, schools, created_at) values ($1, $2, $3, $4, $5)', [c.id, c.name, c.tokenHash, JSON.stringify(c.schools), c.createdAt]);
  }

  async clientByTokenHash(hash: string): Promise<ProvisioningClientRecord | null> {
    const [r] = await this.#db.query<ClientRow>('select id, name, token_hash, schools, created_at::text as created_at, revoked_at::text as revoked_at from provisioning_clients where token_hash = $1', [hash]);
    return r ? clientOf(r) : null;
  }

  async clients(): Promise<ProvisioningClientRecord[]> {
    return (await this.#db.query<ClientRow>('select id, name, token_hash, schools, created_at::text as created_at, revoked_at::text as revoked_at from provisioning_clients order by provisioning_clients.created_at, id')).map(clientOf);
  }

  /** Revokes a client's token; resolves false when there is no such client (or it was revoked). */
  async revokeClient(id: string, at: number): Promise<boolean> {
    const rows = await this.#db.query('update provisioning_clients set revoked_at = $2 where id = $1 and revoked_at is null returning id', [id, at]);
    return rows.length > 0;
  }

  // --- externalIds ---

  async externalTarget(clientId: string, kind: ExternalKind, externalId: string): Promise<string | null> {
    const [r] = await this.#db.query<{ target_id: string }>('select target_id from external_ids where client_id = $1 and kind = $2 and external_id = $3', [clientId, kind, externalId]);
    return r?.target_id ?? null;
  }

  /** The client's externalIds of targets (target id -> externalId). */
  async externalIdsOf(clientId: string, kind: ExternalKind, targets: readonly string[]): Promise<Map<string, string>> {
    if (targets.length === 0) return new Map();
    const rows = await this.#db.query<{ target_id: string; external_id: string }>('select target_id, external_id from external_ids where client_id = $1 and kind = $2 and target_id = any($3::text[])', [clientId, kind, [...targets]]);
    return new Map(rows.map((r) => [r.target_id, r.external_id]));
  }

  /**
   * Sets (or, with null, removes) the client's externalId of a target. Another target of the
   * client holding the same externalId is refused (ExternalIdTakenError).
   */
  async setExternalId(clientId: string, kind: ExternalKind, targetId: string, externalId: string | null, tx?: Sql): Promise<void> {
    const run = async (q: Sql) => {
      await q.query('delete from external_ids where client_id = $1 and kind = $2 and target_id = $3', [clientId, kind, targetId]);
      if (externalId === null) return;
      try {
        await q.query('insert into external_ids (client_id, kind, external_id, target_id) values ($1, $2, $3, $4)', [clientId, kind, externalId, targetId]);
      } catch (err) {
        if (uniqueViolation(err) !== null) throw new ExternalIdTakenError(`externalId ${externalId} already names another ${kind} of this client`);
        throw err;
      }
    };
    if (tx) await run(tx);
    else await this.#db.transaction(run);
  }

  async forgetTarget(targetId: string): Promise<void> {
    await this.#db.query('delete from external_ids where target_id = $1', [targetId]);
  }

  // --- classes ---

  async addClass(c: ClassRecord): Promise<ClassRecord> {
    try {
      await this.#db.query('insert into classes (id, school_code, year, name, created_at, updated_at) values ($1, $2, $3, $4, $5, $5)', [c.id, c.schoolCode, c.year, c.name, c.createdAt]);
      return c;
    } catch (err) {
      if (uniqueViolation(err) !== null) throw new ClassExistsError(`class ${c.name} (${c.year}) of ${c.schoolCode} exists`);
      throw err;
    }
  }

  /** The class's record, created when absent (concurrent callers get the same one). */
  async ensureClass(c: ClassRecord): Promise<ClassRecord> {
    await this.#db.query('insert into classes (id, school_code, year, name, created_at, updated_at) values ($1, $2, $3, $4, $5, $5) on conflict (school_code, year, name) do nothing', [c.id, c.schoolCode, c.year, c.name, c.createdAt]);
    return (await this.classByName(c.schoolCode, c.year, c.name))!;
  }

  async classById(id: string): Promise<ClassRecord | null> {
    const [r] = await this.#db.query<ClassRow>(`select ${CLASS_COLUMNS} from classes where id = $1`, [id]);
    return r ? classOf(r) : null;
  }

  async classByName(schoolCode: string, year: number, name: string): Promise<ClassRecord | null> {
    const [r] = await this.#db.query<ClassRow>(`select ${CLASS_COLUMNS} from classes where school_code = $1 and year = $2 and name = $3`, [schoolCode, year, name]);
    return r ? classOf(r) : null;
  }

  async renameClass(id: string, name: string, at: number): Promise<void> {
    try {
      await this.#db.query('update classes set name = $2, updated_at = $3 where id = $1', [id, name, at]);
    } catch (err) {
      if (uniqueViolation(err) !== null) throw new ClassExistsError(`a class named ${name} exists`);
      throw err;
    }
  }

  async touchClass(id: string, at: number): Promise<void> {
    await this.#db.query('update classes set updated_at = $2 where id = $1', [id, at]);
  }

  async deleteClass(id: string): Promise<boolean> {
    const rows = await this.#db.query('delete from classes where id = $1 returning id', [id]);
    await this.forgetTarget(id);
    return rows.length > 0;
  }

  /** Classes of the given schools ('*': all), by school, year and name; `name` filters by eq or prefix. */
  async classes(schools: readonly string[], page: { offset: number; limit: number }, name?: { op: 'eq' | 'sw'; value: string }, externalOf?: { clientId: string; op: 'eq' | 'sw'; value: string }): Promise<{ total: number; rows: ClassRecord[] }> {
    const params: unknown[] = [schools.includes('*') ? null : [...schools]];
    let where = '($1::text[] is null or c.school_code = any($1::text[]))';
    if (name) {
      params.push(name.op === 'eq' ? name.value : likePrefix(name.value));
      where += name.op === 'eq' ? ` and c.name = $${params.length}` : ` and c.name like $${params.length} escape '\\'`;
    }
    if (externalOf) {
      params.push(externalOf.clientId, externalOf.op === 'eq' ? externalOf.value : likePrefix(externalOf.value));
      where += ` and exists (select 1 from external_ids e where e.target_id = c.id and e.kind = 'group' and e.client_id = $${params.length - 1} and e.external_id ${externalOf.op === 'eq' ? '=' : 'like'} $${params.length}${externalOf.op === 'sw' ? " escape '\\'" : ''})`;
    }
    const [count] = await this.#db.query<{ n: number }>(`select count(*)::int as n from classes c where ${where}`, params);
    params.push(page.limit, page.offset);
    const rows = await this.#db.query<ClassRow>(`select ${CLASS_COLUMNS.replace(/(^|, )(\w+)/g, '$1c.$2')} from classes c where ${where} order by c.school_code, c.year, c.name limit $${params.length - 1} offset $${params.length}`, params);
    return { total: count!.n, rows: rows.map(classOf) };
  }

  /** Classes given to accounts elsewhere (a student's class, a teacher's form classes) that have no record yet get one. */
  async adoptClasses(schools: readonly string[], at: number): Promise<void> {
    await this.#db.query(
      `insert into classes (id, school_code, year, name, created_at, updated_at)
       select md5(random()::text || k.school_code || k.year || k.name), k.school_code, k.year, k.name, $2, $2 from (
         select distinct school_code, (record->'class'->>'year')::int as year, record->'class'->>'name' as name from accounts
          where jsonb_typeof(record->'class') = 'object' and ($1::text[] is null or school_code = any($1::text[]))
         union
         select distinct a.school_code, (f->>'year')::int, f->>'name' from accounts a, jsonb_array_elements(case when jsonb_typeof(a.record->'formClasses') = 'array' then a.record->'formClasses' else '[]'::jsonb end) f
          where ($1::text[] is null or a.school_code = any($1::text[]))
       ) k where k.school_code is not null and k.name is not null and k.year is not null
       on conflict (school_code, year, name) do nothing`,
      [schools.includes('*') ? null : [...schools], at],
    );
  }

  /** A school's name as its accounts have it, or null when it has none. */
  async schoolName(code: string): Promise<string | null> {
    const [r] = await this.#db.query<{ name: string }>(`select record->'school'->>'name' as name from accounts where school_code = $1 limit 1`, [code]);
    return r?.name ?? null;
  }

  // --- accounts, as provisioning and the lifecycle see them ---

  /** Account ids of the given schools matching every condition, in login ID order, with the total. */
  async accounts(schools: readonly string[], conditions: readonly AccountCondition[], page: { offset: number; limit: number }): Promise<{ total: number; ids: string[] }> {
    const params: unknown[] = [schools.includes('*') ? null : [...schools]];
    const where = ['($1::text[] is null or a.school_code = any($1::text[]))', "coalesce(a.record->'lifecycle'->>'leftAt', '') = ''"];
    for (const c of conditions) {
      if (c.attribute === 'loginId') {
        params.push(c.op === 'eq' ? c.value : likePrefix(c.value));
        where.push(c.op === 'eq' ? `a.login_id = $${params.length}` : `a.login_id like $${params.length} escape '\\'`);
      } else if (c.attribute === 'externalId') {
        params.push(c.clientId, c.op === 'eq' ? c.value : likePrefix(c.value));
        where.push(`exists (select 1 from external_ids e where e.target_id = a.id and e.kind = 'user' and e.client_id = $${params.length - 1} and e.external_id ${c.op === 'eq' ? '=' : 'like'} $${params.length}${c.op === 'sw' ? " escape '\\'" : ''})`);
      } else if (c.attribute === 'id') {
        params.push(c.value);
        where.push(`a.id = $${params.length}`);
      } else {
        params.push(c.value);
        const op = { gt: '>', ge: '>=', lt: '<', le: '<=', eq: '=' }[c.op];
        where.push(`(a.record->>'updatedAt')::bigint ${op} $${params.length}`);
      }
    }
    const [count] = await this.#db.query<{ n: number }>(`select count(*)::int as n from accounts a where ${where.join(' and ')}`, params);
    params.push(page.limit, page.offset);
    const rows = await this.#db.query<{ id: string }>(`select a.id from accounts a where ${where.join(' and ')} order by a.login_id limit $${params.length - 1} offset $${params.length}`, params);
    return { total: count!.n, ids: rows.map((r) => r.id) };
  }

  /** Accounts with a step scheduled (at any time), of one school or all (null), soonest first. */
  async scheduled(schoolCode: string | null, limit: number): Promise<string[]> {
    const rows = await this.#db.query<{ id: string }>(`select id from accounts where record->'lifecycle'->>'dueAt' is not null and ($1::text is null or school_code = $1) order by (record->'lifecycle'->>'dueAt')::bigint, id limit $2`, [schoolCode, limit]);
    return rows.map((r) => r.id);
  }

  /** Accounts with a lifecycle step due at `now`, oldest first. */
  async due(now: number, limit: number): Promise<string[]> {
    const rows = await this.#db.query<{ id: string }>(`select id from accounts where record->'lifecycle'->>'dueAt' is not null and (record->'lifecycle'->>'dueAt')::bigint <= $1 order by (record->'lifecycle'->>'dueAt')::bigint, id limit $2`, [now, limit]);
    return rows.map((r) => r.id);
  }

  /** Active accounts of a school (or all: null) not signed in (nor created) since `before`. */
  async unusedSince(before: number, limit: number, after?: string): Promise<string[]> {
    const rows = await this.#db.query<{ id: string }>(
      `select id from accounts where record->>'status' = 'active' and (coalesce(record->>'lastSignInAt', record->>'createdAt'))::bigint < $1 and ($2::text is null or id > $2) order by id limit $3`,
      [before, after ?? null, limit],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Anonymises the audit trail of a deleted account: its id becomes `pseudonym`, and what
   * names the person (login ID, address, actor name) is removed, in the events about it
   * and in those it acted in. Resolves how many events changed.
   */
  async anonymiseAudit(accountId: string, pseudonym: string): Promise<number> {
    const rows = await this.#db.query<{ seq: string }>(
      `update audit_events set event = (event - 'loginId' - 'ip' - case when event->>'actor' = $1 then 'actorName' else '' end)
         || case when event->>'accountId' = $1 then jsonb_build_object('accountId', $2::text) else '{}'::jsonb end
         || case when event->>'actor' = $1 then jsonb_build_object('actor', $2::text) else '{}'::jsonb end
       where event->>'accountId' = $1 or event->>'actor' = $1 returning seq::text as seq`,
      [accountId, pseudonym],
    );
    return rows.length;
  }
}
