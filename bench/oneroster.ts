// OneRoster 1.2 CSV bulk import of 100,000 users (USERS=100000): a generated export (10 schools,
// homeroom classes of 30 with their form teacher, one school year) zipped in a temporary
// folder, then on PostgreSQL (the machine's server, a schema of its own, the server's pool of
// 10) and Redis: the dry run (plan), the commit, the same zip again (plan: every user
// unchanged; commit: nothing to do), and a second export moving 1 % of the pupils and
// dropping 0.5 %. Baseline in the same run: the bare cost of writing accounts, Directory.create
// of BASELINE accounts at the same concurrency (8), which the commit cannot beat (each user
// is one such create, plus its audit event and link).
// Run: npm run bench:oneroster   (USERS=100000 BASELINE=10000)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadSettings, projectRoot } from '../src/config/settings.ts';
import { OneRosterImport, type Plan } from '../src/domain/provisioning/oneroster.ts';
import { createServices } from '../src/services.ts';
import { RedisStore } from '../src/store/index.ts';
import { migrate, PostgresDatabase } from '../src/store/database/index.ts';
import { newSchema, TEST_DATABASE_URL } from '../test/support/database.ts';
import { stopSharedRedis, testRedisUrl, uniquePrefix } from '../test/support/redis.ts';
import { copyRoster, generateRoster, moveStudents, removeUsers, rosterZip } from '../test/support/oneroster.ts';

const USERS = Number(process.env.USERS ?? 100_000);
const BASELINE = Number(process.env.BASELINE ?? 10_000);
const SCHOOLS = 10;

function seconds(ms: number): number {
  return Number((ms / 1000).toFixed(1));
}

async function main() {
  const settings = loadSettings({ env: {} });
  const store = new RedisStore({ url: await testRedisUrl(), keyPrefix: uniquePrefix() });
  await store.ready();
  const schema = await newSchema();
  const database = new PostgresDatabase({ url: TEST_DATABASE_URL, schema: schema.schema, poolSize: 10 });
  await migrate(database, schema.schema);
  const s = createServices(settings, store, database, Date.now);
  const importer = new OneRosterImport({ directory: s.directory, roster: s.roster, rows: s.provisioningRows, database, audit: s.audit, store, clock: Date.now, settings: settings.import });
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-oneroster-'));
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

  try {
    // The export.
    let t0 = performance.now();
    const data = generateRoster(USERS, { schools: SCHOOLS });
    const zip = rosterZip(data);
    writeFileSync(path.join(dir, 'export.zip'), zip);
    const generateMs = performance.now() - t0;
    log(`export: ${USERS} users, ${data.classes.length} classes, zip ${(zip.length / 1e6).toFixed(1)} MB in ${seconds(generateMs)} s`);

    // Baseline: accounts written through the Directory alone, 8 at a time.
    const hash = await s.hasher.unusableHash();
    t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < BASELINE) {
        const i = next++;
        const now = Date.now();
        await s.directory.create({
          loginId: `baseline${i}@students.edu.sg`, givenName: 'Base', familyName: `Line ${i}`, displayName: `Base Line ${i}`, school: { code: 'BASE', name: 'Baseline' }, level: 'P3', roles: ['student'], status: 'active',
          passwordHash: hash, mustChangePassword: true, temporaryUntil: now, passwordChangedAt: now, passwordHistory: [], questions: [],
        });
      }
    }));
    const baselineMs = performance.now() - t0;
    const baselinePerSecond = BASELINE / (baselineMs / 1000);
    log(`baseline: ${BASELINE} Directory.create in ${seconds(baselineMs)} s (${Math.round(baselinePerSecond)}/s)`);

    const commit = async (plan: Plan, what: string) => {
      let last = 0;
      const started = performance.now();
      const r = await importer.apply(plan, {
        actorName: 'bench',
        onProgress: ({ done, total }) => {
          if (Date.now() - last > 10_000) {
            last = Date.now();
            log(`${what}: ${done}/${total}`);
          }
        },
      });
      if (r.failed.length) throw new Error(`${r.failed.length} failed: ${r.failed[0]!.message}`);
      return { ms: performance.now() - started, result: r };
    };
    const planOf = async (z: Uint8Array) => {
      const started = performance.now();
      const plan = await importer.plan(z);
      if (plan.errors) throw new Error(JSON.stringify(plan.files.filter((f) => f.errors.length)).slice(0, 500));
      return { ms: performance.now() - started, plan };
    };

    // First import.
    const first = await planOf(zip);
    log(`plan: ${seconds(first.ms)} s, ${JSON.stringify(first.plan.counts)}`);
    const rss = process.memoryUsage().rss;
    const committed = await commit(first.plan, 'commit');
    log(`commit: ${seconds(committed.ms)} s`);

    // The same zip again.
    const again = await planOf(zip);
    const noop = await commit(again.plan, 're-commit');
    log(`re-import: plan ${seconds(again.ms)} s (${again.plan.counts.unchanged} unchanged), commit ${seconds(noop.ms)} s`);

    // A second export: 1 % of the pupils move to the next school, 0.5 % are gone.
    const second = copyRoster(data);
    const pupils = second.users.filter((u) => u.role === 'student');
    const movers = pupils.filter((_, i) => i % 100 === 0);
    const bySchool = Array.from({ length: SCHOOLS }, (_, k) => movers.filter((u) => u.primaryOrgSourcedId === `school-${k}`).map((u) => u.sourcedId));
    bySchool.forEach((from, k) => moveStudents(second, from, `school-${(k + 1) % SCHOOLS}`));
    removeUsers(second, pupils.filter((_, i) => i % 200 === 1).map((u) => u.sourcedId));
    const changedZip = rosterZip(second);
    const changed = await planOf(changedZip);
    const changedCommit = await commit(changed.plan, 'changes');
    log(`second export: plan ${seconds(changed.ms)} s, commit ${seconds(changedCommit.ms)} s, ${JSON.stringify(changed.plan.counts)}`);

    const out = {
      users: USERS,
      schools: SCHOOLS,
      classes: data.classes.length,
      zipBytes: zip.length,
      generateS: seconds(generateMs),
      baseline: { accounts: BASELINE, directoryCreatesPerSecond: Math.round(baselinePerSecond) },
      plan: { s: seconds(first.ms), usersPerSecond: Math.round(USERS / (first.ms / 1000)), counts: first.plan.counts },
      commit: { s: seconds(committed.ms), usersPerSecond: Math.round(USERS / (committed.ms / 1000)), ratioToBaseline: Number((USERS / (committed.ms / 1000) / baselinePerSecond).toFixed(2)), classesCreated: committed.result.classes.created },
      planPlusCommitS: seconds(first.ms + committed.ms),
      reimport: { planS: seconds(again.ms), commitS: seconds(noop.ms), unchanged: again.plan.counts.unchanged, usersPerSecond: Math.round(USERS / ((again.ms + noop.ms) / 1000)) },
      secondExport: { planS: seconds(changed.ms), commitS: seconds(changedCommit.ms), counts: changed.plan.counts },
      rssAfterPlanMB: Math.round(rss / 1e6),
      database: 'PostgreSQL (the machine\'s server), pool 10; Redis for the job\'s lease',
      node: process.version,
      at: new Date().toISOString(),
    };
    console.log(JSON.stringify(out, null, 2));
    writeFileSync(path.join(projectRoot, 'bench/results/oneroster.json'), `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await store.close();
    await database.close();
    await schema.drop();
    await stopSharedRedis();
  }
}

await main();
