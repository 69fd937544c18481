// The SSO session ends after inactivity and at its maximum age, for the portal and for
// OIDC clients alike (oidc-provider's own session cannot keep a user signed in).
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };

async function authorize(t: TestIdp, browser: Browser) {
  const config = await oidc.discovery(new URL(t.url), WEB.id, WEB.secret, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests] });
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: WEB.redirect, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
  return browser.open(url.toString());
}

describe('SSO session timeouts', () => {
  it('ends after the idle timeout; activity keeps it alive', async () => {
    // Time is moved, not slept: the idle end is checked against the IdP's clock on every read.
    let offset = 0;
    const t = await startTestIdp({ clock: () => Date.now() + offset, overrides: { sso: { idleMinutes: 30, absoluteHours: 8 } } });
    try {
      const browser = new Browser(t.url);
      const first = await authorize(t, browser);
      assert.ok((await browser.signIn(first.res, DEMO.student.loginId, DEMO.student.password)).external);
      for (let i = 0; i < 3; i++) {
        offset += 20 * 60_000;
        assert.ok((await authorize(t, browser)).external, 'still signed in while active');
      }
      offset += 31 * 60_000;
      const idle = await authorize(t, browser);
      assert.equal(idle.external, undefined, 'no code after the idle timeout');
      assert.match(idle.res.text, /Sign in/);
      assert.match((await browser.open('/portal')).res.text, /Sign in/);
    } finally {
      await t.close();
    }
  });

  it('ends at its maximum age even when active', async () => {
    let offset = 0;
    const t = await startTestIdp({ clock: () => Date.now() + offset, overrides: { sso: { idleMinutes: 30, absoluteHours: 8 } } });
    try {
      const browser = new Browser(t.url);
      await browser.signIn((await browser.open('/portal')).res, DEMO.student.loginId, DEMO.student.password);
      // Active all along (the idle end is checked against the clock too): a visit every 20 minutes.
      while (offset < 7.9 * 3_600_000) {
        offset = Math.min(offset + 20 * 60_000, 7.9 * 3_600_000);
        assert.match((await browser.open('/portal')).res.text, /Allen Tan/);
      }
      offset = 8.1 * 3_600_000;
      const late = await authorize(t, browser);
      assert.equal(late.external, undefined);
      assert.match((await browser.open('/portal')).res.text, /Sign in/);
    } finally {
      await t.close();
    }
  });
});
