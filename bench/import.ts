// Bulk import of 10,000 rows (preview + commit) on real Redis, against the bare cost it
// cannot avoid measured in the same run: hashing 10,000 temporary passwords with the
// import argon2 parameters at the same concurrency.
// Run: node bench/import.ts   (ROWS=10000; REDIS_URL or the harness's own redis-server)
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadSettings, projectRoot } from '../src/config/settings.ts';
import { SecretHasher } from '../src/domain/accounts/passwords.ts';
import { createServices } from '../src/services.ts';
import { RedisStore } from '../src/store/index.ts';
import { makeDatabase } from '../test/support/database.ts';
import { stopSharedRedis, testRedisUrl, uniquePrefix } from '../test/support/redis.ts';

const ROWS = Number(process.env.ROWS ?? 10_000);

async function main() {
  const settings = loadSettings({ env: {} });
  const store = new RedisStore({ url: await testRedisUrl(), keyPrefix: uniquePrefix() });
  await store.ready();
  const db = await makeDatabase();
  const services = createServices(settings, store, db.database, Date.now);
  const lines = ['loginId,givenName,familyName,schoolCode,schoolName,level,roles'];
  for (let i = 0; i < ROWS; i++) lines.push(`student_${i.toString().padStart(5, '0')}_bench@students.edu.sg,Student${i},Bench,BENCH1,Bench School,S${(i % 5) + 1},student`);
  const csv = Buffer.from(lines.join('\n'));

  const hasher = new SecretHasher(settings.import.argon2);
  let t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < ROWS) {
      next++;
      await hasher.hash(`Bench-Temp-${next}-Pass`);
    }
  }));
  const baselineMs = performance.now() - t0;

  t0 = performance.now();
  const preview = await services.importer.preview(csv, { kind: 'ministry' });
  const previewMs = performance.now() - t0;
  t0 = performance.now();
  const result = await services.importer.commit(csv, { kind: 'ministry' }, 'bench');
  const commitMs = performance.now() - t0;
  t0 = performance.now();
  const rerun = await services.importer.preview(csv, { kind: 'ministry' });
  const rerunMs = performance.now() - t0;
  await store.close();
  await db.close();
  await stopSharedRedis();

  const out = {
    rows: ROWS,
    importArgon2: settings.import.argon2,
    baselineHashAllMs: Math.round(baselineMs),
    previewMs: Math.round(previewMs),
    commitMs: Math.round(commitMs),
    totalImportMs: Math.round(previewMs + commitMs),
    rowsPerSecond: Math.round(ROWS / ((previewMs + commitMs) / 1000)),
    ratioCommitOverBaseline: Number((commitMs / baselineMs).toFixed(2)),
    created: result.passwords.length,
    counts: preview.counts,
    rerunUnchanged: rerun.counts.unchanged,
    rerunMs: Math.round(rerunMs),
    node: process.version,
    at: new Date().toISOString(),
  };
  console.log(JSON.stringify(out, null, 2));
  writeFileSync(path.join(projectRoot, 'bench/results/import.json'), `${JSON.stringify(out, null, 2)}\n`);
}

await main();
