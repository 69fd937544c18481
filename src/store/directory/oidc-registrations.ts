// OIDC registrations kept in the directory's database: clients registered over HTTP
// (RFC 7591), their registration access tokens (RFC 7592) and initial access tokens. Keyed
// by the model and a SHA-256 of the id (the adapter hashes it); a client's own id is kept
// beside it so that operators can list them. Expired rows are never returned.
import type { Database } from '../database/index.ts';

export class OidcRegistrations {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async put(model: string, idDigest: string, clientId: string | null, payload: object, expiresAt: Date | null): Promise<void> {
    await this.#db.query(
      `insert into oidc_registrations (model, id_digest, client_id, payload, expires_at) values ($1, $2, $3, $4, $5)
       on conflict (model, id_digest) do update set client_id = excluded.client_id, payload = excluded.payload, expires_at = excluded.expires_at`,
      [model, idDigest, clientId, JSON.stringify(payload), expiresAt],
    );
  }

  async get(model: string, idDigest: string): Promise<Record<string, unknown> | null> {
    const [row] = await this.#db.query<{ payload: Record<string, unknown> }>(
      'select payload from oidc_registrations where model = $1 and id_digest = $2 and (expires_at is null or expires_at > now())',
      [model, idDigest],
    );
    return row?.payload ?? null;
  }

  /** Marks a row consumed (its payload's `consumed`, seconds); false when there is no live row. */
  async consume(model: string, idDigest: string, at: number): Promise<boolean> {
    const rows = await this.#db.query(
      `update oidc_registrations set payload = payload || jsonb_build_object('consumed', $3::bigint) where model = $1 and id_digest = $2 and (expires_at is null or expires_at > now()) returning 1`,
      [model, idDigest, at],
    );
    return rows.length > 0;
  }

  async delete(model: string, idDigest: string): Promise<void> {
    await this.#db.query('delete from oidc_registrations where model = $1 and id_digest = $2', [model, idDigest]);
  }

  /** The uses an initial access token has left (a row of its own, model InitialAccessTokenUses), expiring with it. */
  async putUses(idDigest: string, uses: number, expiresAt: Date): Promise<void> {
    await this.put('InitialAccessTokenUses', idDigest, null, { left: uses }, expiresAt);
  }

  async usesLeft(idDigest: string): Promise<number | null> {
    const row = await this.get('InitialAccessTokenUses', idDigest);
    return typeof row?.left === 'number' ? row.left : null;
  }

  /** Adds `delta` to the uses left, in one statement, unless that would take them below zero; false then (or when there is no live counter). */
  async changeUses(idDigest: string, delta: number): Promise<boolean> {
    const rows = await this.#db.query(
      `update oidc_registrations set payload = jsonb_build_object('left', (payload->>'left')::int + $2)
       where model = 'InitialAccessTokenUses' and id_digest = $1 and (payload->>'left')::int + $2 >= 0 and (expires_at is null or expires_at > now())
       returning 1`,
      [idDigest, delta],
    );
    return rows.length > 0;
  }

  /** The ids of the registered clients, in order. */
  async clientIds(): Promise<string[]> {
    const rows = await this.#db.query<{ client_id: string }>(`select client_id from oidc_registrations where model = 'Client' and client_id is not null order by client_id`);
    return rows.map((r) => r.client_id);
  }
}
