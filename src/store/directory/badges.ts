// Sign-in badges in the directory's database (table badges, migration 3): keyed hashes only.
// Issuing voids the pupil's valid badge and adds the new one in one transaction; the partial
// unique index (one valid badge per account) refuses a second one under concurrency.
import type { Database } from '../database/index.ts';

/** A badge as the directory keeps it. */
export interface BadgeRecord {
  id: string;
  accountId: string;
  /** HMAC of the card's secret. */
  secretHash: string;
  /** HMAC of the badge id and its PIN, when it has one. */
  pinHash: string | null;
  issuedAt: number;
  /** Account id of whoever printed it. */
  issuedBy: string;
  voidedAt: number | null;
  voidedBy: string | null;
}

interface Row {
  id: string;
  account_id: string;
  secret_hash: string;
  pin_hash: string | null;
  issued_at: string;
  issued_by: string;
  voided_at: string | null;
  voided_by: string | null;
}

const COLUMNS = 'id, account_id, secret_hash, pin_hash, issued_at::text as issued_at, issued_by, voided_at::text as voided_at, voided_by';

function record(r: Row): BadgeRecord {
  return { id: r.id, accountId: r.account_id, secretHash: r.secret_hash, pinHash: r.pin_hash, issuedAt: Number(r.issued_at), issuedBy: r.issued_by, voidedAt: r.voided_at === null ? null : Number(r.voided_at), voidedBy: r.voided_by };
}

export class BadgeRows {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Stores new badges, voiding (in the same transaction) each pupil's badge before. */
  async issue(badges: BadgeRecord[], voidedBy: string, at: number): Promise<void> {
    if (badges.length === 0) return;
    await this.#db.transaction(async (tx) => {
      // One print at a time per pupil (two at once would both void, then both insert).
      await tx.query('select id from accounts where id = any($1::text[]) order by id for update', [badges.map((b) => b.accountId)]);
      await tx.query('update badges set voided_at = $2, voided_by = $3 where account_id = any($1::text[]) and voided_at is null', [badges.map((b) => b.accountId), at, voidedBy]);
      for (const b of badges) {
        await tx.query('insert into badges (id, account_id, secret_hash, pin_hash, issued_at, issued_by) values ($1, $2, $3, $4, $5, $6)', [b.id, b.accountId, b.secretHash, b.pinHash, b.issuedAt, b.issuedBy]);
      }
    });
  }

  /** Counts a wrong PIN on the badge; resolves its wrong PINs so far. */
  async pinFailed(id: string): Promise<number> {
    const [row] = await this.#db.query<{ n: number }>('update badges set pin_failures = pin_failures + 1 where id = $1 returning pin_failures as n', [id]);
    return Number(row?.n ?? 0);
  }

  async bySecretHash(secretHash: string): Promise<BadgeRecord | null> {
    const [row] = await this.#db.query<Row & Record<string, unknown>>(`select ${COLUMNS} from badges where secret_hash = $1`, [secretHash]);
    return row ? record(row) : null;
  }

  async get(id: string): Promise<BadgeRecord | null> {
    const [row] = await this.#db.query<Row & Record<string, unknown>>(`select ${COLUMNS} from badges where id = $1`, [id]);
    return row ? record(row) : null;
  }

  async validFor(accountIds: readonly string[]): Promise<Map<string, BadgeRecord>> {
    if (accountIds.length === 0) return new Map();
    const rows = await this.#db.query<Row & Record<string, unknown>>(`select ${COLUMNS} from badges where account_id = any($1::text[]) and voided_at is null`, [accountIds]);
    return new Map(rows.map((r) => [r.account_id, record(r)]));
  }

  async voidFor(accountIds: readonly string[], by: string, at: number): Promise<number> {
    if (accountIds.length === 0) return 0;
    const rows = await this.#db.query<{ id: string }>('update badges set voided_at = $2, voided_by = $3 where account_id = any($1::text[]) and voided_at is null returning id', [accountIds, at, by]);
    return rows.length;
  }

  /** Voids every valid badge of a school's pupils (of every school: null); resolves how many. */
  async voidSchool(schoolCode: string | null, by: string, at: number): Promise<number> {
    const rows = await this.#db.query<{ id: string }>(
      'update badges b set voided_at = $2, voided_by = $3 from accounts a where a.id = b.account_id and b.voided_at is null and ($1::text is null or a.school_code = $1) returning b.id',
      [schoolCode, at, by],
    );
    return rows.length;
  }
}
