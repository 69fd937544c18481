// The directory's database: what a user was told is saved lives here (accounts, credentials,
// second factors, audit, registered apps). Two drivers speak the same SQL and run the same
// migrations (migrations.ts): a PostgreSQL server (postgres.ts, production: synchronous
// replication under a failover manager) and PostgreSQL built to WebAssembly in this process
// (embedded.ts, the default without DATABASE_URL, kept in a data folder).
// Contract:
// - query() and transaction() resolve only once the database committed (a server waits for
//   its synchronous standby as configured there); nothing is acknowledged before that;
// - a database that cannot be reached, or that cannot take writes now (a standby after a
//   failover), rejects with StoreUnavailableError (pages show SSPR 5019);
// - a write whose connection broke after it was sent rejects with OutcomeUnknownError: it
//   may or may not have been committed (callers re-read before telling anyone "failed").
import { StoreUnavailableError } from '../store.ts';

export type Row = Record<string, unknown>;

export interface Sql {
  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

export interface Database extends Sql {
  readonly kind: 'postgres' | 'embedded';
  /** For the start-up log line and /readyz: which database, without credentials. */
  readonly description: string;
  /** Runs `fn` in one transaction (BEGIN … COMMIT; ROLLBACK when it throws). */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /** Resolves when a write can be committed now (readiness). */
  writable(): Promise<void>;
  /**
   * Resolves once everything committed before it is on the synchronous standby (a write of
   * its own, which waits for the standby like any commit); at once where there is none.
   */
  barrier(): Promise<void>;
  close(): Promise<void>;
}

/** The outcome of a write is not known: it was sent, then the connection broke before the answer. */
export class OutcomeUnknownError extends StoreUnavailableError {
  override name = 'OutcomeUnknownError';
}

/**
 * The primary committed the write but stopped waiting for its synchronous standby (the wait
 * was cancelled): it is visible there, and would be lost if the primary failed now. Reading
 * it back from the primary proves nothing, so it stays unknown.
 */
export class NotReplicatedError extends OutcomeUnknownError {
  override name = 'NotReplicatedError';
}

/** SQLSTATE classes and codes that mean "the database cannot serve this now", not a bug of ours. */
const UNAVAILABLE_STATE = /^(08|53|57P0[1-4]|25006)/;
const UNAVAILABLE_NODE = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)$/;
const UNAVAILABLE_MESSAGE = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|terminating connection|the database system is (starting up|shutting down|in recovery)|read-only transaction/i;

/** Whether an error from a driver means the database is unavailable (as opposed to a bug or a constraint). */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && (UNAVAILABLE_STATE.test(e.code) || UNAVAILABLE_NODE.test(e.code))) return true;
  return typeof e?.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message);
}

/** The SQLSTATE of a unique violation, and the constraint it names. */
export function uniqueViolation(err: unknown): string | null {
  const e = err as { code?: unknown; constraint?: unknown; message?: unknown };
  if (e?.code !== '23505') return null;
  if (typeof e.constraint === 'string') return e.constraint;
  const m = typeof e.message === 'string' ? /constraint "([^"]+)"/.exec(e.message) : null;
  return m?.[1] ?? '';
}

/** Escapes a string for the left side of LIKE … ESCAPE '\' (a user's prefix is never a pattern). */
export function likePrefix(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
}
