// What a OneRoster import reads and links in bulk (a few queries for 100,000 users, where one
// per user would take minutes): the accounts a source has linked, accounts by login ID, the
// classes a source has linked; and new links, many in one statement. Every other write goes
// through the Roster and ProvisioningRows.
import { upgradeAccount, type Account } from '../accounts/account.ts';
import type { Database } from '../../store/database/index.ts';

const CHUNK = 2_000;

export class OneRosterRows {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Every account the client links (externalId -> account); accounts deleted since are left out. */
  async linkedAccounts(clientId: string): Promise<Map<string, Account>> {
    const rows = await this.#db.query<{ external_id: string; record: Account }>(
      "select e.external_id, a.record from external_ids e join accounts a on a.id = e.target_id where e.client_id = $1 and e.kind = 'user'",
      [clientId],
    );
    return new Map(rows.map((r) => [r.external_id, upgradeAccount(r.record)]));
  }

  /** The client's class links (externalId -> class id). */
  /** Of these accounts, those another OneRoster source holds: account id -> that source's name ("oneroster:<source>"). */
  async heldByOtherSources(clientId: string | null, accountIds: readonly string[]): Promise<Map<string, string>> {
    if (accountIds.length === 0) return new Map();
    const rows = await this.#db.query<{ target_id: string; name: string }>(
      `select e.target_id, c.name from external_ids e join provisioning_clients c on c.id = e.client_id
        where e.kind = 'user' and e.target_id = any($2::text[]) and c.name like 'oneroster:%' and ($1::text is null or e.client_id <> $1)`,
      [clientId, [...accountIds]],
    );
    return new Map(rows.map((r) => [r.target_id, r.name]));
  }

  async linkedClasses(clientId: string): Promise<Map<string, string>> {
    const rows = await this.#db.query<{ external_id: string; target_id: string }>("select external_id, target_id from external_ids where client_id = $1 and kind = 'group'", [clientId]);
    return new Map(rows.map((r) => [r.external_id, r.target_id]));
  }

  /** The accounts of these (normalised) login IDs, by login ID. */
  async byLoginIds(loginIds: readonly string[]): Promise<Map<string, Account>> {
    const out = new Map<string, Account>();
    for (let i = 0; i < loginIds.length; i += CHUNK) {
      const rows = await this.#db.query<{ record: Account }>('select record from accounts where login_id = any($1::text[])', [loginIds.slice(i, i + CHUNK)]);
      for (const r of rows) out.set(r.record.loginId, upgradeAccount(r.record));
    }
    return out;
  }

  /**
   * Links targets that have no externalId of this client yet (just created, or found by login
   * ID), many in one statement. Resolves the pairs it could not add because the externalId
   * names another target of the client already (the caller sorts those out one by one).
   */
  async addLinks(clientId: string, kind: 'user' | 'group', links: ReadonlyArray<{ targetId: string; externalId: string }>): Promise<Array<{ targetId: string; externalId: string }>> {
    if (links.length === 0) return [];
    const rows = await this.#db.query<{ external_id: string; target_id: string }>(
      `insert into external_ids (client_id, kind, external_id, target_id)
         select $1::text, $2::text, l.external_id, l.target_id from unnest($3::text[], $4::text[]) as l(external_id, target_id)
       on conflict (client_id, kind, external_id) do nothing
       returning external_id`,
      [clientId, kind, links.map((l) => l.externalId), links.map((l) => l.targetId)],
    );
    const added = new Set(rows.map((r) => r.external_id));
    if (added.size === links.length) return [];
    // Not added: already linked to the same target (done before), or to another one.
    const held = await this.#db.query<{ external_id: string; target_id: string }>(
      'select external_id, target_id from external_ids where client_id = $1 and kind = $2 and external_id = any($3::text[])',
      [clientId, kind, links.filter((l) => !added.has(l.externalId)).map((l) => l.externalId)],
    );
    const holder = new Map(held.map((h) => [h.external_id, h.target_id]));
    return links.filter((l) => !added.has(l.externalId) && holder.get(l.externalId) !== l.targetId);
  }
}
