// Versioned records other than accounts (src/domain/versions.ts): locks (Redis) and audit
// entries (the database). For each: what this release writes carries
// its version, a record of the previous version (none) is read, and a record of a newer
// version with a field this release does not know is read and survives this release's
// writes (kept as it is, or refused with NewerRecordError, as accounts are).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportBackup, restoreBackup } from '../../src/domain/backup/backup.ts';
import { AUDIT_VERSION, LOCK_VERSION } from '../../src/domain/versions.ts';
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

  describe('locks', () => {
    it('are written with their version; a version-1 lock ({since} only) is read and unlocks', async () => {
      const [r] = await loadV1(t.idp.directory, 1);
      await t.idp.lockout.lock(r!.loginId);
      const written = JSON.parse((await t.store.get(keys.lock(r!.loginId)))!) as Record<string, unknown>;
      assert.equal(written.v, LOCK_VERSION);
      assert.equal(typeof written.since, 'number');
      // Five wrong passwords lock too, with the version.
      const [s] = await loadV1(t.idp.directory, 2).then((rs) => rs.slice(1));
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
      const [r] = await loadV1(t.idp.directory, 1);
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
      await t.database.query('insert into audit_events (event) values ($1)', [JSON.stringify({ at: '2025-01-01T00:00:00.000Z', type: 'signin.success', accountId: 'acc_old' })]);
      await t.idp.audit.record({ type: 'signin.failure', accountId: 'acc_now', ip: '10.0.0.1' });
      await t.database.query('insert into audit_events (event) values ($1)', [JSON.stringify({ v: String(AUDIT_VERSION + 1), at: '2027-01-01T00:00:00.000Z', type: 'mfa.enrolled', accountId: 'acc_new', authenticator: 'passkey' })]);
      const [newer, now, old] = await t.idp.audit.recent(3);
      assert.equal(old!.v, 1);
      assert.equal(old!.accountId, 'acc_old');
      assert.equal(now!.v, AUDIT_VERSION);
      assert.equal(now!.type, 'signin.failure');
      assert.equal(newer!.v, AUDIT_VERSION + 1);
      assert.equal((newer as unknown as Record<string, string>).authenticator, 'passkey', 'a field this release does not know is read');
    });
  });
});
