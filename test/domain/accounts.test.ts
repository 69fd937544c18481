import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Authenticator } from '../../src/domain/accounts/authentication.ts';
import { Directory } from '../../src/domain/accounts/directory.ts';
import { SecretHasher, type Argon2Params } from '../../src/domain/accounts/passwords.ts';
import { projectRoot } from '../../src/config/settings.ts';
import { loadSeed, parseSeed, SeedError } from '../../src/domain/accounts/seed.ts';
import { normaliseAnswer } from '../../src/domain/accounts/answers.ts';
import { AuditLog } from '../../src/domain/audit/audit-log.ts';
import { Lockout } from '../../src/domain/security/lockout.ts';
import type { Store } from '../../src/store/index.ts';
import { FAST_ARGON2, makeStore } from '../support/idp.ts';
import { makeDatabase, type TestDatabase } from '../support/database.ts';

const seed = [{
  loginId: 'Zoe_Ng@Students.edu.sg', password: 'Pebble-Lantern-88', temporary: false, givenName: 'Zoe', familyName: 'Ng',
  school: { code: 'S1', name: 'School One' }, level: 'S3', roles: ['student'],
  questions: [{ question: 'What is your favourite food?', answer: '  Chicken   RICE ' }],
}];

describe('directory, hashing and seeding (PostgreSQL and Redis)', () => {
  let store: Store;
  let db: TestDatabase;
  beforeEach(async () => {
    store = await makeStore('redis');
    db = await makeDatabase();
  });
  afterEach(async () => {
    await store.close();
    await db.close();
  });

  function deps(params = FAST_ARGON2) {
    const directory = new Directory(db.database, Date.now);
    const hasher = new SecretHasher(params);
    const audit = new AuditLog(db.database, Date.now, 1000);
    const lockout = new Lockout(store, Date.now, { maxFailures: 5, windowMinutes: 15, lockMinutes: null, maxFailuresPerIp: 1000, ipWindowMinutes: 15 });
    return { directory, hasher, audit, auth: new Authenticator(directory, hasher, audit, Date.now, lockout), now: Date.now() };
  }

  it('stores argon2id hashes only, finds login IDs case-insensitively, normalises answers', async () => {
    const d = deps();
    assert.deepEqual(await loadSeed(parseSeed(seed, 'test'), d), { created: 1, updated: 0 });
    const account = (await d.directory.findByLoginId('zoe_ng@students.edu.sg'))!;
    assert.equal(account.loginId, 'zoe_ng@students.edu.sg');
    assert.match(account.passwordHash, /^\$argon2id\$/);
    assert.equal(JSON.stringify(account).includes('Pebble-Lantern-88'), false);
    assert.equal(JSON.stringify(account).toLowerCase().includes('chicken'), false);
    assert.equal((await d.hasher.verify(account.questions[0]!.answerHash, normaliseAnswer('chicken rice'))).ok, true);
    assert.match(account.id, /^[A-Za-z0-9_-]{22}$/);
  });

  it('loads a seed again without duplicating: the account is updated', async () => {
    const d = deps();
    await loadSeed(parseSeed(seed, 'test'), d);
    const first = (await d.directory.findByLoginId('zoe_ng@students.edu.sg'))!;
    const changed = [{ ...seed[0]!, givenName: 'Zoë', temporary: true }];
    assert.deepEqual(await loadSeed(parseSeed(changed, 'test'), d), { created: 0, updated: 1 });
    const second = (await d.directory.findByLoginId('zoe_ng@students.edu.sg'))!;
    assert.equal(second.id, first.id);
    assert.equal(second.givenName, 'Zoë');
    assert.equal(second.mustChangePassword, true);
    assert.equal((await d.directory.searchLoginIds('zoe', 10)).length, 1);
  });

  for (const [bad, where] of [
    [[{ ...seed[0], level: 'P9' }], '[0].level'],
    [[{ ...seed[0], loginId: 'not-an-email' }], '[0].loginId'],
    [[seed[0], { ...seed[0], shoeSize: 4 }], '[1]: Unrecognized key'],
    [[{ ...seed[0], school: { code: 'S1' } }], '[0].school.name'],
    [[{ ...seed[0], roles: ['wizard'] }], '[0].roles.0'],
    [[seed[0], seed[0]], '[1].loginId: duplicate'],
    [{ not: 'an array' }, '(top level)'],
  ] as const) {
    it(`refuses seed data naming ${where}`, () => {
      assert.throws(() => parseSeed(bad, 'seed.json'), (e: Error) => e instanceof SeedError && e.message.includes(where));
    });
  }

  it('rehashes on sign-in when the argon2 parameters change', async () => {
    const old = deps({ memoryCost: 8192, timeCost: 1, parallelism: 1 });
    await loadSeed(parseSeed(seed, 'test'), old);
    const before = (await old.directory.findByLoginId('zoe_ng@students.edu.sg'))!;
    assert.match(before.passwordHash, /m=8192,t=1,p=1/);
    const stronger = deps({ memoryCost: 12288, timeCost: 2, parallelism: 1 });
    const result = await stronger.auth.signIn('ZOE_NG@students.edu.sg', 'Pebble-Lantern-88', {});
    assert.equal(result.ok, true);
    const after = (await stronger.directory.findByLoginId('zoe_ng@students.edu.sg'))!;
    assert.match(after.passwordHash, /m=12288,t=2,p=1/);
    assert.ok(after.lastSignInAt);
    assert.equal((await stronger.auth.signIn('zoe_ng@students.edu.sg', 'Pebble-Lantern-88', {})).ok, true);
    const events = await stronger.audit.recent(10);
    assert.ok(events.some((e) => e.type === 'password.rehashed'));
  });

  it('verifies hashes node-argon2 0.45 made (the library before @node-rs/argon2), and asks to rehash only on other parameters', async () => {
    const fixture = JSON.parse(readFileSync(path.join(projectRoot, 'test/fixtures/argon2-legacy-hashes.json'), 'utf8')) as { hashes: Array<{ secret: string; params: Argon2Params; hash: string }> };
    assert.equal(fixture.hashes.length, 3);
    for (const { secret, params, hash } of fixture.hashes) {
      // node-argon2 writes its parameters as m=…,p=…,t=…: the order differs from ours.
      assert.match(hash, /^\$argon2id\$v=19\$m=\d+,p=\d+,t=\d+\$/);
      const same = new SecretHasher(params);
      assert.deepEqual(await same.verify(hash, secret), { ok: true, needsRehash: false }, `${secret} under its own parameters`);
      assert.deepEqual(await same.verify(hash, `${secret}x`), { ok: false, needsRehash: false });
      assert.deepEqual(await new SecretHasher({ ...params, timeCost: params.timeCost + 1 }).verify(hash, secret), { ok: true, needsRehash: true });
    }
    // An account whose stored hash the old library made signs in, with the configured parameters.
    const d = deps(fixture.hashes[2]!.params);
    await loadSeed(parseSeed(seed, 'test'), d);
    const account = (await d.directory.findByLoginId('zoe_ng@students.edu.sg'))!;
    await d.directory.update(account.id, (a) => ({ ...a, passwordHash: fixture.hashes[2]!.hash }));
    assert.equal((await d.auth.signIn('zoe_ng@students.edu.sg', fixture.hashes[2]!.secret, {})).ok, true);
    assert.equal((await d.directory.findByLoginId('zoe_ng@students.edu.sg'))!.passwordHash, fixture.hashes[2]!.hash, 'same parameters: not rehashed');
  });

  it('hashes with argon2id v19 at the configured parameters, a fresh salt each time', async () => {
    const hasher = new SecretHasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 });
    const [a, b] = [await hasher.hash('same'), await hasher.hash('same')];
    assert.match(a, /^\$argon2id\$v=19\$m=8192,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.notEqual(a, b);
    assert.equal((await hasher.verify('not a hash', 'same')).ok, false);
  });

  it('refuses a disabled account with the same answer for any password (no password oracle)', async () => {
    const d = deps();
    await loadSeed(parseSeed(seed, 'test'), d);
    const account = (await d.directory.findByLoginId('zoe_ng@students.edu.sg'))!;
    await d.directory.update(account.id, (a) => ({ ...a, status: 'disabled' }));
    assert.deepEqual(await d.auth.signIn('zoe_ng@students.edu.sg', 'Pebble-Lantern-88', {}), { ok: false, reason: 'disabled' });
    assert.deepEqual(await d.auth.signIn('zoe_ng@students.edu.sg', 'wrong', {}), { ok: false, reason: 'disabled' });
  });

  it('update never loses a concurrent change (compare-and-set)', async () => {
    const d = deps();
    await loadSeed(parseSeed(seed, 'test'), d);
    const { id } = (await d.directory.findByLoginId('zoe_ng@students.edu.sg'))!;
    await Promise.all(Array.from({ length: 20 }, (_, i) => d.directory.update(id, (a) => ({ ...a, roles: [...a.roles, i % 2 ? 'staff' : 'student'], passwordHistory: [...a.passwordHistory, `h${i}`] }))));
    assert.equal((await d.directory.get(id))!.passwordHistory.length, 20);
  });
});
