// The audit trail's table: events appended in order (seq), newest read first, trimmed to the
// newest `cap` events (every 256 appends, one DELETE by sequence number).
import type { Database } from '../database/index.ts';

export interface AuditRow {
  id: string;
  fields: Record<string, string>;
}

const TRIM_EVERY = 256;

export class AuditRows {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async append(fields: Record<string, string>, cap: number): Promise<string> {
    const [row] = await this.#db.query<{ seq: string }>('insert into audit_events (event) values ($1) returning seq::text as seq', [JSON.stringify(fields)]);
    const seq = Number(row!.seq);
    if (seq % TRIM_EVERY === 0 || cap < TRIM_EVERY) await this.#db.query('delete from audit_events where seq <= $1', [seq - cap]);
    return row!.seq;
  }

  /** Newest first; `before` continues from an earlier page's last id. */
  async recent(count: number, before?: string): Promise<AuditRow[]> {
    const rows = await this.#db.query<{ seq: string; event: Record<string, string> }>(
      'select seq::text as seq, event from audit_events where ($1::bigint is null or seq < $1::bigint) order by audit_events.seq desc limit $2',
      [before ?? null, count],
    );
    return rows.map((r) => ({ id: r.seq, fields: r.event }));
  }
}
