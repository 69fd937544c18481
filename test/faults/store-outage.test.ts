// Redis stops and starts again under a running IdP: SSPR 5019 and a failing /readyz
// while it is down, normal service afterwards without a restart.
import assert from 'node:assert/strict';
import { RedisStore } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { OwnedRedis, uniquePrefix } from '../support/redis.ts';

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
