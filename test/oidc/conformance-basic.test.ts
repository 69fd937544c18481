// The OpenID conformance suite's basic OP profile (oidcc-basic), reproduced by hand with
// openid-client: each test names the module it stands for. The modules about fresh
// sign-in and prompt=none (oidcc-prompt-login, oidcc-max-age-*, oidcc-prompt-none-*,
// oidcc-id-token-hint) are in reauthentication.test.ts; oidcc-refresh-token's session
// binding in refresh-tokens.test.ts; discovery's values in discovery.test.ts.
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import request from 'supertest';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, client, discover, OTHER, redeem, signInThrough, WEB } from '../support/rp.ts';

const POST_CLIENT = { id: 'conformance-post', secret: 'conformance-post-secret-0123456789abcdef01', redirect: 'http://127.0.0.1:9/post-cb' };

describe('OpenID conformance, basic OP profile (oidcc-basic), by hand', () => {
  let t: TestIdp;
  let config: oidc.Configuration;
  before(async () => {
    t = await startTestIdp({
      clients: [client({ client_id: POST_CLIENT.id, client_secret: POST_CLIENT.secret, token_endpoint_auth_method: 'client_secret_post', redirect_uris: [POST_CLIENT.redirect] })],
    });
    config = await discover(t, WEB.id, WEB.secret);
  });
  after(async () => {
    await t.close();
  });

  /** A fresh browser (no cookies) through the sign-in page to the application's tokens. */
  async function freshSignIn(params: Record<string, string>, cfg = config, redirect = WEB.redirect) {
    const req = await authRequest(cfg, redirect, params);
    return redeem(cfg, req, await signInThrough(new Browser(t.url), req, DEMO.student));
  }

  it('oidcc-server: discovery, code flow, ID token, token response headers, userinfo', async () => {
    const disc = (await request(t.url).get('/.well-known/openid-configuration').expect(200)).body;
    for (const field of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported']) {
      assert.ok(disc[field], field);
    }
    assert.ok(disc.scopes_supported.includes('openid'));
    assert.ok(disc.id_token_signing_alg_values_supported.includes('RS256'));

    const browser = new Browser(t.url);
    const req = await authRequest(config, WEB.redirect);
    const callback = await signInThrough(browser, req, DEMO.student);
    assert.equal(new URL(callback!).searchParams.get('iss'), t.url, 'RFC 9207 iss in the authorization response');
    const raw = await request(t.url).post('/oidc/token').auth(WEB.id, WEB.secret).type('form').send({ grant_type: 'authorization_code', code: new URL(callback!).searchParams.get('code'), redirect_uri: WEB.redirect, code_verifier: req.verifier });
    assert.equal(raw.status, 200);
    assert.match(String(raw.headers['cache-control']), /no-store/);
    assert.equal(raw.body.token_type, 'Bearer');
    const claims = JSON.parse(Buffer.from(raw.body.id_token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.iss, t.url);
    assert.equal(claims.aud, WEB.id);
    assert.equal(claims.nonce, req.nonce);
    assert.ok(typeof claims.iat === 'number' && typeof claims.exp === 'number' && (claims.exp as number) > (claims.iat as number));
    const info = await oidc.fetchUserInfo(config, raw.body.access_token, claims.sub as string);
    assert.equal(info.sub, claims.sub);
  });

  it('oidcc-server-client-secret-post: the happy flow with client_secret_post', async () => {
    const post = await discover(t, POST_CLIENT.id, POST_CLIENT.secret, oidc.ClientSecretPost(POST_CLIENT.secret));
    const tokens = await freshSignIn({}, post, POST_CLIENT.redirect);
    assert.equal(tokens.claims()!.aud, POST_CLIENT.id);
  });

  it('oidcc-alternate-happy-flow: scope order and parameter order do not matter', async () => {
    const req = await authRequest(config, WEB.redirect, { scope: 'profile email openid' });
    const reordered = new URL(req.url.origin + req.url.pathname);
    for (const [k, v] of [...req.url.searchParams].reverse()) reordered.searchParams.append(k, v);
    req.url = reordered;
    const tokens = await redeem(config, req, await signInThrough(new Browser(t.url), req, DEMO.student));
    assert.deepEqual(tokens.scope?.split(' ').sort(), ['email', 'openid', 'profile']);
  });

  it('oidcc-codereuse, oidcc-codereuse-30seconds: a code used twice is invalid_grant and revokes what it gave', async () => {
    const browser = new Browser(t.url);
    const req = await authRequest(config, WEB.redirect);
    const callback = await signInThrough(browser, req, DEMO.student);
    const tokens = await redeem(config, req, callback);
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, true);
    await assert.rejects(redeem(config, req, callback), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    // The consumed code is remembered for its whole lifetime (60 s), so the 30-second replay is the same case.
    assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false, 'the first access token is revoked');
    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!));
  });

  for (const [module, params] of [
    ['oidcc-claims-essential', { claims: JSON.stringify({ userinfo: { name: { essential: true } } }) }],
    ['oidcc-claims-locales', { claims_locales: 'se' }],
    ['oidcc-ui-locales', { ui_locales: 'se' }],
    ['oidcc-display-page', { display: 'page' }],
    ['oidcc-display-popup', { display: 'popup' }],
    ['oidcc-login-hint', { login_hint: 'buffy@127.0.0.1' }],
    ['oidcc-ensure-request-with-unknown-parameter-succeeds', { extra: 'foobar' }],
    ['oidcc-ensure-request-with-acr-values-succeeds', { acr_values: '1 2' }],
    ['oidcc-ensure-request-with-valid-pkce-succeeds', {}],
  ] as const) {
    it(`${module}: ${Object.keys(params).join(', ') || 'PKCE S256'} does not cause an error`, async () => {
      const tokens = await freshSignIn(params);
      assert.ok(tokens.claims()!.sub);
    });
  }

  it('oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async () => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: WEB.redirect, scope: 'openid', state: 'no-nonce', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const browser = new Browser(t.url);
    const signIn = await browser.open(url.toString());
    const done = await browser.signIn(signIn.res, DEMO.student.loginId, DEMO.student.password);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.external!), { pkceCodeVerifier: verifier, expectedState: 'no-nonce' });
    assert.equal(tokens.claims()!.nonce, undefined);
  });

  it('oidcc-ensure-post-request-succeeds: the authorization request as a form POST', async () => {
    const browser = new Browser(t.url);
    const req = await authRequest(config, WEB.redirect);
    const page = await browser.follow(await browser.post('/oidc/auth', Object.fromEntries(req.url.searchParams)));
    const done = await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
    assert.ok((await redeem(config, req, done.external)).id_token);
  });

  it('oidcc-ensure-registered-redirect-uri: an unregistered redirect_uri gets an error page, no redirect', async () => {
    const req = await authRequest(config, 'https://attacker.example/cb');
    const res = await new Browser(t.url).get(req.url.toString());
    assert.equal(res.status, 400);
    assert.equal(res.headers.location, undefined);
    assert.match(res.text, /redirect_uri did not match any of the client(&#39;|')s registered redirect_uris/);
    assert.doesNotMatch(res.text, /\n\s+at /);
  });

  it('oidcc-response-type-missing: invalid_request back to the application', async () => {
    const req = await authRequest(config, WEB.redirect);
    req.url.searchParams.delete('response_type');
    const { external } = await new Browser(t.url).open(req.url.toString());
    const params = new URL(external!).searchParams;
    assert.equal(params.get('error'), 'invalid_request');
    assert.match(params.get('error_description') ?? '', /response_type/);
    assert.equal(params.get('state'), req.state);
  });

  it('oidcc-scope-email, oidcc-scope-profile: the claims come from userinfo', async () => {
    const tokens = await freshSignIn({ scope: 'openid email profile' });
    const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    assert.equal(info.email, DEMO.student.loginId);
    assert.equal(info.email_verified, true);
    assert.equal(info.name, 'Allen Tan');
    assert.equal(info.given_name, 'Allen');
    assert.equal(info.family_name, 'Tan');
  });

  for (const [module, scope] of [
    ['oidcc-scope-address', 'openid address'],
    ['oidcc-scope-phone', 'openid phone'],
    ['oidcc-scope-all', 'openid address email phone profile'],
  ] as const) {
    it(`${module}: ${scope} succeeds; scopes this provider does not offer are left out`, async () => {
      const tokens = await freshSignIn({ scope });
      const granted = tokens.scope?.split(' ') ?? [];
      assert.ok(!granted.includes('address') && !granted.includes('phone'));
      const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
      assert.equal(info.address, undefined);
      assert.equal(info.phone_number, undefined);
    });
  }

  it('oidcc-userinfo-get, oidcc-userinfo-post-header, oidcc-userinfo-post-body', async () => {
    const tokens = await freshSignIn({ scope: 'openid email' });
    const sub = tokens.claims()!.sub;
    const get = await request(t.url).get('/oidc/me').set('Authorization', `Bearer ${tokens.access_token}`);
    const header = await request(t.url).post('/oidc/me').set('Authorization', `Bearer ${tokens.access_token}`);
    const body = await request(t.url).post('/oidc/me').type('form').send({ access_token: tokens.access_token });
    for (const [name, res] of [['get', get], ['post-header', header], ['post-body', body]] as const) {
      assert.equal(res.status, 200, name);
      assert.match(String(res.headers['content-type']), /application\/json/, name);
      assert.equal(res.body.sub, sub, name);
      assert.equal(res.body.email, DEMO.student.loginId, name);
    }
  });

  it('oidcc-idtoken-signature: RS256 by default, verifiable with the published JWKS', async () => {
    const tokens = await freshSignIn({});
    assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'RS256');
    const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${t.url}/oidc/jwks`)), { issuer: t.url, audience: WEB.id });
    assert.equal(payload.sub, tokens.claims()!.sub);
  });

  it('oidcc-idtoken-unsigned: unsigned ID tokens are neither offered nor accepted in a client file', async () => {
    const disc = (await request(t.url).get('/.well-known/openid-configuration')).body;
    assert.ok(!disc.id_token_signing_alg_values_supported.includes('none'));
    assert.throws(() => client({ client_id: 'unsigned', client_secret: 'u'.repeat(40), redirect_uris: ['https://a.example/cb'], id_token_signed_response_alg: 'none' }), /id_token_signed_response_alg/);
  });

  it('oidcc-refresh-token: refreshes for its client only', async () => {
    const tokens = await freshSignIn({ scope: 'openid email' });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.equal(refreshed.scope, 'openid email');
    assert.equal(refreshed.claims()!.sub, tokens.claims()!.sub);
    const other = await discover(t, OTHER.id, OTHER.secret);
    await assert.rejects(oidc.refreshTokenGrant(other, refreshed.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
  });

  it('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported, oidcc-ensure-request-object-with-redirect-uri, oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported: request objects are rejected as unsupported', async () => {
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ client_id: WEB.id, redirect_uri: WEB.redirect, response_type: 'code', scope: 'openid' })).toString('base64url')}.`;
    for (const [param, value, error] of [['request', unsigned, 'request_not_supported'], ['request_uri', 'https://rp.example/request.jwt', 'request_uri_not_supported']] as const) {
      const req = await authRequest(config, WEB.redirect, { [param]: value });
      const { external } = await new Browser(t.url).open(req.url.toString());
      assert.equal(new URL(external!).searchParams.get('error'), error, param);
    }
    const disc = (await request(t.url).get('/.well-known/openid-configuration')).body;
    assert.notEqual(disc.request_parameter_supported, true);
    assert.equal(disc.request_uri_parameter_supported, false);
  });
});
