// Backup and restore as an operator runs them: the CLI exports the directory of one Redis
// key space, restores it into an empty one, and the students sign in there with their old
// passwords and answers. Damaged, truncated and wrong-key backups restore nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Response } from 'supertest';
import { runCli } from '../support/cli.ts';
import { BackupWriter } from '../../src/domain/backup/format.ts';
import { keys, RedisStore } from '../../src/store/index.ts';
import { v1Record } from './v1-fixture.ts';
import { Browser } from '../support/browser.ts';
import { Journey, launchChromium } from '../support/chromium.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { makeDatabase, type TestDatabase } from '../support/database.ts';
import { Directory } from '../../src/domain/accounts/directory.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';

const KEY = 'correct horse battery staple 2026';
const ALLEN_ANSWERS: Record<string, string> = {
  'What is your favourite food?': 'ramen',
  'What is your favourite animal?': 'shark',
  'What is your favourite colour?': 'turquoise',
};

function questionsOn(page: Response): string[] {
  return [...page.text.matchAll(/<label for="a\d+">([^<]+)<\/label>/g)].map((m) => m[1]!.replace(/&#39;/g, "'"));
}

describe('backup and restore (CLI)', function () {
  this.timeout(120_000);
  let source: TestIdp;
  let url: string;
  let dir: string;
  let file: string;
  // A place to restore into: a Redis key prefix and a database schema of its own.
  interface Target { prefix: string; db: TestDatabase }
  const targets: TestDatabase[] = [];
  const newTarget = async (): Promise<Target> => {
    const db = await makeDatabase();
    targets.push(db);
    return { prefix: uniquePrefix(), db };
  };
  const envFor = (target: Target, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, REDIS_URL: url, REDIS_KEY_PREFIX: target.prefix, ...target.db.env, IDP_BACKUP_KEY: KEY, ...extra });
  let sourceTarget: Target;
  let sourcePrefix: string;
  const device = new SoftAuthenticator();

  before(async () => {
    url = await testRedisUrl();
    sourcePrefix = uniquePrefix();
    const store = new RedisStore({ url, keyPrefix: sourcePrefix });
    await store.ready();
    source = await startTestIdp({ store });
    sourceTarget = { prefix: sourcePrefix, db: { database: source.database, env: source.databaseEnv, close: async () => {} } };
    dir = mkdtempSync(path.join(tmpdir(), 'idp-backup-'));
    file = path.join(dir, 'directory.jsonl.enc');
    // A lock, and a field this release does not know, must both come back.
    const bella = (await source.idp.directory.findByLoginId(DEMO.student2.loginId))!;
    await source.store.set(keys.lock(bella.loginId), JSON.stringify({ since: 1 }));
    await source.idp.directory.update(bella.id, (a) => ({ ...a, futureField: { kept: true } }) as typeof a);
    // A passkey, which signs in through an index the backup does not carry.
    const daniel = (await source.idp.directory.findByLoginId(DEMO.staff.loginId))!;
    const options = await source.idp.mfa.registrationOptions(daniel);
    assert.ok(await source.idp.mfa.addPasskey(daniel, device.register(options as never, source.url) as never, options.challenge, 'Laptop', {}));
    const r = await runCli(envFor(sourceTarget), 'export', '--out', file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /exported \d+ account\(s\) and 1 lock\(s\)/);
  });
  after(async () => {
    await source.close();
    for (const db of targets) await db.close();
  });

  it('holds no clear secrets', () => {
    const bytes = readFileSync(file);
    for (const needle of [DEMO.student.loginId, DEMO.student.password, 'argon2id', 'shark']) assert.equal(bytes.includes(needle), false, needle);
  });

  it('restores into an empty store: old passwords and answers work, the lock and unknown fields are kept, a second restore is refused', async () => {
    const target = await newTarget();
    const r = await runCli(envFor(target), 'import-backup', file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /restored \d+ account\(s\) and 1 lock\(s\)/);
    const store = new RedisStore({ url, keyPrefix: target.prefix });
    await store.ready();
    const t = await startTestIdp({ store, database: target.db, seed: false });
    try {
      // Every record is identical to its source, byte for byte.
      for (const { id } of await source.idp.directory.searchLoginIds('', 1000)) {
        assert.equal(await t.idp.directory.raw(id), await source.idp.directory.raw(id));
      }
      const bella = (await t.idp.directory.findByLoginId(DEMO.student2.loginId))! as unknown as { futureField: unknown };
      assert.deepEqual(bella.futureField, { kept: true });
      assert.notEqual(await t.store.get(keys.lock(DEMO.student2.loginId)), null);
      // The passkey signs in alone after the restore (its index follows from the record).
      const passkeyOptions = await t.idp.mfa.authenticationOptions(null);
      const byPasskey = await t.idp.mfa.checkPasskey(device.assert(passkeyOptions as never, t.url) as never, passkeyOptions.challenge, null, {});
      assert.equal(byPasskey?.account.loginId, DEMO.staff.loginId);

      // Sign in with the old password.
      const b = new Browser(t.url);
      const signedIn = await b.signIn((await b.open('/portal')).res, DEMO.student.loginId, DEMO.student.password);
      assert.doesNotMatch(signedIn.res.text, /SSPR 5\d{3}|Invalid|incorrect/i);
      const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
      assert.equal((await t.idp.audit.recent(10, (e) => e.type === 'signin.success' && e.accountId === allen.id)).length, 1, 'signed in with the old password');

      // And as the student does it: in Chromium, with the old password, to the apps page.
      const chromium = await launchChromium();
      try {
        const j = await Journey.start(chromium, 'restored-backup-sign-in');
        await j.page.goto(`${t.url}/portal`);
        await j.screen('mims-portal-sign-in', 'MIMS Portal');
        await j.page.getByLabel('Username').fill(DEMO.student.loginId);
        await j.page.getByLabel('Password').fill(DEMO.student.password);
        await j.page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await j.screen('applications', 'Applications');
        assert.match(await j.page.content(), /Allen Tan/);
        await j.context.close();
      } finally {
        await chromium.close();
      }
      // Answer the challenge questions with the old answers (forgot password).
      const f = new Browser(t.url);
      const page = await f.open('/portal');
      const link = /href="(\/flow\/forgot-password\?from=[^"]+)"/.exec(page.res.text)![1]!;
      const search = await f.open(link);
      const questions = (await f.follow(await f.submit(search.res, '/forgot/search', { username: DEMO.student.loginId }))).res;
      const fields: Record<string, string> = {};
      questionsOn(questions).forEach((q, i) => (fields[`a${i}`] = ALLEN_ANSWERS[q] ?? 'wrong'));
      assert.equal(Object.keys(fields).length > 0, true);
      const answered = await f.follow(await f.submit(questions, '/forgot/answers', fields));
      assert.match(answered.res.text, /New Password/);

      const again = await runCli(envFor(target), 'import-backup', file);
      assert.equal(again.code, 1);
      assert.equal(again.stderr.trim().split('\n').length, 1);
      assert.match(again.stderr, /already has accounts: restore goes into an empty store \(run with --force/);
      const forced = await runCli(envFor(target), 'import-backup', file, '--force');
      assert.equal(forced.code, 0, forced.stderr);
    } finally {
      await t.close();
    }
  });

  async function refused(bad: string, extra: NodeJS.ProcessEnv, message: RegExp): Promise<void> {
    const target = await newTarget();
    const r = await runCli(envFor(target, extra), 'import-backup', bad);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(await accountsIn(target), 0, 'nothing restored');
  }

  it('refuses a tampered backup and restores nothing', async () => {
    const bytes = readFileSync(file);
    const bad = path.join(dir, 'tampered.enc');
    bytes[bytes.length - 200]! ^= 0x01;
    writeFileSync(bad, bytes);
    await refused(bad, {}, /damaged or was altered \(chunk \d+ failed authentication\): nothing restored/);
  });

  it('refuses a truncated backup and restores nothing', async () => {
    const bytes = readFileSync(file);
    const bad = path.join(dir, 'truncated.enc');
    // Cut exactly at the end of the last data frame: every remaining frame is intact.
    writeFileSync(bad, bytes.subarray(0, bytes.length - finalFrameLength(bytes)));
    await refused(bad, {}, /truncated .*nothing restored/);
    writeFileSync(bad, bytes.subarray(0, bytes.length - 7));
    await refused(bad, {}, /truncated .*nothing restored/);
  });

  it('refuses a wrong key, a missing key and a file that is no backup', async () => {
    await refused(file, { IDP_BACKUP_KEY: 'another passphrase entirely' }, /wrong backup key/);
    await refused(file, { IDP_BACKUP_KEY: '' }, /no backup key: set IDP_BACKUP_KEY/);
    const notBackup = path.join(dir, 'plain.jsonl');
    writeFileSync(notBackup, '{"type":"account"}\n');
    await refused(notBackup, {}, /is not an IdP backup/);
  });

  /** A backup file of `records` (in the order given), written as export writes one. */
  async function crafted(name: string, records: object[]): Promise<string> {
    const out = path.join(dir, name);
    const w = await BackupWriter.create(out, Buffer.from(KEY, 'utf8'));
    await w.line(JSON.stringify({ type: 'backup', format: 1, accountVersion: 2, createdAt: new Date().toISOString() }));
    for (const record of records) await w.line(JSON.stringify({ type: 'account', record }));
    await w.finish({ accounts: records.length, locks: 0 });
    return out;
  }
  const accountsIn = (target: Target) => new Directory(target.db.database, Date.now).count();
  const storeAt = async (prefix: string) => {
    const store = new RedisStore({ url, keyPrefix: prefix });
    await store.ready();
    return store;
  };

  it('refuses a backup with a login ID twice before writing anything, however far into the file it is', async () => {
    const records: object[] = Array.from({ length: 40 }, (_, i) => v1Record(i));
    // Past the first write batch (32): the restore used to write those, then stop.
    records.push({ ...v1Record(39), id: 'acc_v1_000039x' }, ...Array.from({ length: 5 }, (_, i) => v1Record(40 + i)));
    const bad = await crafted('duplicate.enc', records);
    await refused(bad, {}, /^login ID v1_student_000039@students\.edu\.sg appears twice in the backup \(lines 41 and 42\): nothing restored$/m);
    const target = await newTarget();
    const r = await runCli(envFor(target), 'import-backup', bad, '--force');
    assert.equal(r.code, 1, 'refused with --force as well');
    assert.equal(await accountsIn(target), 0, 'no account written');
    assert.equal(v1Record(39).loginId.length > 0, true);
  });

  it('refuses a malformed line, an account id twice and lines out of export order, and restores nothing', async () => {
    const ten = (): object[] => Array.from({ length: 40 }, (_, i) => v1Record(i));
    const { displayName: _d, ...nameless } = v1Record(40) as unknown as Record<string, unknown>;
    await refused(await crafted('nameless.enc', [...ten(), nameless]), {}, /backup line 42 is not an account record .*: nothing restored/);
    await refused(await crafted('same-id.enc', [...ten(), { ...v1Record(40), id: v1Record(3).id }]), {}, /account id acc_v1_000003 appears twice in the backup \(lines 5 and 42\): nothing restored/);
    await refused(await crafted('unsorted.enc', [...ten(), v1Record(7)]), {}, /backup line 42 is out of order .*: nothing restored/);
  });

  it('--force replaces the directory: accounts, index entries and locks the backup does not have are removed; sessions and the audit stream are left alone', async () => {
    const target = await newTarget();
    const first = await runCli(envFor(target), 'import-backup', file);
    assert.equal(first.code, 0, first.stderr);
    const store = await storeAt(target.prefix);
    const t = await startTestIdp({ store, database: target.db, seed: false });
    try {
      const d = t.idp.directory;
      const allen = (await d.findByLoginId(DEMO.student.loginId))!;
      const daniel = (await d.findByLoginId(DEMO.staff.loginId))!;
      // The directory moves on after the backup:
      const extra = await d.create({ ...allen, loginId: 'joined_later@students.edu.sg', displayName: 'Joined Later' });
      await t.idp.lockout.lock(extra.loginId);
      await d.update(allen.id, (a) => ({ ...a, displayName: 'Allen Renamed' }));
      await t.idp.lockout.lock(allen.loginId);
      await t.idp.lockout.unlock(DEMO.student2.loginId);
      // Daniel's login ID removed and given to a new account (another id).
      await d.delete(daniel.id);
      const reused = await d.create({ ...daniel, displayName: 'Daniel Again' });
      assert.notEqual(reused.id, daniel.id);
      await t.store.set(keys.ssoSession('kept-session'), '{}', { ttlMs: 600_000 });
      await t.idp.audit.record({ type: 'account.created', accountId: extra.id });
      const auditBefore = (await t.idp.audit.recent(10_000)).length;

      const r = await runCli(envFor(target), 'import-backup', file, '--force');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /restored \d+ account\(s\) and 1 lock\(s\) from .*, removed 2 account\(s\) the backup does not have/);

      // The directory is the backup's, exactly: login IDs, name search, every record, the locks.
      assert.deepEqual(await d.searchLoginIds('', 100_000), await source.idp.directory.searchLoginIds('', 100_000));
      assert.deepEqual(await d.searchNames('', 100_000), await source.idp.directory.searchNames('', 100_000));
      assert.deepEqual(await d.searchNameParts('*', 'renamed', 10), [], 'no search hit for the name the backup does not have');
      for (const { id } of await source.idp.directory.searchLoginIds('', 1000)) assert.equal(await d.raw(id), await source.idp.directory.raw(id));
      assert.equal(await d.get(extra.id), null);
      assert.equal(await d.findByLoginId(extra.loginId), null);
      assert.equal(await t.store.get(keys.lock(extra.loginId)), null);
      assert.equal(await d.get(reused.id), null);
      assert.equal((await d.findByLoginId(daniel.loginId))?.id, daniel.id);
      assert.equal(await t.store.get(keys.lock(allen.loginId)), null, 'no lock in the backup: none after');
      assert.notEqual(await t.store.get(keys.lock(DEMO.student2.loginId)), null, "the backup's lock is back");
      // Not part of the directory: left as they were.
      assert.equal(await t.store.get(keys.ssoSession('kept-session')), '{}');
      assert.equal((await t.idp.audit.recent(10_000)).length, auditBefore);
      const b = new Browser(t.url);
      const signedIn = await b.signIn((await b.open('/portal')).res, DEMO.staff.loginId, DEMO.staff.password);
      assert.doesNotMatch(signedIn.res.text, /SSPR 5\d{3}|Invalid|incorrect/i);
    } finally {
      await t.close();
    }
  });

  it('takes the key from a key file as well', async () => {
    const keyFile = path.join(dir, 'backup.key');
    writeFileSync(keyFile, 'a-random-key-file-content-0123456789\n', { mode: 0o600 });
    const out = path.join(dir, 'with-key-file.enc');
    const e = await runCli(envFor(sourceTarget, { IDP_BACKUP_KEY: '' }), 'export', '--out', out, '--key-file', keyFile);
    assert.equal(e.code, 0, e.stderr);
    await refused(out, {}, /wrong backup key/);
    const r = await runCli(envFor(await newTarget(), { IDP_BACKUP_KEY: '', IDP_BACKUP_KEY_FILE: keyFile }), 'import-backup', out);
    assert.equal(r.code, 0, r.stderr);
  });
});

/** The length of the last frame (the end marker) of a backup file, found by walking the frames. */
function finalFrameLength(bytes: Buffer): number {
  let pos = 11;
  pos += 4 + bytes.readUInt32BE(11);
  for (;;) {
    const len = bytes.readUInt32BE(pos);
    const size = 5 + len + 16;
    if (bytes[pos + 4] === 1) return size;
    pos += size;
  }
}
