// client_credentials as a service uses it (openid-client): only the scopes its file
// registers, never openid or offline_access (no user), and a grant type a client is not
// registered for is unauthorized_client (RFC 6749 5.2).
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import request from 'supertest';
import { parseOidcClient } from '../../src/config/relying-parties.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { client, discover, SERVICE, WEB } from '../support/rp.ts';

const REPORTS = { id: 'reports-service', secret: 'reports-service-secret-0123456789abcdef012' };
const BOTH = { id: 'web-and-service', secret: 'web-and-service-secret-0123456789abcdef012' };

describe('OIDC: client_credentials', () => {
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp({
      clients: [
        client({ client_id: REPORTS.id, client_secret: REPORTS.secret, grant_types: ['client_credentials'], scope: 'roles school' }),
        client({ client_id: BOTH.id, client_secret: BOTH.secret, grant_types: ['authorization_code', 'client_credentials'], redirect_uris: ['http://127.0.0.1:9/both'], scope: 'openid email roles' }),
      ],
    });
  });
  after(async () => {
    await t.close();
  });

  const refusedScope = (err: oidc.ResponseBodyError) => err.error === 'invalid_scope';

  it('a service that registers no scope gets a token without scope, and is refused any scope', async () => {
    const config = await discover(t, SERVICE.id, SERVICE.secret);
    const tokens = await oidc.clientCredentialsGrant(config);
    assert.equal(tokens.scope, undefined);
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(introspected.active, true);
    assert.equal(introspected.scope, undefined);
    for (const scope of ['openid email offline_access roles', 'openid', 'offline_access', 'roles', 'admin:all']) {
      await assert.rejects(oidc.clientCredentialsGrant(config, { scope }), refusedScope, scope);
    }
  });

  it('a service gets what its file registers, and nothing else', async () => {
    const config = await discover(t, REPORTS.id, REPORTS.secret);
    assert.equal((await oidc.clientCredentialsGrant(config, { scope: 'roles' })).scope, 'roles');
    assert.equal((await oidc.clientCredentialsGrant(config, { scope: 'school roles' })).scope, 'school roles');
    for (const scope of ['openid', 'offline_access', 'email', 'roles email', 'something-else']) {
      await assert.rejects(oidc.clientCredentialsGrant(config, { scope }), refusedScope, scope);
    }
  });

  it('a client with both grants never gets openid or offline_access by client_credentials', async () => {
    const config = await discover(t, BOTH.id, BOTH.secret);
    assert.equal((await oidc.clientCredentialsGrant(config, { scope: 'email roles' })).scope, 'email roles');
    await assert.rejects(oidc.clientCredentialsGrant(config, { scope: 'openid email' }), refusedScope);
  });

  it('a service file with openid or offline_access, or a scope the provider lacks, is refused with the field named', () => {
    for (const scope of ['openid roles', 'offline_access', 'address', 'roles  email']) {
      assert.throws(
        () => parseOidcClient({ protocol: 'oidc', display_name: 'S', client_id: 'svc', client_secret: 'z'.repeat(40), grant_types: ['client_credentials'], scope }, 'svc.json'),
        (err: Error) => err.message.includes('svc.json') && err.message.includes('scope:'),
        scope,
      );
    }
  });

  it('a grant type the client is not registered for is unauthorized_client', async () => {
    await assert.rejects(oidc.clientCredentialsGrant(await discover(t, WEB.id, WEB.secret)), (err: oidc.ResponseBodyError) => err.error === 'unauthorized_client' && err.status === 400);
    for (const [id, secret, form] of [
      [SERVICE.id, SERVICE.secret, { grant_type: 'authorization_code', code: 'x'.repeat(43), redirect_uri: 'http://127.0.0.1:9/callback' }],
      [SERVICE.id, SERVICE.secret, { grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) }],
    ] as const) {
      const res = await request(t.url).post('/oidc/token').auth(id, secret).type('form').send(form);
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'unauthorized_client', form.grant_type);
    }
    // A wrong secret is still invalid_client, whatever the grant.
    const res = await request(t.url).post('/oidc/token').auth(WEB.id, 'wrong-secret-wrong-secret-wrong-secret-00').type('form').send({ grant_type: 'client_credentials' });
    assert.equal(res.body.error, 'invalid_client');
  });
});
