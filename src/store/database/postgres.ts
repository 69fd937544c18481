// The directory on a PostgreSQL server through node-postgres (a pool of connections).
// Production runs it with synchronous replication under a failover manager (README
// "Production"): a commit is acknowledged only once the synchronous standby has it.
//
// Finding the writable member: DATABASE_URL may name several hosts, as libpq does
// (postgres://user@h1:5432,h2:5432,h3:5432/idp); node-postgres takes one host, so the pool
// is opened on the first member that is not in recovery, and found again whenever that
// member stops answering or turns read-only (a switchover or failover).
//
// Two traps of synchronous replication, handled here:
// - a write whose connection breaks after it was sent may have been committed: it rejects
//   with OutcomeUnknownError, never with a plain failure;
// - cancelling a commit that waits for its standby (statement_timeout, pg_cancel_backend)
//   makes PostgreSQL report *success* with only a WARNING, though the row is not replicated:
//   no timeout is ever set on statements, and a query answered with that warning rejects
//   with OutcomeUnknownError.
import pg from 'pg';
import { StoreUnavailableError } from '../store.ts';
import { isUnavailable, NotReplicatedError, OutcomeUnknownError, type Database, type Row, type Sql } from './database.ts';

export interface PostgresConnection {
  /** postgres://user:password@host:port[,host:port…]/database?sslmode=… */
  url: string;
  /** The schema the IdP's tables live in (created by the migrations). */
  schema: string;
  poolSize?: number;
  connectTimeoutMs?: number;
}

interface Member {
  host: string;
  port: number;
}

/** Splits libpq's multi-host form into its members and a one-host URL for the rest. */
export function parseDatabaseUrl(url: string): { members: Member[]; base: pg.ClientConfig } {
  const m = /^(postgres(?:ql)?:\/\/)(?:([^@/]*)@)?([^/?]*)(.*)$/.exec(url);
  if (!m) throw new Error('DATABASE_URL must look like postgres://user@host:5432/database');
  const [, scheme, auth, hostList, rest] = m;
  const members = (hostList ?? '').split(',').filter(Boolean).map((h) => {
    const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(h);
    if (bracket) return { host: bracket[1]!, port: Number(bracket[2] ?? 5432) };
    const i = h.lastIndexOf(':');
    return i > 0 ? { host: h.slice(0, i), port: Number(h.slice(i + 1)) } : { host: h, port: 5432 };
  });
  if (!members.length || members.some((x) => !x.host || !Number.isInteger(x.port))) throw new Error('DATABASE_URL names no usable host');
  const single = `${scheme}${auth ? `${auth}@` : ''}placeholder${rest}`;
  const parsed = new URL(single.replace(/^postgres(ql)?:/, 'http:'));
  for (const p of ['target_session_attrs', 'options']) parsed.searchParams.delete(p);
  const base: pg.ClientConfig = {
    user: decodeURIComponent(parsed.username) || undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    database: decodeURIComponent(parsed.pathname.slice(1)) || undefined,
  };
  const sslmode = parsed.searchParams.get('sslmode');
  if (sslmode && sslmode !== 'disable') base.ssl = sslmode === 'no-verify' || sslmode === 'require' ? { rejectUnauthorized: false } : true;
  return { members, base };
}

/** What the log may show of a URL: its members and database, no credentials. */
export function describeDatabaseUrl(url: string, schema: string): string {
  try {
    const { members, base } = parseDatabaseUrl(url);
    return `PostgreSQL ${members.map((x) => `${x.host}:${x.port}`).join(',')}/${base.database ?? ''} (schema ${schema})`;
  } catch {
    return 'PostgreSQL (DATABASE_URL unreadable)';
  }
}

const WRITE = /^\s*(insert|update|delete|merge|with|create|alter|drop|select\s+pg_advisory)/i;

/**
 * Statements with parameters go as named prepared statements: the server parses and plans
 * each once per connection instead of at every call (a sign-in sends a handful). Names
 * follow the text, so one text always has one name.
 */
const statementNames = new Map<string, string>();
function statement(text: string, values: readonly unknown[]): pg.QueryConfig {
  if (!values.length) return { text };
  let name = statementNames.get(text);
  if (!name) {
    name = `idp_${statementNames.size}`;
    statementNames.set(text, name);
  }
  return { name, text, values: values as unknown[] };
}
// PostgreSQL's words when a commit stops waiting for its standby: cancelled ("canceling wait for
// synchronous replication") or terminated ("canceling the wait for synchronous replication and
// terminating connection"). Either way the transaction is committed locally only.
const SYNC_CANCELLED = /canceling (the )?wait for synchronous replication/i;
/** Errors the server answered that end a transaction with nothing committed, worth running again. */
const RETRY_STATE = /^(40001|40P01)$/;

export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  readonly description: string;
  readonly #members: Member[];
  readonly #config: pg.PoolConfig;
  #pool: pg.Pool | null = null;
  #finding: Promise<pg.Pool> | null = null;
  #closed = false;
  /** Connections that were told a synchronous-replication wait was cancelled, since their current query began. */
  readonly #cancelledWaits = new WeakSet<pg.PoolClient>();

  constructor(connection: PostgresConnection) {
    const { members, base } = parseDatabaseUrl(connection.url);
    this.#members = members;
    this.description = describeDatabaseUrl(connection.url, connection.schema);
    this.#config = {
      ...base,
      max: connection.poolSize ?? 10,
      connectionTimeoutMillis: connection.connectTimeoutMs ?? 3_000,
      idleTimeoutMillis: 30_000,
      // A member that vanishes without a reset (a host lost) is noticed in seconds, not hours.
      keepAliveInitialDelayMillis: 10_000,
      // Tables resolve in the IdP's schema; nothing else is set per session.
      options: `-c search_path=${quoteIdent(connection.schema)}`,
      application_name: 'school-idp',
      keepAlive: true,
    };
  }

  /** The pool on the writable member, found (again) when there is none. */
  #writable(): Promise<pg.Pool> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError('the database connection is closed'));
    if (this.#pool) return Promise.resolve(this.#pool);
    this.#finding ??= this.#find().finally(() => (this.#finding = null));
    return this.#finding;
  }

  async #find(): Promise<pg.Pool> {
    const reasons: string[] = [];
    for (const member of this.#members) {
      if (this.#members.length > 1) {
        const probe = new pg.Client({ ...this.#config, host: member.host, port: member.port });
        try {
          await probe.connect();
          const [row] = (await probe.query<{ ro: boolean }>('select pg_is_in_recovery() as ro')).rows;
          if (row?.ro) {
            reasons.push(`${member.host}:${member.port} is a standby`);
            continue;
          }
        } catch (err) {
          reasons.push(`${member.host}:${member.port}: ${(err as Error).message}`);
          continue;
        } finally {
          await probe.end().catch(() => {});
        }
      }
      const pool = new pg.Pool({ ...this.#config, host: member.host, port: member.port });
      // An idle connection that breaks (the server restarted) is reported here, not thrown.
      pool.on('error', () => this.#drop(pool));
      pool.on('connect', (client) => {
        // A connection that breaks while checked out is reported by its failing query; without
        // a listener node-postgres would also throw it as an uncaught 'error' event.
        client.on('error', () => {});
        client.on('notice', (n) => {
          if (SYNC_CANCELLED.test(n.message ?? '')) this.#cancelledWaits.add(client);
        });
      });
      this.#pool = pool;
      return pool;
    }
    throw new StoreUnavailableError(`no writable PostgreSQL member: ${reasons.join('; ')}`);
  }

  #drop(pool: pg.Pool): void {
    if (this.#pool !== pool) return;
    this.#pool = null;
    pool.end().catch(() => {});
  }

  /** The error a caller sees for `err`, met while running `text` on `pool` (over `client`, when one was in use). */
  #failure(pool: pg.Pool, err: unknown, sent: boolean, text: string, client?: pg.PoolClient): unknown {
    // Told that the standby wait was cancelled before the connection went: committed locally only.
    if (client && this.#cancelledWaits.has(client)) {
      this.#cancelledWaits.delete(client);
      return new NotReplicatedError('the wait for the synchronous standby was ended: the write is on the primary but may not be replicated');
    }
    if (!isUnavailable(err)) return err;
    const message = (err as Error).message;
    // No free connection in time: the pool is busy (commits waiting), not the server gone.
    if (/timeout exceeded when trying to connect/.test(message)) return new StoreUnavailableError(`database unavailable: ${message}`);
    this.#drop(pool);
    if (err instanceof StoreUnavailableError) return err;
    // A write that reached the server and lost its answer may have been committed.
    if (sent && WRITE.test(text) && !/ECONNREFUSED|timeout exceeded when trying to connect|read-only transaction|the database system is/.test(message)) {
      return new OutcomeUnknownError(`the database did not confirm the write (${message}): it may or may not have been saved`);
    }
    return new StoreUnavailableError(`database unavailable: ${message}`);
  }

  async #client(): Promise<{ pool: pg.Pool; client: pg.PoolClient }> {
    const pool = await this.#writable();
    try {
      return { pool, client: await pool.connect() };
    } catch (err) {
      throw this.#failure(pool, err, false, '');
    }
  }

  #checkSyncWait(client: pg.PoolClient): void {
    if (!this.#cancelledWaits.has(client)) return;
    this.#cancelledWaits.delete(client);
    throw new NotReplicatedError('the wait for the synchronous standby was cancelled: the write is on the primary but may not be replicated');
  }

  async query<R extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    const { pool, client } = await this.#client();
    this.#cancelledWaits.delete(client);
    let broken: unknown;
    try {
      const result = await client.query<R>(statement(text, params));
      this.#checkSyncWait(client);
      return result.rows;
    } catch (err) {
      broken = err;
      throw this.#failure(pool, err, true, text, client);
    } finally {
      client.release(broken !== undefined && isUnavailable(broken) ? (broken as Error) : undefined);
    }
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    // A deadlock or serialization failure ends the transaction with nothing committed: run it again.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#transaction(fn);
      } catch (err) {
        if (attempt >= 2 || !RETRY_STATE.test(String((err as { code?: unknown }).code ?? ''))) throw err;
      }
    }
  }

  async #transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const { pool, client } = await this.#client();
    this.#cancelledWaits.delete(client);
    const tx: Sql = {
      query: async <R extends Row = Row>(text: string, params: readonly unknown[] = []) => (await client.query<R>(statement(text, params))).rows,
    };
    let broken: unknown;
    let committing = false;
    try {
      await client.query('begin');
      const result = await fn(tx);
      committing = true;
      await client.query('commit');
      this.#checkSyncWait(client);
      return result;
    } catch (err) {
      broken = err;
      if (!committing) await client.query('rollback').catch(() => {});
      // Before COMMIT was sent nothing is saved: a plain failure. A COMMIT without its answer is unknown.
      throw this.#failure(pool, err, committing, committing ? 'update' : 'select', client);
    } finally {
      client.release(broken !== undefined && isUnavailable(broken) ? (broken as Error) : undefined);
    }
  }

  /**
   * Writable now: the member in use is not read-only and, when it names synchronous standbys,
   * one of them is attached (else every commit would wait). A role that may not see
   * pg_stat_replication's details leaves the second check out.
   */
  async writable(): Promise<void> {
    const [row] = await this.query<{ ro: string; names: string; sync: number; hidden: number }>(
      `select current_setting('transaction_read_only') as ro, current_setting('synchronous_standby_names') as names,
        (select count(*) from pg_stat_replication where sync_state in ('sync', 'quorum'))::int as sync,
        (select count(*) from pg_stat_replication where sync_state is null)::int as hidden`,
    );
    if (row?.ro !== 'off') {
      if (this.#pool) this.#drop(this.#pool);
      throw new StoreUnavailableError('the database member in use is read-only');
    }
    if (row.names !== '' && row.sync === 0 && row.hidden === 0) throw new StoreUnavailableError('the primary has no synchronous standby attached: commits wait');
    // And a committed write, as an account change makes (a full disk, a lost privilege, a stuck standby).
    try {
      await this.barrier();
    } catch (err) {
      throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError(`the database refuses writes: ${(err as Error).message}`);
    }
  }

  async barrier(): Promise<void> {
    await this.query('insert into sync_barrier (id, at) values (1, now()) on conflict (id) do update set at = excluded.at');
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pool = this.#pool;
    this.#pool = null;
    await pool?.end().catch(() => {});
  }
}

/** A schema name as an SQL identifier (only names the settings accept reach here). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
