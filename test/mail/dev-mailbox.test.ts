// Demo mode without SMTP_URL (`npm start`): what the IdP sends is kept in the embedded mailbox
// and shown at /dev/mail and /dev/mail.json, where testers read codes; off with /dev.
import assert from 'node:assert/strict';
import type { Response } from 'supertest';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp } from '../support/idp.ts';

async function step(browser: Browser, page: Response, action: string, fields: Record<string, string> = {}): Promise<Response> {
  return (await browser.follow(await browser.submit(page, action, fields))).res;
}

describe('the demo mailbox (/dev/mail)', () => {
  it('keeps what was sent, newest first, bounded; testers read the code there', async () => {
    const t = await startTestIdp({ overrides: { recoveryEmail: { offer: { students: true, staff: true } }, mail: { mailboxSize: 2 } } });
    try {
      assert.equal(t.settings.mail.smtpUrl, undefined);
      assert.ok(t.idp.mail.mailbox, 'demo mode without SMTP_URL: the embedded mailbox');
      assert.deepEqual((await new Browser(t.url).get('/dev/mail.json')).body.messages, []);
      const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
      await t.idp.directory.update(account.id, (a) => ({ ...a, recoveryEmail: { address: 'allen.home@example.org', confirmedAt: Date.now() } }));
      const b = new Browser(t.url);
      const signIn = await b.open('/portal');
      const link = /href="(\/flow\/forgot-password\?from=[^"]+)"/.exec(signIn.res.text)![1]!;
      const answers = await step(b, (await b.open(link)).res, '/forgot/search', { username: DEMO.student.loginId });
      let page = await step(b, answers, '/forgot/send-code');
      await t.idp.mail.outbox!.idle();
      const json = await b.get('/dev/mail.json');
      assert.equal(json.status, 200);
      assert.equal(json.headers['cache-control'], 'no-store');
      const [mail] = json.body.messages as Array<{ to: string; subject: string; text: string; html: string; language: string }>;
      assert.equal(mail!.to, 'allen.home@example.org');
      assert.equal(mail!.subject, 'Your MIMS password reset code');
      assert.equal(mail!.language, 'en-SG');
      const code = /^(\d{6})$/m.exec(mail!.text)![1]!;
      const html = await b.get('/dev/mail');
      assert.equal(html.status, 200);
      assert.match(html.text, /Mailbox[\s\S]*Your MIMS password reset code[\s\S]*allen.home@example.org/);
      assert.ok(html.text.includes(code));
      // The code read there works.
      page = await step(b, page, '/forgot/code', { code });
      assert.match(page.text, /Change Password/);
      // Bounded: the newest `mailboxSize` only.
      for (let i = 0; i < 2; i++) {
        const c = new Browser(t.url);
        const p = await step(c, (await c.open(/href="(\/flow\/forgot-password\?from=[^"]+)"/.exec((await c.open('/portal')).res.text)![1]!)).res, '/forgot/search', { username: DEMO.student.loginId });
        await step(c, p, '/forgot/send-code');
      }
      await t.idp.mail.outbox!.idle();
      const after = (await b.get('/dev/mail.json')).body.messages as Array<{ text: string }>;
      assert.equal(after.length, 2);
      assert.ok(!after.some((m) => m.text.includes(code)), 'the oldest messages were dropped');
    } finally {
      await t.close();
    }
  });

  it('is 404 when demo mode is off', async () => {
    const off = await startTestIdp({ overrides: { seed: { demo: false } }, seed: false });
    try {
      for (const path of ['/dev/mail', '/dev/mail.json']) assert.equal((await new Browser(off.url).get(path)).status, 404, path);
      assert.equal(off.idp.mail.available, false, 'no SMTP_URL and no demo: no mail');
    } finally {
      await off.close();
    }
  });
});
