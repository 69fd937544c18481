// Discovery advertises exactly what works: every value it lists is accepted by a real
// request (looped over the document itself), and what it does not list is refused. The
// ID token algorithms are one list for discovery, the provider and relying-party files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import request from 'supertest';
import { ID_TOKEN_SIGNING_ALGS, oidcClientSchema } from '../../src/config/relying-parties.ts';
import { projectRoot } from '../../src/config/settings.ts';
import { Browser, formOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, client, discover, redeem, SERVICE, signInThrough, WEB } from '../support/rp.ts';

const POST_CLIENT = { id: 'post-client', secret: 'post-client-secret-0123456789abcdef012345', redirect: 'http://127.0.0.1:9/post-callback' };
const SPA = { id: 'test-spa', redirect: 'http://127.0.0.1:9/spa-callback' };
const algClient = (alg: string) => ({ id: `alg-${alg.toLowerCase()}`, secret: `alg-${alg}-secret-0123456789abcdef0123456789`, redirect: `http://127.0.0.1:9/${alg}` });

describe('OIDC discovery: exactly what works', () => {
  let t: TestIdp;
  let disc: Record<string, unknown>;
  let browser: Browser;
  before(async () => {
    t = await startTestIdp({
      clients: [
        client({ client_id: POST_CLIENT.id, client_secret: POST_CLIENT.secret, token_endpoint_auth_method: 'client_secret_post', redirect_uris: [POST_CLIENT.redirect], grant_types: ['authorization_code'] }),
        ...ID_TOKEN_SIGNING_ALGS.map((alg) => client({ client_id: algClient(alg).id, client_secret: algClient(alg).secret, redirect_uris: [algClient(alg).redirect], id_token_signed_response_alg: alg })),
      ],
    });
    disc = (await request(t.url).get('/.well-known/openid-configuration').expect(200)).body;
    browser = new Browser(t.url);
    const req = await authRequest(await discover(t, WEB.id, WEB.secret), WEB.redirect);
    await signInThrough(browser, req, DEMO.student);
  });
  after(async () => {
    await t.close();
  });

  const list = (name: string) => disc[name] as string[];

  /** An authorization request of test-web with the signed-in browser; where it leads. */
  async function authorize(params: Record<string, string>) {
    const config = await discover(t, WEB.id, WEB.secret);
    const req = await authRequest(config, WEB.redirect, params);
    return { config, req, ...(await browser.open(req.url.toString())) };
  }

  it('response_types_supported is ["code"] and it works; implicit, hybrid and none are refused', async () => {
    assert.deepEqual(list('response_types_supported'), ['code']);
    for (const responseType of list('response_types_supported')) {
      const { config, req, external } = await authorize({ response_type: responseType });
      assert.ok((await redeem(config, req, external)).access_token);
    }
    for (const responseType of ['id_token', 'token', 'id_token token', 'code id_token', 'code token', 'code id_token token', 'none']) {
      const { external, res } = await authorize({ response_type: responseType });
      const answer = external ? new URL(external.replace('#', '?')).searchParams : null;
      assert.equal(answer?.get('code') ?? null, null, responseType);
      assert.equal(answer?.get('error') ?? null, 'unsupported_response_type', `${responseType}: ${external ?? res.status}`);
    }
    assert.deepEqual(list('grant_types_supported'), ['authorization_code', 'refresh_token', 'client_credentials']);
  });

  it('response_modes_supported: each brings the code back that way', async () => {
    assert.deepEqual([...list('response_modes_supported')].sort(), ['form_post', 'fragment', 'query']);
    for (const mode of list('response_modes_supported')) {
      const { config, req, external, res } = await authorize({ response_mode: mode });
      let callback: URL;
      if (mode === 'form_post') {
        const form = formOf(res.text, WEB.redirect);
        callback = new URL(WEB.redirect);
        for (const [k, v] of Object.entries(form.hidden)) callback.searchParams.set(k, v);
      } else {
        callback = new URL(external!);
        if (mode === 'fragment') {
          assert.equal(callback.search, '');
          callback = new URL(`${WEB.redirect}?${callback.hash.slice(1)}`);
        }
      }
      assert.ok((await redeem(config, req, callback.toString())).access_token, mode);
    }
  });

  it('token_endpoint_auth_methods_supported: each is accepted; JWT client authentication is not offered and refused', async () => {
    assert.deepEqual(list('token_endpoint_auth_methods_supported'), ['client_secret_basic', 'client_secret_post', 'none']);
    for (const name of ['token_endpoint_auth_signing_alg_values_supported', 'dpop_signing_alg_values_supported', 'request_object_signing_alg_values_supported']) {
      assert.equal(disc[name], undefined, name);
    }
    const clients = {
      client_secret_basic: { ...WEB, auth: oidc.ClientSecretBasic(WEB.secret) },
      client_secret_post: { ...POST_CLIENT, auth: oidc.ClientSecretPost(POST_CLIENT.secret) },
      none: { ...SPA, secret: undefined, auth: oidc.None() },
    } as const;
    for (const method of list('token_endpoint_auth_methods_supported')) {
      const c = clients[method as keyof typeof clients];
      const config = await discover(t, c.id, c.secret, c.auth);
      const req = await authRequest(config, c.redirect);
      const tokens = await redeem(config, req, (await browser.open(req.url.toString())).external);
      assert.ok(tokens.id_token, method);
    }
    // A client with a secret may send it either way (oidc-provider takes basic and post
    // alike), never leave it out.
    const secretless = await discover(t, WEB.id, undefined, oidc.None());
    const req = await authRequest(secretless, WEB.redirect);
    await assert.rejects(redeem(secretless, req, (await browser.open(req.url.toString())).external), (err: oidc.ResponseBodyError) => err.error === 'invalid_client');
    const jwt = await discover(t, SERVICE.id, SERVICE.secret, oidc.ClientSecretJwt(SERVICE.secret));
    await assert.rejects(oidc.clientCredentialsGrant(jwt), (err: oidc.ResponseBodyError) => err.error === 'invalid_client');
    for (const method of ['client_secret_jwt', 'private_key_jwt', 'tls_client_auth']) {
      assert.equal(oidcClientSchema.safeParse({ protocol: 'oidc', display_name: 'x', client_id: 'jwt-client', client_secret: 'x'.repeat(32), redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: method }).success, false, method);
    }
  });

  it('grant_types_supported: each works for a client registered for it; others are unsupported_grant_type', async () => {
    const { config, req, external } = await authorize({});
    const tokens = await redeem(config, req, external);
    assert.ok((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).access_token, 'refresh_token');
    assert.ok((await oidc.clientCredentialsGrant(await discover(t, SERVICE.id, SERVICE.secret))).access_token, 'client_credentials');
    for (const grantType of ['implicit', 'password', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:openid:params:grant-type:ciba']) {
      const res = await request(t.url).post('/oidc/token').auth(WEB.id, WEB.secret).type('form').send({ grant_type: grantType });
      assert.equal(res.status, 400, grantType);
      assert.equal(res.body.error, 'unsupported_grant_type', grantType);
    }
  });

  it('id_token_signing_alg_values_supported is what relying-party files accept, and each signs ID tokens', async () => {
    assert.deepEqual(list('id_token_signing_alg_values_supported'), [...ID_TOKEN_SIGNING_ALGS]);
    for (const alg of list('id_token_signing_alg_values_supported')) {
      const c = algClient(alg);
      const config = await discover(t, c.id, c.secret);
      const req = await authRequest(config, c.redirect);
      const tokens = await redeem(config, req, (await browser.open(req.url.toString())).external);
      assert.equal(decodeProtectedHeader(tokens.id_token!).alg, alg);
    }
  });

  it('validate-rp refuses an algorithm the provider does not support, naming the file and the field', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-rp-alg-'));
    for (const alg of ['PS256', 'HS256', 'none']) {
      const file = path.join(dir, `${alg}.json`);
      writeFileSync(file, JSON.stringify({ protocol: 'oidc', display_name: 'Alg', client_id: 'alg-app', client_secret: 'y'.repeat(40), redirect_uris: ['https://a.example/cb'], id_token_signed_response_alg: alg }));
      const run = spawnSync(process.execPath, ['src/cli/main.ts', 'validate-rp', file], { cwd: projectRoot, encoding: 'utf8' });
      assert.notEqual(run.status, 0, alg);
      assert.match(run.stdout + run.stderr, new RegExp(`${alg}\\.json[\\s\\S]*id_token_signed_response_alg`), alg);
    }
  });

  it('scopes_supported: each is granted when asked (offline_access with prompt=consent)', async () => {
    assert.deepEqual(list('scopes_supported'), ['openid', 'offline_access', 'email', 'profile', 'school', 'roles']);
    for (const scope of list('scopes_supported')) {
      const { config, req, external } = await authorize({ scope: scope === 'openid' ? 'openid' : `openid ${scope}`, ...(scope === 'offline_access' ? { prompt: 'consent' } : {}) });
      const tokens = await redeem(config, req, external);
      assert.ok(tokens.scope?.split(' ').includes(scope), `${scope}: granted ${tokens.scope}`);
    }
  });

  it('claims_supported: each is released to a client that asks for all scopes', async () => {
    const { config, req, external } = await authorize({ scope: 'openid email profile school roles', max_age: '3600' });
    const tokens = await redeem(config, req, external);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    const released = new Set([...Object.keys(tokens.claims()!), ...Object.keys(info)]);
    // sid goes to clients with back-channel logout (sls-sim); test-web has none.
    for (const claim of list('claims_supported').filter((c) => c !== 'sid')) assert.ok(released.has(claim), claim);
  });

  it('code_challenge_methods_supported is S256 only; plain is refused', async () => {
    assert.deepEqual(list('code_challenge_methods_supported'), ['S256']);
    const { external } = await authorize({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
    assert.equal(new URL(external!).searchParams.get('error'), 'invalid_request');
  });

  it('pushed authorization requests are advertised and work with openid-client', async () => {
    assert.equal(disc.pushed_authorization_request_endpoint, `${t.url}/oidc/request`);
    const config = await discover(t, WEB.id, WEB.secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: WEB.redirect, scope: 'openid email', state: 'par-state',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
    const { external } = await browser.open(url.toString());
    const tokens = await oidc.authorizationCodeGrant(config, new URL(external!), { pkceCodeVerifier: verifier, expectedState: 'par-state' });
    assert.equal(tokens.scope, 'openid email');
    // RFC 9126: a request_uri is used once; the same URL again gets no code.
    const again = await browser.open(url.toString());
    assert.ok(!again.external || !new URL(again.external).searchParams.has('code'), `the request_uri was used again: ${again.external ?? again.res.status}`);
    if (again.external) assert.equal(new URL(again.external).searchParams.get('error'), 'invalid_request_uri');
    else assert.equal(again.res.status, 400);
  });
});
