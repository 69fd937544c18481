// Issue 28 at 1280 px: the audit trail fits its card (it overflowed it), with people named.
import assert from 'node:assert/strict';
import type { Browser as Chromium } from 'playwright-core';
import { Browser } from '../support/browser.ts';
import { Journey, launchChromium } from '../support/chromium.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };

describe('administration at 1280 px (issue 28; axe)', function () {
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

  it('the audit trail fits its card and names people', async () => {
    for (let i = 0; i < 3; i++) {
      const b = new Browser(t.url);
      await b.signIn((await b.open('/portal')).res, DEMO.student.loginId, `Wrong-${i}-Guess`);
    }
    const j = await Journey.start(chromium, '28-audit-1280');
    const p = j.page;
    await p.setViewportSize({ width: 1280, height: 900 });
    await p.goto(`${t.url}/admin/audit`);
    await j.screen('sign-in', 'MIMS Portal');
    await p.getByLabel('Username').fill(SITI.loginId);
    await p.getByLabel('Password').fill(SITI.password);
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
    await j.screen('audit', 'Audit trail');
    const fit = await p.evaluate(() => {
      const card = document.querySelector('main')!.getBoundingClientRect();
      const table = document.querySelector('table.events')!;
      return { card: Math.round(card.right), table: Math.round(table.getBoundingClientRect().right), scroll: table.scrollWidth - table.clientWidth };
    });
    assert.ok(fit.table <= fit.card, `the table ends at ${fit.table} px, the card at ${fit.card} px`);
    assert.ok(fit.scroll <= 0, `the table scrolls by ${fit.scroll} px inside the card`);
    assert.match(await p.locator('table.events').innerText(), /Allen Tan\s+allen_tan@students\.edu\.sg/);
    await j.close();
  });

  it('what apps receive and the roster, at 360 px, pass axe; a choice is saved with the keyboard', async () => {
    await t.idp.roster.leave((await t.idp.directory.findByLoginId(DEMO.student.loginId))!.id, Date.now() + 86_400_000, { actor: 'test' });
    const j = await Journey.start(chromium, '29-admin-privacy-roster');
    const p = j.page;
    await p.setViewportSize({ width: 360, height: 800 });
    await p.goto(`${t.url}/admin/apps`);
    await j.screen('sign-in', 'MIMS Portal');
    await p.getByLabel('Username').fill(SITI.loginId);
    await p.getByLabel('Password').fill(SITI.password);
    await p.getByRole('button', { name: 'Sign in', exact: true }).click();
    await j.screen('apps', 'What apps receive');
    const group = p.getByRole('group').first();
    const box = group.getByRole('checkbox').first();
    await box.focus();
    await p.keyboard.press('Space');
    await group.locator('xpath=..').getByRole('button', { name: 'Save' }).click();
    await j.screen('apps-saved', 'What apps receive');
    assert.match(await p.getByRole('status').first().innerText(), /Saved/);
    await p.goto(`${t.url}/admin/lifecycle`);
    await j.screen('roster', 'Roster: joining, moving and leaving');
    assert.match(await p.locator('main').innerText(), /Allen Tan[\s\S]*Leaves on/);
    await j.close();
  });
});
