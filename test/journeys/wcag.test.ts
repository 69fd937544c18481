// WCAG 2.2 AA beyond axe (issue 28, item 2), in Chromium at 360 px:
//   - 3.3.8 accessible authentication: pasting (from a password manager or a note) works in
//     every password and answer field, and the fields say what they are (autocomplete);
//   - 2.4.11 focus not obscured: moving through a page with Tab, each focused control is in
//     view and not covered by anything (the element at its centre is it or inside it).
// Target size (2.5.8) is measured on every journey screen (test/support/chromium.ts).
import assert from 'node:assert/strict';
import type { Browser as Chromium, Page } from 'playwright-core';
import { Journey, launchChromium } from '../support/chromium.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';

const FARAH = { loginId: 'farah_aziz@students.edu.sg', password: 'Rivervale#Start24' };

async function paste(page: Page, selector: string, text: string): Promise<void> {
  await page.evaluate((t) => navigator.clipboard.writeText(t), text);
  await page.locator(selector).focus();
  await page.keyboard.press('Control+V');
}

/** Tabs through the page; every focused control must be visible and uncovered. */
async function focusNeverObscured(page: Page, label: string): Promise<number> {
  let seen = 0;
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    const verdict = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return null;
      el.scrollIntoView({ block: 'nearest' });
      const box = el.getBoundingClientRect();
      const inView = box.bottom > 0 && box.right > 0 && box.top < window.innerHeight && box.left < window.innerWidth;
      const atCentre = document.elementFromPoint(Math.min(Math.max(box.left + box.width / 2, 0), window.innerWidth - 1), Math.min(Math.max(box.top + box.height / 2, 0), window.innerHeight - 1));
      const uncovered = atCentre !== null && (atCentre === el || el.contains(atCentre) || atCentre.contains(el) || (el as HTMLInputElement).labels?.[0]?.contains(atCentre) === true);
      return { what: `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${(el.textContent ?? '').trim().slice(0, 30)}"`, inView, uncovered };
    });
    if (!verdict) continue;
    seen++;
    assert.ok(verdict.inView && verdict.uncovered, `${label}: focus obscured on ${verdict.what}`);
  }
  return seen;
}

describe('WCAG 2.2 beyond axe (issue 28, item 2; Chromium, 360 px)', function () {
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

  it('pasting works in the sign-in, questions and new-password fields, which say what they hold; focus is never hidden', async () => {
    const j = await Journey.start(chromium, '28-wcag');
    await j.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    const p = j.page;
    await p.goto(`${t.url}/portal`);
    await j.screen('sign-in', 'MIMS Portal');
    assert.equal(await p.locator('#username').getAttribute('autocomplete'), 'username');
    assert.equal(await p.locator('#password').getAttribute('autocomplete'), 'current-password');
    assert.ok((await focusNeverObscured(p, 'sign-in')) >= 4, 'the page has controls to reach');
    await paste(p, '#username', FARAH.loginId);
    await paste(p, '#password', FARAH.password);
    assert.equal(await p.locator('#password').inputValue(), FARAH.password, 'a pasted password is kept');
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
    await j.screen('setup-questions', 'Setup Security Questions');
    await focusNeverObscured(p, 'setup-questions');
    for (const [i, answer] of ['Laksa', 'Otter', 'Teal'].entries()) {
      await p.locator(`#q${i}`).selectOption({ index: i + 1 });
      await paste(p, `#a${i}`, answer);
      assert.equal(await p.locator(`#a${i}`).inputValue(), answer, 'a pasted answer is kept');
    }
    await p.getByRole('button', { name: 'Save Answers', exact: true }).click();
    await j.screen('confirm', 'Confirm Security Questions');
    await p.getByRole('button', { name: 'Confirm Security Answers', exact: true }).click();
    await j.screen('saved', /Security questions saved|Success/);
    await p.getByRole('button', { name: 'Continue', exact: true }).click();
    await j.screen('change-password', 'Change Password');
    assert.equal(await p.locator('#newPassword').getAttribute('autocomplete'), 'new-password');
    await focusNeverObscured(p, 'change-password');
    await paste(p, '#newPassword', 'Harbour-Comet-1990');
    await paste(p, '#confirmPassword', 'Harbour-Comet-1990');
    assert.equal(await p.locator('#confirmPassword').inputValue(), 'Harbour-Comet-1990', 'pasting the confirmation is allowed (no redundant typing forced)');
    await j.close();
  });
});
