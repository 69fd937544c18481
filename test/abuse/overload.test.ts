// More sign-ins at once than the IdP can hash: beyond its queue they are answered at once
// (503, Retry-After, a page that sends the same form again by itself), nothing is done for
// them, and sending that page's form again signs in. A pupil already signed in is not kept
// waiting behind them.
import assert from 'node:assert/strict';
import { Browser, formOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

describe('overload is answered, not collapsed', function () {
  this.timeout(120_000);
  let t: TestIdp;

  before(async () => {
    // One password action at a time, one waiting, for at most a second; argon2 slow enough to queue.
    t = await startTestIdp({ overrides: { admission: { concurrency: 1, queue: 1, maxWaitSeconds: 1 }, argon2: { memoryCost: 65536, timeCost: 3, parallelism: 1 } } });
  });
  after(async () => t?.close());

  it('20 sign-ins at once: the excess get 503 with Retry-After and a page that posts the same form again, which then signs in', async () => {
    const signedIn = new Browser(t.url);
    assert.match((await signedIn.signIn((await signedIn.open('/portal')).res, DEMO.student2.loginId, DEMO.student2.password)).res.text, /Sign out/);

    const browsers = Array.from({ length: 20 }, () => new Browser(t.url));
    const pages = await Promise.all(browsers.map(async (b) => (await b.open('/portal')).res));
    const posts = browsers.map((b, i) => b.submit(pages[i]!, '/sign-in', { username: DEMO.student.loginId, password: DEMO.student.password }));
    // Meanwhile a pupil with a live session opens the portal: no password, no queue.
    const portal = await signedIn.get('/portal');
    assert.equal(portal.status, 200);
    const answers = await Promise.all(posts);

    const waited = answers.filter((r) => r.status === 503);
    assert.ok(waited.length >= 5, `${waited.length} of 20 answered 503`);
    assert.equal(answers.filter((r) => r.status !== 503 && r.status !== 303).length, 0, 'nothing but 303 and 503');
    for (const r of waited) {
      const seconds = Number(r.headers['retry-after']);
      assert.ok(seconds >= 2 && seconds <= 33, `Retry-After ${seconds}`);
      assert.match(r.text, /Many students are signing in right now/);
      assert.match(r.text, /data-autosubmit="after" data-after-seconds="\d+"/);
      assert.equal(r.headers['cache-control'], 'no-store');
    }
    const metric = await t.idp.metrics.registry.getSingleMetric('idp_password_checks_refused_total')!.get();
    assert.equal(metric.values[0]!.value, waited.length);

    // What the waiting page does by itself, for each: the same form, sent again (one at a time now).
    for (const [i, r] of answers.entries()) {
      if (r.status !== 503) continue;
      const form = formOf(r.text, '/sign-in');
      const again = await browsers[i]!.follow(await browsers[i]!.post(form.action, form.hidden));
      assert.match(again.res.text, /Sign out/, 'signed in by sending the waiting page\'s form');
    }
  });
});
