// Data migrations over the directory (README "Upgrading"). A migration walks the dir:logins
// index in pages and rewrites each account that needs it by compare-and-set
// (Directory.update), so it is safe while other processes serve traffic: a record changed
// meanwhile is read again and migrated again. Progress (a cursor and counts) is kept in
// Redis after every page, so a run that stops (crash, SIGKILL, deploy) resumes where it
// stopped, and a record migrated twice is unchanged the second time (idempotent).
import { ACCOUNT_VERSION, type Account } from '../accounts/account.ts';
import type { Directory } from '../accounts/directory.ts';
import { keys, type Store } from '../../store/index.ts';
import { INDEX_VERSION, recordVersion } from '../versions.ts';

const PAGE = 200;
const PARALLEL = 16;

export interface Migration {
  /** Names the progress cursor: never reuse one for a different migration. */
  name: string;
  /** The version records have after it. */
  to: number;
}

/**
 * v1 -> v2 (upgradeAccount in account.ts): version 2 records carry `v`, and every field later
 * code reads without checking is present (the earliest v1 records lack history, questions or
 * last sign-in). Nothing else changes; unknown fields are kept. The upgrade itself lives in
 * Directory.update (every write upgrades what it writes), so a migration is a pass that
 * rewrites, by compare-and-set, each record below its version and nothing else.
 */
export const accountV2: Migration = { name: 'account-v2', to: 2 };

/** The migrations that bring a record to ACCOUNT_VERSION, in order. */
export const MIGRATIONS: Migration[] = [accountV2];
if (MIGRATIONS[MIGRATIONS.length - 1]!.to !== ACCOUNT_VERSION) throw new Error('the last migration must reach ACCOUNT_VERSION');

export interface MigrationCounts {
  scanned: number;
  migrated: number;
  current: number;
  /** In the index but without a record (deleted meanwhile, or an interrupted create). */
  missing: number;
  /** Newer than this release (left alone). */
  newer: number;
}

interface Progress extends MigrationCounts {
  after: string | null;
  done: boolean;
  startedAt: string;
  finishedAt?: string;
}

export interface MigrateOptions {
  dryRun?: boolean;
  /** Start a new pass even when a previous one finished (the CLI); start-up skips finished ones. */
  again?: boolean;
  /** Called after every page. */
  progress?: (name: string, counts: MigrationCounts) => void;
}

export interface MigrationReport {
  name: string;
  counts: MigrationCounts;
  /** Already finished before this run (start-up found nothing to do). */
  skipped: boolean;
  resumed: boolean;
}

const empty = (): MigrationCounts => ({ scanned: 0, migrated: 0, current: 0, missing: 0, newer: 0 });

/**
 * The layout record of login-ID claims and indexes (dir:layout, versions.ts): absent means
 * version 1, whose shapes are those of version 2, so this step only writes the record (the
 * claims and index entries are not rewritten: old processes read them unchanged). A record
 * already there keeps its fields; a newer one is left alone. One key: idempotent, and a run
 * stopped before it simply does it again.
 */
export const LAYOUT_MIGRATION = `directory-layout-v${INDEX_VERSION}`;

export async function runLayoutMigration(store: Store, options: MigrateOptions = {}): Promise<MigrationReport> {
  const counts = { ...empty(), scanned: 1 };
  for (let attempt = 0; attempt < 20; attempt++) {
    const raw = await store.get(keys.directoryLayout());
    const layout = raw === null ? null : (JSON.parse(raw) as Record<string, unknown>);
    const version = layout ? recordVersion(layout) : 1;
    const report = (field: 'migrated' | 'current' | 'newer', skipped = false): MigrationReport => {
      counts[field] = 1;
      options.progress?.(LAYOUT_MIGRATION, counts);
      return { name: LAYOUT_MIGRATION, counts, skipped, resumed: false };
    };
    if (version > INDEX_VERSION) return report('newer');
    if (version === INDEX_VERSION) return report('current', !options.again);
    if (options.dryRun) return report('migrated');
    const next = JSON.stringify({ ...layout, v: INDEX_VERSION });
    const written = raw === null ? await store.set(keys.directoryLayout(), next, { onlyIfAbsent: true }) : await store.compareAndSet(keys.directoryLayout(), raw, next);
    if (written) return report('migrated');
  }
  throw new Error('dir:layout kept changing; migration abandoned');
}

export async function runMigrations(store: Store, directory: Directory, options: MigrateOptions = {}): Promise<MigrationReport[]> {
  const reports: MigrationReport[] = [await runLayoutMigration(store, options)];
  for (const m of MIGRATIONS) reports.push(await runMigration(store, directory, m, options));
  return reports;
}

export async function runMigration(store: Store, directory: Directory, m: Migration, options: MigrateOptions = {}): Promise<MigrationReport> {
  const key = keys.migration(m.name);
  const saved = options.dryRun ? null : await store.get(key);
  let progress: Progress | null = saved ? (JSON.parse(saved) as Progress) : null;
  if (progress?.done && !options.again) return { name: m.name, counts: progress, skipped: true, resumed: false };
  const resumed = Boolean(progress && !progress.done);
  if (!progress || progress.done) progress = { ...empty(), after: null, done: false, startedAt: new Date().toISOString() };
  const p = progress;
  for (;;) {
    const page = await directory.searchLoginIds('', PAGE, p.after ?? undefined);
    for (let i = 0; i < page.length; i += PARALLEL) {
      await Promise.all(page.slice(i, i + PARALLEL).map(async ({ id }) => {
        p.scanned++;
        const raw = await directory.raw(id);
        if (!raw) return void p.missing++;
        const record = JSON.parse(raw) as Account;
        if (recordVersion(record) > ACCOUNT_VERSION) return void p.newer++;
        if (recordVersion(record) >= m.to) return void p.current++;
        if (options.dryRun) return void p.migrated++;
        // Directory.update hands over the record upgraded; written back unchanged otherwise.
        await directory.update(id, (a) => a, { touch: false });
        p.migrated++;
      }));
    }
    if (page.length) p.after = page[page.length - 1]!.member;
    const finished = page.length < PAGE;
    if (finished) {
      p.done = true;
      p.finishedAt = new Date().toISOString();
    }
    if (!options.dryRun) await store.set(key, JSON.stringify(p));
    options.progress?.(m.name, countsOf(p));
    if (finished) return { name: m.name, counts: countsOf(p), skipped: false, resumed };
  }
}

function countsOf(p: MigrationCounts): MigrationCounts {
  return { scanned: p.scanned, migrated: p.migrated, current: p.current, missing: p.missing, newer: p.newer };
}
