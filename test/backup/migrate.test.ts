// Migrations: `migrate --dry-run` writes nothing; `migrate` brings v1 records to v2, is
// idempotent, and a run killed with SIGKILL part-way resumes to the same end state as a
// run that was never interrupted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { projectRoot } from '../../src/config/settings.ts';
import { ACCOUNT_VERSION } from '../../src/domain/accounts/account.ts';
import { keys, RedisStore } from '../../src/store/index.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { runCli } from '../support/cli.ts';
import { loadV1 } from './v1-fixture.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startIdpProcess } from '../support/process.ts';

const COUNT = 4000;

describe('migrations (CLI)', function () {
  this.timeout(180_000);
  let url: string;
  const stores: RedisStore[] = [];
  const fresh = async (): Promise<{ store: RedisStore; prefix: string }> => {
    const prefix = uniquePrefix();
    const store = new RedisStore({ url, keyPrefix: prefix });
    await store.ready();
    stores.push(store);
    return { store, prefix };
  };
  const env = (prefix: string) => ({ ...process.env, REDIS_URL: url, REDIS_KEY_PREFIX: prefix });
  /** Every account record, by id. */
  const snapshot = async (store: RedisStore, ids: string[]) => Promise.all(ids.map((id) => store.get(keys.account(id))));

  before(async () => {
    url = await testRedisUrl();
  });
  after(async () => {
    for (const s of stores) await s.close();
  });

  it('dry run counts and writes nothing; a run migrates; a second run finds nothing to do', async () => {
    const { store, prefix } = await fresh();
    const records = await loadV1(store, 50, (i) => (i % 5 === 0 ? { v: 2 } : {}));
    const ids = records.map((r) => r.id);
    const before = await snapshot(store, ids);
    const dry = await runCli(env(prefix), 'migrate', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /account-v2 \(dry run, nothing written\): scanned 50, would migrate 40, already current 10/);
    assert.deepEqual(await snapshot(store, ids), before);
    assert.equal(await store.get(keys.migration('account-v2')), null);
    // The layout record of claims and indexes (versions.ts) is a step of its own, counted too.
    assert.match(dry.stdout, /directory-layout-v2 \(dry run, nothing written\): scanned 1, would migrate 1, already current 0/);
    assert.equal(await store.get(keys.directoryLayout()), null);
    const run = await runCli(env(prefix), 'migrate');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /account-v2: scanned 50, migrated 40, already current 10/);
    assert.match(run.stdout, /directory-layout-v2: scanned 1, migrated 1/);
    assert.deepEqual(JSON.parse((await store.get(keys.directoryLayout()))!), { v: 2 });
    const after = await snapshot(store, ids);
    for (const [i, raw] of after.entries()) {
      const rec = JSON.parse(raw!);
      assert.equal(rec.v, ACCOUNT_VERSION);
      // Nothing but the version changed (updatedAt included: a migration is nobody's change).
      const { v: _v, ...rest } = rec;
      const { v: _w, ...old } = JSON.parse(before[i]!);
      assert.deepEqual(rest, old);
    }
    const again = await runCli(env(prefix), 'migrate');
    assert.match(again.stdout, /account-v2: scanned 50, migrated 0, already current 50/);
    assert.match(again.stdout, /directory-layout-v2: scanned 1, migrated 0, already current 1/);
    assert.deepEqual(await snapshot(store, ids), after);
  });

  it('killed with SIGKILL mid-way and run again, ends in the same state as an uninterrupted run', async () => {
    const a = await fresh();
    const b = await fresh();
    const extra = (i: number) => (i % 7 === 0 ? { futureField: i } : i % 11 === 0 ? { v: 2 } : {});
    const ids = (await loadV1(a.store, COUNT, extra)).map((r) => r.id);
    await loadV1(b.store, COUNT, extra);

    // Uninterrupted, on b.
    const straight = await runCli(env(b.prefix), 'migrate');
    assert.equal(straight.code, 0, straight.stderr);

    // Interrupted, on a: killed as soon as the cursor shows progress.
    const child = spawn(process.execPath, ['src/cli/main.ts', 'migrate'], { cwd: projectRoot, env: env(a.prefix), stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    let progress: { done: boolean; scanned: number } | null = null;
    for (let i = 0; i < 4000 && !progress; i++) {
      const raw = await a.store.get(keys.migration('account-v2'));
      if (raw) progress = JSON.parse(raw);
      else await sleep(5);
    }
    child.kill('SIGKILL');
    await exited;
    const cursor = JSON.parse((await a.store.get(keys.migration('account-v2')))!) as { done: boolean; scanned: number };
    assert.equal(cursor.done, false, 'killed before it finished');
    const midway = (await snapshot(a.store, ids)).map((r) => JSON.parse(r!).v);
    assert.ok(midway.some((v) => v === 2) && midway.some((v) => v === undefined), 'part-way: some records migrated, some not');

    const resumed = await runCli(env(a.prefix), 'migrate');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /account-v2 \(resumed\)/);
    assert.deepEqual(await snapshot(a.store, ids), await snapshot(b.store, ids));
    for (const raw of await snapshot(a.store, ids)) assert.equal(JSON.parse(raw!).v, ACCOUNT_VERSION);
  });

  it('runs at start-up (npm start) in the background and logs its counts; the next start finds it done', async () => {
    const { store, prefix } = await fresh();
    const ids = (await loadV1(store, 30)).map((r) => r.id);
    const startEnv = { REDIS_URL: url, REDIS_KEY_PREFIX: prefix, IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')), IDP_DEMO_SEED: 'false' };
    for (const expected of [/"migration":"account-v2","scanned":30,"migrated":30.*data migration finished/, /"migration":"account-v2".*"skipped":true.*data migration already done/]) {
      const idp = await startIdpProcess(startEnv);
      try {
        for (let i = 0; i < 200 && !expected.test(idp.output()); i++) await sleep(50);
        assert.match(idp.output(), expected);
      } finally {
        await idp.kill('SIGTERM');
      }
    }
    for (const raw of await snapshot(store, ids)) assert.equal(JSON.parse(raw!).v, ACCOUNT_VERSION);
  });
});
