// Backup and restore rates on the machine's PostgreSQL (the accounts first in a Redis as the
// releases before PostgreSQL kept them): `export` (encrypted, streaming) and
// `import-backup` (verify pass + restore through the Directory's durable writes) of N
// accounts, and `migrate-directory` (Redis -> PostgreSQL) of the same N, against the baseline of loading those
// records with raw pipelined Redis writes in the same run. Peak RSS shows that export and
// restore stream (flat memory whatever N).
// Run: node --expose-gc bench/backup.ts [--accounts 100000]   (REDIS_URL or the harness's own redis-server)
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../src/config/settings.ts';
import { Directory } from '../src/domain/accounts/directory.ts';
import { exportBackup, restoreBackup } from '../src/domain/backup/backup.ts';
import { copyDirectoryFromRedis } from '../src/domain/migrations/migrate-directory.ts';
import { makeDatabase } from '../test/support/database.ts';
import { keys, RedisStore } from '../src/store/index.ts';
import { stopSharedRedis, testRedisUrl, uniquePrefix } from '../test/support/redis.ts';
import { v1Record } from '../test/backup/v1-fixture.ts';

const { values } = parseArgs({ options: { accounts: { type: 'string', default: '100000' } } });
const N = Number(values.accounts);
const SECRET = Buffer.from('bench backup passphrase 0123456789');

let peakRss = 0;
let peakHeap = 0;
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
}, 50);

async function main() {
  const url = await testRedisUrl();
  const source = new RedisStore({ url, keyPrefix: uniquePrefix() });
  const target = new RedisStore({ url, keyPrefix: uniquePrefix() });
  await Promise.all([source.ready(), target.ready()]);
  const dir = mkdtempSync(path.join(tmpdir(), 'idp-bench-backup-'));
  const file = path.join(dir, 'directory.jsonl.enc');

  // Baseline: the same records written with raw pipelined Redis commands (v1, as the previous release wrote them).
  let t0 = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const p = source.client.pipeline();
    for (let k = i; k < Math.min(N, i + 1000); k++) {
      const r = v1Record(k, k % 100 === 0 ? { futureField: k } : {});
      p.set(keys.loginId(r.loginId), r.id).set(keys.account(r.id), JSON.stringify(r)).zadd(keys.directoryIndex(), 0, `${r.loginId}\u0000${r.id}`).zadd(keys.nameIndex(), 0, `${r.displayName.toLowerCase()}\u0000${r.id}`);
      if (k % 50 === 0) p.set(keys.lock(r.loginId), JSON.stringify({ since: 1 }));
    }
    await p.exec();
  }
  const loadMs = performance.now() - t0;
  const phase = (what: string) => process.stderr.write(`${what}: heapUsed ${Math.round(process.memoryUsage().heapUsed / 1e6)} MB\n`);
  phase('loaded');
  const rssBefore = process.memoryUsage().rss;

  // The upgrade from a Redis-held directory (cli migrate-directory) into PostgreSQL, then
  // export from there and restore into another database.
  const [sourceDb, targetDb] = await Promise.all([makeDatabase(), makeDatabase()]);
  const srcDir = new Directory(sourceDb.database, Date.now);
  const tgtDir = new Directory(targetDb.database, Date.now);
  const migrateT0 = performance.now();
  const migration = await copyDirectoryFromRedis(source, { database: sourceDb.database, directory: srcDir });
  const migrateMs = performance.now() - migrateT0;
  phase('migrated');

  peakRss = 0;
  global.gc?.();
  const heapAtRest = process.memoryUsage().heapUsed;
  peakHeap = 0;
  t0 = performance.now();
  const exported = await exportBackup(source, srcDir, file, SECRET);
  const exportMs = performance.now() - t0;
  const exportPeakRss = peakRss;
  const exportPeakHeap = peakHeap;
  phase('exported');

  peakRss = 0;
  peakHeap = 0;
  t0 = performance.now();
  const restored = await restoreBackup(target, tgtDir, file, SECRET);
  const restoreMs = performance.now() - t0;
  phase('restored');
  const restorePeakRss = peakRss;
  const restorePeakHeap = peakHeap;
  const bytes = statSync(file).size;

  // Millions of keys: a synchronous FLUSHDB outlasts the client's command timeout.
  for (const s of [source, target]) await s.client.call('FLUSHDB', 'ASYNC');
  await Promise.all([source.close(), target.close(), sourceDb.close(), targetDb.close()]);
  rmSync(dir, { recursive: true, force: true });
  await stopSharedRedis();
  clearInterval(sampler);

  const rate = (ms: number) => Math.round(N / (ms / 1000));
  const out = {
    accounts: N,
    baselineRawLoadMs: Math.round(loadMs),
    baselineRawLoadPerSecond: rate(loadMs),
    migrateDirectory: { ms: Math.round(migrateMs), perSecond: rate(migrateMs), accounts: migration.accounts, note: 'cli migrate-directory: Redis-held directory into PostgreSQL' },
    export: { ms: Math.round(exportMs), perSecond: rate(exportMs), accounts: exported.accounts, locks: exported.locks, fileBytes: bytes, bytesPerAccount: Math.round(bytes / N), peakRssMB: Math.round(exportPeakRss / 1e6), peakHeapUsedMB: Math.round(exportPeakHeap / 1e6) },
    restore: { ms: Math.round(restoreMs), perSecond: rate(restoreMs), accounts: restored.accounts, locks: restored.locks, peakRssMB: Math.round(restorePeakRss / 1e6), peakHeapUsedMB: Math.round(restorePeakHeap / 1e6), note: 'includes the verify pass (the whole file decrypted and checked before the first write)' },
    ratioExportOverBaseline: Number((exportMs / loadMs).toFixed(2)),
    ratioRestoreOverBaseline: Number((restoreMs / loadMs).toFixed(2)),
    rssAfterLoadMB: Math.round(rssBefore / 1e6),
    heapUsedAtRestMB: Math.round(heapAtRest / 1e6),
    node: process.version,
    at: new Date().toISOString(),
  };
  writeFileSync(path.join(projectRoot, 'bench/results/backup.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(JSON.stringify(out, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
