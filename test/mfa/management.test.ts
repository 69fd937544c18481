// Two-step sign-in as administrators and their staff meet it over HTTP:
//   the policy: an administrator who must set it up gets no code, no assertion and no
//   portal before doing so; staff to whom it is offered add it from the SSPR app;
//   the SSPR app's factor changes ask for a recent second factor first (step-up);
//   resets: a school administrator resets a teacher's, never an administrator's; a
//   ministry administrator resets an administrator's; each is audited and enrolment is
//   required again where the policy says so.
import assert from 'node:assert/strict';
import { generate } from 'otplib';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, discover, WEB } from '../support/rp.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const GRACE = { loginId: 'grace_lee@hq.moe.gov.sg', password: 'Summit=Harbour84' };
const REQUIRED = { requiredForRoles: ['school-admin', 'ministry-admin'], offeredToRoles: ['staff'], maxFailures: 5, windowMinutes: 15 };

describe('two-step sign-in: policy, self-service and administrators', () => {
  let t: TestIdp;
  let offset = 0;
  const now = () => Date.now() + offset;

  before(async () => {
    t = await startTestIdp({ clock: now, overrides: { mfa: REQUIRED } });
  });
  after(async () => {
    await t.close();
  });

  async function code(secret: string): Promise<string> {
    return generate({ secret, epoch: Math.floor(now() / 1000) });
  }

  /** Gives an account an authenticator app (as its owner would); resolves to its secret. */
  async function withApp(loginId: string): Promise<string> {
    const account = (await t.idp.directory.findByLoginId(loginId))!;
    const secret = t.idp.mfa.newTotpSecret();
    assert.equal(await t.idp.mfa.enrolTotp(account, secret, await code(secret), {}), 'ok');
    await t.idp.mfa.newRecoveryCodes((await t.idp.directory.get(account.id))!, {});
    offset += 30_000;
    return secret;
  }

  async function signIn(who: { loginId: string; password: string }, secret?: string, path = '/portal'): Promise<Browser> {
    const b = new Browser(t.url);
    const page = await b.open(path);
    const after = await b.signIn(page.res, who.loginId, who.password);
    if (!secret) return b;
    assert.match(after.res.text, /Two-Step Sign-in/);
    await b.follow(await b.submit(after.res, '/mfa/code', { code: await code(secret) }));
    return b;
  }

  it('an administrator who must set it up gets no code, no portal and no /admin before doing so', async () => {
    const config = await discover(t, WEB.id, WEB.secret);
    const b = new Browser(t.url);
    const req = await authRequest(config, WEB.redirect);
    const page = await b.open(req.url.toString());
    const after = await b.signIn(page.res, GRACE.loginId, GRACE.password);
    assert.equal(after.external, undefined, 'no code');
    assert.match(after.res.text, /Set up Two-Step Sign-in/);
    for (const path of ['/portal', '/admin']) assert.match((await b.open(path)).res.text, /name="password"/, `${path}: sign in first (no session yet)`);
  });

  it('staff add an authenticator app from the SSPR app; removing it asks for a recent second factor first', async () => {
    const b = await signIn(DEMO.staff);
    const sspr = await b.open('/portal/sspr');
    assert.match(sspr.res.text, /You have not set up two-step sign-in/);
    const reauth = await b.follow(await b.submit(sspr.res, '/portal/sspr/mfa', {}));
    assert.match(reauth.res.text, /Set up two-step sign-in/);
    const choose = await b.follow(await b.submit(reauth.res, '/reauth', { password: DEMO.staff.password }));
    const app = await b.follow(await b.submit(choose.res, '/mfa-setup/totp', {}));
    assert.match(app.res.text, /<svg/, 'the QR code is drawn by the IdP');
    const secret = /id="totp-secret">([A-Z2-7 ]+)</.exec(app.res.text)![1]!.replace(/ /g, '');
    const codes = await b.follow(await b.submit(app.res, '/mfa-setup/totp-confirm', { code: await code(secret) }));
    assert.match(codes.res.text, /Your Recovery Codes/);
    const back = await b.follow(await b.submit(codes.res, '/continue', {}));
    assert.match(back.res.text, /Authenticator app/);
    assert.match(back.res.text, /Recovery codes left: 10/);

    // Later than admin.recentAuthMinutes: removing it needs the second factor again.
    offset += (t.settings.admin.recentAuthMinutes + 1) * 60_000;
    const stepUp = await b.follow(await b.submit(back.res, '/portal/mfa/totp/remove', {}));
    assert.match(stepUp.res.text, /This needs two-step sign-in/);
    const confirmed = await b.follow(await b.submit(stepUp.res, '/mfa/code', { code: await code(secret) }));
    assert.match(confirmed.res.text, /MIMS Self Service Password Reset/);
    const removed = await b.follow(await b.submit(confirmed.res, '/portal/mfa/totp/remove', {}));
    assert.match(removed.res.text, /The authenticator app was removed/);
    const daniel = (await t.idp.directory.findByLoginId(DEMO.staff.loginId))!;
    assert.equal(t.idp.mfa.hasSecondFactor(daniel), false);
  });

  it('adding a factor to an account that has one asks for that one first', async () => {
    const secret = await withApp(DEMO.staff.loginId);
    offset += (t.settings.admin.recentAuthMinutes + 1) * 60_000;
    const b = await signIn(DEMO.staff, secret, '/portal/sspr');
    offset += (t.settings.admin.recentAuthMinutes + 1) * 60_000;
    const sspr = await b.open('/portal/sspr');
    const asked = await b.follow(await b.submit(sspr.res, '/portal/sspr/mfa', {}));
    assert.match(asked.res.text, /This needs two-step sign-in/, 'not the password alone');
  });

  it('an administrator cannot remove their last factor', async () => {
    const secret = await withApp(SITI.loginId);
    const b = await signIn(SITI, secret, '/portal/sspr');
    const sspr = await b.open('/portal/sspr');
    const kept = await b.follow(await b.submit(sspr.res, '/portal/mfa/totp/remove', {}));
    assert.match(kept.res.text, /must keep at least one passkey or authenticator app/);
    assert.equal(t.idp.mfa.hasSecondFactor((await t.idp.directory.findByLoginId(SITI.loginId))!), true);
  });

  it('parallel removals of an administrator\'s two factors leave one (checked in the same compare-and-set)', async () => {
    await withApp(GRACE.loginId);
    let grace = (await t.idp.directory.findByLoginId(GRACE.loginId))!;
    const options = await t.idp.mfa.registrationOptions(grace);
    const key = await t.idp.mfa.addPasskey(grace, new SoftAuthenticator().register(options as never, new URL(t.url).origin) as never, options.challenge, 'Key', {});
    assert.ok(key, 'a passkey besides the app');
    grace = (await t.idp.directory.get(grace.id))!;
    const [app, passkey] = await Promise.all([t.idp.mfa.removeTotp(grace, {}, true), t.idp.mfa.removePasskey(grace, key.id, {}, true)]);
    assert.equal(Number(app) + Number(passkey), 1, 'exactly one removal');
    assert.equal(t.idp.mfa.hasSecondFactor((await t.idp.directory.get(grace.id))!), true);
  });

  it('resets: a school administrator resets a teacher\'s but not an administrator\'s; a ministry administrator does', async () => {
    const siti = (await t.idp.directory.findByLoginId(SITI.loginId))!;
    const daniel = (await t.idp.directory.findByLoginId(DEMO.staff.loginId))!;
    await withApp(DEMO.staff.loginId);
    const secret = await withApp(SITI.loginId);
    const b = await signIn(SITI, secret, '/admin');
    const confirm = await b.get(`/admin/accounts/${daniel.id}/reset-mfa`);
    assert.equal(confirm.status, 200);
    assert.match(confirm.text, /Reset Two-Step Sign-in/);
    const done = await b.follow(await b.submit(confirm, `/admin/accounts/${daniel.id}/reset-mfa`, {}));
    assert.match(done.res.text, /Done: Reset Two-Step Sign-in/);
    assert.equal(t.idp.mfa.hasSecondFactor((await t.idp.directory.get(daniel.id))!), false);
    const event = (await t.idp.audit.recent(10, (e) => e.type === 'mfa.reset' && e.accountId === daniel.id))[0];
    assert.equal(event?.actor, siti.id);

    // An administrator of her school: refused, unchanged.
    await t.idp.directory.update(daniel.id, (a) => ({ ...a, roles: ['staff', 'school-admin'] }));
    await withApp(DEMO.staff.loginId);
    const refused = await b.get(`/admin/accounts/${daniel.id}/reset-mfa`);
    assert.equal(refused.status, 403);
    const post = await b.post(`/admin/accounts/${daniel.id}/reset-mfa`, { _csrf: /name="_csrf" value="([^"]+)"/.exec(confirm.text)![1]! });
    assert.equal(post.status, 403);
    assert.equal(t.idp.mfa.hasSecondFactor((await t.idp.directory.get(daniel.id))!), true);

    // A ministry administrator: done; the next sign-in must set it up again (required for administrators).
    const graceSecret = await withApp(GRACE.loginId);
    const g = await signIn(GRACE, graceSecret, '/admin');
    const byMinistry = await g.get(`/admin/accounts/${daniel.id}/reset-mfa`);
    await g.follow(await g.submit(byMinistry, `/admin/accounts/${daniel.id}/reset-mfa`, {}));
    assert.equal(t.idp.mfa.hasSecondFactor((await t.idp.directory.get(daniel.id))!), false);
    const next = new Browser(t.url);
    const after = await next.signIn((await next.open('/portal')).res, DEMO.staff.loginId, DEMO.staff.password);
    assert.match(after.res.text, /Set up Two-Step Sign-in/);
  });
});
