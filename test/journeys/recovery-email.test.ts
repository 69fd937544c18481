// The recovery email in a real browser (Chromium, 360 px, axe on every screen; see
// journeys.test.ts): a new student adds one after the questions at first sign-in, reading
// the code from a real SMTP server; later the student forgets the password and the answers
// and resets it with a code sent there.
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { Journey, launchChromium } from '../support/chromium.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { codeIn, SmtpSink } from '../support/smtp.ts';

const FARAH = { loginId: 'farah_aziz@students.edu.sg', password: 'Rivervale#Start24' };
const ADDRESS = 'farah.family@gmail.com';

async function click(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name, exact: true }).click();
}

async function newPassword(j: Journey, password: string): Promise<void> {
  await j.screen('change-password', 'Change Password');
  await j.page.getByLabel('New Password').fill(password);
  await j.page.getByLabel('Confirm Password').fill(password);
  await click(j.page, 'Change Password');
  await j.screen('password-changed', 'Success');
}

describe('browser journey: recovery email (Chromium, 360 px, axe)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let smtp: SmtpSink;
  let t: TestIdp;

  before(async () => {
    browser = await launchChromium();
    smtp = await SmtpSink.start();
    t = await startTestIdp({ host: 'localhost', overrides: { recoveryEmail: { offer: { students: true, staff: true } }, mail: { smtpUrl: smtp.url, attempts: 3, backoffMs: 100 } } });
  });
  after(async () => {
    await t?.close();
    await smtp?.close();
    await browser?.close();
  });

  it('a new student adds a recovery email after the questions, then resets a forgotten password with a code sent to it', async () => {
    const j = await Journey.start(browser, 'r1-recovery-email-first-sign-in');
    const p = j.page;
    await p.goto(`${t.url}/portal`);
    await j.screen('mims-portal-sign-in', 'MIMS Portal');
    await p.getByLabel('Username').fill(FARAH.loginId);
    await p.getByLabel('Password').fill(FARAH.password);
    await click(p, 'Sign in');
    await j.screen('setup-security-questions', 'Setup Security Questions');
    for (const [i, [question, reply]] of [['What is your favourite food?', 'Ramen'], ['What is your favourite animal?', 'Shark'], ['What is your favourite colour?', 'Turquoise']].entries()) {
      await p.locator(`#q${i}`).selectOption({ label: question! });
      await p.locator(`#a${i}`).fill(reply!);
    }
    await click(p, 'Save Answers');
    await j.screen('confirm-security-questions', 'Confirm Security Questions');
    await click(p, 'Confirm Security Answers');
    await j.screen('questions-saved', 'Success');
    await click(p, 'Continue');

    await j.screen('recovery-email-offer', 'Recovery Email');
    await p.getByLabel('Personal email address').fill('farah.family@');
    await click(p, 'Send Code');
    await j.screen('recovery-email-invalid', 'Recovery Email');
    assert.match(await p.locator('#email-error').innerText(), /valid email address/);
    const before = smtp.received.length;
    await p.getByLabel('Personal email address').fill(ADDRESS);
    await click(p, 'Send Code');
    await j.screen('recovery-email-confirm', 'Confirm Your Recovery Email');
    assert.match(await p.locator('main').innerText(), /f\*\*\*@gmail\.com/);
    const code = codeIn(await smtp.waitFor((m) => m.to.includes(ADDRESS), 10_000, before));
    await p.getByLabel('6-digit code').fill(code);
    await click(p, 'Confirm Email');
    await j.screen('recovery-email-saved', 'Success');
    await click(p, 'Continue');
    await newPassword(j, 'Orchard-Lamp-2077');
    await click(p, 'Continue');
    await j.screen('portal', 'Applications');
    await j.close();

    const f = await Journey.start(browser, 'r2-forgot-password-email-code');
    const q = f.page;
    await q.goto(`${t.url}/portal`);
    await f.screen('mims-portal-sign-in', 'MIMS Portal');
    await q.getByRole('link', { name: 'Forgot Password?' }).click();
    await f.screen('forgotten-password', 'Forgotten Password');
    await q.getByLabel('Username').fill(FARAH.loginId);
    await click(q, 'Search');
    await f.screen('questions-or-email', 'Forgotten Password');
    const sent = smtp.received.length;
    await click(q, 'Send a code to f***@gmail.com');
    await f.screen('email-code', 'Forgotten Password');
    assert.match(await q.locator('main').innerText(), /a 6-digit code has been sent/);
    const resetCode = codeIn(await smtp.waitFor((m) => m.to.includes(ADDRESS) && /reset code/.test(m.subject), 10_000, sent));
    await q.getByLabel('6-digit code').fill(resetCode === '000000' ? '111111' : '000000');
    await click(q, 'Check Code');
    await f.screen('email-code-wrong', 'Forgotten Password');
    assert.match(await q.getByRole('alert').innerText(), /not correct/);
    await q.getByLabel('6-digit code').fill(resetCode);
    await click(q, 'Check Code');
    await newPassword(f, 'Harbour-Kettle-3131');
    await click(q, 'Continue');
    await f.screen('sign-in-with-new-password', 'MIMS Portal');
    await q.getByLabel('Username').fill(FARAH.loginId);
    await q.getByLabel('Password').fill('Harbour-Kettle-3131');
    await click(q, 'Sign in');
    await f.screen('portal', 'Applications');
    await f.close();
  });
});
