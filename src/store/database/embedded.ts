// The directory inside the IdP's own process: PostgreSQL compiled to WebAssembly (PGlite),
// kept in a data folder, so `npm start` needs no server and what it creates survives a
// restart (also a SIGKILL). Same SQL, same migrations as a PostgreSQL server. One process
// only: several IdP processes (IDP_WORKERS, replicas) need DATABASE_URL.
// Without a folder (tests) the database lives in memory.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { PGlite } from '@electric-sql/pglite';
import { StoreUnavailableError } from '../store.ts';
import type { Database, Row, Sql } from './database.ts';

export class EmbeddedDatabase implements Database {
  readonly kind = 'embedded' as const;
  readonly description: string;
  /** The database once open (opening starts at construction; queries wait for it). */
  readonly #db: Promise<PGlite>;
  #closed = false;

  /** Opens (creating when new) the database in `dataDir`; in memory when null. */
  constructor(dataDir: string | null) {
    this.description = dataDir ? `embedded PostgreSQL (PGlite) in ${dataDir}` : 'embedded PostgreSQL (PGlite) in memory';
    this.#db = (async () => {
      // Loaded only here: a process on a PostgreSQL server never loads the WebAssembly build.
      const { PGlite } = await import('@electric-sql/pglite');
      if (dataDir) {
        mkdirSync(dataDir, { recursive: true });
        // A new database is created (initdb) in a short-lived process of its own, which gives
        // that memory back when it exits; this process only opens it. Measured with `npm start`
        // on a busy machine: RSS at rest after a first start 391 MB instead of 508 MB.
        if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await createInChild(dataDir);
      }
      return PGlite.create({
        ...(dataDir ? { dataDir } : {}),
        // A small instance: the directory of a school fits in a few MB of buffers.
        postgresqlconf: ['shared_buffers = 16MB', 'work_mem = 2MB'],
      });
    })();
    // A failure to open is reported by every query; not an unhandled rejection meanwhile.
    this.#db.catch(() => {});
  }

  async #open(): Promise<PGlite> {
    if (this.#closed) throw new StoreUnavailableError('the embedded database is closed');
    return this.#db;
  }

  async query<R extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    return ((await this.#open()).query<R>(text, params as unknown[])).then((r) => r.rows);
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return (await this.#open()).transaction((t) => fn({ query: async <R extends Row = Row>(text: string, params: readonly unknown[] = []) => (await t.query<R>(text, params as unknown[])).rows }));
  }

  async writable(): Promise<void> {
    await this.query('select 1');
  }

  /** One process, no standby: what is committed is all there is. */
  async barrier(): Promise<void> {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const db = await this.#db.catch(() => null);
    await db?.close();
  }
}

const run = promisify(execFile);

/** Creates the database in `dataDir` in a child process (same Node, same PGlite). */
async function createInChild(dataDir: string): Promise<void> {
  const pglite = import.meta.resolve('@electric-sql/pglite');
  const script = `const { PGlite } = await import(${JSON.stringify(pglite)}); const db = await PGlite.create({ dataDir: process.argv[1] }); await db.close();`;
  await run(process.execPath, ['--input-type=module', '-e', script, dataDir], { timeout: 120_000 });
}
