// Redis stops and starts again under a running IdP: SSPR 5019 and a failing /readyz
// while it is down, normal service afterwards without a restart. The IdP starts without
// Redis (alive, not ready) and the CLI says in one line that it cannot reach it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config/settings.ts';
import { RedisStore } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { newSchema } from '../support/database.ts';
import { DEMO, FIXTURE_RPS, startTestIdp, type TestIdp } from '../support/idp.ts';
import { startIdpProcess } from '../support/process.ts';
import { freePort, OwnedRedis, testRedisUrl, uniquePrefix } from '../support/redis.ts';

describe('store outage', () => {
  let redis: OwnedRedis;
  let t: TestIdp;
  before(async () => {
    redis = await OwnedRedis.start();
    const store = new RedisStore({ url: redis.url, keyPrefix: uniquePrefix() });
    await store.ready();
    t = await startTestIdp({ store });
  });
  after(async () => {
    await t.close();
    await redis.destroy();
  });

  it('shows SSPR 5019 while Redis is down and recovers by itself', async () => {
    const browser = new Browser(t.url);
    const page = await browser.open('/portal');
    assert.equal(page.res.status, 200);

    await redis.stop();
    const ready = await browser.get('/readyz');
    assert.equal(ready.status, 503);
    const down = await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
    assert.equal(down.res.status, 503);
    assert.match(down.res.text, /SSPR 5019/);
    assert.match(down.res.text, /System having issue to process this request/);
    const reference = /Reference: <code>([A-Za-z0-9_-]+)<\/code>/.exec(down.res.text)![1]!;
    assert.ok(t.logs.some((l) => l.includes(reference) && l.includes('SSPR 5019')), 'the reference is on the log line:\n' + t.logs.slice(-5).join(''));
    assert.equal(down.res.text.includes('ECONNREFUSED'), false, 'no library error on the page');
    assert.equal((await browser.get('/healthz')).status, 200, 'the process keeps running');

    // Redis is back (empty: this one keeps nothing); the IdP reconnects on its own.
    await redis.resume();
    let readyAgain = 503;
    for (let i = 0; i < 60 && readyAgain !== 200; i++) {
      readyAgain = (await browser.get('/readyz')).status;
      if (readyAgain !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(readyAgain, 200);
    await t.idp.directory.findByLoginId(DEMO.student.loginId); // reachable
  });
});

describe('start-up without Redis', function () {
  this.timeout(60_000);

  it('listens at once, alive but not ready, SSPR 5019 on every path with a Reference; ready when Redis comes up', async () => {
    const port = await freePort();
    const redisPort = await freePort();
    const idp = await startIdpProcess({
      REDIS_URL: `redis://127.0.0.1:${redisPort}`, IDP_RP_DIR: FIXTURE_RPS, IDP_DEMO_SEED: 'true',
      IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')),
    }, port, [], 'alive');
    let redis: OwnedRedis | undefined;
    try {
      const base = `http://127.0.0.1:${port}`;
      const b = new Browser(base);
      assert.equal((await b.get('/healthz')).status, 200);
      const notReady = await b.get('/readyz');
      assert.equal(notReady.status, 503);
      assert.equal(notReady.body.error, 'SSPR 5019');
      const oidcAuth = `/oidc/auth?client_id=test-web&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/callback')}&state=s1&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`;
      for (const target of ['/portal', '/flow/forgot-password', '/admin', oidcAuth, '/saml/launch/fixture-sp']) {
        const res = (await b.open(target)).res;
        assert.equal(res.status, 503, `${target}: ${res.status} ${res.text.slice(0, 300)}`);
        assert.match(res.text, /SSPR 5019/, target);
        const reference = /Reference: <code>([A-Za-z0-9_-]+)<\/code>/.exec(res.text)?.[1];
        assert.ok(reference, `${target} shows a Reference`);
        await until(() => idp.output().includes(reference!), `the log line of ${reference}`);
      }
      assert.doesNotMatch(idp.output(), /^\s+at /m, 'no stack trace in the output');
      assert.equal(idp.child.exitCode, null, 'still running');

      // Redis comes up on the configured port: the IdP connects, seeds and becomes ready.
      redis = await OwnedRedis.startOn(redisPort);
      await until(async () => (await b.get('/readyz')).status === 200, '/readyz 200 after Redis came up', 20_000);
      const page = await b.open('/portal');
      const portal = await b.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
      assert.match(portal.res.text, /Allen Tan/, 'the demo seed was loaded once Redis answered');
    } finally {
      await idp.kill('SIGTERM');
      await redis?.destroy();
    }
  });

  it('the CLI against a stopped store or database: one line saying what is wrong, non-zero exit', async () => {
    const port = await freePort();
    const schema = await newSchema();
    try {
      const r = spawnSync(process.execPath, ['src/cli/main.ts', 'unlock', DEMO.student.loginId], { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, ...schema.env, REDIS_URL: `redis://127.0.0.1:${port}` } });
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^cannot reach the store or the database \(.*\): check DATABASE_URL and REDIS_URL/);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
      const noDb = spawnSync(process.execPath, ['src/cli/main.ts', 'unlock', DEMO.student.loginId], { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, REDIS_URL: await testRedisUrl(), DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test` } });
      assert.equal(noDb.status, 1);
      assert.equal(noDb.stderr.trim().split('\n').length, 1, noDb.stderr);
      assert.match(noDb.stderr, /^cannot reach the store or the database \(database unavailable: .*ECONNREFUSED.*\)/);
      const none = spawnSync(process.execPath, ['src/cli/main.ts', 'unlock', DEMO.student.loginId], { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, REDIS_URL: await testRedisUrl(), DATABASE_URL: '' } });
      assert.equal(none.status, 2);
      assert.match(none.stderr, /^no DATABASE_URL configured: the CLI works on the same PostgreSQL and Redis as the server/);
    } finally {
      await schema.drop();
    }
  });
});

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
