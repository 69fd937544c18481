// CLI commands for backups and migrations (README "Backup and restore", "Upgrading"):
//   export --out <file> [--key-file <file>]
//   import-backup <file> [--force] [--key-file <file>]   (--force replaces the directory: backup.ts)
//   migrate [--dry-run]                 the database schema (store/database/migrations.ts)
//   migrate-directory [--dry-run]       copy a Redis-held directory (the previous release) into the database
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { backupSecret, exportBackup, restoreBackup } from '../domain/backup/backup.ts';
import { BackupError } from '../domain/backup/format.ts';
import { loadSettings } from '../config/settings.ts';
import { copyDirectoryFromRedis, DirectoryNotEmptyError } from '../domain/migrations/migrate-directory.ts';
import { migrate } from '../store/database/index.ts';
import { RedisStore } from '../store/index.ts';
import type { Services } from '../services.ts';
import type { Store } from '../store/index.ts';

export const BACKUP_COMMANDS = new Set(['export', 'import-backup', 'migrate', 'migrate-directory']);

export const BACKUP_USAGE = `  export --out <file> [--key-file <file>]             encrypted backup of every account and lock (IDP_BACKUP_KEY or a key file)
  import-backup <file> [--force] [--key-file <file>]  restore a backup into an empty store (--force: replace the directory with the backup's)
  migrate [--dry-run]                                 bring the database schema to this release's version
  migrate-directory [--dry-run] [--force]             copy the directory from Redis (releases before PostgreSQL) into an empty database`;

type Open = (command: string) => Promise<{ store: Store; services: Services; close?: () => Promise<void> }>;

function keyFrom(file: string | undefined): Buffer {
  const path = file ?? process.env.IDP_BACKUP_KEY_FILE;
  let bytes: Buffer | null = null;
  if (path) {
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new BackupError(`cannot read the backup key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return backupSecret(process.env, bytes);
}

export async function backupCommand(argv: string[], out: (line: string) => void, open: Open): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { out: { type: 'string' }, 'key-file': { type: 'string' }, force: { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
  });
  const [command, arg] = positionals;
  // Key and arguments are checked before the store is opened.
  let secret: Buffer | undefined;
  if (command === 'export') {
    if (!values.out) throw new BackupError('export needs --out <file>');
    secret = keyFrom(values['key-file']);
  } else if (command === 'import-backup') {
    if (!arg) throw new BackupError('import-backup needs a backup file');
    secret = keyFrom(values['key-file']);
  }
  const { store, services, close } = await open(command!);
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  try {
    if (command === 'export') {
      const r = await exportBackup(store, services.directory, values.out!, secret!);
      out(`exported ${r.accounts} account(s) and ${r.locks} lock(s) to ${values.out} in ${seconds()} s (sha256 of the content ${r.sha256}); sessions and tokens are not included`);
      return 0;
    }
    if (command === 'import-backup') {
      const r = await restoreBackup(store, services.directory, arg!, secret!, { force: values.force === true });
      const replaced = values.force === true ? `, removed ${r.removed} account(s) the backup does not have` : '';
      out(`restored ${r.accounts} account(s) and ${r.locks} lock(s) from ${arg}${replaced} in ${seconds()} s; users sign in with their old passwords (sessions and tokens were not restored)`);
      return 0;
    }
    const dryRun = values['dry-run'] === true;
    if (command === 'migrate') {
      const r = await migrate(services.database, loadSettings().database.schema, { dryRun });
      const names = r.applied.map((m) => `${m.version} ${m.name}`).join(', ');
      out(dryRun
        ? `database schema at version ${r.version}; ${r.applied.length ? `would apply: ${names}` : 'nothing to apply'} (dry run, nothing written)`
        : `database schema at version ${r.version}; ${r.applied.length ? `applied: ${names}` : 'already current'} in ${seconds()} s`);
      return 0;
    }
    if (!(store instanceof RedisStore)) throw new BackupError('migrate-directory reads the directory from Redis: set REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES) to the Redis of the previous release');
    let c;
    try {
      c = await copyDirectoryFromRedis(store, services, { dryRun, force: values.force === true });
    } catch (err) {
      if (err instanceof DirectoryNotEmptyError) throw new BackupError(err.message);
      throw err;
    }
    out(`${dryRun ? 'would copy' : 'copied'} ${c.accounts} account(s) (${c.skipped} index entries without a record skipped), ${c.audit} audit event(s), ${c.clients} registered OIDC client(s) with ${c.registrationTokens} registration token(s), ${c.initialAccessTokens} initial access token(s), ${c.serviceProviders} SAML SP(s) in ${seconds()} s${dryRun ? ' (dry run, nothing written)' : '; locks stay in Redis'}`);
    return 0;
  } finally {
    await close?.();
    await store.close();
  }
}
