// Required actions that turn up inside a live SSO session (questions cleared by an
// administrator, a password that expired): doing them keeps that session — same id, same
// participants, its real authentication time and methods. Doing them is not a sign-in.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Response } from 'supertest';
import type { SsoSession } from '../../src/domain/sessions/sso-sessions.ts';
import { keys } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, discover, redeem, signInThrough, WEB } from '../support/rp.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const ANSWERS = { q0: '3', a0: 'Laksa', q1: '0', a1: 'Tiger', q2: '1', a2: 'Violet' };

async function liveSessions(t: TestIdp, accountId: string): Promise<SsoSession[]> {
  const ids = await t.store.setMembers(keys.accountSsoSessions(accountId));
  return (await Promise.all(ids.map((id) => t.idp.sso.get(id)))).filter((s): s is SsoSession => s !== null);
}

/** Setup Security Questions -> Confirm -> Success -> Continue; resolves to where Continue leads. */
async function setUpQuestions(browser: Browser, page: Response) {
  assert.match(page.text, /Setup Security Questions/);
  const confirm = await browser.follow(await browser.submit(page, '/questions', ANSWERS));
  const saved = await browser.follow(await browser.submit(confirm.res, '/questions/confirm', {}));
  assert.match(saved.res.text, /successfully saved/);
  return browser.follow(await browser.submit(saved.res, '/continue', {}));
}

describe('required actions inside a live SSO session', () => {
  let t: TestIdp;
  let offset = 0;
  before(async () => {
    t = await startTestIdp({ clock: () => Date.now() + offset, overrides: { passwordPolicy: { default: { maxAgeDays: 90 } } } });
  });
  after(async () => {
    await t.close();
  });

  it('questions cleared by an administrator: the ID token keeps auth_time, the session its id and participants', async () => {
    const config = await discover(t, WEB.id, WEB.secret);
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const browser = new Browser(t.url);
    const first = await authRequest(config, WEB.redirect, { max_age: '15000' });
    const signedIn = (await redeem(config, first, await signInThrough(browser, first, DEMO.student))).claims()!;
    const [session] = await liveSessions(t, allen.id);
    const saml = await t.idp.sso.samlParticipant(session!, 'fixture-sp', allen.loginId);

    await t.idp.directory.update(allen.id, (a) => ({ ...a, questions: [] }));
    await sleep(1100);
    const again = await authRequest(config, WEB.redirect, { max_age: '15000' });
    const page = await browser.open(again.url.toString());
    assert.equal(page.external, undefined, 'no code before the questions are set');
    const done = await setUpQuestions(browser, page.res);
    const claims = (await redeem(config, again, done.external, { maxAge: 15000 })).claims()!;
    assert.equal(claims.auth_time, signedIn.auth_time, 'no password was typed: auth_time is the sign-in\'s');
    assert.deepEqual(claims.amr, ['pwd']);

    const after = await liveSessions(t, allen.id);
    assert.deepEqual(after.map((s) => s.id), [session!.id], 'the same session');
    assert.equal(after[0]!.authTime, session!.authTime);
    const participants = await t.idp.sso.participants(session!.id);
    assert.deepEqual(participants.oidc, [WEB.id]);
    assert.deepEqual(participants.saml, [saml], 'the SAML SP is still in the session (its LogoutRequest will come)');
  });

  it('a password that expired: changing it keeps this session and ends the others', async () => {
    const config = await discover(t, WEB.id, WEB.secret);
    const bella = (await t.idp.directory.findByLoginId(DEMO.student2.loginId))!;
    const elsewhere = new Browser(t.url);
    await elsewhere.signIn((await elsewhere.open('/portal')).res, DEMO.student2.loginId, DEMO.student2.password);
    const browser = new Browser(t.url);
    const first = await authRequest(config, WEB.redirect, { max_age: '15000' });
    const signedIn = (await redeem(config, first, await signInThrough(browser, first, DEMO.student2))).claims()!;
    const sessions = await liveSessions(t, bella.id);
    assert.equal(sessions.length, 2);
    const mine = sessions.find((s) => s.authTime === Math.max(...sessions.map((x) => x.authTime)))!;

    await t.idp.directory.update(bella.id, (a) => ({ ...a, passwordChangedAt: Date.now() - 100 * 86_400_000 }));
    const again = await authRequest(config, WEB.redirect, { max_age: '15000' });
    const change = await browser.open(again.url.toString());
    assert.match(change.res.text, /<h1>Change Password<\/h1>/);
    const wait = await browser.follow(await browser.submit(change.res, '/password', { newPassword: 'Copper-Kettle-2091', confirmPassword: 'Copper-Kettle-2091' }));
    const changed = await browser.follow(await browser.submit(wait.res, '/password/commit', {}));
    const done = await browser.follow(await browser.submit(changed.res, '/continue', {}));
    const claims = (await redeem(config, again, done.external, { maxAge: 15000 })).claims()!;
    assert.equal(claims.auth_time, signedIn.auth_time);
    assert.deepEqual((await liveSessions(t, bella.id)).map((s) => s.id), [mine.id], 'this session goes on; the other browser is signed out');
    assert.match((await elsewhere.open('/portal')).res.text, /name="password"/);
  });

  it('/admin: finishing required actions does not count as entering the password again', async () => {
    const siti = (await t.idp.directory.findByLoginId(SITI.loginId))!;
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const browser = new Browser(t.url);
    await browser.signIn((await browser.open('/admin')).res, SITI.loginId, SITI.password);
    offset = 16 * 60_000; // past admin.recentAuthMinutes
    try {
      await t.idp.directory.update(siti.id, (a) => ({ ...a, questions: [] }));
      const page = await browser.open('/admin');
      const back = await setUpQuestions(browser, page.res);
      assert.match(back.res.text, /School Administration|Search/);
      const confirm = await browser.get(`/admin/accounts/${allen.id}/disable`);
      assert.match(confirm.text, /Your current password is required for this action/);
    } finally {
      offset = 0;
    }
  });
});
