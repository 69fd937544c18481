// A rolling upgrade: records as the previous release (52c4f97, schema v1) wrote them, the
// previous release's writer and this release side by side under sign-in and password-change
// load, and the migration running meanwhile. No account loses data; in the end every record
// is version 2.
import assert from 'node:assert/strict';
import { ACCOUNT_VERSION, type Account } from '../../src/domain/accounts/account.ts';
import { runMigrations } from '../../src/domain/migrations/migrate.ts';
import { keys } from '../../src/store/index.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { loadV1, oldUpdate, v1Record, V1_PASSWORD } from './v1-fixture.ts';

const N = 240;

async function pool<T>(items: T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

describe('rolling upgrade from the previous release', function () {
  this.timeout(180_000);
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp({ seed: false });
  });
  after(async () => {
    await t.close();
  });

  it('old and new writers and the migration together lose nothing', async () => {
    const records = await loadV1(t.store, N, (i) => (i % 4 === 0 ? { futureField: { i } } : {}));
    const originalHash = records[0]!.passwordHash;
    const olderHash = records[0]!.passwordHistory[0]!;
    const newHash = await t.idp.hasher.hash('New-Password-33');
    const oldWriterHash = await t.idp.hasher.hash('Old-Writer-Pass-44');
    const indexes = records.map((_, i) => i);

    // This release: sign in (all but i%3==2), and change the password (i%3==0).
    const newRelease = pool(indexes.filter((i) => i % 3 !== 2), 8, async (i) => {
      const r = records[i]!;
      const signIn = await t.idp.authenticator.signIn(r.loginId, V1_PASSWORD, { ip: `10.0.${i % 250}.1` });
      assert.ok(signIn.ok, `sign-in ${r.loginId}: ${JSON.stringify(signIn)}`);
      if (i % 3 === 0) await t.idp.credentials.setPasswordHash(r.id, newHash, signIn.account.passwordHash, { actor: r.id, via: 'test' });
    });
    // The previous release: its sign-in records lastSignInAt; it changes passwords of i%3==2.
    const oldRelease = pool(indexes, 8, async (i) => {
      const r = records[i]!;
      await oldUpdate(t.store, r.id, (a) => ({ ...a, lastSignInAt: Date.now() }));
      if (i % 3 === 2) {
        await oldUpdate(t.store, r.id, (a) => ({ ...a, passwordHistory: [a.passwordHash, ...a.passwordHistory].slice(0, 24), passwordHash: oldWriterHash, passwordChangedAt: Date.now() }));
      }
    });
    // The previous release also creates accounts (v1) while the upgrade runs.
    const created = loadV1(t.store, 0).then(async () => {
      const extra = Array.from({ length: 20 }, (_, k) => v1Record(N + k));
      await pool(extra, 4, async (r) => {
        await t.store.set(keys.loginId(r.loginId), r.id, { onlyIfAbsent: true });
        await t.store.set(keys.account(r.id), JSON.stringify(r));
        await t.store.indexAdd(keys.directoryIndex(), `${r.loginId}\u0000${r.id}`);
      });
      return extra;
    });
    // And this release's start-up migration runs meanwhile.
    const migration = runMigrations(t.store, t.idp.directory);
    const [, , extra] = await Promise.all([newRelease, oldRelease, created, migration]);

    // After the last old process stopped, the operator runs `migrate` once more.
    const report = (await runMigrations(t.store, t.idp.directory, { again: true })).find((r) => r.name === 'account-v2');
    assert.equal(report!.counts.scanned, N + extra.length);

    for (const [i, r] of records.entries()) {
      const a = JSON.parse((await t.store.get(keys.account(r.id)))!) as Account & { futureField?: unknown };
      const what = `${r.loginId} (i=${i})`;
      assert.equal(a.v, ACCOUNT_VERSION, what);
      for (const field of Object.keys(r)) assert.ok(field in a, `${what}: ${field} kept`);
      if (i % 4 === 0) assert.deepEqual(a.futureField, { i }, `${what}: unknown field kept`);
      assert.equal(a.questions.length, 3, what);
      assert.notEqual(a.lastSignInAt, null, what);
      if (i % 3 === 0) {
        assert.equal(a.passwordHash, newHash, `${what}: this release's password change kept`);
        assert.deepEqual(a.passwordHistory.slice(0, 2), [originalHash, olderHash], what);
      } else if (i % 3 === 2) {
        assert.equal(a.passwordHash, oldWriterHash, `${what}: the old release's password change kept`);
        assert.deepEqual(a.passwordHistory.slice(0, 2), [originalHash, olderHash], what);
      } else {
        assert.equal(a.passwordHash, originalHash, what);
      }
    }
    for (const r of extra) assert.equal(JSON.parse((await t.store.get(keys.account(r.id)))!).v, ACCOUNT_VERSION);
    // Both generations of records sign in through this release.
    assert.ok((await t.idp.authenticator.signIn(records[1]!.loginId, V1_PASSWORD, { ip: '10.9.9.9' })).ok);
    assert.ok((await t.idp.authenticator.signIn(records[3]!.loginId, 'New-Password-33', { ip: '10.9.9.9' })).ok);
    assert.ok((await t.idp.authenticator.signIn(records[2]!.loginId, 'Old-Writer-Pass-44', { ip: '10.9.9.9' })).ok);
  });
});
