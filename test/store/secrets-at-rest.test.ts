// What a thief gets from a Redis dump, a replica or an AOF backup: no usable
// authorization code, access token or refresh token (artefacts are keyed by a SHA-256 of
// their id and stored without it), and no password, answer or temporary password in
// clear. The test runs a real code flow with openid-client, then reads every key of the
// IdP's prefix, names and values, and looks for each secret.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { RedisStore } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { dumpRedis, testClusterNodes, testRedisUrl, uniquePrefix } from '../support/redis.ts';

const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };

/** Every key under the prefix with its value(s), as one text per key (and the dump does read values). */
async function dump(store: RedisStore): Promise<string[]> {
  const out = await dumpRedis(store);
  assert.ok(out.some((line) => line.includes('"payload"')), 'the dump reads values, not only names');
  return out;
}

describe('secrets at rest in Redis', () => {
  let t: TestIdp;
  let store: RedisStore;
  before(async () => {
    const clusterNodes = await testClusterNodes();
    store = clusterNodes ? new RedisStore({ clusterNodes, keyPrefix: uniquePrefix() }) : new RedisStore({ url: await testRedisUrl(), keyPrefix: uniquePrefix() });
    await store.ready();
    t = await startTestIdp({ store });
  });
  after(async () => {
    await t?.close();
  });

  it('holds no usable code, access token, refresh token or password', async () => {
    const config = await oidc.discovery(new URL(t.url), WEB.id, WEB.secret, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: WEB.redirect, scope: 'openid offline_access', prompt: 'consent', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const browser = new Browser(t.url);
    const step = await browser.signIn((await browser.open(url.toString())).res, DEMO.student.loginId, DEMO.student.password);
    const callback = new URL(step.external!);
    const code = callback.searchParams.get('code')!;
    // The code as it sits in Redis before it is used, then the tokens.
    const beforeExchange = (await dump(store)).join('\n');
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
    assert.ok(tokens.refresh_token, 'a refresh token was issued');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const after = (await dump(store)).join('\n');
    assert.ok(after.includes('oidc:AccessToken:'), 'the dump does hold the access token records');

    const secrets: Record<string, string> = {
      code, 'access token': tokens.access_token, 'refresh token': tokens.refresh_token!, 'rotated refresh token': refreshed.refresh_token!,
      'new access token': refreshed.access_token, password: DEMO.student.password,
    };
    for (const [what, value] of Object.entries(secrets)) {
      assert.equal(beforeExchange.includes(value), false, `the ${what} is not in Redis before the exchange`);
      assert.equal(after.includes(value), false, `the ${what} is not in Redis`);
    }
    // The tokens still work: they are found by their hash.
    assert.equal((await oidc.tokenIntrospection(config, refreshed.access_token)).active, true);
    assert.ok((await oidc.fetchUserInfo(config, refreshed.access_token, oidc.skipSubjectCheck)).sub);
  });
});
