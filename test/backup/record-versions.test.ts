// Versioned durable records other than accounts (src/domain/versions.ts): locks, audit
// entries, login-ID claims and the two indexes. For each: what this release writes carries
// its version, a record of the previous version (none) is read, and a record of a newer
// version with a field this release does not know is read and survives this release's
// writes (kept as it is, or refused with NewerRecordError, as accounts are).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Account } from '../../src/domain/accounts/account.ts';
import { exportBackup, restoreBackup } from '../../src/domain/backup/backup.ts';
import { runMigrations } from '../../src/domain/migrations/migrate.ts';
import { AUDIT_VERSION, INDEX_VERSION, LOCK_VERSION, NewerRecordError } from '../../src/domain/versions.ts';
import { keys, RedisStore } from '../../src/store/index.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { loadV1, V1_PASSWORD } from './v1-fixture.ts';

const IP = { ip: '10.7.7.7' };
const FUTURE_LOCK = { v: LOCK_VERSION + 1, since: 1_700_000_000_000, reason: 'risk-engine', detail: { score: 97 } };

describe('versioned locks, audit entries, login-ID claims and indexes', function () {
  this.timeout(60_000);
  let t: TestIdp;
  beforeEach(async () => {
    t = await startTestIdp({ seed: false });
  });
  afterEach(async () => {
    await t.close();
  });

  const newAccount = (loginId: string, displayName: string) => t.idp.directory.create({ loginId, displayName, givenName: 'G', familyName: 'F', school: { code: 'X', name: 'X' }, level: null, roles: ['student'], status: 'active', passwordHash: 'x', mustChangePassword: false, passwordChangedAt: 0, passwordHistory: [], questions: [] });

  describe('locks', () => {
    it('are written with their version; a version-1 lock ({since} only) is read and unlocks', async () => {
      const [r] = await loadV1(t.store, 1);
      await t.idp.lockout.lock(r!.loginId);
      const written = JSON.parse((await t.store.get(keys.lock(r!.loginId)))!) as Record<string, unknown>;
      assert.equal(written.v, LOCK_VERSION);
      assert.equal(typeof written.since, 'number');
      // Five wrong passwords lock too, with the version.
      const [s] = await loadV1(t.store, 2).then((rs) => rs.slice(1));
      for (let i = 0; i < 5; i++) await t.idp.authenticator.signIn(s!.loginId, 'wrong-password-1', IP);
      assert.equal(JSON.parse((await t.store.get(keys.lock(s!.loginId)))!).v, LOCK_VERSION);

      // Version 1, as the previous release writes it.
      await t.idp.lockout.unlock(r!.loginId);
      await t.store.set(keys.lock(r!.loginId), JSON.stringify({ since: 1234 }));
      assert.equal(await t.idp.lockout.lockedSince(r!.loginId), 1234);
      const refused = await t.idp.authenticator.signIn(r!.loginId, V1_PASSWORD, IP);
      assert.equal(refused.ok, false);
      assert.equal(!refused.ok && refused.reason, 'locked');
      assert.equal(await t.idp.lockout.unlock(r!.loginId), true);
      assert.ok((await t.idp.authenticator.signIn(r!.loginId, V1_PASSWORD, IP)).ok);
    });

    it('a newer lock with a field this release does not know is read, and survives lock(), wrong passwords, export and restore', async () => {
      const [r] = await loadV1(t.store, 1);
      const value = JSON.stringify(FUTURE_LOCK);
      await t.store.set(keys.lock(r!.loginId), value);
      assert.equal(await t.idp.lockout.lockedSince(r!.loginId), FUTURE_LOCK.since);
      const refused = await t.idp.authenticator.signIn(r!.loginId, V1_PASSWORD, IP);
      assert.equal(!refused.ok && refused.reason, 'locked');
      await t.idp.lockout.lock(r!.loginId);
      for (let i = 0; i < 6; i++) await t.idp.authenticator.signIn(r!.loginId, 'wrong-password-1', IP);
      assert.equal(await t.store.get(keys.lock(r!.loginId)), value, 'unchanged, byte for byte');
      assert.equal(await t.store.ttl(keys.lock(r!.loginId)), -1, 'no expiry added');

      // Through a backup, verbatim.
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'idp-versions-')), 'b.enc');
      const secret = Buffer.from('a passphrase of some length');
      await exportBackup(t.store, t.idp.directory, file, secret);
      const other = new RedisStore({ url: await testRedisUrl(), keyPrefix: uniquePrefix() });
      await other.ready();
      const u = await startTestIdp({ store: other, seed: false });
      try {
        await restoreBackup(u.store, u.idp.directory, file, secret);
        assert.equal(await u.store.get(keys.lock(r!.loginId)), value);
      } finally {
        await u.close();
      }
    });
  });

  describe('audit entries', () => {
    it('are appended with their version; version-1 and newer entries are read with every field', async () => {
      await t.store.streamAdd(keys.audit(), { at: '2025-01-01T00:00:00.000Z', type: 'signin.success', accountId: 'acc_old' }, 1000);
      await t.idp.audit.record({ type: 'account.locked', accountId: 'acc_now', reason: 'test' });
      await t.store.streamAdd(keys.audit(), { v: String(AUDIT_VERSION + 1), at: '2027-01-01T00:00:00.000Z', type: 'mfa.enrolled', accountId: 'acc_new', authenticator: 'passkey' }, 1000);
      const raw = await t.store.streamRange(keys.audit(), 10);
      assert.equal(raw.find((e) => e.fields.accountId === 'acc_now')!.fields.v, String(AUDIT_VERSION), 'stored with its version');
      const events = await t.idp.audit.recent(10);
      const byId = (id: string) => events.find((e) => e.accountId === id)! as unknown as Record<string, unknown>;
      assert.equal(byId('acc_old').v, 1);
      assert.equal(byId('acc_old').type, 'signin.success');
      assert.equal(byId('acc_now').v, AUDIT_VERSION);
      assert.equal(byId('acc_now').reason, 'test');
      assert.equal(byId('acc_new').v, AUDIT_VERSION + 1);
      assert.equal(byId('acc_new').authenticator, 'passkey', 'a field this release does not know is passed through');
    });
  });

  describe('login-ID claims and indexes (dir:layout)', () => {
    it('a store without a layout record (version 1, the previous release) is read; this release records its layout on its first write and in the migration', async () => {
      const [r] = await loadV1(t.store, 1);
      assert.equal(await t.store.get(keys.directoryLayout()), null);
      assert.equal((await t.idp.directory.findByLoginId(r!.loginId))?.id, r!.id);
      assert.deepEqual((await t.idp.directory.searchLoginIds('v1_', 10)).map((e) => e.id), [r!.id]);
      assert.deepEqual(await t.idp.directory.searchNames('v1 student', 10), [{ id: r!.id }]);
      assert.ok((await t.idp.authenticator.signIn(r!.loginId, V1_PASSWORD, IP)).ok);
      const a = await newAccount('made_now@students.edu.sg', 'Made Now');
      assert.deepEqual(JSON.parse((await t.store.get(keys.directoryLayout()))!), { v: INDEX_VERSION });
      // The claim stays the bare account id: the previous release reads it as it always did.
      assert.equal(await t.store.get(keys.loginId(a.loginId)), a.id);

      // The migration step writes it where no account was created, keeping unknown fields.
      await t.store.set(keys.directoryLayout(), JSON.stringify({ note: 'kept' }));
      const [layout] = await runMigrations(t.store, t.idp.directory);
      assert.equal(layout!.name, `directory-layout-v${INDEX_VERSION}`);
      assert.equal(layout!.counts.migrated, 1);
      assert.deepEqual(JSON.parse((await t.store.get(keys.directoryLayout()))!), { note: 'kept', v: INDEX_VERSION });
      const [again] = await runMigrations(t.store, t.idp.directory, { again: true });
      assert.equal(again!.counts.current, 1);
    });

    it('a newer layout with JSON claims and longer index members is read; this release writes no claim or index entry under it and leaves the layout record as it is', async () => {
      const [r, s] = await loadV1(t.store, 2);
      // What a later release might write: the claim as JSON with fields, members with a third part.
      const layout = JSON.stringify({ v: INDEX_VERSION + 1, claims: 'json', hint: 'future' });
      await t.store.set(keys.directoryLayout(), layout);
      await t.store.set(keys.loginId(r!.loginId), JSON.stringify({ v: INDEX_VERSION + 1, id: r!.id, since: 2027 }));
      await t.store.indexRemove(keys.directoryIndex(), `${r!.loginId}\u0000${r!.id}`);
      await t.store.indexAdd(keys.directoryIndex(), `${r!.loginId}\u0000${r!.id}\u0000extra`);
      await t.store.indexRemove(keys.nameIndex(), `v1 student 000000\u0000${r!.id}`);
      await t.store.indexAdd(keys.nameIndex(), `v1 student 000000\u0000${r!.id}\u0000extra`);

      assert.equal((await t.idp.directory.findByLoginId(r!.loginId))?.id, r!.id, 'a JSON claim is read for its id');
      assert.ok((await t.idp.authenticator.signIn(r!.loginId, V1_PASSWORD, IP)).ok, 'signs in through a JSON claim');
      assert.deepEqual((await t.idp.directory.searchLoginIds('v1_', 10)).map((e) => [e.loginId, e.id]), [[r!.loginId, r!.id], [s!.loginId, s!.id]]);
      assert.deepEqual(await t.idp.directory.searchNames('v1 student 000000', 10), [{ id: r!.id }]);
      // Paging by one continues past a longer member (the cursor is the stored member).
      const first = await t.idp.directory.searchLoginIds('', 1);
      assert.deepEqual((await t.idp.directory.searchLoginIds('', 1, first[0]!.member)).map((e) => e.id), [s!.id]);

      await assert.rejects(newAccount('refused@students.edu.sg', 'Refused'), (err: unknown) => err instanceof NewerRecordError && /newer release \(layout version 3/.test((err as Error).message));
      assert.equal(await t.store.get(keys.loginId('refused@students.edu.sg')), null, 'no claim left behind');
      await assert.rejects(t.idp.directory.update(s!.id, (a) => ({ ...a, displayName: 'Renamed' }) as Account), NewerRecordError);
      assert.equal((await t.idp.directory.get(s!.id))!.displayName, s!.displayName, 'a rename would write the name index: refused, record unchanged');
      // Changes that write no index entry go on (a sign-in, above; a status change here).
      assert.equal((await t.idp.directory.update(s!.id, (a) => ({ ...a, status: 'disabled' })))!.status, 'disabled');

      const reports = await runMigrations(t.store, t.idp.directory, { again: true });
      assert.equal(reports[0]!.counts.newer, 1);
      assert.equal(await t.store.get(keys.directoryLayout()), layout, 'the newer layout record is unchanged, fields and all');
    });
  });
});
