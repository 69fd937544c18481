// What the README says about refresh tokens, as a relying party sees it: a client with the
// refresh_token grant gets one with every code, bound to the sign-in session (it stops at
// logout), as Keycloak's are; offline_access (a refresh token that outlives logout) is
// granted only with prompt=consent (OIDC Core 11, oidc-provider's default).
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, discover, redeem, signInThrough, WEB } from '../support/rp.ts';

describe('OIDC: refresh tokens and offline_access', () => {
  let t: TestIdp;
  let config: oidc.Configuration;
  before(async () => {
    t = await startTestIdp();
    config = await discover(t, WEB.id, WEB.secret);
  });
  after(async () => {
    await t.close();
  });

  /** Signs in with `params`, then signs out at the portal (single logout); resolves to the tokens. */
  async function tokensThenLogout(params: Record<string, string>) {
    const browser = new Browser(t.url);
    const req = await authRequest(config, WEB.redirect, params);
    const tokens = await redeem(config, req, await signInThrough(browser, req, DEMO.student));
    const portal = await browser.open('/portal');
    let step = await browser.follow(await browser.submit(portal.res, '/portal/sign-out', {}));
    if (step.res.text.includes('/oidc/session/end/confirm')) step = await browser.follow(await browser.submit(step.res, '/oidc/session/end/confirm', {}));
    assert.match((await browser.open('/portal')).res.text, /name="password"/, 'signed out');
    return tokens;
  }

  it('without prompt=consent: offline_access is not granted, the refresh token works until logout', async () => {
    const browser = new Browser(t.url);
    const req = await authRequest(config, WEB.redirect, { scope: 'openid offline_access' });
    const tokens = await redeem(config, req, await signInThrough(browser, req, DEMO.student));
    assert.equal(tokens.scope, 'openid');
    assert.ok(tokens.refresh_token);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);

    const signedOut = await tokensThenLogout({ scope: 'openid offline_access' });
    await assert.rejects(oidc.refreshTokenGrant(config, signedOut.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    assert.ok(refreshed.refresh_token, 'a session that did not end keeps its refresh token');
    assert.ok((await oidc.refreshTokenGrant(config, refreshed.refresh_token!)).access_token);
  });

  it('with prompt=consent: offline_access is granted and the refresh token outlives logout', async () => {
    const tokens = await tokensThenLogout({ scope: 'openid offline_access', prompt: 'consent' });
    assert.deepEqual(tokens.scope?.split(' ').sort(), ['offline_access', 'openid']);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.ok(refreshed.access_token);
    assert.equal((await oidc.tokenIntrospection(config, refreshed.access_token)).active, true);
  });
});
