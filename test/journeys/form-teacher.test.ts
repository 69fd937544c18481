// Issue 27 in Chromium at 360 px with axe: a form teacher (Daniel Wong, 2A of the demo school)
// unlocks a student of his class and prints sign-in slips for it (the print layout is
// checked as printed: what shows, what does not, and a PDF of it in test-output/ to look at),
// and is refused another class by URL.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Browser as Chromium, Page } from 'playwright-core';
import { schoolYear } from '../../src/domain/classes/classes.ts';
import { Browser } from '../support/browser.ts';
import { Journey, launchChromium, OUTPUT } from '../support/chromium.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const YEAR = schoolYear(Date.now());

async function click(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name, exact: true }).click();
}

describe('a form teacher in Chromium (issue 27; 360 px, axe)', function () {
  this.timeout(120_000);
  let chromium: Chromium;
  let t: TestIdp;
  before(async () => {
    chromium = await launchChromium();
    t = await startTestIdp({ host: 'localhost' });
  });
  after(async () => {
    await t?.close();
    await chromium?.close();
  });

  it('unlocks a locked student of his class, prints her sign-in slips in Malay, and is refused another class by URL', async () => {
    // Allen (2A) locks himself out.
    for (let i = 0; i < 5; i++) {
      const b = new Browser(t.url);
      await b.signIn((await b.open('/portal')).res, DEMO.student.loginId, `Wrong-Guess-${i}`);
    }
    const j = await Journey.start(chromium, '27-form-teacher');
    const p = j.page;
    await p.goto(`${t.url}/portal`);
    await j.screen('mims-portal-sign-in', 'MIMS Portal');
    await p.getByLabel('Username').fill(DEMO.staff.loginId);
    await p.getByLabel('Password').fill(DEMO.staff.password);
    await click(p, 'Sign in');
    await j.screen('portal', /Applications|Daniel Wong/);
    await p.getByRole('link', { name: /My Class/ }).click();
    await j.screen('my-classes', 'Classes');
    await p.getByRole('link', { name: '2A', exact: true }).click();
    await j.screen('class-2a', `Class 2A (${YEAR})`);
    assert.equal(await p.locator('tr[data-login-id="allen_tan@students.edu.sg"] [data-locked="yes"]').count(), 1);
    await p.locator('tr[data-login-id="allen_tan@students.edu.sg"]').getByRole('link', { name: 'Unlock Account' }).click();
    await j.screen('confirm-unlock', 'Unlock Account');
    await click(p, 'Confirm');
    await j.screen('unlocked', 'Allen Tan');
    assert.match(await p.locator('main').innerText(), /Done: Unlock Account/);
    await p.getByRole('link', { name: `Class 2A (${YEAR})` }).click();
    await j.screen('class-2a-unlocked', `Class 2A (${YEAR})`);
    assert.equal(await p.locator('[data-locked="yes"]').count(), 0);

    await p.getByLabel('Print a slip for Allen Tan').check();
    await p.getByLabel('Language of the slips').selectOption('ms');
    await click(p, 'Print Sign-in Slips');
    await j.screen('slips', 'Sign-in slips');
    const slip = await p.locator('article.slip').innerText();
    assert.match(slip, /Log masuk Portal MIMS/);
    assert.match(slip, /allen_tan@students\.edu\.sg/);
    assert.match(slip, /Log masuk di http:\/\/localhost:\d+\/portal/);
    const password = (await p.locator('.slip-password').innerText()).replace(/\s/g, '');
    assert.match(password, /^[A-HJ-NP-Z][a-km-z]+(?:[2-9][A-HJ-NP-Z][a-km-z]+){3}$/);
    // As printed: the slips only, on A4.
    await p.emulateMedia({ media: 'print' });
    await p.setViewportSize({ width: 794, height: 1123 }); // A4 at 96 dpi
    assert.equal(await p.locator('header.masthead').isVisible(), false, 'no masthead on paper');
    assert.equal(await p.getByRole('button', { name: 'Print' }).isVisible(), false, 'no buttons on paper');
    assert.equal(await p.locator('article.slip').isVisible(), true);
    await p.screenshot({ path: path.join(OUTPUT, '27-form-teacher', 'slips-as-printed.png'), fullPage: true });
    const pdf = path.join(OUTPUT, '27-form-teacher', 'slips.pdf');
    await p.pdf({ path: pdf, format: 'A4', printBackground: true, preferCSSPageSize: true });
    assert.ok(statSync(pdf).size > 1000, 'a PDF to look at');
    await p.emulateMedia({ media: 'screen' });
    await p.setViewportSize({ width: 360, height: 780 });

    // The student signs in with the slip.
    const s = new Browser(t.url);
    assert.match((await s.signIn((await s.open('/portal')).res, DEMO.student.loginId, password)).res.text, /<h1>Change Password<\/h1>/);

    // Another class by URL: refused with the error page.
    const refused = await p.goto(`${t.url}/admin/classes/DEMO01/${YEAR}/5B`);
    assert.equal(refused?.status(), 403);
    await j.screen('another-class-refused', /Error|error/i);
    assert.match(await p.locator('main').innerText(), /SSPR 5403/);
    await j.close();
  });
});
