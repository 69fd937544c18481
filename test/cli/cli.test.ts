// The operators' CLI, as an operator runs it: a process on the same Redis as the IdP.
import { idpForCli, runCli } from '../support/cli.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RedisStore } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, FIXTURE_RPS, startTestIdp, type TestIdp } from '../support/idp.ts';
import { sameDatabase } from '../support/database.ts';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { parseOidcClient } from '../../src/config/relying-parties.ts';
import { captureServer } from '../support/backchannel.ts';

const CHANDRA = { loginId: 'chandra_kumar@students.edu.sg', password: 'Meadow-Violet-93' };

describe('operator CLI', () => {
  let t: TestIdp;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  before(async () => {
    let base: NodeJS.ProcessEnv;
    ({ t, env: base } = await idpForCli());
    dir = mkdtempSync(path.join(tmpdir(), 'idp-cli-'));
    env = { ...base, IDP_RP_DIR: dir, IDP_ARGON2_MEMORY_KIB: '8192', IDP_ARGON2_TIME_COST: '1' };
  });
  after(async () => {
    await t.close();
  });

  function cli(...args: string[]) {
    return cliWith(env, ...args);
  }

  const cliWith = runCli;

  it('resets a password and prints it once; the student then must change it', async () => {
    const r = await cli('reset-password', DEMO.student.loginId);
    assert.equal(r.code, 0, r.stderr);
    const temporary = /\(shown once\): (\S+)/.exec(r.stdout)![1]!;
    const b = new Browser(t.url);
    assert.match((await b.signIn((await b.open('/portal')).res, DEMO.student.loginId, temporary)).res.text, /<h1>Change Password<\/h1>/);
    const events = await t.idp.audit.recent(10, (e) => e.type === 'admin.password.reset');
    assert.match(events[0]!.actor!, /^cli:/);
  });

  it('reset-password tells the apps of the ended sessions by back channel, and prints which were told', async () => {
    // The server and the CLI share Redis, keys, public URL and relying-party files.
    const rp = await captureServer();
    const rpDir = mkdtempSync(path.join(tmpdir(), 'idp-cli-rps-'));
    const secret = 'cli-recording-secret-0123456789abcdef0123';
    const file = { protocol: 'oidc', display_name: 'Recording app (CLI)', client_id: 'cli-recording', client_secret: secret, redirect_uris: ['http://127.0.0.1:9/cli/callback'], backchannel_logout_uri: `${rp.url}/bc`, backchannel_logout_session_required: true };
    writeFileSync(path.join(rpDir, 'cli-recording.json'), JSON.stringify(file));
    const store = new RedisStore({ url: env.REDIS_URL!, keyPrefix: env.REDIS_KEY_PREFIX! });
    await store.ready();
    const server = await startTestIdp({ store, database: sameDatabase(t.databaseEnv), seed: false, clients: [parseOidcClient(file, 'cli-recording.json')] });
    try {
      const config = await oidc.discovery(new URL(server.url), 'cli-recording', secret, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
      const verifier = oidc.randomPKCECodeVerifier();
      const b = new Browser(server.url);
      const step = await b.signIn((await b.open(oidc.buildAuthorizationUrl(config, { redirect_uri: 'http://127.0.0.1:9/cli/callback', scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).toString())).res, CHANDRA.loginId, CHANDRA.password);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(step.external!), { pkceCodeVerifier: verifier });
      const r = await cliWith({ ...env, IDP_RP_DIR: rpDir, IDP_KEYS_DIR: server.settings.keysDir, IDP_PUBLIC_URL: server.url, IDP_SIMS: 'false' }, 'reset-password', CHANDRA.loginId);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\(shown once\): \S+/);
      assert.match(r.stdout, /sessions at the MIMS Portal ended: 1/);
      assert.match(r.stdout, /apps told to sign the user out: Recording app \(CLI\)/);
      assert.equal(rp.requests.length, 1);
      const token = new URLSearchParams(rp.requests[0]!.body).get('logout_token')!;
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${server.url}/oidc/jwks`)), { issuer: server.url, audience: 'cli-recording', typ: 'logout+jwt' });
      assert.equal(payload.sid, tokens.claims()!.sid);
      const events = await t.idp.audit.recent(10, (e) => e.type === 'logout.backchannel' && e.client === 'cli-recording');
      assert.match(events[0]!.actor!, /^cli:/);
    } finally {
      await server.close();
      await rp.close();
    }
  });

  it('unlocks, clears questions, disables and enables', async () => {
    for (let i = 0; i < 5; i++) {
      const b = new Browser(t.url);
      await b.signIn((await b.open('/portal')).res, DEMO.student2.loginId, 'Wrong-Password-00');
    }
    assert.ok(await t.idp.lockout.lockedSince(DEMO.student2.loginId));
    assert.equal((await cli('unlock', DEMO.student2.loginId)).code, 0);
    assert.equal(await t.idp.lockout.lockedSince(DEMO.student2.loginId), null);
    assert.equal((await cli('clear-questions', DEMO.student2.loginId)).code, 0);
    assert.equal((await t.idp.directory.findByLoginId(DEMO.student2.loginId))!.questions.length, 0);
    assert.equal((await cli('disable', DEMO.student2.loginId)).code, 0);
    assert.equal((await t.idp.directory.findByLoginId(DEMO.student2.loginId))!.status, 'disabled');
    assert.equal((await cli('enable', DEMO.student2.loginId)).code, 0);
    assert.equal((await t.idp.directory.findByLoginId(DEMO.student2.loginId))!.status, 'active');
    const audit = await cli('audit', '--account', DEMO.student2.loginId, '--count', '20');
    for (const type of ['account.unlocked', 'questions.cleared', 'account.disabled', 'account.enabled']) assert.match(audit.stdout, new RegExp(type));
  });

  it('sets a student\'s class and a teacher\'s form classes, lists classes, and refuses what does not fit in one line', async () => {
    const r = await cli('set-class', DEMO.student2.loginId, '5c', '--year', '2031');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /class 5C \(2031\)/);
    assert.deepEqual((await t.idp.directory.findByLoginId(DEMO.student2.loginId))!.class, { year: 2031, name: '5C' });
    const f = await cli('set-form-classes', DEMO.staff.loginId, '5C;6A', '--year', '2031');
    assert.equal(f.code, 0, f.stderr);
    // This year's 2A (from the seed) stays: only 2031's are replaced.
    assert.match(f.stdout, /form teacher of 2A \(\d{4}\), 5C \(2031\), 6A \(2031\)/);
    const list = await cli('classes', '--school', 'DEMO01');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /DEMO01\t2031\t5C\t1 student\(s\)\tform teacher\(s\): daniel_wong@schools.gov.sg/);
    for (const bad of [['set-class', DEMO.staff.loginId, '4A'], ['set-class', DEMO.student2.loginId, '4A!'], ['set-form-classes', DEMO.student2.loginId, '4A'], ['set-class', DEMO.student2.loginId, '4A', '--year', '31']]) {
      const refused = await cli(...bad);
      assert.notEqual(refused.code, 0, bad.join(' '));
      assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    }
    assert.equal((await cli('set-class', DEMO.student2.loginId, '-', '--year', '2031')).code, 0);
    assert.equal((await t.idp.directory.findByLoginId(DEMO.student2.loginId))!.class, null);
  });

  it('imports a CSV: preview, then commit with the passwords in a private file', async () => {
    const work = mkdtempSync(path.join(tmpdir(), 'idp-cli-import-'));
    const csv = path.join(work, 'cohort.csv');
    writeFileSync(csv, 'loginId,givenName,familyName,schoolCode,schoolName,level,roles\nnoor_hassan@students.edu.sg,Noor,Hassan,DEMO01,Rivervale Demo School,P6,student\n');
    const preview = await cli('import', csv);
    assert.equal(preview.code, 0, preview.stderr);
    assert.match(preview.stdout, /new 1, updated 0, unchanged 0, errors 0/);
    assert.equal(await t.idp.directory.findByLoginId('noor_hassan@students.edu.sg'), null);
    const out = path.join(work, 'passwords.csv');
    const commit = await cli('import', csv, '--commit', '--out', out);
    assert.equal(commit.code, 0, commit.stderr);
    assert.match(readFileSync(out, 'utf8'), /^loginId,temporaryPassword\nnoor_hassan@students\.edu\.sg,\S+\n$/);
    assert.match((await cli('import', csv, '--commit')).stdout, /nothing to change/);
  });

  it('validates and adds relying-party files, naming the field on error', async () => {
    const good = path.join(FIXTURE_RPS, 'web.json');
    const v = await cli('validate-rp', good);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /valid oidc client "test-web"/);
    const bad = path.join(mkdtempSync(path.join(tmpdir(), 'idp-bad-rp-')), 'bad.json');
    writeFileSync(bad, JSON.stringify({ protocol: 'oidc', display_name: 'X', client_id: 'x-app', client_secret: 'short', redirect_uris: ['https://x/cb'] }));
    const refused = await cli('validate-rp', bad);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /bad\.json[\s\S]*client_secret: must be at least 32 characters/);
    const fresh = path.join(tmpdir(), `new-rp-${process.pid}.json`);
    writeFileSync(fresh, JSON.stringify({ protocol: 'oidc', display_name: 'New', client_id: 'new-app', client_secret: 'n'.repeat(40), redirect_uris: ['https://new.example/cb'] }));
    const added = await cli('add-rp', fresh);
    assert.equal(added.code, 0, added.stderr);
    assert.ok(readFileSync(path.join(dir, 'new-app.json'), 'utf8').includes('new-app'));
    assert.equal((await cli('add-rp', fresh)).code, 2, 'not twice');
  });

  it('issues, lists and revokes SCIM clients (the token printed once works, then not), and runs the lifecycle', async () => {
    const added = await cli('scim-client', 'add', 'Rivervale SIS', '--school', 'DEMO01');
    assert.equal(added.code, 0, added.stderr);
    const token = /token \(shown once, keep it secret\): (scim_\S+)/.exec(added.stdout)![1]!;
    const id = /^SCIM client (\S+) \(Rivervale SIS\) for DEMO01$/m.exec(added.stdout)![1]!;
    const get = () => fetch(`${t.url}/scim/v2/Users?count=1`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await get()).status, 200);
    assert.match((await cli('scim-client', 'list')).stdout, new RegExp(`^${id}  Rivervale SIS  schools DEMO01 `, 'm'));
    assert.equal((await cli('scim-client', 'revoke', id)).code, 0);
    assert.equal((await get()).status, 401);
    assert.match((await cli('scim-client', 'list')).stdout, /REVOKED/);
    const bad = await cli('scim-client', 'add', 'No school');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--school/);
    const run = await cli('lifecycle', 'run');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^moved \d+, left \d+, deleted \d+, dormant \d+, failed 0$/m);
    assert.ok((await t.idp.audit.recent(5)).some((e) => e.type === 'lifecycle.run' && /^cli:/.test(e.actor ?? '')));
  });

  it('explains usage and unknown accounts', async () => {
    const usage = await cli();
    assert.equal(usage.code, 2);
    assert.match(usage.stdout, /usage: npm run cli/);
    const unknown = await cli('unlock', 'nobody_here@students.edu.sg');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no account with login ID nobody_here@students\.edu\.sg/);
  });
});
