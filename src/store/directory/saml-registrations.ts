// SAML service providers registered with `cli add-rp`, in the directory's database: one row
// per entityID (its digest), the short id unique, a revision that changes when an SP is
// removed and added again (processes re-read a member "<digest>.<rev>" they do not know).
import { uniqueViolation, type Database } from '../database/index.ts';

export class SpTakenError extends Error {
  override name = 'SpTakenError';
  readonly field: 'id' | 'entityId';
  constructor(field: 'id' | 'entityId') {
    super(`${field} already registered`);
    this.field = field;
  }
}

export class SamlRegistrations {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Adds a record; SpTakenError when its entityID or id is registered already. */
  async insert(entityDigest: string, spId: string, rev: string, record: object): Promise<void> {
    try {
      await this.#db.query('insert into saml_service_providers (entity_digest, sp_id, rev, record) values ($1, $2, $3, $4)', [entityDigest, spId, rev, JSON.stringify(record)]);
    } catch (err) {
      const constraint = uniqueViolation(err);
      if (constraint === null) throw err;
      throw new SpTakenError(/sp_id/.test(constraint) ? 'id' : 'entityId');
    }
  }

  async get(entityDigest: string): Promise<Record<string, unknown> | null> {
    const [row] = await this.#db.query<{ record: Record<string, unknown> }>('select record from saml_service_providers where entity_digest = $1', [entityDigest]);
    return row?.record ?? null;
  }

  /** Every registered SP as "<digest>.<rev>". */
  async members(): Promise<string[]> {
    const rows = await this.#db.query<{ m: string }>(`select entity_digest || '.' || rev as m from saml_service_providers order by 1`);
    return rows.map((r) => r.m);
  }

  async delete(entityDigest: string): Promise<void> {
    await this.#db.query('delete from saml_service_providers where entity_digest = $1', [entityDigest]);
  }
}
