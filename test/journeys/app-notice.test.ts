// Issue 29, item 4 in Chromium at 360 px with axe: the first-use notice a pupil reads before an
// app's first sign-in (privacy.noticeRoles ["student"]), in English and in Tamil.
import assert from 'node:assert/strict';
import type { Browser as Chromium } from 'playwright-core';
import { Journey, launchChromium } from '../support/chromium.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, client, discover } from '../support/rp.ts';

const SECRET = 'notice-journey-secret-0123456789abcdef012';
const APP = { id: 'maths-garden', redirect: 'http://127.0.0.1:9/maths/callback' };

describe('the first-use notice in Chromium (issue 29; 360 px, axe)', function () {
  this.timeout(120_000);
  let chromium: Chromium;
  let t: TestIdp;
  before(async () => {
    chromium = await launchChromium();
    t = await startTestIdp({ host: 'localhost', overrides: { privacy: { noticeRoles: ['student'] } }, clients: [client({ client_id: APP.id, client_secret: SECRET, redirect_uris: [APP.redirect], scope: 'openid profile school', display_name: 'Maths Garden' })] });
  });
  after(async () => {
    await t?.close();
    await chromium?.close();
  });

  for (const [locale, heading, who] of [['en-SG', 'Before you go on', DEMO.student], ['ta-SG', 'தொடர்வதற்கு முன்', DEMO.student2]] as const) {
    it(`a pupil reads what Maths Garden will receive (${locale})`, async () => {
      const config = await discover(t, APP.id, SECRET);
      const req = await authRequest(config, APP.redirect, { scope: 'openid profile school' });
      const j = await Journey.start(chromium, `29-app-notice-${locale}`, locale);
      const p = j.page;
      await p.goto(req.url.toString());
      await p.locator('#username').fill(who.loginId);
      await p.locator('#password').fill(who.password);
      await p.locator('form[action$="/sign-in"] button[type=submit].primary').click();
      await j.screen('notice', heading);
      assert.equal(await p.locator('ul.notice-list li').count(), 4);
      const callback = p.waitForRequest((r) => r.url().startsWith(APP.redirect));
      await p.locator('form[action$="/app-notice/continue"] button.primary').click();
      assert.match((await callback).url(), /[?&]code=/);
      await j.close();
    });
  }
});
