// A relying party's view: authorization code + PKCE driven by openid-client, exactly as
// an app would, with the browser part played by a cookie-keeping HTTP client.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };
const OTHER = { id: 'other-web', secret: 'other-web-secret-0123456789abcdef012345678' };
const SERVICE = { id: 'test-service', secret: 'test-service-secret-0123456789abcdef012345' };

async function discover(t: TestIdp, id: string, secret?: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(t.url), id, secret, secret ? oidc.ClientSecretBasic(secret) : oidc.None(), { execute: [oidc.allowInsecureRequests] });
}

async function authorize(t: TestIdp, browser: Browser, config: oidc.Configuration, redirect: string, signIn = true) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirect,
    scope: 'openid email profile school roles',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  let step = await browser.open(url.toString());
  if (signIn) {
    assert.match(step.res.text, /Username[\s\S]*Password[\s\S]*Sign in/);
    step = await browser.signIn(step.res, DEMO.student.loginId, DEMO.student.password);
  }
  assert.ok(step.external?.startsWith(redirect), `expected a redirect to the RP, got ${step.res.status} ${step.external ?? step.res.text.slice(0, 500)}`);
  return oidc.authorizationCodeGrant(config, new URL(step.external!), { pkceCodeVerifier: verifier, expectedState: state });
}

describe('OIDC: authorization code + PKCE with openid-client', () => {
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp();
  });
  after(async () => {
    await t.close();
  });

  it('publishes discovery and a public-only JWKS', async () => {
    const browser = new Browser(t.url);
    const disc = await browser.get('/.well-known/openid-configuration');
    assert.equal(disc.status, 200);
    assert.equal(disc.body.issuer, t.url);
    assert.equal(disc.body.authorization_endpoint, `${t.url}/oidc/auth`);
    for (const scope of ['openid', 'email', 'profile', 'school', 'roles']) assert.ok(disc.body.scopes_supported.includes(scope), scope);
    const jwks = await browser.get('/oidc/jwks');
    assert.equal(jwks.status, 200);
    assert.ok(jwks.body.keys.length >= 2);
    for (const k of jwks.body.keys) {
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[priv], undefined, `private ${priv} leaked`);
    }
  });

  it('signs in, issues tokens with sub = account id, refreshes with rotation, userinfo, introspection, revocation, logout', async () => {
    const config = await discover(t, WEB.id, WEB.secret);
    const browser = new Browser(t.url);
    const tokens = await authorize(t, browser, config, WEB.redirect);
    const account = await t.idp.directory.findByLoginId(DEMO.student.loginId);
    const claims = tokens.claims()!;
    assert.equal(claims.sub, account!.id);
    assert.notEqual(claims.sub, DEMO.student.loginId);
    assert.equal(claims.iss, t.url);
    assert.ok(tokens.refresh_token, 'a refresh token is issued');

    const info = await oidc.fetchUserInfo(config, tokens.access_token, account!.id);
    assert.equal(info.email, 'allen_tan@students.edu.sg');
    assert.equal(info.email_verified, true);
    assert.equal(info.given_name, 'Allen');
    assert.equal(info.family_name, 'Tan');
    assert.deepEqual(info.school, { code: 'DEMO01', name: 'Rivervale Demo School' });
    assert.equal(info.level, 'P2');
    assert.deepEqual(info.roles, ['student']);

    // Refresh rotates: the old refresh token stops working.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token);
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');

    // Replaying a rotated refresh token is treated as theft: the whole grant is revoked.
    assert.equal((await oidc.tokenIntrospection(config, refreshed.access_token)).active, false);
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token!));

    // A new authorization rides on the SSO session: no password asked.
    const again = await authorize(t, browser, config, WEB.redirect, false);
    const rotated = await oidc.refreshTokenGrant(config, again.refresh_token!);

    // Introspection: own token active; another client learns nothing.
    const own = await oidc.tokenIntrospection(config, rotated.access_token);
    assert.equal(own.active, true);
    assert.equal(own.sub, account!.id);
    const other = await discover(t, OTHER.id, OTHER.secret);
    const foreign = await oidc.tokenIntrospection(other, rotated.access_token);
    assert.equal(foreign.active, false);
    assert.equal(foreign.sub, undefined);

    // Revocation.
    await oidc.tokenRevocation(config, rotated.access_token);
    assert.equal((await oidc.tokenIntrospection(config, rotated.access_token)).active, false);

    // A second client is signed in through the same SSO session, no password.
    const second = await authorize(t, browser, other, 'http://127.0.0.1:9/other-callback', false);
    assert.equal(second.claims()!.sub, account!.id);

    // RP-initiated logout ends the SSO session: the portal asks for a password again.
    const end = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:9/signed-out' });
    const confirm = await browser.open(end.toString());
    assert.equal(confirm.res.status, 200);
    assert.match(confirm.res.text, /data-autosubmit="now"/, 'the client asked with a verified id_token_hint: no question');
    // Our confirmation ends the SSO session, then hands over to oidc-provider's own.
    const handOff = await browser.follow(await browser.submit(confirm.res, '/logout/confirm', {}));
    const done = await browser.follow(await browser.submit(handOff.res, '/oidc/session/end/confirm', {}));
    assert.equal(done.external, 'http://127.0.0.1:9/signed-out');
    const portal = await browser.open('/portal');
    assert.match(portal.res.text, /Sign in/);
    // The logout event is written as oidc-provider finishes the response: wait for it.
    let events = await t.idp.audit.recent(50, (e) => e.accountId === account!.id);
    for (let i = 0; i < 40 && !events.some((e) => e.type === 'logout'); i++) {
      await new Promise((r) => setTimeout(r, 25));
      events = await t.idp.audit.recent(50, (e) => e.accountId === account!.id);
    }
    assert.ok(events.some((e) => e.type === 'logout'));
    assert.ok(events.some((e) => e.type === 'signin.success'));
  });

  it('requires PKCE from a public client', async () => {
    const config = await discover(t, 'test-spa');
    const browser = new Browser(t.url);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: 'http://127.0.0.1:9/spa-callback', scope: 'openid', state: 's' });
    const res = await browser.get(url.toString());
    assert.equal(res.status, 303);
    const location = new URL(res.headers.location!);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get("error_description") ?? "", /PKCE/);
    // With PKCE it works.
    await authorize(t, browser, config, 'http://127.0.0.1:9/spa-callback');
  });

  it('issues client-credentials tokens to a service client', async () => {
    const config = await discover(t, SERVICE.id, SERVICE.secret);
    const tokens = await oidc.clientCredentialsGrant(config);
    assert.ok(tokens.access_token);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    await assert.rejects(discover(t, SERVICE.id, 'wrong-secret-wrong-secret-wrong-secret-00').then((c) => oidc.clientCredentialsGrant(c)));
  });

  it('stores every OIDC artefact with a TTL', async () => {
    const { RedisStore } = await import('../../src/store/index.ts');
    const { Redis } = await import('ioredis');
    assert.ok(t.store instanceof RedisStore);
    // Every master (a Cluster spreads the keys), on connections of their own without the
    // key prefix, so that names are read and used exactly as stored.
    const masters = 'nodes' in t.store.client ? t.store.client.nodes('master') : [t.store.client];
    const found: string[] = [];
    for (const m of masters) {
      const raw = new Redis({ host: m.options.host, port: m.options.port });
      try {
        for (const k of await raw.call('KEYS', `${t.store.prefix}oidc:*`) as string[]) {
          found.push(k);
          const ttl = await raw.pttl(k);
          assert.ok(ttl > 0, `${k} has no TTL (${ttl})`);
        }
      } finally {
        raw.disconnect();
      }
    }
    assert.ok(found.length > 0);
  });
});
