// /metrics tells how many sign-ins fail, which accounts' schools are being sprayed and how
// busy the IdP is: not for the world. Without a token it answers this machine only (and
// not through a proxy on it); with IDP_METRICS_TOKEN it wants that bearer token.
import assert from 'node:assert/strict';
import { Browser } from '../support/browser.ts';
import { startTestIdp } from '../support/idp.ts';

describe('/metrics is not for the world', function () {
  this.timeout(60_000);

  it('without a token: this machine only; a request a proxy forwarded or another host sent is refused', async () => {
    const t = await startTestIdp();
    try {
      const local = await new Browser(t.url).get('/metrics');
      assert.equal(local.status, 200);
      assert.match(local.text, /idp_signin_total/);
      const proxied = await new Browser(t.url).agent.get('/metrics').set('X-Forwarded-For', '203.0.113.9');
      assert.equal(proxied.status, 403);
      assert.doesNotMatch(proxied.text, /idp_signin_total/);
      for (const [header, value] of [['Forwarded', 'for=203.0.113.9'], ['X-Real-IP', '203.0.113.9'], ['True-Client-IP', '203.0.113.9'], ['Via', '1.1 nginx'], ['X-Forwarded-For', '']] as const) {
        assert.equal((await new Browser(t.url).agent.get('/metrics').set(header, value)).status, 403, `${header}: ${value}`);
      }
    } finally {
      await t.close();
    }
  });

  it('with IDP_METRICS_TOKEN: the bearer token, from anywhere; without it or with another, 401', async () => {
    const token = 'metrics-token-0123456789abcdef';
    const t = await startTestIdp({ overrides: { server: { metricsToken: token } } });
    try {
      const none = await new Browser(t.url).get('/metrics');
      assert.equal(none.status, 401);
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="metrics"');
      assert.equal((await new Browser(t.url).agent.get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789abcdeX')).status, 401);
      const good = await new Browser(t.url).agent.get('/metrics').set('Authorization', `Bearer ${token}`).set('X-Forwarded-For', '203.0.113.9');
      assert.equal(good.status, 200);
      assert.match(good.text, /idp_password_checks_queued/);
    } finally {
      await t.close();
    }
  });
});
