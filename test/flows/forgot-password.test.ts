// Forgot password, lockout and unlock, over HTTP, as a student (or an attacker) would.
import assert from 'node:assert/strict';
import type { Response } from 'supertest';
import { keys } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const ALLEN_ANSWERS: Record<string, string> = {
  'What is your favourite food?': '  RAMEN ',
  'What is your favourite animal?': 'shark',
  'What is your favourite colour?': 'Turquoise',
};

function questionsOn(page: Response): string[] {
  return [...page.text.matchAll(/<label for="a\d+">([^<]+)<\/label>/g)].map((m) => m[1]!.replace(/&#39;/g, "'"));
}

async function forgot(browser: Browser, loginId: string): Promise<Response> {
  const signInPage = await browser.open('/portal');
  const link = /href="(\/flow\/forgot-password\?from=[^"]+)"/.exec(signInPage.res.text)![1]!;
  const search = await browser.open(link);
  assert.match(search.res.text, /Forgotten Password[\s\S]*If you have forgotten your password, follow the prompts to reset your password.[\s\S]*Username[\s\S]*Search[\s\S]*Cancel/);
  return (await browser.follow(await browser.submit(search.res, '/forgot/search', { username: loginId }))).res;
}

async function answer(browser: Browser, page: Response, answers: Record<string, string>): Promise<{ res: Response; external?: string }> {
  const fields: Record<string, string> = {};
  questionsOn(page).forEach((q, i) => (fields[`a${i}`] = answers[q] ?? 'wrong answer'));
  return browser.follow(await browser.submit(page, '/forgot/answers', fields));
}

async function wrongPasswords(t: TestIdp, loginId: string, count: number): Promise<Response[]> {
  return Promise.all(Array.from({ length: count }, async () => {
    const b = new Browser(t.url);
    const page = await b.open('/portal');
    return (await b.signIn(page.res, loginId, 'Wrong-Password-00')).res;
  }));
}

describe('forgot password, lockout and unlock', () => {
  let t: TestIdp;
  beforeEach(async () => {
    t = await startTestIdp();
  });
  afterEach(async () => {
    await t.close();
  });

  it('resets a forgotten password through the challenge questions, then signs in with it', async () => {
    const browser = new Browser(t.url);
    const questions = await forgot(browser, DEMO.student.loginId.toUpperCase());
    assert.match(questions.text, /Please answer the following questions. If you answer these questions correctly, you will then be able to reset your password./);
    assert.deepEqual(questionsOn(questions).sort(), Object.keys(ALLEN_ANSWERS).sort());
    assert.match(questions.text, /Check Answers[\s\S]*Cancel/);

    const wrong = await answer(browser, questions, { ...ALLEN_ANSWERS, 'What is your favourite animal?': 'tiger' });
    assert.equal(wrong.res.status, 401);
    assert.match(wrong.res.text, /One or more responses are not correct. Please try again./);

    const change = await answer(browser, wrong.res, ALLEN_ANSWERS);
    assert.match(change.res.text, /Change Password[\s\S]*Must be at least 12 characters long/);
    const wait = await browser.follow(await browser.submit(change.res, '/password', { newPassword: 'Lighthouse-Moth-31', confirmPassword: 'Lighthouse-Moth-31' }));
    const done = await browser.follow(await browser.submit(wait.res, '/password/commit', {}));
    assert.match(done.res.text, /The password has been changed successfully/);
    const signIn = await browser.follow(await browser.submit(done.res, '/continue', {}));
    assert.match(signIn.res.text, /MIMS Portal[\s\S]*Sign in/);
    assert.match((await browser.signIn(signIn.res, DEMO.student.loginId, DEMO.student.password)).res.text, /Login failed/);
    const portal = await browser.signIn((await browser.open('/portal')).res, DEMO.student.loginId, 'Lighthouse-Moth-31');
    assert.match(portal.res.text, /Allen Tan/);
    const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const events = (await t.idp.audit.recent(100, (e) => e.accountId === account.id)).map((e) => e.type);
    for (const type of ['forgot.started', 'forgot.answers.failure', 'forgot.answers.success', 'password.changed'] as const) assert.ok(events.includes(type), type);
  });

  it('looks the same for an unknown login ID: same page, same number of stable questions, never right', async () => {
    const known = await forgot(new Browser(t.url), DEMO.student.loginId);
    const unknown = await forgot(new Browser(t.url), 'no_such_student@students.edu.sg');
    const again = await forgot(new Browser(t.url), 'NO_SUCH_STUDENT@students.edu.sg');
    assert.equal(known.status, unknown.status);
    const shape = (r: Response) => r.text.replace(/<label for="a(\d)">[^<]+</g, '<label for="a$1">Q<').replace(/\/flow\/[A-Za-z0-9_.-]+/g, '/flow/ID').replace(/value="[^"]*"/g, 'value=""');
    assert.equal(shape(unknown), shape(known));
    assert.equal(questionsOn(unknown).length, 3);
    assert.deepEqual(questionsOn(again), questionsOn(unknown), 'decoy questions are deterministic for an ID');
    const other = await forgot(new Browser(t.url), 'someone_else_entirely@students.edu.sg');
    assert.equal(questionsOn(other).length, 3);
    // Whatever is answered, it is wrong, with the same message.
    const b = new Browser(t.url);
    const page = await forgot(b, 'no_such_student@students.edu.sg');
    const guess: Record<string, string> = {};
    for (const q of questionsOn(page)) guess[q] = 'anything';
    const res = await answer(b, page, guess);
    assert.equal(res.res.status, 401);
    assert.match(res.res.text, /One or more responses are not correct/);
  });

  it('shows SSPR 5006 for an account without questions (configurable)', async () => {
    const res = await forgot(new Browser(t.url), 'farah_aziz@students.edu.sg');
    assert.equal(res.status, 409);
    assert.match(res.text, /SSPR 5006/);
    assert.match(res.text, /Challenge questions have not been defined for this user account. Please contact your administrator \(LA\/SA\) to reset your password./);
    const hidden = await startTestIdp({ overrides: { forgotPassword: { revealNoQuestions: false } } });
    try {
      const decoy = await forgot(new Browser(hidden.url), 'farah_aziz@students.edu.sg');
      assert.equal(decoy.status, 200);
      assert.equal(questionsOn(decoy).length, 3);
    } finally {
      await hidden.close();
    }
  });

  it('limits answer guessing per account, audits it, and clears the count on success', async () => {
    const b = new Browser(t.url);
    let page = await forgot(b, DEMO.student2.loginId);
    for (let i = 0; i < 3; i++) page = (await answer(b, page, {})).res;
    assert.match(page.text, /One or more responses are not correct/);
    const refused = await answer(b, page, {});
    assert.equal(refused.res.status, 429);
    assert.match(refused.res.text, /SSPR 5112/);
    // Even the right answers are refused now, from a new flow too.
    const c = new Browser(t.url);
    const later = await forgot(c, DEMO.student2.loginId);
    const stillRefused = await answer(c, later, { 'What is your favourite colour?': 'yellow', 'What is your favourite animal?': 'hamster', 'What is your favourite book?': 'The Good Earth' });
    assert.equal(stillRefused.res.status, 429);
    const account = (await t.idp.directory.findByLoginId(DEMO.student2.loginId))!;
    assert.ok((await t.idp.audit.recent(50, (e) => e.accountId === account.id && e.type === 'forgot.throttled')).length > 0);
    assert.ok((await t.store.ttl(keys.answerFailures(DEMO.student2.loginId))) > 0, 'the limit expires');

    // Success clears the count: two wrong, one right, and the counters are gone.
    const d = new Browser(t.url);
    let p = await forgot(d, DEMO.staff.loginId);
    for (let i = 0; i < 2; i++) p = (await answer(d, p, {})).res;
    const ok = await answer(d, p, { 'What is your favourite sport or hobby?': 'cycling', 'What is your favourite movie?': 'UP', 'What is your favourite cartoon hero/pop group?': 'astro  boy' });
    assert.match(ok.res.text, /Change Password/);
    assert.equal(await t.store.get(keys.answerFailures(DEMO.staff.loginId)), null);
  });

  it('locks at exactly the limit under 20 parallel wrong passwords; the right password is then refused', async () => {
    const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const signIns = async () => {
      const text = (await new Browser(t.url).get('/metrics')).text;
      return (outcome: string) => Number(new RegExp(`^idp_signin_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    };
    const before = await signIns();
    const pages = await wrongPasswords(t, DEMO.student.loginId, 20);
    // The metric tells the check that locked from the refusals that checked nothing.
    const after = await signIns();
    assert.equal(after('bad_password') - before('bad_password'), 4);
    assert.equal(after('locked_by_this_attempt') - before('locked_by_this_attempt'), 1);
    assert.equal(after('locked') - before('locked'), 15);
    const events = await t.idp.audit.recent(100, (e) => e.accountId === account.id && e.type === 'signin.failure');
    assert.equal(events.filter((e) => e.reason === 'bad_password').length, 5, 'exactly five passwords checked');
    assert.equal(events.filter((e) => e.reason === 'locked').length, 15, 'the rest refused unchecked');
    assert.equal((await t.idp.audit.recent(100, (e) => e.accountId === account.id && e.type === 'account.locked')).length, 1);
    assert.equal(pages.filter((p) => /has been locked/.test(p.text)).length, 16, 'the fifth wrong password locks');
    const b = new Browser(t.url);
    const right = await b.signIn((await b.open('/portal')).res, DEMO.student.loginId, DEMO.student.password);
    assert.match(right.res.text, /has been locked[\s\S]*Forgot Password\?/);
    assert.doesNotMatch(right.res.text, /Applications/);
  });

  it('an unknown login ID locks the same way (nothing to learn from lockout)', async () => {
    const pages = await wrongPasswords(t, 'ghost_pupil@students.edu.sg', 6);
    assert.equal(pages.filter((p) => /has been locked/.test(p.text)).length, 2);
  });

  it('unlocks through the questions and keeps the old password', async () => {
    await wrongPasswords(t, DEMO.student.loginId, 5);
    const b = new Browser(t.url);
    const questions = await forgot(b, DEMO.student.loginId);
    const locked = await answer(b, questions, ALLEN_ANSWERS);
    assert.match(locked.res.text, /Your account has been locked due to excessive incorrect login attempts. You may continue by unlocking your account or by changing your password./);
    assert.match(locked.res.text, /Unlock Password[\s\S]*Change Password[\s\S]*Cancel/);
    const unlocked = await b.follow(await b.submit(locked.res, '/forgot/unlock', {}));
    assert.match(unlocked.res.text, /unlocked/);
    const signIn = await b.follow(await b.submit(unlocked.res, '/continue', {}));
    const portal = await b.signIn(signIn.res, DEMO.student.loginId, DEMO.student.password);
    assert.match(portal.res.text, /Allen Tan/);
    assert.equal(await t.store.get(keys.lock(DEMO.student.loginId)), null);
    assert.equal(await t.store.get(keys.signInFailures(DEMO.student.loginId)), null);
    const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    assert.ok((await t.idp.audit.recent(50, (e) => e.accountId === account.id && e.type === 'account.unlocked')).length === 1);
  });

  it('"Change Password" on a locked account sets a new one and clears the lock', async () => {
    await wrongPasswords(t, DEMO.student.loginId, 5);
    const b = new Browser(t.url);
    const locked = await answer(b, await forgot(b, DEMO.student.loginId), ALLEN_ANSWERS);
    const change = await b.follow(await b.submit(locked.res, '/forgot/change', {}));
    const wait = await b.follow(await b.submit(change.res, '/password', { newPassword: 'Kettle-Puzzle-808', confirmPassword: 'Kettle-Puzzle-808' }));
    const done = await b.follow(await b.submit(wait.res, '/password/commit', {}));
    const signIn = await b.follow(await b.submit(done.res, '/continue', {}));
    assert.match((await b.signIn(signIn.res, DEMO.student.loginId, 'Kettle-Puzzle-808')).res.text, /Allen Tan/);
    assert.equal(await t.store.get(keys.lock(DEMO.student.loginId)), null);
  });

  it('throttles password spraying from one IP across accounts', async () => {
    const sprayed = await startTestIdp({ overrides: { lockout: { maxFailuresPerIp: 6 } } });
    try {
      const ids = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'].map((n) => `${n}@students.edu.sg`);
      for (const id of ids) await wrongPasswords(sprayed, id, 1);
      const b = new Browser(sprayed.url);
      const res = await b.signIn((await b.open('/portal')).res, DEMO.student.loginId, DEMO.student.password);
      assert.match(res.res.text, /too many failed sign-in attempts from your network/);
      assert.equal(await sprayed.store.get(keys.lock(DEMO.student.loginId)), null, 'the student is not locked by it');
    } finally {
      await sprayed.close();
    }
  });
});
