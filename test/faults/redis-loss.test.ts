// Redis keeps only what may be lost. Under password changes (HTTP, as a browser), CLI resets
// and CLI imports, the IdP's Redis is flushed, then killed and started again empty: every
// account change anyone was told succeeded is still in force (the directory is in
// PostgreSQL), a student who was signed in is asked to sign in again and can, and /readyz
// is 200 again once Redis answers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisStore } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { OVERRIDES, scenario } from '../support/failover-scenario.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { OwnedRedis, uniquePrefix } from '../support/redis.ts';

describe('Redis lost under load: accounts intact, users sign in again', function () {
  this.timeout(120_000);
  let redis: OwnedRedis;
  let t: TestIdp;
  let cliEnv: NodeJS.ProcessEnv;

  before(async () => {
    redis = await OwnedRedis.start();
    const prefix = uniquePrefix();
    const store = new RedisStore({ url: redis.url, keyPrefix: prefix });
    await store.ready();
    t = await startTestIdp({ store, overrides: OVERRIDES });
    cliEnv = { ...t.databaseEnv, REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, IDP_ARGON2_MEMORY_KIB: '8192', IDP_ARGON2_TIME_COST: '1' };
  });
  after(async () => {
    await t?.close();
    await redis?.destroy();
  });

  async function signedIn(): Promise<Browser> {
    const b = new Browser(t.url);
    const page = await b.signIn((await b.open('/portal')).res, DEMO.student.loginId, DEMO.student.password);
    assert.match(page.res.text, /Sign out/);
    return b;
  }

  it('FLUSHALL: nothing acknowledged is lost; a signed-in student signs in again', async () => {
    const b = await signedIn();
    await scenario('redis flushed', t, cliEnv, async () => {
      assert.equal(spawnSync('redis-cli', ['-p', String(redis.port), 'flushall'], { encoding: 'utf8' }).stdout.trim(), 'OK');
    }, async () => {});
    const again = await b.open('/portal');
    assert.doesNotMatch(again.res.text, /Sign out/, 'the SSO session went with Redis');
    assert.match(again.res.text, /Username/, 'the sign-in page');
    await signedIn();
  });

  it('Redis killed and started again empty: nothing acknowledged is lost; a signed-in student signs in again', async () => {
    const b = await signedIn();
    await scenario('redis killed', t, cliEnv, async () => {
      await redis.stop();
      await sleep(2_000);
      await redis.resume();
    }, async () => {});
    assert.doesNotMatch((await b.open('/portal')).res.text, /Sign out/);
    await signedIn();
  });
});
