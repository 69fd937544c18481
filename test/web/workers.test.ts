// IDP_WORKERS: several IdP processes on one port (Node's cluster module) over one Redis.
// Requests are answered by both; a sign-in started on one finishes wherever the next
// request lands; the demo accounts are seeded once, by the primary, before any worker says
// ready; a worker that dies is replaced; SIGTERM stops them all; the embedded store refuses.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSettings, projectRoot } from '../../src/config/settings.ts';
import { Browser } from '../support/browser.ts';
import { newSchema } from '../support/database.ts';
import { DEMO } from '../support/idp.ts';
import { startIdpProcess, type IdpProcess } from '../support/process.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

async function workersSeen(url: string, requests: number): Promise<Set<number>> {
  const seen = new Set<number>();
  for (let i = 0; i < requests; i++) {
    // A new connection each time: the cluster hands connections out, not requests.
    const body = (await fetch(`${url}/healthz`, { headers: { connection: 'close' } }).then((r) => r.json())) as { worker?: number };
    seen.add(body.worker ?? 0);
  }
  return seen;
}

describe('IDP_WORKERS: several IdP processes on one port', function () {
  this.timeout(60_000);
  let idp: IdpProcess;
  let url: string;

  before(async () => {
    idp = await startIdpProcess({ REDIS_URL: await testRedisUrl(), REDIS_KEY_PREFIX: uniquePrefix(), ...(await newSchema()).env, IDP_WORKERS: '2', IDP_DEMO_SEED: 'true', IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')) });
    url = `http://127.0.0.1:${idp.port}`;
  });
  after(async () => {
    await idp?.kill('SIGKILL');
  });

  it('answers from both workers, and a sign-in crosses them', async () => {
    // /readyz was answered by the first worker ready; the second joins the port when it has loaded.
    const seen = new Set<number>();
    for (let i = 0; i < 200 && seen.size < 2; i++) {
      for (const w of await workersSeen(url, 5)) seen.add(w);
      if (seen.size < 2) await sleep(100);
    }
    assert.deepEqual([...seen].sort(), [1, 2]);
    const browser = new Browser(url);
    const page = await browser.open('/portal');
    const portal = await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
    assert.match(portal.res.text, /Allen Tan/);
    assert.match(idp.output(), /demo accounts loaded/);
    assert.equal(idp.output().match(/demo accounts loaded/g)!.length, 1, 'seeded once, by the primary');
  });

  it('replaces a worker that dies, and SIGTERM stops them all', async () => {
    const pids = spawnSync('pgrep', ['-P', String(idp.child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number).filter(Boolean);
    assert.equal(pids.length, 2, 'two worker processes');
    process.kill(pids[0]!, 'SIGKILL');
    let replaced: number[] = [];
    for (let i = 0; i < 100 && replaced.length < 2; i++) {
      await sleep(100);
      replaced = spawnSync('pgrep', ['-P', String(idp.child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number).filter((p) => p && p !== pids[0]);
    }
    assert.equal(replaced.length, 2, 'a new worker took its place');
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++, await sleep(100)) ready = (await workersSeen(url, 10)).size === 2 && (await fetch(`${url}/readyz`)).ok;
    assert.ok(ready, 'both answer again');
    assert.match(idp.output(), /IdP worker exited: starting another/);
    assert.equal(await idp.kill('SIGTERM'), 0, 'a clean stop');
    for (const pid of replaced) assert.throws(() => process.kill(pid, 0), 'the workers stopped too');
  });

  it('a busy port stops the primary with one line naming it, and no worker is started into it again and again', async () => {
    const { createServer } = await import('node:net');
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = spawnSync(process.execPath, ['src/main.ts'], { cwd: projectRoot, env: { ...process.env, REDIS_URL: await testRedisUrl(), REDIS_KEY_PREFIX: uniquePrefix(), ...(await newSchema()).env, IDP_WORKERS: '2', IDP_SIMS: 'false', PORT: String(port), IDP_HOST: '127.0.0.1', IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')) }, encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l.includes(`port ${port}`));
      assert.deepEqual(lines, [`start-up failed: port ${port} on 127.0.0.1 (the IdP) is in use: set PORT (--port), or IDP_HOST`]);
      assert.doesNotMatch(r.stdout + r.stderr, /starting another/);
    } finally {
      busy.close();
    }
  });

  it('refuses more than one worker on the embedded store, in one line', () => {
    const r = spawnSync(process.execPath, ['src/main.ts'], { cwd: projectRoot, env: { ...process.env, REDIS_URL: '', IDP_WORKERS: '2', PORT: '0' }, encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /server\.workers \(env IDP_WORKERS\): more than one IdP process needs Redis/);
    const noDb = spawnSync(process.execPath, ['src/main.ts'], { cwd: projectRoot, env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: '', IDP_WORKERS: '2', PORT: '0' }, encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(noDb.status, 0);
    assert.match(noDb.stderr, /server\.workers \(env IDP_WORKERS\): more than one IdP process needs a PostgreSQL server \(DATABASE_URL\)/);
  });

  it('unset, is one worker per core with PostgreSQL and Redis outside demo mode, each with V8\'s memory flags; else one process', async () => {
    const shared = { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://x@127.0.0.1/db' };
    assert.equal(loadSettings({ env: shared }).server.workers, 'auto');
    assert.equal(loadSettings({ env: { ...shared, IDP_DEMO_SEED: 'true' } }).server.workers, 1, 'demo mode: its mailbox lives in one process');
    assert.equal(loadSettings({ env: { REDIS_URL: shared.REDIS_URL } }).server.workers, 1, 'the embedded directory');
    assert.equal(loadSettings({ env: { DATABASE_URL: shared.DATABASE_URL } }).server.workers, 1, 'the embedded store');
    assert.equal(loadSettings({ env: { ...shared, IDP_WORKERS: '1' } }).server.workers, 1);

    const primary = await startIdpProcess({ REDIS_URL: await testRedisUrl(), REDIS_KEY_PREFIX: uniquePrefix(), ...(await newSchema()).env, IDP_WORKERS: '', IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')) });
    try {
      const pids = spawnSync('pgrep', ['-P', String(primary.child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number).filter(Boolean);
      // One core: "auto" is one process, the IdP itself (no primary, no workers).
      assert.equal(pids.length, availableParallelism() > 1 ? availableParallelism() : 0, 'one worker per core');
      for (const pid of pids) assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /--max-semi-space-size=8\0--heap-growing-percent=50\0/);
      assert.equal(await primary.kill('SIGTERM'), 0);
    } finally {
      await primary.kill('SIGKILL');
    }
  });
});
