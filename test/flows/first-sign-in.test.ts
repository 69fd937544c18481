// The first sign-in journey over HTTP, from an OIDC relying party's authorization
// request to its tokens: temporary password -> Setup Security Questions -> Confirm ->
// Success -> Change Password -> Please Wait -> Success -> back to the app.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { Response } from 'supertest';
import { Browser, formOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };
const FARAH = { loginId: 'farah_aziz@students.edu.sg', password: 'Rivervale#Start24' };
const NEW_PASSWORD = 'Orchard-Lamp-2077';

function flowIdOf(res: Response): string {
  return /\/flow\/([A-Za-z0-9_-]{16,})\//.exec(res.text)?.[1] ?? assert.fail(`no flow in page:\n${res.text.slice(0, 800)}`);
}

describe('first sign-in: required actions before anything is issued', () => {
  let t: TestIdp;
  let offset = 0;
  before(async () => {
    t = await startTestIdp({ clock: () => Date.now() + offset });
  });
  after(async () => {
    await t.close();
  });

  it('takes a student with a temporary password through questions and password change to the app', async () => {
    const config = await oidc.discovery(new URL(t.url), WEB.id, WEB.secret, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const authUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: WEB.redirect, scope: 'openid email profile', state: 'st1',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new Browser(t.url);
    const signInPage = await browser.open(authUrl.toString());
    let step = await browser.signIn(signInPage.res, FARAH.loginId, FARAH.password);
    assert.equal(step.external, undefined, 'no code before the required actions');

    // Setup Security Questions.
    const questions = step.res;
    for (const text of ['Setup Security Questions', '— Please select a question item from the list —', 'What is your favourite cartoon hero/pop group?', 'Save Answers', 'Idle Timeout: 4 minutes']) {
      assert.ok(questions.text.includes(text), `missing "${text}"`);
    }
    assert.equal((questions.text.match(/<select /g) ?? []).length, 3);
    assert.equal(questions.headers['cache-control'], 'no-store');
    const flowId = flowIdOf(questions);

    // Skipping ahead gets no code: the interaction just asks for a sign-in again.
    const skip = await browser.open(authUrl.toString());
    assert.equal(skip.external, undefined);
    assert.match(skip.res.text, /MIMS Portal[\s\S]*Sign in/);
    // Steps out of order are refused and change nothing.
    for (const action of ['questions/confirm', 'password', 'password/commit', 'continue']) {
      const res = await browser.post(`/flow/${flowId}/${action}`, { _csrf: formOf(questions.text, '/questions').hidden._csrf!, newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
      assert.equal(res.status, 409, action);
      assert.match(res.text, /SSPR 5102/);
    }

    // Rule violations are shown next to their fields; nothing is saved.
    const bad = await browser.follow(await browser.submit(questions, '/questions', { q0: '3', a0: 'Ramen', q1: '3', a1: 'ramen', q2: '0', a2: 'my favourite animal' }));
    assert.equal(bad.res.status, 400);
    assert.match(bad.res.text, /id="q1-error">Please choose 3 different questions/);
    assert.match(bad.res.text, /id="a1-error">Each answer must be different/);
    assert.match(bad.res.text, /id="a2-error">The answer must not contain words of the question/);
    assert.equal((await t.idp.directory.findByLoginId(FARAH.loginId))!.questions.length, 0);

    // Save Answers -> Confirm -> Go Back keeps the fields -> Confirm Security Answers.
    let confirm = await browser.follow(await browser.submit(bad.res, '/questions', { q0: '3', a0: 'Ramen', q1: '0', a1: 'Shark', q2: '1', a2: 'Turquoise' }));
    assert.match(confirm.res.text, /Confirm Security Questions/);
    assert.match(confirm.res.text, /What is your favourite food\?<\/dt>\s*<dd>Ramen<\/dd>/);
    const back = await browser.follow(await browser.submit(confirm.res, '/questions/back', {}));
    assert.match(back.res.text, /<option value="3" selected>What is your favourite food\?/);
    assert.match(back.res.text, /name="a2"[^>]*value="Turquoise"/);
    confirm = await browser.follow(await browser.submit(back.res, '/questions', { q0: '3', a0: 'Ramen', q1: '0', a1: 'Shark', q2: '1', a2: 'Turquoise' }));
    const saved = await browser.follow(await browser.submit(confirm.res, '/questions/confirm', {}));
    assert.match(saved.res.text, /Thank you. Your secret questions and answers have been successfully saved/);
    const replay = await browser.submit(confirm.res, '/questions/confirm', {});
    assert.equal(replay.status, 409, 'a replayed step is refused');
    const afterQuestions = (await t.idp.directory.findByLoginId(FARAH.loginId))!;
    assert.equal(afterQuestions.questions.length, 3);
    assert.ok(afterQuestions.questions.every((q) => q.answerHash.startsWith('$argon2id$')));

    // Continue -> Change Password.
    let change = await browser.follow(await browser.submit(saved.res, '/continue', {}));
    for (const text of ['Change Password', 'Password is case sensitive.', 'Must be at least 12 characters long.', 'New Password', 'Confirm Password', 'Cancel']) {
      assert.ok(change.res.text.includes(text), `missing "${text}"`);
    }
    assert.match(change.res.text, /data-name-parts="farah\naziz\nfarah_aziz"/);
    const tries: Array<[string, string, RegExp]> = [
      [NEW_PASSWORD, 'Orchard-Lamp-2078', /Passwords do not match/],
      ['short', 'short', /Must be at least 12 characters long/],
      ['Farah-Orchard-99', 'Farah-Orchard-99', /Must not include part of your name or user name/],
      [FARAH.password, FARAH.password, /must be different from your current password/],
    ];
    for (const [a, b, message] of tries) {
      change = await browser.follow(await browser.submit(change.res, '/password', { newPassword: a, confirmPassword: b }));
      assert.equal(change.res.status, 400);
      assert.match(change.res.text, message);
    }
    const wait = await browser.follow(await browser.submit(change.res, '/password', { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }));
    assert.match(wait.res.text, /Please Wait[\s\S]*Your password is being changed/);
    assert.equal((await t.idp.directory.findByLoginId(FARAH.loginId))!.mustChangePassword, true, 'nothing changed before the commit');
    const done = await browser.follow(await browser.submit(wait.res, '/password/commit', {}));
    assert.match(done.res.text, /The password has been changed successfully/);

    // Continue -> straight back to the application with a code; no second sign-in.
    const back2app = await browser.follow(await browser.submit(done.res, '/continue', {}));
    assert.ok(back2app.external?.startsWith(WEB.redirect), `went to ${back2app.external ?? back2app.res.text.slice(0, 300)}`);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(back2app.external!), { pkceCodeVerifier: verifier, expectedState: 'st1' });
    const account = (await t.idp.directory.findByLoginId(FARAH.loginId))!;
    assert.equal(tokens.claims()!.sub, account.id);
    assert.equal(account.mustChangePassword, false);
    assert.equal(account.passwordHistory.length, 1);

    // Going back after success: the flow is over.
    const late = await browser.submit(wait.res, '/password/commit', {});
    assert.equal(late.status, 410);
    assert.match(late.text, /SSPR 5101/);

    const events = await t.idp.audit.recent(100, (e) => e.accountId === account.id);
    assert.ok(events.some((e) => e.type === 'questions.set' && e.actor === account.id && e.reason === 'sign-in'));
    assert.ok(events.some((e) => e.type === 'password.changed' && e.actor === account.id && e.reason === 'sign-in'));

    // The new password works in a new browser and goes straight to the portal.
    const fresh = new Browser(t.url);
    const portal = await fresh.signIn((await fresh.open('/portal')).res, FARAH.loginId, NEW_PASSWORD);
    assert.match(portal.res.text, /Farah Aziz/);
    assert.match(portal.res.text, /MIMS SSPR/);
  });

  it('shows an expiry page after the idle timeout and starts again at the original destination', async () => {
    const browser = new Browser(t.url);
    const page = await browser.open('/portal');
    assert.match(page.res.text, /Idle Timeout: 4 minutes/);
    const signInsBefore = (await t.idp.audit.recent(1000, (e) => e.type === 'signin.success')).length;
    offset += 4 * 60_000 + 1_000;
    try {
      const late = await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
      assert.equal(late.res.status, 410);
      assert.match(late.res.text, /SSPR 5101/);
      assert.match(late.res.text, /href="\/portal"/);
      assert.equal((await t.idp.audit.recent(1000, (e) => e.type === 'signin.success')).length, signInsBefore, 'the password was not even checked');
    } finally {
      offset = 0;
    }
    // Starting again works.
    const again = await browser.open('/portal');
    assert.match((await browser.signIn(again.res, DEMO.student.loginId, DEMO.student.password)).res.text, /Allen Tan/);
  });
});
