// The upgrade from the releases that kept the directory in Redis (README "Upgrading"): a
// directory of 10,000 accounts in mixed states (locked, temporary password, disabled, with a
// passkey, records of the previous schema version with fields this release does not know),
// an audit stream, a registered OIDC client and a SAML SP, written as those releases wrote
// them; then the operator's `cli migrate-directory` (dry run first), and this release serving
// what it copied: nobody's account, password, lock, state or factor lost.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Account } from '../../src/domain/accounts/account.ts';
import { keys, RedisStore } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { runCli } from '../support/cli.ts';
import { makeDatabase, newSchema, type TestDatabase } from '../support/database.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { loadIntoRedis, V1_PASSWORD, v1Record } from './v1-fixture.ts';

const COUNT = 10_000;
const digest = (v: string) => createHash('sha256').update(v).digest('base64url');

/** The state of account i in the old directory. */
function stateOf(i: number): { locked: boolean; temporary: boolean; disabled: boolean; passkey: boolean } {
  return { locked: i % 10 === 3, temporary: i % 7 === 1, disabled: i % 13 === 5, passkey: i % 11 === 2 };
}

describe('upgrading a Redis-held directory (cli migrate-directory)', function () {
  this.timeout(180_000);
  let url: string;
  let prefix: string;
  let old: RedisStore;
  let db: TestDatabase;
  let records: Account[];
  let t: TestIdp | undefined;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    url = await testRedisUrl();
    prefix = uniquePrefix();
    old = new RedisStore({ url, keyPrefix: prefix });
    await old.ready();
    db = await makeDatabase();
    env = { ...process.env, REDIS_URL: url, REDIS_KEY_PREFIX: prefix, ...db.env };
    const all = Array.from({ length: COUNT }, (_, i) => {
      const s = stateOf(i);
      return v1Record(i, {
        ...(s.temporary ? { mustChangePassword: true } : {}),
        ...(s.disabled ? { status: 'disabled' } : {}),
        ...(s.passkey ? { mfa: { passkeys: [{ id: `cred-${i}`, publicKey: 'x', counter: 0, transports: [], name: 'Key', deviceType: 'singleDevice', addedAt: 0, lastUsedAt: 0 }], totp: null, recoveryCodes: [], recoveryCodesAt: null } } : {}),
        ...(i % 100 === 0 ? { futureField: { kept: i } } : {}),
      });
    });
    records = await loadIntoRedis(old, all);
    for (let i = 0; i < COUNT; i++) if (stateOf(i).locked) await old.set(keys.lock(records[i]!.loginId), JSON.stringify({ v: 2, since: 1_700_000_000_000 }));
    // An audit stream, a registered client (RFC 7591) and a SAML SP, as those releases kept them.
    for (let i = 0; i < 5; i++) await old.streamAdd(keys.audit(), { v: '2', at: new Date(1_700_000_000_000 + i).toISOString(), type: 'signin.success', accountId: records[i]!.id }, 1000);
    await old.set(keys.oidc('Client', digest('registered-app')), JSON.stringify({ client_id: 'registered-app', redirect_uris: ['https://app.example/cb'], client_name: 'Registered app' }));
    await old.setAdd(keys.oidcRegisteredClients(), 'registered-app');
    const spDigest = createHash('sha256').update('https://old-sp.example/sp').digest('base64url').slice(0, 32);
    await old.set(keys.samlRegisteredSp(spDigest), JSON.stringify({ v: 1, rev: 'abc123', entityId: 'https://old-sp.example/sp', rp: { protocol: 'saml', id: 'old-sp' }, source: 'x', addedAt: 'then', addedBy: 'cli:root' }));
    await old.setAdd(keys.samlRegisteredSps(), `${spDigest}.abc123`);
  });
  after(async () => {
    await t?.close();
    await old.close();
    await db.close();
  });

  it('a dry run counts what it would copy and writes nothing', async () => {
    const r = await runCli(env, 'migrate-directory', '--dry-run');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`would copy ${COUNT} account\\(s\\).*5 audit event\\(s\\), 1 registered OIDC client\\(s\\).*1 SAML SP\\(s\\).*dry run, nothing written`));
    const [{ n }] = (await db.database.query<{ n: number }>('select count(*)::int as n from accounts')) as [{ n: number }];
    assert.equal(n, 0);
  });

  it('copies every account as it was, twice over without change, and this release serves them', async () => {
    const started = performance.now();
    const r = await runCli(env, 'migrate-directory');
    const seconds = (performance.now() - started) / 1000;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^copied ${COUNT} account\\(s\\) \\(0 index entries without a record skipped\\), 5 audit event\\(s\\), 1 registered OIDC client\\(s\\)`));
    process.stdout.write(`      migrate-directory: ${COUNT} accounts in ${seconds.toFixed(1)} s (the downtime of the upgrade, IdP stopped)\n`);
    const refused = await runCli(env, 'migrate-directory');
    assert.equal(refused.code, 1, 'a second run would put Redis\'s records back over newer ones');
    assert.match(refused.stderr, /^the database has 10000 account\(s\) already: migrate-directory copies into an empty directory/);
    const again = await runCli(env, 'migrate-directory', '--force');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`copied ${COUNT} account\\(s\\).*, 0 audit event\\(s\\)`), 'finishing a stopped copy writes the same accounts and does not double the audit trail');

    t = await startTestIdp({ store: new RedisStore({ url, keyPrefix: prefix }), database: { ...db, close: async () => {} }, seed: false });
    await (t.store as RedisStore).ready();
    const d = t.idp.directory;
    assert.equal(await d.count(), COUNT, 'every account');
    // Byte for byte, as the old release stored them (the JSON parsed: the database normalises key order).
    for (const i of [0, 1, 2, 3, 5, 100, 4_999, 9_999]) assert.deepEqual(JSON.parse((await d.raw(records[i]!.id))!), JSON.parse((await old.get(keys.account(records[i]!.id)))!));
    assert.deepEqual(((await d.get(records[100]!.id)) as unknown as { futureField: unknown }).futureField, { kept: 100 });
    assert.deepEqual((await d.searchNameParts('*', 'v1 student 000042', 5)).map((x) => x.id), [records[42]!.id], 'found by name');
    assert.equal((await d.findByPasskey('cred-2'))?.id, records[2]!.id, 'a passkey signs in to its account');
    assert.equal((await t.idp.audit.recent(10)).length, 5);
    assert.deepEqual((await t.database.query<{ client_id: string }>('select client_id from oidc_registrations')).map((x) => x.client_id), ['registered-app']);
    assert.equal((await t.database.query('select 1 from saml_service_providers')).length, 1);

    // Signing in, as a student does, with the password of the old release: each state as it was.
    const signIn = async (i: number) => {
      const b = new Browser(t!.url);
      return (await b.signIn((await b.open('/portal')).res, records[i]!.loginId, V1_PASSWORD)).res.text;
    };
    assert.match(await signIn(0), /Sign out/, 'an ordinary account signs in');
    assert.match(await signIn(3), /locked/i, 'a locked one stays locked (the lock is in Redis, where it was)');
    assert.match(await signIn(8), /New Password/, 'a temporary password must still be changed');
    assert.doesNotMatch(await signIn(18), /Sign out/, 'a disabled one does not sign in');
  });
});

describe('cli migrate (the database schema)', function () {
  this.timeout(60_000);
  it('--dry-run says what it would apply and writes nothing; then it applies, and a second run applies nothing', async () => {
    const s = await newSchema();
    const env = { ...process.env, REDIS_URL: await testRedisUrl(), REDIS_KEY_PREFIX: uniquePrefix(), ...s.env };
    try {
      const dry = await runCli(env, 'migrate', '--dry-run');
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /^database schema at version 0; would apply: 1 directory, 2 classes, 3 badges, 4 provisioning \(dry run, nothing written\)$/m);
      const applied = await runCli(env, 'migrate');
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /^database schema at version 4; applied: 1 directory, 2 classes, 3 badges, 4 provisioning in [\d.]+ s$/m);
      const again = await runCli(env, 'migrate');
      assert.match(again.stdout, /^database schema at version 4; already current/m);
    } finally {
      await s.drop();
    }
  });
});
