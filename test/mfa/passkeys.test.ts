// Two-step sign-in in a real browser: Chromium with a CDP virtual authenticator (a platform
// passkey with user verification), 360 px, axe on every screen. The IdP runs the product's
// policy: two-step sign-in required for school and ministry administrators.
//   A school administrator: password -> must set up two-step sign-in -> passkey -> recovery
//   codes -> /admin; an action later than admin.recentAuthMinutes asks for the passkey
//   (step-up); sign out; sign in with the passkey alone; the passkey is refused for another
//   account's second factor; a lost device is replaced through a recovery code.
import assert from 'node:assert/strict';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { generate } from 'otplib';
import { Journey, launchChromium } from '../support/chromium.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const MFA_POLICY = { requiredForRoles: ['school-admin', 'ministry-admin'], offeredToRoles: ['staff'], maxFailures: 5, windowMinutes: 15 };

async function click(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name, exact: true }).click();
}

/** A passkey authenticator on this page's browser context (CTAP2, internal, user verification). */
async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, id: authenticatorId };
}

describe('two-step sign-in in Chromium (passkeys)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let t: TestIdp;
  let offset = 0;

  before(async () => {
    browser = await launchChromium();
    // "localhost": a secure context for WebAuthn, as https is in production.
    t = await startTestIdp({ host: 'localhost', clock: () => Date.now() + offset, overrides: { mfa: MFA_POLICY } });
  });
  after(async () => {
    await t?.close();
    await browser?.close();
  });

  it('a school administrator: password, passkey set-up, recovery codes, step-up for an action, then the passkey alone', async () => {
    const j = await Journey.start(browser, 'mfa-school-admin');
    const p = j.page;
    const authenticator = await virtualAuthenticator(p);

    await p.goto(`${t.url}/admin`);
    await j.screen('sign-in', 'MIMS Portal');
    await p.getByLabel('Username').fill(SITI.loginId);
    await p.getByLabel('Password').fill(SITI.password);
    await click(p, 'Sign in');
    await j.screen('mfa-choose', 'Set up Two-Step Sign-in');
    assert.match(await p.locator('main').innerText(), /must be protected by more than a password/);
    // Nothing is reachable before it is set up: no session exists yet (the portal asks to sign in).
    const elsewhere = await p.context().newPage();
    await elsewhere.goto(`${t.url}/portal`);
    assert.equal(await elsewhere.getByLabel('Username').count(), 1);
    await elsewhere.close();

    await click(p, 'Use a passkey (recommended)');
    await j.screen('mfa-passkey', 'Add a Passkey');
    await p.getByLabel('Passkey name').fill('School laptop');
    await click(p, 'Create Passkey');
    await j.screen('mfa-recovery', 'Your Recovery Codes');
    const codes = await p.locator('#recovery-codes code').allInnerTexts();
    assert.equal(codes.length, 10);
    const { credentials } = await authenticator.cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator.id });
    assert.equal(credentials.length, 1, 'one passkey on the authenticator');
    assert.equal(credentials[0]!.isResidentCredential, true, 'discoverable: it can sign in alone');
    await click(p, 'I have saved my recovery codes');
    await j.screen('admin', 'School Administration');

    const siti = (await t.idp.directory.findByLoginId(SITI.loginId))!;
    const student = (await t.idp.directory.findByLoginId('allen_tan@students.edu.sg'))!;
    const events = (await t.idp.audit.recent(20, (e) => e.accountId === siti.id)).map((e) => e.type);
    assert.ok(events.includes('mfa.added') && events.includes('mfa.recovery.generated'), events.join(','));

    // Later than admin.recentAuthMinutes: an action asks for the passkey again (step-up), not the password.
    offset += (t.settings.admin.recentAuthMinutes + 1) * 60_000;
    await p.goto(`${t.url}/admin/accounts/${student.id}/unlock`);
    await j.screen('step-up', 'Two-Step Sign-in');
    assert.match(await p.locator('main').innerText(), /This needs two-step sign-in/);
    await click(p, 'Use my passkey');
    await j.screen('confirm', 'Unlock Account');
    assert.equal(await p.getByLabel('Password').count(), 0, 'no password prompt after the step-up');
    await click(p, 'Confirm');
    await j.screen('unlocked', 'Allen Tan');
    assert.match(await p.locator('main').innerText(), /Done: Unlock Account/);

    // Sign out, then sign in with the passkey alone.
    await p.goto(`${t.url}/portal`);
    await click(p, 'Sign out');
    await p.goto(`${t.url}/admin`);
    await j.screen('sign-in-again', 'MIMS Portal');
    await click(p, 'Staff: Sign in with a passkey');
    await j.screen('admin-by-passkey', 'School Administration');
    const session = (await Promise.all((await t.store.setMembers(`{acct:${siti.id}}:sso`)).map((id) => t.idp.sso.get(id)))).find(Boolean)!;
    assert.deepEqual(session.amr, ['swk', 'user', 'mfa'], 'amr says what happened: a passkey (not attested: swk), the user present and verified');

    // Lost device: a recovery code instead, then a new passkey from the SSPR app.
    await authenticator.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: authenticator.id });
    await p.goto(`${t.url}/portal`);
    await click(p, 'Sign out');
    await p.goto(`${t.url}/portal/sspr`);
    await p.getByLabel('Username').fill(SITI.loginId);
    await p.getByLabel('Password').fill(SITI.password);
    await click(p, 'Sign in');
    await j.screen('second-factor', 'Two-Step Sign-in');
    await p.getByText('Lost your device? Use one of your recovery codes.').click();
    await p.getByLabel('Recovery code').fill(codes[0]!);
    await click(p, 'Use Recovery Code');
    await j.screen('sspr', 'MIMS Self Service Password Reset');
    assert.match(await p.locator('main').innerText(), /Recovery codes left: 9/);
    await j.close();
  });

  it('a teacher adds an authenticator app from the SSPR app: QR code, key, code, recovery codes', async () => {
    const j = await Journey.start(browser, 'mfa-authenticator-app');
    const p = j.page;
    await p.goto(`${t.url}/portal/sspr`);
    await j.screen('sign-in', 'MIMS Portal');
    await p.getByLabel('Username').fill('daniel_wong@schools.gov.sg');
    await p.getByLabel('Password').fill('Granite%River31');
    await click(p, 'Sign in');
    await j.screen('sspr', 'MIMS Self Service Password Reset');
    assert.match(await p.locator('main').innerText(), /You have not set up two-step sign-in/);
    await click(p, 'Add a Passkey or Authenticator App');
    await j.screen('reauth', 'Please Sign in');
    await p.getByLabel('Password').fill('Granite%River31');
    await click(p, 'Continue');
    await j.screen('mfa-choose', 'Set up Two-Step Sign-in');
    await click(p, 'Use an authenticator app');
    await j.screen('mfa-totp', 'Set up Your Authenticator App');
    assert.equal(await p.locator('.qr svg').count(), 1, 'the QR code');
    const key = (await p.locator('#totp-secret').innerText()).replace(/ /g, '');
    await p.getByLabel('Code from your authenticator app').fill('000000');
    await click(p, 'Confirm Code');
    await j.screen('mfa-totp-wrong', 'Set up Your Authenticator App');
    assert.match(await p.locator('[role=alert]').innerText(), /That code is not right/);
    await p.getByLabel('Code from your authenticator app').fill(await generate({ secret: key, epoch: Math.floor((Date.now() + offset) / 1000) }));
    await click(p, 'Confirm Code');
    await j.screen('mfa-recovery', 'Your Recovery Codes');
    await click(p, 'I have saved my recovery codes');
    await j.screen('sspr-with-app', 'MIMS Self Service Password Reset');
    assert.match(await p.locator('main').innerText(), /Authenticator app[\s\S]*Recovery codes left: 10/);
    await j.close();
  });

  it('the passkey prompt cancelled: a clear message, nothing changes', async () => {
    const j = await Journey.start(browser, 'mfa-passkey-cancelled');
    const p = j.page;
    // A device with no passkey for this site: the browser's prompt fails.
    await virtualAuthenticator(p);
    await p.goto(`${t.url}/portal`);
    await j.screen('sign-in', 'MIMS Portal');
    await click(p, 'Staff: Sign in with a passkey');
    // The page after the failed prompt has the same heading: wait for what it says, then record it.
    await p.locator('[role=alert]').waitFor();
    await p.waitForLoadState('load');
    await j.screen('cancelled', 'MIMS Portal');
    assert.match(await p.locator('[role=alert]').innerText(), /cancelled or is not available|not registered/);
    await j.close();
  });
});
