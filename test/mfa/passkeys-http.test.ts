// Passkeys over HTTP with a software authenticator (test/support/soft-authenticator.ts), for
// what a browser would never send: an assertion replayed, one made for another site, one
// signed by a key the IdP does not know, one without user verification for a passkey alone,
// a registration for another site. Each is refused with a message and changes nothing.
import assert from 'node:assert/strict';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { pageOptions, SoftAuthenticator } from '../support/soft-authenticator.ts';

describe('passkeys over HTTP: what a browser would not send', () => {
  let t: TestIdp;
  const device = new SoftAuthenticator();

  before(async () => {
    t = await startTestIdp();
  });
  after(async () => {
    await t.close();
  });

  async function signInPage(b: Browser) {
    return (await b.open('/portal')).res;
  }

  it('staff add a passkey from the SSPR app; a registration made for another site is refused', async () => {
    const b = new Browser(t.url);
    await b.signIn(await signInPage(b), DEMO.staff.loginId, DEMO.staff.password);
    const sspr = await b.open('/portal/sspr');
    const reauth = await b.follow(await b.submit(sspr.res, '/portal/sspr/mfa', {}));
    const choose = await b.follow(await b.submit(reauth.res, '/reauth', { password: DEMO.staff.password }));
    const page = await b.follow(await b.submit(choose.res, '/mfa-setup/passkey', {}));
    const elsewhere = new SoftAuthenticator().register(pageOptions(page.res.text), 'https://evil.example');
    const refused = await b.follow(await b.submit(page.res, '/mfa-setup/passkey-confirm', { credential: JSON.stringify(elsewhere), name: 'Evil' }));
    assert.match(refused.res.text, /The passkey was not added/);
    const created = device.register(pageOptions(refused.res.text), t.url);
    const codes = await b.follow(await b.submit(refused.res, '/mfa-setup/passkey-confirm', { credential: JSON.stringify(created), name: 'Staff room PC' }));
    assert.match(codes.res.text, /Your Recovery Codes/);
    const daniel = (await t.idp.directory.findByLoginId(DEMO.staff.loginId))!;
    assert.deepEqual(t.idp.mfa.describe(daniel).passkeys.map((p) => p.name), ['Staff room PC']);
  });

  it('the passkey alone signs in; the same assertion again, one for another site, one from an unknown key, one without user verification are refused', async () => {
    const b = new Browser(t.url);
    const page = await signInPage(b);
    const assertion = device.assert(pageOptions(page.text), t.url);
    const signedIn = await b.follow(await b.submit(page, '/passkey', { credential: JSON.stringify(assertion) }));
    assert.match(signedIn.res.text, /Sign out/i, 'the portal');

    const attacker = new Browser(t.url);
    const refusals: Array<[string, Record<string, unknown>]> = [];
    let p = await signInPage(attacker);
    refusals.push(['replayed', assertion]);
    refusals.push(['another site', device.assert(pageOptions(p.text), 'https://evil.example')]);
    refusals.push(['unknown key', (() => {
      const stranger = new SoftAuthenticator();
      stranger.register({ challenge: 'x', rp: { id: new URL(t.url).hostname }, user: { id: 'eA' } }, t.url);
      return stranger.assert(pageOptions(p.text), t.url);
    })()]);
    device.userVerified = false;
    refusals.push(['no user verification', device.assert(pageOptions(p.text), t.url)]);
    device.userVerified = true;
    for (const [what, credential] of refusals) {
      const answer = await attacker.follow(await attacker.submit(p, '/passkey', { credential: JSON.stringify(credential) }));
      assert.match(answer.res.text, /This passkey is not registered with MIMS|passkey request has expired/, what);
      assert.doesNotMatch(answer.res.text, /Sign out/i, `${what}: not signed in`);
      p = answer.res; // a new challenge for the next try
    }
    const failures = await t.idp.audit.recent(50, (e) => e.type === 'mfa.failure');
    assert.ok(failures.length >= 3, 'refusals are audited');
  });

  it('the passkey as the second factor after the password: amr swk', async () => {
    const b = new Browser(t.url);
    const second = await b.signIn(await signInPage(b), DEMO.staff.loginId, DEMO.staff.password);
    assert.match(second.res.text, /Two-Step Sign-in/);
    const done = await b.follow(await b.submit(second.res, '/mfa/passkey', { credential: JSON.stringify(device.assert(pageOptions(second.res.text), t.url)) }));
    assert.match(done.res.text, /Sign out/i);
    const daniel = (await t.idp.directory.findByLoginId(DEMO.staff.loginId))!;
    const sessions = (await Promise.all((await t.store.setMembers(`{acct:${daniel.id}}:sso`)).map((id) => t.idp.sso.get(id)))).filter((s) => s !== null);
    assert.ok(sessions.some((s) => JSON.stringify(s.amr) === JSON.stringify(['pwd', 'swk', 'mfa'])), JSON.stringify(sessions.map((s) => s.amr)));
  });
});
