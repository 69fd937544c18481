// The store through Redis Sentinel: the harness starts a master and a sentinel that
// monitors it (redis-server --sentinel), and the store finds the master by asking the
// sentinel, as REDIS_SENTINELS / REDIS_SENTINEL_NAME configure it.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Directory } from '../../src/domain/accounts/directory.ts';
import { keys, openStore, type Store } from '../../src/store/index.ts';
import { freePort, OwnedRedis, uniquePrefix } from '../support/redis.ts';

describe('store through Redis Sentinel', () => {
  let master: OwnedRedis;
  let sentinel: ChildProcess;
  let sentinelPort: number;
  let dir: string;

  before(async () => {
    master = await OwnedRedis.start();
    sentinelPort = await freePort();
    dir = mkdtempSync(path.join(tmpdir(), 'idp-sentinel-'));
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(conf, [`port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor idp-master 127.0.0.1 ${master.port} 1`, ''].join('\n'));
    sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const r = spawnSync('redis-cli', ['-p', String(sentinelPort), 'sentinel', 'get-master-addr-by-name', 'idp-master'], { encoding: 'utf8' });
      if (r.stdout.includes(String(master.port))) return;
      await sleep(50);
    }
    throw new Error('the sentinel did not start');
  });
  after(async () => {
    sentinel?.kill('SIGTERM');
    await master?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds the master through the sentinel and serves the directory and counters', async () => {
    const { store, description } = await openStore({ sentinels: [`127.0.0.1:${sentinelPort}`], sentinelName: 'idp-master', keyPrefix: uniquePrefix() });
    try {
      assert.match(description, /Redis Sentinel idp-master/);
      const directory = new Directory(store as Store, Date.now);
      const account = await directory.create({
        loginId: 'sentinel_check@students.edu.sg', displayName: 'Sentinel Check', givenName: 'Sentinel', familyName: 'Check',
        school: { code: 'S1', name: 'School' }, level: 'P1', roles: ['student'], status: 'active', passwordHash: 'x',
        mustChangePassword: false, passwordChangedAt: Date.now(), passwordHistory: [], questions: [],
      });
      assert.equal((await directory.findByLoginId('sentinel_check@students.edu.sg'))?.id, account.id);
      assert.equal(await store.increment(keys.signInFailures('sentinel_check@students.edu.sg'), 60_000), 1);
      // The data is on the master the sentinel named.
      const onMaster = spawnSync('redis-cli', ['-p', String(master.port), 'dbsize'], { encoding: 'utf8' }).stdout.trim();
      assert.ok(Number(onMaster) >= 3);
    } finally {
      await store.close();
    }
  });
});
