// Scale-out: two IdP processes on one Redis, sharing nothing but Redis and keys/, behind a
// round-robin proxy without sticky sessions. A relying party signs a student in (OIDC code
// + PKCE with openid-client) and a SAML SP gets its response, while consecutive requests
// land on alternate processes: flows, interactions, SSO sessions and tokens live in Redis.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.ts';
import { newSchema } from '../support/database.ts';
import { DEMO, FIXTURE_RPS } from '../support/idp.ts';
import { startIdpProcess, roundRobin, type IdpProcess, type RoundRobin } from '../support/process.ts';
import { freePort, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { autoForm } from '../support/saml.ts';
import { authnRequestXml, base64 } from '../support/saml-messages.ts';

const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };

describe('two IdP processes on one Redis (no sticky sessions)', function () {
  this.timeout(60_000);
  let a: IdpProcess;
  let b: IdpProcess;
  let lb: RoundRobin;

  before(async () => {
    const lbPort = await freePort();
    const env = {
      REDIS_URL: await testRedisUrl(),
      REDIS_KEY_PREFIX: uniquePrefix(),
      ...(await newSchema()).env,
      IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')),
      IDP_PUBLIC_URL: `http://127.0.0.1:${lbPort}`,
      IDP_RP_DIR: FIXTURE_RPS,
      LOG_LEVEL: 'warn',
    };
    // The first seeds the demo accounts; the second only serves.
    a = await startIdpProcess({ ...env, IDP_DEMO_SEED: 'true' });
    b = await startIdpProcess({ ...env, IDP_DEMO_SEED: 'false' });
    lb = await roundRobin([a.port, b.port], lbPort);
  });
  after(async () => {
    await lb?.close();
    await a?.kill('SIGTERM');
    await b?.kill('SIGTERM');
  });

  it('signs in and issues, refreshes and introspects tokens across both processes', async () => {
    const config = await oidc.discovery(new URL(lb.url), WEB.id, WEB.secret, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const authUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: WEB.redirect, scope: 'openid email profile offline_access', state: 'two', prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const browser = new Browser(lb.url);
    const signIn = await browser.open(authUrl.toString());
    const done = await browser.signIn(signIn.res, DEMO.student.loginId, DEMO.student.password);
    assert.ok(done.external?.startsWith(WEB.redirect), `redirected to the app: ${done.external ?? done.res.status}`);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(done.external!), { pkceCodeVerifier: verifier, expectedState: 'two' });
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    assert.equal(userinfo.email, DEMO.student.loginId);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const info = await oidc.tokenIntrospection(config, refreshed.access_token);
    assert.equal(info.active, true);
    assert.ok((lb.served.get(a.port) ?? 0) >= 3 && (lb.served.get(b.port) ?? 0) >= 3, `both processes served: ${JSON.stringify([...lb.served])}`);
  });

  it('continues a SAML sign-in on the other process and keeps the SSO session', async () => {
    const browser = new Browser(lb.url);
    const before = new Map(lb.served);
    const first = await browser.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: 'https://sp.test/fixture-sp', destination: `${lb.url}/saml/sso` })) });
    assert.equal(first.status, 303);
    const signIn = await browser.follow(first);
    const page = await browser.signIn(signIn.res, DEMO.student2.loginId, DEMO.student2.password);
    const form = autoForm(page.res.text);
    assert.equal(form.action, 'http://127.0.0.1:9/fixture-sp/acs');
    assert.match(Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8'), /bella_lim@students\.edu\.sg/);
    for (let i = 0; i < 4; i++) assert.match((await browser.open('/portal')).res.text, /Bella Lim/, `request ${i}, on either process`);
    for (const port of [a.port, b.port]) assert.ok((lb.served.get(port) ?? 0) > (before.get(port) ?? 0), `process on ${port} served part of it`);
  });
});
