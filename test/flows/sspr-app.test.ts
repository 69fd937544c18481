// The portal's MIMS SSPR app, and what a password change does to other sessions.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };

async function rpSignIn(t: TestIdp, browser: Browser, password?: string) {
  const config = await oidc.discovery(new URL(t.url), WEB.id, WEB.secret, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests] });
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: WEB.redirect, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  let step = await browser.open(url.toString());
  if (password) step = await browser.signIn(step.res, DEMO.student2.loginId, password);
  return { config, step, verifier };
}

describe('MIMS SSPR app in the portal', () => {
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp();
  });
  after(async () => {
    await t.close();
  });

  it('changes the password after asking for the current one, and revokes every other session and refresh token', async () => {
    // Elsewhere: a phone signed in to an app, with a refresh token.
    const phone = new Browser(t.url);
    const { config, step, verifier } = await rpSignIn(t, phone, DEMO.student2.password);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(step.external!), { pkceCodeVerifier: verifier });
    assert.ok(tokens.refresh_token);

    // Here: the portal, MIMS SSPR, Change Password.
    const laptop = new Browser(t.url);
    const portal = await laptop.signIn((await laptop.open('/portal')).res, DEMO.student2.loginId, DEMO.student2.password);
    assert.match(portal.res.text, /href="\/portal\/sspr"[^>]*data-app="sspr"/);
    const sspr = await laptop.open('/portal/sspr');
    assert.match(sspr.res.text, /Change Password[\s\S]*Setup Security Questions/);
    let reauth = await laptop.follow(await laptop.submit(sspr.res, '/portal/sspr/password', {}));
    assert.match(reauth.res.text, /Please enter your password below. Your current password is required to access this application./);
    reauth = await laptop.follow(await laptop.submit(reauth.res, '/reauth', { password: 'not-my-password' }));
    assert.equal(reauth.res.status, 401);
    assert.match(reauth.res.text, /incorrect/);
    const change = await laptop.follow(await laptop.submit(reauth.res, '/reauth', { password: DEMO.student2.password }));
    assert.match(change.res.text, /Change Password[\s\S]*New Password/);
    const wait = await laptop.follow(await laptop.submit(change.res, '/password', { newPassword: 'Paper-Crane-4040', confirmPassword: 'Paper-Crane-4040' }));
    const done = await laptop.follow(await laptop.submit(wait.res, '/password/commit', {}));
    assert.match(done.res.text, /The password has been changed successfully/);
    const home = await laptop.follow(await laptop.submit(done.res, '/continue', {}));
    assert.match(home.res.text, /MIMS Self Service Password Reset/);
    assert.match((await laptop.open('/portal')).res.text, /Bella Lim/, 'this browser stays signed in');

    // The phone: refresh token refused, SSO session gone, the app must sign in again.
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (e: oidc.ResponseBodyError) => e.error === 'invalid_grant');
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false);
    const again = await rpSignIn(t, phone);
    assert.equal(again.step.external, undefined);
    assert.match(again.step.res.text, /Sign in/);
    // The old password is history; the new one works.
    const oldTry = await phone.signIn(again.step.res, DEMO.student2.loginId, DEMO.student2.password);
    assert.match(oldTry.res.text, /Login failed/);
    const events = await t.idp.audit.recent(50, (e) => e.type === 'sessions.revoked');
    assert.ok(events.length > 0);
  });

  it('replaces the security questions after asking for the password', async () => {
    const browser = new Browser(t.url);
    await browser.signIn((await browser.open('/portal')).res, DEMO.staff.loginId, DEMO.staff.password);
    const before = (await t.idp.directory.findByLoginId(DEMO.staff.loginId))!.questions;
    const sspr = await browser.open('/portal/sspr');
    const reauth = await browser.follow(await browser.submit(sspr.res, '/portal/sspr/questions', {}));
    const questions = await browser.follow(await browser.submit(reauth.res, '/reauth', { password: DEMO.staff.password }));
    assert.match(questions.res.text, /Setup Security Questions/);
    // The password itself is not an acceptable answer.
    const refused = await browser.follow(await browser.submit(questions.res, '/questions', { q0: '6', a0: DEMO.staff.password, q1: '7', a1: 'Dune', q2: '2', a2: 'Chess' }));
    assert.match(refused.res.text, /id="a0-error">The answer must not be your password/);
    const confirm = await browser.follow(await browser.submit(refused.res, '/questions', { q0: '6', a0: 'Inception', q1: '7', a1: 'Dune', q2: '2', a2: 'Chess' }));
    const saved = await browser.follow(await browser.submit(confirm.res, '/questions/confirm', {}));
    assert.match(saved.res.text, /successfully saved/);
    const after = (await t.idp.directory.findByLoginId(DEMO.staff.loginId))!.questions;
    assert.deepEqual(after.map((q) => q.question), ['What is your favourite movie?', 'What is your favourite book?', 'What is your favourite sport or hobby?']);
    assert.notDeepEqual(after, before);
  });

  it('sends a signed-in user whose password became temporary to Change Password before any code', async () => {
    const browser = new Browser(t.url);
    const first = await rpSignIn(t, browser);
    const signedIn = await browser.signIn(first.step.res, DEMO.student.loginId, DEMO.student.password);
    assert.ok(signedIn.external?.startsWith(WEB.redirect));
    const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    await t.idp.directory.update(account.id, (a) => ({ ...a, mustChangePassword: true }));
    const again = await rpSignIn(t, browser);
    assert.equal(again.step.external, undefined, 'no code while the password must change');
    assert.match(again.step.res.text, /Change Password/);
    const portal = await browser.open('/portal');
    assert.match(portal.res.text, /Change Password/);
    await t.idp.directory.update(account.id, (a) => ({ ...a, mustChangePassword: false }));
  });
});
