// The directory's database for tests. By default the PostgreSQL server these machines run
// (127.0.0.1:5432, database "test"; TEST_DATABASE_URL names another), each test IdP in a
// schema of its own, dropped when it closes (and any left over, when the run ends). The
// embedded kind (PGlite, in memory) is for the suites that test the directory on both.
// No server at all is a loud failure: the harness never skips.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { EmbeddedDatabase, migrate, PostgresDatabase, type Database } from '../../src/store/database/index.ts';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

const created = new Set<string>();

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`no PostgreSQL for the tests at ${TEST_DATABASE_URL} (${(err as Error).message}): .ci/run starts the machine's cluster; set TEST_DATABASE_URL to use another`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, empty schema on the test server: what a spawned IdP or CLI is given as DATABASE_URL and DATABASE_SCHEMA. */
export async function newSchema(): Promise<{ schema: string; env: { DATABASE_URL: string; DATABASE_SCHEMA: string }; drop(): Promise<void> }> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`create schema ${schema}`));
  created.add(schema);
  return {
    schema,
    env: { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema },
    drop: () => dropSchema(schema),
  };
}

export async function dropSchema(schema: string): Promise<void> {
  created.delete(schema);
  await admin((c) => c.query(`drop schema if exists ${schema} cascade`)).catch(() => {});
}

export interface TestDatabase {
  database: Database;
  /** DATABASE_URL and DATABASE_SCHEMA for a process on the same database (empty for the embedded kind). */
  env: Record<string, string>;
  /** Closes the database and removes what it held. */
  close(): Promise<void>;
}

/** A database with this release's schema, of the kind asked for. */
export async function makeDatabase(kind: 'postgres' | 'embedded' = 'postgres'): Promise<TestDatabase> {
  if (kind === 'embedded') {
    const database = new EmbeddedDatabase(null);
    await migrate(database, 'public');
    return { database, env: {}, close: () => database.close() };
  }
  const s = await newSchema();
  const database = new PostgresDatabase({ url: TEST_DATABASE_URL, schema: s.schema, poolSize: 4 });
  await migrate(database, s.schema);
  return {
    database,
    env: s.env,
    async close() {
      await database.close();
      await s.drop();
    },
  };
}

/** Drops the schemas this run created and did not drop (a test that failed before its cleanup). */
export async function dropLeftoverSchemas(): Promise<void> {
  for (const schema of [...created]) await dropSchema(schema);
}

/** Another connection to the database of `env` (a second IdP on the same directory); closing it drops nothing. */
export function sameDatabase(env: Record<string, string>): TestDatabase {
  const database = new PostgresDatabase({ url: env.DATABASE_URL!, schema: env.DATABASE_SCHEMA!, poolSize: 4 });
  return { database, env, close: () => database.close() };
}
