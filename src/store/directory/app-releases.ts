// What each app may receive as administrators chose it (migration 4): one row per app and
// school ('*' for the ministry's choice for every school), the kinds of data it may have.
import type { Database } from '../database/index.ts';

export interface ReleaseRow {
  appKey: string;
  schoolCode: string;
  items: string[];
  updatedAt: number;
  updatedBy: string;
}

type Row = { app_key: string; school_code: string; items: string[]; updated_at: string; updated_by: string };
const of = (r: Row): ReleaseRow => ({ appKey: r.app_key, schoolCode: r.school_code, items: r.items, updatedAt: Number(r.updated_at), updatedBy: r.updated_by });
const COLUMNS = 'app_key, school_code, items, updated_at::text as updated_at, updated_by';

export class ReleaseRows {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** The ministry's row and the school's row of an app (those that exist). */
  async forApp(appKey: string, schoolCode: string): Promise<ReleaseRow[]> {
    return (await this.#db.query<Row>(`select ${COLUMNS} from app_releases where app_key = $1 and school_code in ('*', $2)`, [appKey, schoolCode])).map(of);
  }

  async all(): Promise<ReleaseRow[]> {
    return (await this.#db.query<Row>(`select ${COLUMNS} from app_releases order by app_key, school_code`)).map(of);
  }

  async put(row: ReleaseRow): Promise<void> {
    await this.#db.query(
      `insert into app_releases (app_key, school_code, items, updated_at, updated_by) values ($1, $2, $3, $4, $5)
       on conflict (app_key, school_code) do update set items = excluded.items, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      [row.appKey, row.schoolCode, JSON.stringify(row.items), row.updatedAt, row.updatedBy],
    );
  }

  async remove(appKey: string, schoolCode: string): Promise<boolean> {
    return (await this.#db.query('delete from app_releases where app_key = $1 and school_code = $2 returning app_key', [appKey, schoolCode])).length > 0;
  }
}
