// The journeys of the guides in a real browser (Debian's Chromium, 360 px wide), each
// starting from the app the user wants. The IdP runs on "localhost" and the apps on
// 127.0.0.1, so the browser treats them as different sites (SameSite rules apply as in
// production). Every screen is screenshotted to test-output/journeys/ and must pass axe.
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { Journey, launchChromium } from '../support/chromium.ts';
import { startWorld, type World } from '../support/world.ts';

const FARAH = { loginId: 'farah_aziz@students.edu.sg', password: 'Rivervale#Start24' };
const BELLA = { loginId: 'bella_lim@students.edu.sg', answers: { colour: 'yellow', animal: 'hamster', book: 'The Good Earth' } as Record<string, string> };
const CHANDRA = { loginId: 'chandra_kumar@students.edu.sg', password: 'Meadow-Violet-93', answers: { sport: 'Badminton', movie: 'Spirited Away', toy: 'Spinning top' } as Record<string, string> };
const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const ALLEN = { loginId: 'allen_tan@students.edu.sg' };
const DANIEL = { loginId: 'daniel_wong@schools.gov.sg', password: 'Granite%River31' };

async function click(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name, exact: true }).click();
}

async function signIn(j: Journey, who: { loginId: string }, password: string, label = 'mims-portal-sign-in'): Promise<void> {
  await j.screen(label, 'MIMS Portal');
  await j.page.getByLabel('Username').fill(who.loginId);
  await j.page.getByLabel('Password').fill(password);
  await click(j.page, 'Sign in');
}

/** Answers the questions shown, by a keyword of each question. */
async function answer(page: Page, answers: Record<string, string>): Promise<void> {
  const labels = await page.locator('form label').allInnerTexts();
  for (const [i, text] of labels.entries()) {
    const key = Object.keys(answers).find((k) => text.toLowerCase().includes(k));
    assert.ok(key, `no answer for "${text}"`);
    await page.locator(`#a${i}`).fill(answers[key]!);
  }
}

/** Change Password -> Please Wait -> Success, holding the commit until Please Wait is checked. */
async function changePassword(j: Journey, newPassword: string): Promise<void> {
  await j.screen('change-password', 'Change Password');
  // The requirements are marked as the user types (idp.js); the server re-checks them all.
  const field = j.page.getByLabel('New Password');
  await field.pressSequentially('!ab');
  assert.ok((await j.page.locator('#requirements li.unmet').count()) >= 2, 'a weak password shows unmet requirements');
  await field.fill('');
  await field.pressSequentially(newPassword);
  await j.page.getByLabel('Confirm Password').fill(newPassword);
  assert.equal(await j.page.locator('#requirements li.unmet').count(), 0, 'every requirement met');
  assert.ok((await j.page.locator('#requirements li.met').count()) >= 4, 'and shown as met');
  await j.screen('change-password-filled', 'Change Password');
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await j.page.route('**/password/commit', async (route) => {
    await held;
    await route.continue();
  });
  await click(j.page, 'Change Password');
  await j.screen('please-wait', 'Please Wait');
  release();
  await j.screen('password-changed', 'Success');
  assert.match(await j.page.locator('main').innerText(), /The password has been changed successfully/);
  await j.page.unroute('**/password/commit');
}

describe('browser journeys (Chromium, 360 px, axe)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let world: World;

  before(async () => {
    browser = await launchChromium();
    world = await startWorld({ host: 'localhost' });
  });
  after(async () => {
    await world?.close();
    await browser?.close();
  });

  it('a new student opens Student iCON: sign-in, questions, new password, dashboard; then SLS without a password', async () => {
    const j = await Journey.start(browser, '1-first-sign-in');
    const p = j.page;
    await p.goto(`${world.ws.url}/`);
    await j.screen('student-icon', 'Sign in');
    await p.getByLabel('Student iCON email address').fill(FARAH.loginId);
    await click(p, 'Next');
    await signIn(j, FARAH, FARAH.password);

    await j.screen('setup-security-questions', 'Setup Security Questions');
    assert.match(await p.locator('footer').innerText(), /Idle Timeout: 4 minutes/);
    for (const [i, [question, reply]] of [['What is your favourite food?', 'Ramen'], ['What is your favourite animal?', 'Shark'], ['What is your favourite colour?', 'Turquoise']].entries()) {
      await p.locator(`#q${i}`).selectOption({ label: question! });
      await p.locator(`#a${i}`).fill(reply!);
    }
    await click(p, 'Save Answers');
    await j.screen('confirm-security-questions', 'Confirm Security Questions');
    await click(p, 'Confirm Security Answers');
    await j.screen('questions-saved', 'Success');
    assert.match(await p.locator('main').innerText(), /Thank you. Your secret questions and answers have been successfully saved/);
    await click(p, 'Continue');

    await changePassword(j, 'Orchard-Lamp-2077');
    await click(p, 'Continue');
    // The signed SAML response is posted to the app by script.
    await j.screen('welcome-to-your-new-account', 'Welcome to your new account');
    await click(p, 'I understand');
    await j.screen('workspace-dashboard', 'Farah Aziz');
    assert.equal(new URL(p.url()).origin, world.ws.url);
    assert.match(await p.locator('#level').innerText(), /S1/);

    await p.goto(`${world.slsUrl}/login`);
    await j.screen('sls-without-password', 'Farah Aziz');
    assert.equal(new URL(p.url()).origin, world.slsUrl);
    await j.close();
  });

  it('a student who forgot the password resets it with the challenge questions, then signs in with it', async () => {
    const j = await Journey.start(browser, '2-forgot-password');
    const p = j.page;
    await p.goto(`${world.slsUrl}/`);
    await j.screen('sls', 'Welcome to SLS');
    await p.getByRole('link', { name: 'Sign in with MIMS' }).click();
    await j.screen('mims-portal-sign-in', 'MIMS Portal');
    await p.getByRole('link', { name: 'Forgot Password?' }).click();
    await j.screen('forgotten-password', 'Forgotten Password');
    await p.getByLabel('Username').fill(BELLA.loginId);
    await click(p, 'Search');
    await j.screen('challenge-questions', 'Forgotten Password');
    await answer(p, { colour: 'blue', animal: 'cat', book: 'Matilda' });
    await click(p, 'Check Answers');
    await j.screen('answers-not-correct', 'Forgotten Password');
    assert.match(await p.getByRole('alert').innerText(), /One or more responses are not correct. Please try again./);
    await answer(p, BELLA.answers);
    await click(p, 'Check Answers');
    await changePassword(j, 'Pinewood-Kettle-58');
    await click(p, 'Continue');
    await signIn(j, BELLA, 'Pinewood-Kettle-58', 'sign-in-with-new-password');
    await j.screen('sls-assignments', 'Bella Lim');
    await j.close();
  });

  it('five wrong passwords lock the account; Forgot Password and "Unlock Password" let the old one work again', async () => {
    const j = await Journey.start(browser, '3-lockout-unlock');
    const p = j.page;
    await p.goto(`${world.ws.url}/login`);
    for (let i = 1; i <= 5; i++) await signIn(j, CHANDRA, `Wrong-Guess-${i}0`, `wrong-password-${i}`);
    await signIn(j, CHANDRA, CHANDRA.password, 'right-password-while-locked');
    await j.screen('locked', 'MIMS Portal');
    assert.match(await p.getByRole('alert').innerText(), /locked/);
    await p.getByRole('link', { name: 'Forgot Password?' }).click();
    await j.screen('forgotten-password', 'Forgotten Password');
    await p.getByLabel('Username').fill(CHANDRA.loginId);
    await click(p, 'Search');
    await j.screen('challenge-questions', 'Forgotten Password');
    await answer(p, CHANDRA.answers);
    await click(p, 'Check Answers');
    await j.screen('account-locked-choices', 'Forgotten Password');
    assert.match(await p.locator('main').innerText(), /Your account has been locked due to excessive incorrect login attempts/);
    await click(p, 'Unlock Password');
    await j.screen('unlocked', 'Success');
    await click(p, 'Continue');
    await signIn(j, CHANDRA, CHANDRA.password, 'sign-in-with-old-password');
    await j.screen('welcome-to-your-new-account', 'Welcome to your new account');
    await click(p, 'I understand');
    await j.screen('workspace-dashboard', 'Chandra Kumar');
    await j.close();
  });

  it('an administrator resets a student\'s password; the student signs in with it and goes straight to Change Password', async () => {
    const admin = await Journey.start(browser, '4a-admin-reset');
    const a = admin.page;
    await a.goto(`${world.t.url}/admin`);
    await signIn(admin, SITI, SITI.password);
    await admin.screen('school-administration', 'School Administration');
    await a.getByLabel('Login ID or name').fill('allen');
    await click(a, 'Search');
    await admin.screen('search-results', 'School Administration');
    await a.getByRole('link', { name: ALLEN.loginId }).click();
    await admin.screen('account', 'Allen Tan');
    await a.getByRole('link', { name: 'Reset Password' }).click();
    await admin.screen('confirm-reset', 'Reset Password');
    await click(a, 'Confirm');
    await admin.screen('temporary-password', 'Password reset');
    const temporary = (await a.locator('#temporary-password').innerText()).trim();
    assert.ok(temporary.length >= 12);
    await admin.close();

    const j = await Journey.start(browser, '4b-student-after-reset');
    const p = j.page;
    await p.goto(`${world.slsUrl}/login`);
    await signIn(j, ALLEN, temporary);
    // Questions were kept: straight to Change Password.
    await changePassword(j, 'Harbour-Comet-1990');
    await click(p, 'Continue');
    await j.screen('sls-assignments', 'Allen Tan');
    await j.close();
  });

  it('an idle sign-in page still signs in on its first submit and reaches the original app', async () => {
    // The IdP's clock is moved past the idle end (checked on every read), not waited for.
    let offset = 0;
    const short = await startWorld({ host: 'localhost', clock: () => Date.now() + offset, overrides: { flow: { idleSeconds: 5 } } });
    try {
      const j = await Journey.start(browser, '5-idle-timeout');
      const p = j.page;
      await p.goto(`${short.slsUrl}/login`);
      await j.screen('mims-portal-sign-in', 'MIMS Portal');
      assert.match(await p.locator('footer').innerText(), /Idle Timeout: 0 minutes|Idle Timeout/);
      offset += 6_000;
      await p.getByLabel('Username').fill(DANIEL.loginId);
      await p.getByLabel('Password').fill(DANIEL.password);
      await click(p, 'Sign in');
      // No "timed out" page and no second try: the app, signed in.
      await j.screen('sls-assignments', 'Daniel Wong');
      assert.equal(new URL(p.url()).origin, short.slsUrl);
      assert.doesNotMatch(await p.locator('body').innerText(), /SSPR 5101/);
      await j.close();
    } finally {
      await short.close();
    }
  });

  it('"Sign out" at the portal ends the sessions at both apps', async () => {
    const j = await Journey.start(browser, '6-sign-out-everywhere');
    const p = j.page;
    await p.goto(`${world.t.url}/portal`);
    await signIn(j, DANIEL, DANIEL.password);
    await j.screen('applications', 'Applications');
    await p.getByRole('link', { name: /Student iCON/ }).click();
    await j.screen('welcome-to-your-new-account', 'Welcome to your new account');
    await click(p, 'I understand');
    await j.screen('workspace-dashboard', 'Daniel Wong');
    await p.goto(`${world.t.url}/portal`);
    await p.getByRole('link', { name: /Student Learning Space/ }).click();
    await j.screen('sls', 'Daniel Wong');
    await p.goto(`${world.t.url}/portal`);
    await click(p, 'Sign out');
    await j.screen('signed-out', 'Signed out');
    assert.match(await p.locator('main').innerText(), /Also signed out of: Student iCON/);
    await p.goto(`${world.ws.url}/`);
    await j.screen('student-icon-signed-out', 'Sign in');
    // The OIDC app learns by back channel; it may take a moment.
    for (let i = 0; i < 40 && !(await p.goto(`${world.slsUrl}/`).then(() => p.locator('h1').innerText())).includes('Welcome to SLS'); i++) await p.waitForTimeout(50);
    await j.screen('sls-signed-out', 'Welcome to SLS');
    await j.close();
  });
});
