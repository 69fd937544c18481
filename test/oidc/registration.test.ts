// Dynamic client registration (RFC 7591) and management (RFC 7592), as a relying-party
// developer uses them: openid-client registers, then runs a code flow with the new client.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { spawnSync } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { parseOidcClient } from '../../src/config/relying-parties.ts';
import { createInitialAccessToken } from '../../src/cli/clients.ts';
import { projectRoot } from '../../src/config/settings.ts';
import { RedisStore } from '../../src/store/index.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { registeredClients, removeRegisteredClient } from '../../src/protocols/oidc/adapter.ts';
import { usesLeft } from '../../src/protocols/oidc/initial-access-tokens.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const REDIRECT = 'http://127.0.0.1:9/registered/callback';
const METADATA = { client_name: 'Registered Test App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code', 'refresh_token'] };

async function codeFlow(t: TestIdp, config: oidc.Configuration) {
  const browser = new Browser(t.url);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid email profile', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
  let step = await browser.open(url.toString());
  step = await browser.signIn(step.res, DEMO.student.loginId, DEMO.student.password);
  assert.ok(step.external?.startsWith(REDIRECT), `expected a redirect to the app, got ${step.res.status} ${step.res.text.slice(0, 300)}`);
  return oidc.authorizationCodeGrant(config, new URL(step.external!), { pkceCodeVerifier: verifier, expectedState: state });
}

function register(t: TestIdp, metadata: Partial<oidc.ClientMetadata>, initialAccessToken?: string) {
  return oidc.dynamicClientRegistration(new URL(t.url), metadata, undefined, { execute: [oidc.allowInsecureRequests], ...(initialAccessToken ? { initialAccessToken } : {}) });
}

describe('OIDC dynamic client registration (RFC 7591/7592)', () => {
  describe('open, with the demo accounts', () => {
    let t: TestIdp;
    before(async () => {
      t = await startTestIdp();
    });
    after(async () => t.close());

    it('discovery advertises registration_endpoint', async () => {
      const disc = await (await fetch(`${t.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
      assert.equal(disc.registration_endpoint, `${t.url}/oidc/reg`);
    });

    it('registers with openid-client, then a full code flow with the new client; it persists and is listed', async () => {
      const config = await register(t, METADATA);
      const meta = config.clientMetadata();
      assert.ok(meta.client_id && typeof meta.client_secret === 'string');
      const tokens = await codeFlow(t, config);
      assert.equal(tokens.claims()!.aud, meta.client_id);
      const listed = await registeredClients(t.store, t.database);
      const mine = listed.find((c) => c.client_id === meta.client_id);
      assert.equal(mine?.client_name, 'Registered Test App');
      assert.equal(mine?.client_secret, undefined, 'secrets are not listed');
    });

    it('RFC 7592: reads, updates and deletes with the registration access token', async () => {
      const meta = (await register(t, METADATA)).clientMetadata();
      const uri = meta.registration_client_uri as string;
      const auth = { authorization: `Bearer ${meta.registration_access_token as string}` };
      const read = await fetch(uri, { headers: auth });
      assert.equal(read.status, 200);
      const current = await read.json() as Record<string, unknown>;
      assert.equal(current.client_name, 'Registered Test App');
      const { registration_access_token: _t, registration_client_uri: _u, client_id_issued_at: _i, client_secret_expires_at: _e, ...body } = current;
      const updated = await fetch(uri, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ ...body, client_name: 'Renamed App' }) });
      assert.equal(updated.status, 200, await updated.clone().text());
      assert.equal((await updated.json() as Record<string, unknown>).client_name, 'Renamed App');
      const deleted = await fetch(uri, { method: 'DELETE', headers: auth });
      assert.equal(deleted.status, 204);
      assert.equal((await fetch(uri, { headers: auth })).status, 401);
      assert.ok(!(await registeredClients(t.store, t.database)).some((c) => c.client_id === meta.client_id));
    });

    it('refuses what a relying-party file may not say, naming the field', async () => {
      const post = (metadata: Record<string, unknown>) => fetch(`${t.url}/oidc/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
      const noName = await post({ redirect_uris: [REDIRECT] });
      assert.equal(noName.status, 400);
      assert.match(((await noName.json()) as { error_description: string }).error_description, /client_name/);
      const badAlg = await post({ ...METADATA, id_token_signed_response_alg: 'HS256' });
      assert.equal(badAlg.status, 400);
      const badScope = await post({ ...METADATA, scope: 'openid admin' });
      assert.equal(badScope.status, 400);
      assert.match(((await badScope.json()) as { error_description: string }).error_description, /scope/);
      const implicit = await post({ ...METADATA, response_types: ['id_token'] });
      assert.equal(implicit.status, 400);
    });

    it('refuses what a careful OP refuses, naming the field, storing nothing and fetching nothing', async () => {
      // A server that counts connections: sector_identifier_uri and jwks_uri point at it.
      let connections = 0;
      const listener = createNetServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      const here = `https://127.0.0.1:${(listener.address() as { port: number }).port}`;
      const before = (await registeredClients(t.store, t.database)).length;
      const post = (metadata: Record<string, unknown>) => fetch(`${t.url}/oidc/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
      const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
        ['a back-channel logout URI with a fragment', { backchannel_logout_uri: 'https://app.example/logout#frag' }, 'invalid_client_metadata', /^backchannel_logout_uri: must not contain a fragment/],
        ['a redirect URI with user information', { redirect_uris: ['https://user:pw@app.example/cb'] }, 'invalid_redirect_uri', /^redirect_uris\.0: must not contain user information/],
        ['plain http to localhost.evil.com', { redirect_uris: ['http://localhost.evil.com/cb'] }, 'invalid_redirect_uri', /^redirect_uris\.0: plain http only to this machine .* "localhost\.evil\.com" needs https/],
        ['plain http to another host', { redirect_uris: ['https://app.example/cb', 'http://app.example/cb'] }, 'invalid_redirect_uri', /^redirect_uris\.1: plain http only to this machine/],
        ['a redirect URI with a fragment', { redirect_uris: ['https://app.example/cb#x'] }, 'invalid_redirect_uri', /^redirect_uris\.0: must not contain a fragment/],
        ['a post-logout URI with user information', { post_logout_redirect_uris: ['https://u:p@app.example/bye'] }, 'invalid_client_metadata', /^post_logout_redirect_uris\.0: must not contain user information/],
        ['a logo at the cloud metadata address', { logo_uri: 'https://169.254.169.254/logo.png' }, 'invalid_client_metadata', /^logo_uri: "169\.254\.169\.254" is a private or link-local address/],
        ['a policy page on a private network', { policy_uri: 'https://10.1.2.3/policy' }, 'invalid_client_metadata', /^policy_uri: "10\.1\.2\.3" is a private or link-local address/],
        ['a jwks_uri at the cloud metadata address', { jwks_uri: 'https://169.254.169.254/jwks' }, 'invalid_client_metadata', /^jwks_uri: not used here/],
        ['a jwks_uri (nothing here uses one)', { jwks_uri: `${here}/jwks` }, 'invalid_client_metadata', /^jwks_uri: not used here/],
        ['a sector_identifier_uri (a pairwise app\'s sector is its one redirect host)', { sector_identifier_uri: `${here}/sector` }, 'invalid_client_metadata', /^sector_identifier_uri: not used here: a pairwise app's sector is the one host of its redirect_uris/],
        ['pairwise with redirect URIs on two hosts', { subject_type: 'pairwise', redirect_uris: ['http://127.0.0.1:9/a', 'http://localhost:9/b'] }, 'invalid_client_metadata', /^subject_type: a pairwise app's redirect_uris must share one host/],
        ['no redirect URI', { redirect_uris: [] }, 'invalid_redirect_uri', /^redirect_uris: at least one is required for authorization_code/],
      ];
      try {
        for (const [what, change, error, description] of cases) {
          const res = await post({ ...METADATA, client_name: `Refused: ${what}`, ...change });
          const body = await res.json() as { error: string; error_description: string };
          assert.equal(res.status, 400, `${what}: ${JSON.stringify(body)}`);
          assert.equal(body.error, error, what);
          assert.match(body.error_description, description, what);
        }
        const big = await post({ ...METADATA, client_name: 'x'.repeat(60 * 1024) });
        assert.equal(big.status, 400);
        assert.deepEqual(await big.json(), { error: 'invalid_request', error_description: 'the request body is over 56 KiB' });
        const broken = await fetch(`${t.url}/oidc/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client_name": "x",' });
        assert.deepEqual(await broken.json(), { error: 'invalid_request', error_description: 'the request body is not valid JSON' });
        assert.equal((await registeredClients(t.store, t.database)).length, before, 'nothing stored');
        assert.equal(connections, 0, 'nothing fetched');
        // What stays allowed: https anywhere, plain http to this machine, a native app's own scheme.
        for (const redirect_uris of [['https://app.example/cb'], ['http://localhost:8080/cb', 'http://127.0.0.1:9/cb', 'http://[::1]:8080/cb'], ['com.example.app:/cb']]) {
          const ok = await post({ ...METADATA, client_name: 'Allowed', redirect_uris, ...(redirect_uris[0]!.startsWith('com.') ? { application_type: 'native', token_endpoint_auth_method: 'none' } : {}) });
          assert.equal(ok.status, 201, `${redirect_uris.join(' ')}: ${await ok.text()}`);
        }
      } finally {
        listener.close();
      }
    });

    it('a relying-party file is held to the same URI rules (the built-in sls-sim may use plain http where the IdP puts it)', () => {
      const file = { protocol: 'oidc', display_name: 'F', client_id: 'file-app', client_secret: 's'.repeat(40) };
      assert.throws(() => parseOidcClient({ ...file, redirect_uris: ['http://school.example/cb'] }, 'f.json'), /f\.json: invalid relying party\n\s+redirect_uris\.0: plain http only to this machine/);
      assert.throws(() => parseOidcClient({ ...file, redirect_uris: ['https://app.example/cb'], backchannel_logout_uri: 'https://app.example/bc#x' }, 'f.json'), /backchannel_logout_uri: must not contain a fragment/);
      assert.equal(parseOidcClient({ ...file, redirect_uris: ['http://school.example/cb'] }, 'sim', { plainHttpAnywhere: true }).redirect_uris[0], 'http://school.example/cb');
    });

    it('an operator removes a registered client', async () => {
      const config = await register(t, METADATA);
      const id = config.clientMetadata().client_id;
      assert.equal(await removeRegisteredClient(t.store, t.database, id), true);
      assert.equal(await removeRegisteredClient(t.store, t.database, id), false);
      const b = new Browser(t.url);
      const res = await b.get(`/oidc/auth?client_id=${id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}`);
      assert.notEqual(res.status, 303);
    });
  });

  describe('protected, without the demo accounts', () => {
    let t: TestIdp;
    let cli: (...args: string[]) => { status: number | null; stdout: string; stderr: string };
    before(async () => {
      const url = await testRedisUrl();
      const prefix = uniquePrefix();
      const store = new RedisStore({ url, keyPrefix: prefix });
      await store.ready();
      // Registration is protected without demo accounts; the harness still seeds them to sign in.
      t = await startTestIdp({ store, overrides: { seed: { demo: false } } });
      const env = { ...process.env, REDIS_URL: url, REDIS_KEY_PREFIX: prefix, ...t.databaseEnv, IDP_PUBLIC_URL: t.url, IDP_DEMO_SEED: 'false' };
      cli = (...args) => spawnSync(process.execPath, ['src/cli/main.ts', ...args], { cwd: projectRoot, env, encoding: 'utf8' });
    });
    after(async () => t.close());

    it('refuses registration without an initial access token, accepts one made by the CLI', async () => {
      const anonymous = await fetch(`${t.url}/oidc/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(METADATA) });
      assert.equal(anonymous.status, 401);
      const token = await createInitialAccessToken(t.settings, t.store, t.database, 1);
      const config = await register(t, METADATA, token);
      await codeFlow(t, config);
    });

    it('an initial access token registers one app: a second registration with it is refused and stores nothing; a refused registration does not use it up', async () => {
      const token = await createInitialAccessToken(t.settings, t.store, t.database, 1);
      const post = (metadata: Record<string, unknown>) => fetch(`${t.url}/oidc/reg`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(metadata) });
      const bad = await post({ ...METADATA, client_name: undefined });
      assert.equal(bad.status, 400);
      assert.equal(await usesLeft(t.database, token), 1, 'a refused registration gives its use back');
      const first = await post({ ...METADATA, client_name: 'First with the token' });
      assert.equal(first.status, 201, await first.clone().text());
      const before = (await registeredClients(t.store, t.database)).length;
      const second = await post({ ...METADATA, client_name: 'Second with the token' });
      assert.equal(second.status, 401);
      assert.deepEqual(await second.json(), { error: 'invalid_token', error_description: 'the initial access token has registered as many apps as it was made for (make another: cli initial-access-token)' });
      assert.equal((await registeredClients(t.store, t.database)).length, before, 'nothing stored');
      assert.ok(!(await registeredClients(t.store, t.database)).some((c) => c.client_name === 'Second with the token'));
      const events = await t.idp.audit.recent(20, (e) => e.type === 'rp.registered');
      const id = ((await first.json()) as { client_id: string }).client_id;
      assert.match(events.find((e) => e.client === id)?.reason ?? '', /oidc "First with the token" by initial access token/);
    });

    it('the last use of a token goes to one of several registrations at once', async () => {
      const token = await createInitialAccessToken(t.settings, t.store, t.database, 1);
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => fetch(`${t.url}/oidc/reg`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ ...METADATA, client_name: `Racer ${i}` }),
      })));
      assert.deepEqual(answers.map((r) => r.status).sort(), [201, 401, 401, 401, 401, 401, 401, 401]);
      assert.equal((await registeredClients(t.store, t.database)).filter((c) => String(c.client_name).startsWith('Racer ')).length, 1);
    });

    it('cli initial-access-token --uses 2 registers two apps, not three; --uses 0 is refused', async () => {
      const made = cli('initial-access-token', '--uses', '2');
      assert.equal(made.status, 0, made.stderr);
      assert.match(made.stdout, /valid 7 days for 2 apps/);
      const token = made.stdout.trim().split('\n').at(-1)!;
      await register(t, { ...METADATA, client_name: 'Two-use 1' }, token);
      await register(t, { ...METADATA, client_name: 'Two-use 2' }, token);
      await assert.rejects(register(t, { ...METADATA, client_name: 'Two-use 3' }, token), (err: Error & { cause?: unknown }) => /invalid_token/.test(JSON.stringify(err.cause ?? '') + String((err as { response?: Response }).response?.headers.get('www-authenticate'))));
      const zero = cli('initial-access-token', '--uses', '0');
      assert.equal(zero.status, 2);
      assert.match(zero.stderr, /--uses must be a whole number from 1 to 1000/);
    });

    it('cli initial-access-token, then clients lists the registered client and clients remove deletes it', async () => {
      const made = cli('initial-access-token', '--days', '1');
      assert.equal(made.status, 0, made.stderr);
      const token = made.stdout.trim().split('\n').at(-1)!;
      const id = (await register(t, { ...METADATA, client_name: 'CLI Registered' }, token)).clientMetadata().client_id;
      const listed = cli('clients');
      assert.equal(listed.status, 0, listed.stderr);
      const clients = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
      assert.equal(clients.find((c) => c.client_id === id)?.client_name, 'CLI Registered');
      assert.doesNotMatch(listed.stdout, /"client_secret"/);
      const removed = cli('clients', 'remove', id);
      assert.equal(removed.status, 0, removed.stderr + removed.stdout);
      assert.ok(!(JSON.parse(cli('clients').stdout) as Array<Record<string, unknown>>).some((c) => c.client_id === id));
      assert.equal(cli('clients', 'remove', id).status, 2);
      // A generated client_id may begin with "-" (1 in 32): it is an id, not an option.
      const dashed = cli('clients', 'remove', '-Fnot-registered');
      assert.equal(dashed.status, 2);
      assert.match(dashed.stderr, /no registered client -Fnot-registered/);
    });
  });
});
