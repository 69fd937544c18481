// The real previous release (52c4f97, `git archive` of it, node_modules shared) serving the
// same Redis as this release: each signs in accounts the other wrote, password changes made
// by this release sign in on the old one, and the old release's writes keep this release's
// `v` and fields it does not know. Skipped when git or that commit is not available.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { projectRoot } from '../../src/config/settings.ts';
import { ACCOUNT_VERSION, type Account } from '../../src/domain/accounts/account.ts';
import { LOCK_VERSION } from '../../src/domain/versions.ts';
import { keys, RedisStore } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { FAST_ARGON2, startTestIdp, type TestIdp } from '../support/idp.ts';
import { freePort, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { loadV1, V1_PASSWORD } from './v1-fixture.ts';

const PREVIOUS = '52c4f97';

describe(`side by side with the previous release (${PREVIOUS})`, function () {
  this.timeout(120_000);
  let dir: string;
  let old: ChildProcess | undefined;
  let oldUrl: string;
  let output = '';
  let t: TestIdp;
  let records: Account[];

  before(async function () {
    const has = spawnSync('git', ['cat-file', '-e', `${PREVIOUS}^{commit}`], { cwd: projectRoot });
    if (has.status !== 0) this.skip();
    dir = mkdtempSync(path.join(tmpdir(), 'idp-prev-'));
    const archive = spawnSync('sh', ['-c', `git archive ${PREVIOUS} | tar -x -C '${dir}'`], { cwd: projectRoot });
    assert.equal(archive.status, 0, String(archive.stderr));
    symlinkSync(path.join(projectRoot, 'node_modules'), path.join(dir, 'node_modules'));
    const url = await testRedisUrl();
    const prefix = uniquePrefix();
    const store = new RedisStore({ url, keyPrefix: prefix });
    await store.ready();
    records = await loadV1(store, 6, (i) => (i >= 3 ? { v: ACCOUNT_VERSION, futureField: `f${i}` } : {}));
    t = await startTestIdp({ store, seed: false });
    const port = await freePort();
    oldUrl = `http://127.0.0.1:${port}`;
    old = spawn(process.execPath, ['src/main.ts'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDIS_URL: url, REDIS_KEY_PREFIX: prefix, PORT: String(port), IDP_PUBLIC_URL: oldUrl, IDP_SIMS: 'false', IDP_DEMO_SEED: 'false', IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-prev-keys-')), IDP_ARGON2_MEMORY_KIB: String(FAST_ARGON2.memoryCost), IDP_ARGON2_TIME_COST: String(FAST_ARGON2.timeCost), LOG_LEVEL: 'warn' },
    });
    old.stdout!.on('data', (d) => (output += d));
    old.stderr!.on('data', (d) => (output += d));
    for (let i = 0; ; i++) {
      if (await fetch(`${oldUrl}/readyz`).then((r) => r.ok, () => false)) break;
      if (i > 300 || old.exitCode !== null) throw new Error(`previous release did not start:\n${output}`);
      await sleep(100);
    }
  });
  after(async () => {
    if (old && old.exitCode === null) {
      const exited = new Promise((resolve) => old!.once('exit', resolve));
      old.kill('SIGTERM');
      await exited;
    }
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const signIn = async (base: string, loginId: string, password: string) => {
    const b = new Browser(base);
    const res = await b.signIn((await b.open('/portal')).res, loginId, password);
    return res.res.text;
  };
  const signedIn = async (id: string, since: number) => {
    const a = JSON.parse((await t.store.get(keys.account(id)))!) as Account;
    return (a.lastSignInAt ?? 0) >= since;
  };

  it('both releases sign in v1 and v2 records; the old release keeps v and unknown fields', async () => {
    for (const r of records) {
      const since = Date.now();
      const page = await signIn(oldUrl, r.loginId, V1_PASSWORD);
      assert.doesNotMatch(page, /SSPR 5\d{3}/, `${r.loginId} on the previous release`);
      assert.ok(await signedIn(r.id, since), `${r.loginId} signed in on the previous release`);
      const since2 = Date.now();
      await signIn(t.url, r.loginId, V1_PASSWORD);
      assert.ok(await signedIn(r.id, since2), `${r.loginId} signed in on this release`);
    }
    for (const r of records.slice(3)) {
      const since = Date.now();
      await signIn(oldUrl, r.loginId, V1_PASSWORD);
      assert.ok(await signedIn(r.id, since));
      const a = JSON.parse((await t.store.get(keys.account(r.id)))!) as Account & { futureField?: string };
      assert.equal(a.v, ACCOUNT_VERSION, 'the previous release kept v');
      assert.equal(a.futureField, `f${records.indexOf(r)}`, 'the previous release kept an unknown field');
    }
  });

  it('a password changed by this release signs in on the previous one', async () => {
    const r = records[0]!;
    const current = (await t.idp.directory.get(r.id))!;
    await t.idp.credentials.setPasswordHash(r.id, await t.idp.hasher.hash('Changed-By-New-55'), current.passwordHash, { actor: r.id, via: 'test' });
    const since = Date.now();
    await signIn(oldUrl, r.loginId, 'Changed-By-New-55');
    assert.ok(await signedIn(r.id, since));
    const a = JSON.parse((await t.store.get(keys.account(r.id)))!) as Account;
    assert.equal(a.v, ACCOUNT_VERSION);
    assert.equal(a.passwordHistory[0], current.passwordHash);
  });

  it("the previous release reads this one's locks (with v) and accounts (bare claims beside dir:layout); this release reads the old one's locks", async () => {
    // An account this release creates (and records dir:layout for) signs in on the old one.
    const created = await t.idp.directory.create({ ...records[1]!, loginId: 'created_by_new@students.edu.sg', displayName: 'Created By New' });
    assert.notEqual(await t.store.get(keys.directoryLayout()), null);
    let since = Date.now();
    await signIn(oldUrl, created.loginId, V1_PASSWORD);
    assert.ok(await signedIn(created.id, since), 'an account created by this release signs in on the previous one');

    // A lock this release writes (version 2) stops a sign-in on the old release.
    await t.idp.lockout.lock(created.loginId);
    assert.equal(JSON.parse((await t.store.get(keys.lock(created.loginId)))!).v, LOCK_VERSION);
    since = Date.now();
    await signIn(oldUrl, created.loginId, V1_PASSWORD);
    assert.equal(await signedIn(created.id, since), false, 'the previous release honours a version-2 lock');

    // A lock the old release writes (version 1, five wrong passwords) is read by this one.
    const r = records[2]!;
    for (let i = 0; i < 5; i++) await signIn(oldUrl, r.loginId, 'Wrong-Password-0');
    const raw = await t.store.get(keys.lock(r.loginId));
    assert.notEqual(raw, null, 'locked by the previous release');
    assert.equal(JSON.parse(raw!).v, undefined, 'as version 1');
    assert.equal(typeof (await t.idp.lockout.lockedSince(r.loginId)), 'number');
    const refused = await t.idp.authenticator.signIn(r.loginId, V1_PASSWORD, { ip: '10.8.8.8' });
    assert.equal(!refused.ok && refused.reason, 'locked');
  });
});
