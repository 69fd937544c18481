// The recovery email (issue 27) over HTTP, with mail read from a real SMTP server in a
// process of its own (test/support/smtp.ts): offered after the questions at first sign-in,
// confirmed by a code; Forgotten Password by a code sent to it; changed in the SSPR app
// (the old address is told); the same page shape for unknown login IDs; codes used once,
// expiring, throttled like answers; messages in the page's language; SMTP down.
import assert from 'node:assert/strict';
import type { Response } from 'supertest';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { freePort } from '../support/redis.ts';
import { codeIn, SmtpSink } from '../support/smtp.ts';

const FARAH = { loginId: 'farah_aziz@students.edu.sg', password: 'Rivervale#Start24' };
const ALLEN_ANSWERS = { q0: '3', a0: 'Ramen', q1: '0', a1: 'Shark', q2: '1', a2: 'Turquoise' };
const OFFER = { recoveryEmail: { offer: { students: true, staff: true } } };

async function forgot(browser: Browser, loginId: string): Promise<Response> {
  const signInPage = await browser.open('/portal');
  const link = /href="(\/flow\/forgot-password\?from=[^"]+)"/.exec(signInPage.res.text)![1]!;
  const search = await browser.open(link);
  return (await browser.follow(await browser.submit(search.res, '/forgot/search', { username: loginId }))).res;
}

async function step(browser: Browser, page: Response, action: string, fields: Record<string, string> = {}): Promise<Response> {
  return (await browser.follow(await browser.submit(page, action, fields))).res;
}

/** Change Password -> Please Wait -> Success. */
async function newPassword(browser: Browser, change: Response, password: string): Promise<Response> {
  assert.match(change.text, /Change Password/);
  const wait = await step(browser, change, '/password', { newPassword: password, confirmPassword: password });
  return step(browser, wait, '/password/commit');
}

async function setAddress(t: TestIdp, loginId: string, address: string): Promise<void> {
  const account = (await t.idp.directory.findByLoginId(loginId))!;
  await t.idp.directory.update(account.id, (a) => ({ ...a, recoveryEmail: { address, confirmedAt: Date.now() } }));
}

/** A page as an outsider compares it: flow references, CSRF tokens, question texts and the masked address left out. */
function shape(page: Response): string {
  return page.text
    .replace(/\/flow\/[A-Za-z0-9_.-]+/g, '/flow/ID')
    .replace(/value="[^"]*"/g, 'value=""')
    .replace(/<label for="a(\d)">[^<]+</g, '<label for="a$1">Q<')
    .replace(/[a-z]\*\*\*@[a-z0-9.-]+/g, 'x***@domain')
    .replace(/data-request-id="[^"]*"|Reference:[^<]*/g, '');
}

describe('recovery email', function () {
  this.timeout(60_000);
  let smtp: SmtpSink;
  before(async () => {
    smtp = await SmtpSink.start();
  });
  after(async () => {
    await smtp.close();
  });

  describe('with a working mail server', () => {
    let t: TestIdp;
    let offset = 0;
    beforeEach(async () => {
      offset = 0;
      t = await startTestIdp({ clock: () => Date.now() + offset, overrides: { ...OFFER, mail: { smtpUrl: smtp.url, from: 'MIMS Portal <no-reply@idp.test>', attempts: 3, backoffMs: 50 }, flow: { idleSeconds: 3600, maxMinutes: 120 } } });
    });
    afterEach(async () => {
      await t.close();
    });

    it('a student adds one at first sign-in, later resets a forgotten password by a code sent to it, and signs in with the new password', async () => {
      const address = `farah.parent.${Date.now()}@gmail.com`;
      const browser = new Browser(t.url);
      let page = (await browser.signIn((await browser.open('/portal')).res, FARAH.loginId, FARAH.password)).res;
      page = await step(browser, page, '/questions', ALLEN_ANSWERS);
      page = await step(browser, page, '/questions/confirm');
      page = await step(browser, page, '/continue');
      // The offer, after the questions and before the temporary password is changed.
      assert.match(page.text, /Recovery Email[\s\S]*You may add a personal email address[\s\S]*Send Code[\s\S]*Skip/);
      const bad = await step(browser, page, '/recovery-email/send', { email: 'not an address' });
      assert.equal(bad.status, 400);
      assert.match(bad.text, /id="email-error">Please enter a valid email address/);
      const own = await step(browser, bad, '/recovery-email/send', { email: FARAH.loginId });
      assert.match(own.text, /not your MIMS login ID/);
      const sentBefore = smtp.received.length;
      const confirm = await step(browser, own, '/recovery-email/send', { email: address.toUpperCase() });
      assert.match(confirm.text, /We sent a 6-digit code to f\*\*\*@gmail\.com/);
      assert.ok(!confirm.text.toLowerCase().includes(address), 'the whole address is not shown once typed');
      const mail = await smtp.waitFor((m) => m.to.includes(address) && /Confirm your recovery email/.test(m.subject), 10_000, sentBefore);
      assert.equal(mail.from, 'no-reply@idp.test');
      assert.match(mail.text, /valid for 10 minutes/);
      const code = codeIn(mail);
      assert.ok(mail.html.includes(code) && mail.html.includes('<p'), 'an HTML part with the code');
      const wrong = await step(browser, confirm, '/recovery-email/confirm', { code: code === '000000' ? '111111' : '000000' });
      assert.equal(wrong.status, 400);
      assert.match(wrong.text, /That code is not correct/);
      assert.equal((await t.idp.directory.findByLoginId(FARAH.loginId))!.recoveryEmail ?? null, null, 'nothing saved on a wrong code');
      const saved = await step(browser, wrong, '/recovery-email/confirm', { code });
      assert.match(saved.text, /Your recovery email has been saved/);
      const change = await step(browser, saved, '/continue');
      const done = await newPassword(browser, change, 'Orchard-Lamp-2077');
      assert.match(done.text, /The password has been changed successfully/);
      const account = (await t.idp.directory.findByLoginId(FARAH.loginId))!;
      assert.equal(account.recoveryEmail?.address, address);
      await smtp.waitFor((m) => m.to.includes(address) && /Recovery email added/.test(m.subject));

      // Forgotten password and answers: a code to the recovery email instead.
      const later = new Browser(t.url);
      const answers = await forgot(later, FARAH.loginId);
      assert.match(answers.text, /Send a code to f\*\*\*@gmail\.com/);
      const before = smtp.received.length;
      const codePage = await step(later, answers, '/forgot/send-code');
      assert.match(codePage.text, /If f\*\*\*@gmail\.com is the recovery email of this account, a 6-digit code has been sent to it/);
      const resetMail = await smtp.waitFor((m) => m.to.includes(address) && /password reset code/.test(m.subject), 10_000, before);
      const resetCode = codeIn(resetMail);
      const change2 = await step(later, codePage, '/forgot/code', { code: ` ${resetCode} ` });
      const done2 = await newPassword(later, change2, 'Harbour-Kettle-3131');
      assert.match(done2.text, /The password has been changed successfully/);
      await smtp.waitFor((m) => m.to.includes(address) && /was used/.test(m.subject));
      const portal = await later.signIn((await later.open('/portal')).res, FARAH.loginId, 'Harbour-Kettle-3131');
      assert.match(portal.res.text, /Farah Aziz/);

      // The code is used up: the same code in a new flow is refused.
      const again = new Browser(t.url);
      const page2 = await step(again, await forgot(again, FARAH.loginId), '/forgot/send-code');
      const reused = await step(again, page2, '/forgot/code', { code: resetCode });
      assert.equal(reused.status, 401);
      assert.match(reused.text, /That code is not correct, or it has expired/);

      // Audit: each step, the address masked, never whole; the log never has it either.
      const events = await t.idp.audit.recent(200, (e) => e.accountId === account.id);
      const types = events.map((e) => e.type);
      for (const type of ['recovery_email.code.sent', 'recovery_email.code.used', 'recovery_email.added', 'recovery_email.code.refused'] as const) assert.ok(types.includes(type), type);
      assert.ok(events.some((e) => e.type === 'recovery_email.added' && e.reason === 'f***@gmail.com'));
      assert.ok(!JSON.stringify(events).includes(address), 'no audit event has the address');
      assert.ok(!t.logs.join('').includes(address), 'no log line has the address');
    });

    it('an expired code is refused (10 minutes by the injected clock)', async () => {
      await setAddress(t, DEMO.student.loginId, 'allen.home@example.org');
      const b = new Browser(t.url);
      const before = smtp.received.length;
      const page = await step(b, await forgot(b, DEMO.student.loginId), '/forgot/send-code');
      const code = codeIn(await smtp.waitFor((m) => m.to.includes('allen.home@example.org'), 10_000, before));
      offset = 9 * 60_000;
      const stillLive = await step(b, page, '/forgot/code', { code: code === '000000' ? '111111' : '000000' });
      assert.equal(stillLive.status, 401, 'a wrong code before the expiry');
      offset = 10 * 60_000 + 1000;
      const late = await step(b, page, '/forgot/code', { code });
      assert.equal(late.status, 401);
      assert.match(late.text, /That code is not correct, or it has expired/);
      const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
      const events = await t.idp.audit.recent(50, (e) => e.accountId === account.id && e.type === 'recovery_email.code.refused');
      assert.ok(events.some((e) => /no live code/.test(e.reason ?? '')));
    });

    it('wrong codes are throttled like wrong answers: after 3, even the right code is refused (per account)', async () => {
      await setAddress(t, DEMO.student2.loginId, 'bella.mum@example.org');
      const b = new Browser(t.url);
      const before = smtp.received.length;
      let page = await step(b, await forgot(b, DEMO.student2.loginId), '/forgot/send-code');
      const code = codeIn(await smtp.waitFor((m) => m.to.includes('bella.mum@example.org'), 10_000, before));
      const wrong = code === '000000' ? '111111' : '000000';
      for (let i = 0; i < 3; i++) {
        page = await step(b, page, '/forgot/code', { code: wrong });
        assert.equal(page.status, 401);
      }
      const refused = await step(b, page, '/forgot/code', { code });
      assert.equal(refused.status, 429);
      assert.match(refused.text, /SSPR 5112/);
      // A new flow, from the same address: still refused, and no code is mailed that could not be used.
      const c = new Browser(t.url);
      const sent = smtp.received.length;
      const page2 = await step(c, await forgot(c, DEMO.student2.loginId), '/forgot/send-code');
      assert.equal(page2.status, 429);
      assert.match(page2.text, /SSPR 5112/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(smtp.received.length, sent, 'nothing mailed');
    });

    it('unknown login IDs and accounts without an address get the same pages as an account with one; nothing is sent for them', async () => {
      await setAddress(t, DEMO.student.loginId, 'allen.home@example.org');
      const withAddress = await forgot(new Browser(t.url), DEMO.student.loginId);
      const without = await forgot(new Browser(t.url), DEMO.student2.loginId);
      const unknown = await forgot(new Browser(t.url), 'no_such_pupil@students.edu.sg');
      assert.equal(unknown.status, without.status);
      assert.equal(shape(unknown), shape(without));
      assert.equal(shape(unknown), shape(withAddress));
      const placeholder = /Send a code to ([a-z]\*\*\*@[a-z.]+)/.exec(unknown.text)?.[1];
      assert.ok(placeholder, 'the option is offered for an unknown login ID too');
      assert.equal(/Send a code to ([a-z]\*\*\*@[a-z.]+)/.exec((await forgot(new Browser(t.url), 'no_such_pupil@students.edu.sg')).text)?.[1], placeholder, 'the same placeholder every time');

      const before = smtp.received.length;
      const pages: Response[] = [];
      for (const loginId of [DEMO.student2.loginId, 'no_such_pupil@students.edu.sg', DEMO.student.loginId]) {
        const b = new Browser(t.url);
        pages.push(await step(b, await forgot(b, loginId), '/forgot/send-code'));
      }
      assert.deepEqual(pages.map((p) => p.status), [200, 200, 200]);
      assert.equal(shape(pages[0]!), shape(pages[1]!));
      assert.equal(shape(pages[1]!), shape(pages[2]!));
      await smtp.waitFor((m) => m.to.includes('allen.home@example.org'), 10_000, before);
      await t.idp.mail.outbox!.idle();
      assert.deepEqual(smtp.received.slice(before).map((m) => m.to), [['allen.home@example.org']], 'mail only to an address on file');
    });

    it('wrong codes count per IP across login IDs too', async () => {
      const strict = await startTestIdp({ overrides: { ...OFFER, mail: { smtpUrl: smtp.url, attempts: 1, backoffMs: 50 }, forgotPassword: { askCount: null, revealNoQuestions: true, maxFailuresPerAccountPerIp: 3, maxFailuresPerAccount: 10, maxFailuresPerIp: 4, windowMinutes: 15 } } });
      try {
        await setAddress(strict, DEMO.student.loginId, 'allen.home@example.org');
        for (const loginId of ['nobody_one@students.edu.sg', 'nobody_two@students.edu.sg']) {
          const b = new Browser(strict.url);
          let page = await step(b, await forgot(b, loginId), '/forgot/send-code');
          for (let i = 0; i < 2; i++) page = await step(b, page, '/forgot/code', { code: '123456' });
          assert.equal(page.status, 401);
        }
        // The address has used up its wrong answers: no code is sent for any login ID from it.
        const b = new Browser(strict.url);
        const before = smtp.received.length;
        const refused = await step(b, await forgot(b, DEMO.student.loginId), '/forgot/send-code');
        assert.equal(refused.status, 429);
        assert.match(refused.text, /SSPR 5112/);
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(smtp.received.length, before, 'nothing mailed');
      } finally {
        await strict.close();
      }
    });

    it('a change in the SSPR app asks for the password, tells the old address, and removing tells it too', async () => {
      await setAddress(t, DEMO.student.loginId, 'allen.old@example.org');
      const b = new Browser(t.url);
      await b.signIn((await b.open('/portal')).res, DEMO.student.loginId, DEMO.student.password);
      const sspr = (await b.open('/portal/sspr')).res;
      assert.match(sspr.text, /Your recovery email now: a\*\*\*@example\.org/);
      assert.ok(!sspr.text.includes('allen.old@example.org'));
      const reauth = (await b.follow(await b.submit(sspr, '/portal/sspr/email', {}))).res;
      assert.match(reauth.text, /Recovery Email/);
      const offer = await step(b, reauth, '/reauth', { password: DEMO.student.password });
      assert.match(offer.text, /Your recovery email now: a\*\*\*@example\.org[\s\S]*Remove Recovery Email/);
      const before = smtp.received.length;
      const confirm = await step(b, offer, '/recovery-email/send', { email: 'tan.family@example.net' });
      const code = codeIn(await smtp.waitFor((m) => m.to.includes('tan.family@example.net'), 10_000, before));
      const saved = await step(b, confirm, '/recovery-email/confirm', { code });
      assert.match(saved.text, /Your recovery email has been saved/);
      const told = await smtp.waitFor((m) => m.to.includes('allen.old@example.org'), 10_000, before);
      assert.match(told.subject, /recovery email was changed/);
      assert.match(told.text, /changed from this address to t\*\*\*@example\.net/);
      await smtp.waitFor((m) => m.to.includes('tan.family@example.net') && /added/.test(m.subject), 10_000, before);
      const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
      assert.equal(account.recoveryEmail?.address, 'tan.family@example.net');
      const events = await t.idp.audit.recent(50, (e) => e.accountId === account.id && e.type === 'recovery_email.changed');
      assert.equal(events[0]?.reason, 'a***@example.org -> t***@example.net');

      // Remove (the password was given moments ago: not asked again).
      const back = (await b.follow(await b.submit(saved, '/continue', {}))).res;
      const offer2 = (await b.follow(await b.submit(back, '/portal/sspr/email', {}))).res;
      const removedBefore = smtp.received.length;
      const removed = await step(b, offer2, '/recovery-email/remove');
      assert.match(removed.text, /Your recovery email has been removed/);
      await smtp.waitFor((m) => m.to.includes('tan.family@example.net') && /removed/.test(m.subject), 10_000, removedBefore);
      assert.equal((await t.idp.directory.findByLoginId(DEMO.student.loginId))!.recoveryEmail, null);
    });

    it('a recipient the server refuses: retried, given up, counted, and logged without the address', async () => {
      await setAddress(t, DEMO.student.loginId, 'rejected.allen@example.org');
      const b = new Browser(t.url);
      assert.equal((await step(b, await forgot(b, DEMO.student.loginId), '/forgot/send-code')).status, 200);
      await t.idp.mail.outbox!.idle();
      const metrics = await t.idp.metrics.registry.metrics();
      assert.match(metrics, /idp_mail_total\{outcome="retry",template="reset-code"\} 2/);
      assert.match(metrics, /idp_mail_total\{outcome="given_up",template="reset-code"\} 1/);
      const logs = t.logs.join('');
      assert.match(logs, /mail not sent[\s\S]*r\*\*\*@example\.org/);
      assert.ok(!logs.includes('rejected.allen@example.org'), 'the server quoted the address; the log does not');
    });

    for (const [lang, subject, words] of [
      ['zh', '你的 MIMS 密码重置验证码', /验证码在 10 分钟内有效/],
      ['ms', 'Kod untuk menetapkan semula kata laluan MIMS anda', /Kod ini sah selama 10 minit/],
      ['ta', 'உங்கள் MIMS கடவுச்சொல் மீட்டமைப்புக் குறியீடு', /குறியீடு 10 நிமிடங்களுக்குச் செல்லுபடியாகும்/],
    ] as const) {
      it(`sends the code in the page's language (${lang})`, async () => {
        const address = `allen.${lang}@example.org`;
        await setAddress(t, DEMO.student.loginId, address);
        const b = new Browser(t.url).takeCookies([`idp_lang=${lang}`]);
        const before = smtp.received.length;
        const page = await step(b, await forgot(b, DEMO.student.loginId), '/forgot/send-code');
        assert.equal(page.status, 200);
        const mail = await smtp.waitFor((m) => m.to.includes(address), 10_000, before);
        assert.equal(mail.subject, subject);
        assert.match(mail.text, words);
        assert.match(mail.html, words);
        assert.match(mail.language, new RegExp(`^${lang}-`));
        codeIn(mail);
      });
    }
  });

  it('SMTP down: the page still works, the message is retried (and delivered once the server is up), failures are counted', async () => {
    const port = await freePort();
    const t = await startTestIdp({ overrides: { ...OFFER, mail: { smtpUrl: `smtp://127.0.0.1:${port}`, attempts: 8, backoffMs: 200 } } });
    let late: SmtpSink | undefined;
    try {
      await setAddress(t, DEMO.student.loginId, 'allen.home@example.org');
      const b = new Browser(t.url);
      const started = Date.now();
      const page = await step(b, await forgot(b, DEMO.student.loginId), '/forgot/send-code');
      assert.equal(page.status, 200);
      assert.match(page.text, /a 6-digit code has been sent/);
      assert.ok(Date.now() - started < 5000, 'the page did not wait for the mail server');
      const metric = async (outcome: string) => Number(new RegExp(`idp_mail_total\\{outcome="${outcome}",template="reset-code"\\} (\\d+)`).exec(await t.idp.metrics.registry.metrics())?.[1] ?? 0);
      for (let i = 0; i < 50 && (await metric('retry')) < 1; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok((await metric('retry')) >= 1, 'a failed try is counted');
      late = await SmtpSink.start(port);
      const mail = await late.waitFor((m) => m.to.includes('allen.home@example.org'), 20_000);
      codeIn(mail);
      for (let i = 0; i < 20 && (await metric('sent')) < 1; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(await metric('sent'), 1);
      assert.ok(t.logs.join('').includes('mail not sent'), 'failures are logged');
      assert.ok(!t.logs.join('').includes('allen.home@example.org'), 'without the address');
    } finally {
      await late?.close();
      await t.close();
    }

    // Never up: given up after its tries, counted.
    const port2 = await freePort();
    const t2 = await startTestIdp({ overrides: { ...OFFER, mail: { smtpUrl: `smtp://127.0.0.1:${port2}`, attempts: 2, backoffMs: 50 } } });
    try {
      await setAddress(t2, DEMO.student.loginId, 'allen.home@example.org');
      const b = new Browser(t2.url);
      assert.equal((await step(b, await forgot(b, DEMO.student.loginId), '/forgot/send-code')).status, 200);
      await t2.idp.mail.outbox!.idle();
      assert.match(await t2.idp.metrics.registry.metrics(), /idp_mail_total\{outcome="given_up",template="reset-code"\} 1/);
    } finally {
      await t2.close();
    }
  });
});
