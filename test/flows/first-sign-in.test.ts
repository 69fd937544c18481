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
  return /\/flow\/([A-Za-z0-9_.-]{16,})\//.exec(res.text)?.[1] ?? assert.fail(`no flow in page:\n${res.text.slice(0, 800)}`);
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

  it('a sign-in page left open past the idle timeout signs in on its first submit (same checks as a live page)', async () => {
    const browser = new Browser(t.url);
    const page = await browser.open('/portal');
    const second = await browser.open('/portal');
    assert.match(page.res.text, /Idle Timeout: 4 minutes/);
    const successes = async () => (await t.idp.audit.recent(1000, (e) => e.type === 'signin.success')).length;
    const failures = async () => (await t.idp.audit.recent(1000, (e) => e.type === 'signin.failure')).length;
    const signInsBefore = await successes();
    offset += 4 * 60_000 + 1_000;
    try {
      const form = formOf(page.res.text, '/sign-in');
      // Still refused: no CSRF token, another browser (the flow is bound to the one that began it).
      const tokenless = await browser.post(form.action, { username: DEMO.student.loginId, password: DEMO.student.password });
      assert.equal(tokenless.status, 403);
      assert.match(tokenless.text, /SSPR 5104/);
      const other = new Browser(t.url);
      const otherForm = formOf((await other.open('/portal')).res.text, '/sign-in');
      const stolen = await other.post(form.action, { _csrf: otherForm.hidden._csrf!, username: DEMO.student.loginId, password: DEMO.student.password });
      assert.equal(stolen.status, 409);
      assert.match(stolen.text, /SSPR 5102/);
      assert.equal(await successes(), signInsBefore, 'nothing was checked for the refused posts');
      // A wrong password on an expired page (another tab): the fresh flow says so like a live page, and counts it.
      const failuresBefore = await failures();
      const wrong = await browser.signIn(second.res, DEMO.student.loginId, 'not-the-password');
      assert.equal(wrong.res.status, 401);
      assert.match(wrong.res.text, /Login failed/);
      assert.equal(await failures(), failuresBefore + 1, 'counted and audited as any failed sign-in');
      assert.ok(!wrong.res.text.includes('not-the-password'));
      // The expired page, submitted with the right password: signed in on this first submit.
      const late = await browser.follow(await browser.post(form.action, { ...form.hidden, username: DEMO.student.loginId, password: DEMO.student.password }));
      assert.equal(late.res.status, 200);
      assert.match(late.res.text, /Allen Tan/);
      assert.equal(await successes(), signInsBefore + 1, 'the password was checked and the sign-in audited');
    } finally {
      offset = 0;
    }
  });

  it('an expired sign-in page of an application returns to it on the first submit while its request lives', async () => {
    const config = await oidc.discovery(new URL(t.url), WEB.id, WEB.secret, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests] });
    const authUrl = oidc.buildAuthorizationUrl(config, { redirect_uri: WEB.redirect, scope: 'openid', state: 'st2', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const browser = new Browser(t.url);
    const page = await browser.open(authUrl.toString());
    offset += 4 * 60_000 + 1_000;
    try {
      const back = await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
      assert.ok(back.external?.startsWith(WEB.redirect), `went to ${back.external ?? back.res.text.slice(0, 300)}`);
      assert.match(back.external!, /[?&]code=/);
    } finally {
      offset = 0;
    }
  });

  it('a sign-in form posted to a flow no longer known shows a fresh sign-in page with the username, never the password', async () => {
    const browser = new Browser(t.url);
    const page = await browser.open('/portal');
    const form = formOf(page.res.text, '/sign-in');
    const signInsBefore = (await t.idp.audit.recent(1000, (e) => e.type.startsWith('signin.'))).length;
    const gone = await browser.post('/flow/AAAAAAAAAAAAAAAAAAAAAA/sign-in', { ...form.hidden, username: DEMO.student.loginId, password: 'Secret-Typed-Password-1' });
    assert.equal(gone.status, 303);
    const fresh = await browser.follow(gone);
    assert.equal(fresh.res.status, 200);
    assert.match(fresh.res.text, /This page was open for a long time\. Please type your password again and sign in\./);
    assert.match(fresh.res.text, new RegExp(`id="username"[^>]*value="${DEMO.student.loginId.replace(/[.]/g, '\\.')}"`));
    assert.ok(!fresh.res.text.includes('Secret-Typed-Password-1'), 'the password is never written back');
    assert.equal((await t.idp.audit.recent(1000, (e) => e.type.startsWith('signin.'))).length, signInsBefore, 'the password was not checked');
    // The fresh page signs in to the portal; the line is shown once.
    const signed = await browser.signIn(fresh.res, DEMO.student.loginId, DEMO.student.password);
    assert.match(signed.res.text, /Allen Tan/);
    // The line in each language.
    for (const [lang, words] of [['zh-SG', '这个页面打开太久了。'], ['ms-SG', 'Halaman ini dibuka terlalu lama.'], ['ta-SG', 'இந்தப் பக்கம் நீண்ட நேரம் திறந்திருந்தது.']] as const) {
      const b = new Browser(t.url);
      b.agent.set('Accept-Language', lang);
      const hidden = formOf((await b.open('/portal')).res.text, '/sign-in').hidden;
      const again = await b.follow(await b.post('/flow/AAAAAAAAAAAAAAAAAAAAAA/sign-in', { ...hidden, username: DEMO.student.loginId, password: 'x' }));
      assert.ok(again.res.text.includes(words), `${lang}: ${again.res.text.slice(0, 300)}`);
    }
    // Without a CSRF token the same post is refused.
    const tokenless = await new Browser(t.url).post('/flow/AAAAAAAAAAAAAAAAAAAAAA/sign-in', { username: DEMO.student.loginId, password: 'x' });
    assert.equal(tokenless.status, 403);
  });

  it('other flows than sign-in still answer SSPR 5101 when they expired', async () => {
    const browser = new Browser(t.url);
    const page = await browser.open('/portal');
    const forgot = await browser.follow(await browser.get(`/flow/forgot-password?from=${flowIdOf(page.res)}`));
    assert.match(forgot.res.text, /Forgotten Password/);
    offset += 4 * 60_000 + 1_000;
    try {
      const form = formOf(forgot.res.text, '/forgot/search');
      // Even a sign-in post to it (the forgot-password flow is not a login prompt).
      const crafted = await browser.post(form.action.replace('/forgot/search', '/sign-in'), { ...form.hidden, username: DEMO.student.loginId, password: DEMO.student.password });
      assert.equal(crafted.status, 410);
      assert.match(crafted.text, /SSPR 5101/);
      const late = await browser.post(form.action, { ...form.hidden, username: DEMO.student.loginId });
      assert.equal(late.status, 410);
      assert.match(late.text, /SSPR 5101/);
    } finally {
      offset = 0;
    }
  });
});
