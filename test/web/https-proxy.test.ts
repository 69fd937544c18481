// An https public URL behind a proxy that does not say the request came over https (no
// X-Forwarded-Proto, or server.trustProxy off): a clear 421 as a page or JSON, never a
// 500 or a stack trace; health checks still answer over plain http.
import assert from 'node:assert/strict';
import request from 'supertest';
import { startTestIdp, type TestIdp } from '../support/idp.ts';

const PUBLIC = 'https://idp.example.edu';
const AUTH = '/oidc/auth?client_id=test-web&response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256';
const PATHS = ['/.well-known/openid-configuration', AUTH, '/oidc/session/end', '/oidc/jwks', '/portal', '/flow/start', '/saml/metadata'];

async function behindProxy(trustProxy: boolean): Promise<{ t: TestIdp; direct: string }> {
  const t = await startTestIdp({ overrides: { server: { publicUrl: PUBLIC, trustProxy } } });
  return { t, direct: `http://127.0.0.1:${(t.server.address() as { port: number }).port}` };
}

describe('https public URL behind a proxy', () => {
  it('without X-Forwarded-Proto: 421 with a clear page or JSON, no stack trace; health checks answer', async () => {
    const { t, direct } = await behindProxy(true);
    try {
      for (const path of PATHS) {
        const page = await request(direct).get(path).set('Host', 'idp.example.edu').redirects(0);
        assert.equal(page.status, 421, path);
        assert.match(String(page.headers['content-type']), /text\/html/);
        assert.match(page.text, /SSPR 5105/);
        assert.match(page.text, /secure \(https\) connection/);
        assert.doesNotMatch(page.text, /\n\s+at /);
        const json = await request(direct).get(path).set('Accept', 'application/json').redirects(0);
        assert.equal(json.status, 421, path);
        assert.equal(json.body.error, 'SSPR 5105');
      }
      const token = await request(direct).post('/oidc/token').auth('test-service', 'test-service-secret-0123456789abcdef012345').type('form').send({ grant_type: 'client_credentials' });
      assert.equal(token.status, 421);
      assert.equal((await request(direct).get('/healthz')).status, 200);
      assert.equal((await request(direct).get('/metrics')).status, 200);
      assert.ok(!t.logs.some((l) => /secure cookie|persist can only be called/.test(l)), 'no failure deep inside');
      assert.ok(t.logs.some((l) => l.includes('X-Forwarded-Proto')), 'the log line says what to fix');
    } finally {
      await t.close();
    }
  });

  it('with X-Forwarded-Proto: https it works, with https endpoints', async () => {
    const { t, direct } = await behindProxy(true);
    try {
      const disc = await request(direct).get('/.well-known/openid-configuration').set('Host', 'idp.example.edu').set('X-Forwarded-Proto', 'https');
      assert.equal(disc.status, 200);
      assert.equal(disc.body.authorization_endpoint, `${PUBLIC}/oidc/auth`);
      const auth = await request(direct).get(AUTH).set('Host', 'idp.example.edu').set('X-Forwarded-Proto', 'https').redirects(0);
      assert.equal(auth.status, 303);
      assert.match(auth.headers.location!, /^\/interaction\//);
      assert.ok((auth.headers['set-cookie'] as unknown as string[]).every((c) => /; secure/i.test(c)));
      // Behind https, every answer says to stay on https (HSTS), the OIDC JSON as well as pages.
      for (const res of [disc, auth]) assert.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    } finally {
      await t.close();
    }
  });

  it('with server.trustProxy off, X-Forwarded-Proto is not believed', async () => {
    const { t, direct } = await behindProxy(false);
    try {
      const res = await request(direct).get(AUTH).set('X-Forwarded-Proto', 'https').redirects(0);
      assert.equal(res.status, 421);
    } finally {
      await t.close();
    }
  });
});
