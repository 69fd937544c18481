import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadRelyingParties } from '../../src/config/relying-parties.ts';
import { ConfigError, loadSettings } from '../../src/config/settings.ts';
import { FIXTURE_RPS } from '../support/idp.ts';

describe('configuration', () => {
  it('loads the defaults: port 3000, embedded store with demo accounts', () => {
    const s = loadSettings({ env: {} });
    assert.equal(s.server.port, 3000);
    assert.equal(s.server.publicUrl, 'http://localhost:3000');
    assert.equal(s.redis.url, undefined);
    assert.equal(s.seed.demo, true);
    assert.equal(s.flow.idleSeconds, 240);
    assert.deepEqual(s.argon2, { memoryCost: 19456, timeCost: 2, parallelism: 1 });
  });

  it('listens on loopback with the demo accounts, on every interface without them, and refuses demo accounts on the network unless meant', () => {
    assert.equal(loadSettings({ env: {} }).server.host, '127.0.0.1');
    assert.equal(loadSettings({ env: { REDIS_URL: 'redis://x:1' } }).server.host, '0.0.0.0');
    assert.equal(loadSettings({ env: { IDP_HOST: '::1' } }).server.host, '::1');
    assert.throws(() => loadSettings({ env: { IDP_HOST: '0.0.0.0' } }), (e: Error) => e instanceof ConfigError && /server\.host \(env IDP_HOST\): 0\.0\.0\.0 would serve the demo accounts[\s\S]*IDP_DEMO_ON_NETWORK=true/.test(e.message));
    assert.throws(() => loadSettings({ env: { REDIS_URL: 'redis://x:1', IDP_DEMO_SEED: 'true', IDP_HOST: '10.1.2.3' } }), ConfigError);
    assert.equal(loadSettings({ env: { IDP_HOST: '0.0.0.0', IDP_DEMO_ON_NETWORK: 'true' } }).server.host, '0.0.0.0');
    assert.equal(loadSettings({ env: { IDP_HOST: '0.0.0.0', IDP_DEMO_SEED: 'false' } }).server.host, '0.0.0.0');
  });

  it('takes environment variables; a Redis URL turns the demo seed off unless asked', () => {
    const s = loadSettings({ env: { PORT: '4000', REDIS_URL: 'redis://127.0.0.1:6390', IDP_PUBLIC_URL: 'https://idp.example.edu/', IDP_FLOW_IDLE_SECONDS: '60' } });
    assert.equal(s.server.port, 4000);
    assert.equal(s.redis.url, 'redis://127.0.0.1:6390');
    assert.equal(s.server.publicUrl, 'https://idp.example.edu');
    assert.equal(s.seed.demo, false);
    assert.equal(s.flow.idleSeconds, 60);
    assert.equal(loadSettings({ env: { REDIS_URL: 'redis://x:1', IDP_DEMO_SEED: 'true' } }).seed.demo, true);
    assert.deepEqual(loadSettings({ env: { REDIS_CLUSTER_NODES: 'a:7000, b:7001' } }).redis.clusterNodes, ['a:7000', 'b:7001']);
  });

  for (const [env, key] of [
    [{ PORT: 'eighty' }, 'server.port (env PORT)'],
    [{ REDIS_URL: 'http://nope' }, 'redis.url (env REDIS_URL)'],
    [{ IDP_PUBLIC_URL: 'not a url' }, 'server.publicUrl (env IDP_PUBLIC_URL)'],
    [{ IDP_DEMO_SEED: 'perhaps' }, 'seed.demo (env IDP_DEMO_SEED)'],
    [{ IDP_ARGON2_MEMORY_KIB: '64' }, 'argon2.memoryCost (env IDP_ARGON2_MEMORY_KIB)'],
    [{ REDIS_CLUSTER_NODES: 'nohostport' }, 'redis.clusterNodes.0 (env REDIS_CLUSTER_NODES)'],
    [{ SMTP_URL: 'http://mail.example.org' }, 'mail.smtpUrl (env SMTP_URL)'],
  ] as const) {
    it(`refuses a bad ${Object.keys(env)[0]} naming the key`, () => {
      assert.throws(() => loadSettings({ env }), (err: Error) => err instanceof ConfigError && err.message.includes(key));
    });
  }

  it('refuses unknown keys in a config file, naming the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-cfg-'));
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ server: { prot: 1 } }));
    assert.throws(() => loadSettings({ env: { IDP_CONFIG_FILE: file } }), /server: Unrecognized key.*prot/s);
    writeFileSync(file, '{ not json');
    assert.throws(() => loadSettings({ env: { IDP_CONFIG_FILE: file } }), (e: Error) => e.message.includes(file));
  });
});

describe('relying-party files', () => {
  function dirWith(files: Record<string, unknown>): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-rp-'));
    for (const [name, body] of Object.entries(files)) writeFileSync(path.join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
    return dir;
  }
  const good = {
    protocol: 'oidc', display_name: 'App', client_id: 'app', client_secret: 's'.repeat(40), redirect_uris: ['https://app.example/cb'],
  };

  it('loads the fixtures and a second directory', () => {
    const extra = dirWith({ 'app.json': good });
    const rps = loadRelyingParties([FIXTURE_RPS, extra]);
    assert.deepEqual(rps.oidc.map((c) => c.client_id).sort(), ['app', 'other-web', 'test-service', 'test-spa', 'test-web']);
  });

  it('takes standard client metadata (RFC 7591): client_name names the app when display_name is absent', () => {
    const { display_name: _d, ...standard } = good;
    const rps = loadRelyingParties([dirWith({ 'std.json': { ...standard, client_name: 'Timetable', logo_uri: 'https://app.example/logo.png', policy_uri: 'https://app.example/privacy', tos_uri: 'https://app.example/terms', contacts: ['it@app.example'] } })]);
    assert.equal(rps.oidc[0]!.display_name, 'Timetable');
    assert.equal(rps.oidc[0]!.logo_uri, 'https://app.example/logo.png');
    // display_name, when given, is what users see.
    assert.equal(loadRelyingParties([dirWith({ 'both.json': { ...good, client_name: 'Standard' } })]).oidc[0]!.display_name, 'App');
    assert.throws(() => loadRelyingParties([dirWith({ 'none.json': standard })]), /none\.json[\s\S]*client_name: client_name \(or display_name\) is required/);
    assert.throws(() => loadRelyingParties([dirWith({ 'bad-logo.json': { ...good, logo_uri: 'not a uri' } })]), /bad-logo\.json[\s\S]*logo_uri/);
  });

  for (const [name, body, expected] of [
    ['short secret', { ...good, client_secret: 'short' }, /bad\.json[\s\S]*client_secret: must be at least 32/],
    ['no redirect', { ...good, redirect_uris: [] }, /bad\.json[\s\S]*redirect_uris: at least one/],
    ['public with secret', { ...good, token_endpoint_auth_method: 'none' }, /bad\.json[\s\S]*client_secret: a public client/],
    ['unknown field', { ...good, colour: 'red' }, /bad\.json[\s\S]*Unrecognized key[\s\S]*colour/],
    ['bad uri', { ...good, redirect_uris: ['not a uri'] }, /bad\.json[\s\S]*redirect_uris\.0/],
    ['no protocol', { ...good, protocol: undefined }, /bad\.json: protocol: must be "oidc"/],
    ['bad json', '{', /bad\.json: not valid JSON/],
  ] as const) {
    it(`refuses ${name}, naming file and field`, () => {
      assert.throws(() => loadRelyingParties([dirWith({ 'bad.json': body })]), (e: Error) => e instanceof ConfigError && expected.test(e.message));
    });
  }

  it('refuses a client_id defined twice', () => {
    assert.throws(() => loadRelyingParties([dirWith({ 'a.json': good, 'b.json': good })]), /b\.json: client_id: "app" is already defined in .*a\.json/);
  });
});
