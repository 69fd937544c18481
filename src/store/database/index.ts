// Chooses the directory's database from configuration: a PostgreSQL server when
// DATABASE_URL is set, otherwise the embedded one in the data folder. Either way the schema
// is brought to this release's version before anything reads it.
import { EmbeddedDatabase } from './embedded.ts';
import { migrate, type MigrationReport } from './migrations.ts';
import { PostgresDatabase } from './postgres.ts';
import type { Database } from './database.ts';

export type { Database, Sql, Row } from './database.ts';
export { NotReplicatedError, OutcomeUnknownError, isUnavailable, likePrefix, uniqueViolation } from './database.ts';
export { migrate, MIGRATIONS, NewerDatabaseError, type MigrationReport } from './migrations.ts';
export { EmbeddedDatabase } from './embedded.ts';
export { PostgresDatabase, describeDatabaseUrl } from './postgres.ts';

export interface DatabaseSettings {
  url?: string | undefined;
  schema: string;
  /** The embedded database's folder (without url). */
  dataDir: string;
}

export function usesDatabaseServer(d: Pick<DatabaseSettings, 'url'>): boolean {
  return Boolean(d.url);
}

/** The database, not yet connected (reached, or opened, by the first query). */
export function createDatabase(d: DatabaseSettings): Database {
  return d.url ? new PostgresDatabase({ url: d.url, schema: d.schema }) : new EmbeddedDatabase(d.dataDir);
}

/** The database with this release's schema (the migrations applied). */
export async function openDatabase(d: DatabaseSettings): Promise<{ database: Database; migrations: MigrationReport }> {
  const database = createDatabase(d);
  try {
    return { database, migrations: await migrate(database, d.schema) };
  } catch (err) {
    await database.close();
    throw err;
  }
}
