// The directory's contract, on both databases it runs on: a PostgreSQL server (a schema of
// its own) and the embedded PostgreSQL (PGlite). Concurrency is the database's: login IDs
// unique under racing creations, concurrent updates of one account serialised (none lost),
// the last-factor rule held under racing removals; migrations versioned, dry-run, and a newer
// database refused; the embedded one keeps what it was told across a restart.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Account } from '../../src/domain/accounts/account.ts';
import { Directory, DuplicateLoginIdError, PasskeyTakenError, type NewAccount } from '../../src/domain/accounts/directory.ts';
import { AuditLog } from '../../src/domain/audit/audit-log.ts';
import { EmbeddedDatabase, migrate, MIGRATIONS, NewerDatabaseError } from '../../src/store/database/index.ts';
import { makeDatabase, newSchema, type TestDatabase } from '../support/database.ts';
import { loadSettings } from '../../src/config/settings.ts';
import { createServices } from '../../src/services.ts';
import { MemoryStore } from '../../src/store/index.ts';
import { FAST_ARGON2 } from '../support/idp.ts';
import { PostgresDatabase } from '../../src/store/database/postgres.ts';

function newAccount(loginId: string, extra: Partial<NewAccount> = {}): NewAccount {
  return {
    loginId, displayName: 'Mei Ling Tan', givenName: 'Mei Ling', familyName: 'Tan',
    school: { code: 'S1', name: 'School One' }, level: 'P1', roles: ['student'], status: 'active', passwordHash: 'x',
    mustChangePassword: false, passwordChangedAt: 0, passwordHistory: [], questions: [], ...extra,
  };
}

type WithMfa = Account & { mfa?: { passkeys: Array<{ id: string }>; totp: unknown } };

for (const kind of ['postgres', 'embedded'] as const) {
  describe(`directory contract (${kind})`, function () {
    this.timeout(60_000);
    let db: TestDatabase;
    let directory: Directory;
    before(async () => {
      db = await makeDatabase(kind);
      directory = new Directory(db.database, Date.now);
    });
    after(async () => {
      await db.close();
    });

    it('login IDs are unique even when 20 creations race', async () => {
      const attempts = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => directory.create(newAccount('race@students.edu.sg', { displayName: `R ${i}` }))));
      assert.equal(attempts.filter((a) => a.status === 'fulfilled').length, 1);
      for (const a of attempts) if (a.status === 'rejected') assert.ok(a.reason instanceof DuplicateLoginIdError, String(a.reason));
      const found = await directory.findByLoginId('race@students.edu.sg');
      assert.ok(found);
      assert.deepEqual(await directory.searchLoginIds('race', 10), [{ loginId: 'race@students.edu.sg', id: found.id, member: 'race@students.edu.sg' }]);
    });

    it('30 concurrent updates of one account are all kept (serialised by the database)', async () => {
      const a = await directory.create(newAccount('counter@students.edu.sg'));
      await Promise.all(Array.from({ length: 30 }, () => directory.update(a.id, (x) => ({ ...x, passwordHistory: [...x.passwordHistory, 'h'] }))));
      assert.equal((await directory.get(a.id))!.passwordHistory.length, 30);
    });

    it('the last second factor stays when two removals race', async () => {
      const a = await directory.create(newAccount('factors@students.edu.sg'));
      await directory.update(a.id, (x) => ({ ...x, mfa: { passkeys: [{ id: 'cred-a' }, { id: 'cred-b' }], totp: null } }) as WithMfa);
      const removeKeepingOne = (id: string) => directory.update(a.id, (x) => {
        const m = (x as WithMfa).mfa!;
        const left = m.passkeys.filter((p) => p.id !== id);
        return left.length > 0 || m.totp !== null ? ({ ...x, mfa: { ...m, passkeys: left } } as WithMfa) : null;
      });
      await Promise.all([removeKeepingOne('cred-a'), removeKeepingOne('cred-b')]);
      const left = ((await directory.get(a.id)) as WithMfa).mfa!.passkeys;
      assert.equal(left.length, 1, 'one factor remains');
      assert.equal((await directory.findByPasskey(left[0]!.id))?.id, a.id, 'found by its passkey');
      const gone = left[0]!.id === 'cred-a' ? 'cred-b' : 'cred-a';
      assert.equal(await directory.findByPasskey(gone), null, 'the removed one no longer signs in');
    });

    it('a passkey belongs to one account: another account cannot take it, and its write changes nothing', async () => {
      const a = await directory.create(newAccount('owner@students.edu.sg'));
      const b = await directory.create(newAccount('other@students.edu.sg'));
      await directory.update(a.id, (x) => ({ ...x, mfa: { passkeys: [{ id: 'shared-cred' }], totp: null } }) as WithMfa);
      await assert.rejects(directory.update(b.id, (x) => ({ ...x, displayName: 'Changed', mfa: { passkeys: [{ id: 'shared-cred' }], totp: null } }) as WithMfa), PasskeyTakenError);
      assert.equal((await directory.get(b.id))!.displayName, 'Mei Ling Tan', 'the refused write left the record as it was');
      assert.equal((await directory.findByPasskey('shared-cred'))?.id, a.id);
    });

    it('finds by any part of a name, in a school or in all, and follows renames; a prefix is never a pattern', async () => {
      const a = await directory.create(newAccount('mei@students.edu.sg'));
      const ids = async (school: string, q: string) => (await directory.searchNameParts(school, q, 50)).map((x) => x.id);
      assert.ok((await ids('S1', 'tan')).includes(a.id));
      assert.ok((await ids('*', 'ling t')).includes(a.id));
      assert.ok(!(await ids('S2', 'tan')).includes(a.id));
      assert.deepEqual(await ids('*', '%'), [], 'LIKE wildcards are taken literally');
      assert.deepEqual(await ids('*', '_'), []);
      await directory.update(a.id, (x) => ({ ...x, displayName: 'Mei Ling Goh', familyName: 'Goh' }));
      assert.ok(!(await ids('S1', 'tan')).includes(a.id));
      assert.ok((await ids('S1', 'goh')).includes(a.id));
      assert.deepEqual((await directory.searchNames('mei ling goh', 5)).map((x) => x.id), [a.id]);
    });

    it('pages login IDs in byte order, and keeps fields it does not know', async () => {
      for (const n of ['b', 'a', 'c']) await directory.create(newAccount(`page_${n}@students.edu.sg`, { futureField: { n } } as Partial<NewAccount>));
      const first = await directory.searchLoginIds('page_', 2);
      assert.deepEqual(first.map((e) => e.loginId), ['page_a@students.edu.sg', 'page_b@students.edu.sg']);
      assert.deepEqual((await directory.searchLoginIds('page_', 2, first[1]!.member)).map((e) => e.loginId), ['page_c@students.edu.sg']);
      const c = (await directory.findByLoginId('page_c@students.edu.sg'))!;
      await directory.update(c.id, (x) => ({ ...x, status: 'disabled' }));
      assert.deepEqual((JSON.parse((await directory.raw(c.id))!) as { futureField: unknown }).futureField, { n: 'c' });
    });

    it('two imports of overlapping cohorts at once create each account once, and each temporary password shown is the one in force', async () => {
      const settings = loadSettings({ env: {}, overrides: { argon2: FAST_ARGON2, import: { argon2: FAST_ARGON2 } } });
      const services = createServices(settings, new MemoryStore(), db.database, Date.now);
      const csv = (from: number, to: number) => Buffer.from(['loginId,givenName,familyName,schoolCode,schoolName,level,roles', ...Array.from({ length: to - from }, (_, k) => `cohort_${from + k}@students.edu.sg,Cohort,Pupil${from + k},S1,School One,P1,student`)].join('\n'));
      const [a, b] = await Promise.all([
        services.importer.commit(csv(0, 30), { kind: 'ministry' }, 'import-a'),
        services.importer.commit(csv(20, 50), { kind: 'ministry' }, 'import-b'),
      ]);
      const ids = await directory.searchLoginIds('cohort_', 1000);
      assert.equal(ids.length, 50, 'each login ID once');
      const shown = [...a.passwords, ...b.passwords];
      assert.equal(new Set(shown.map((p) => p.loginId)).size, shown.length, 'no account was handed out twice');
      assert.equal(shown.length, 50, 'every account created was handed out by exactly one of the imports');
      for (const p of shown.filter((_, i) => i % 7 === 0)) {
        const account = await directory.findByLoginId(p.loginId);
        assert.ok((await services.hasher.verify(account!.passwordHash, p.temporaryPassword)).ok, `${p.loginId}: the password its import printed`);
      }
    });

    it('audit events come back newest first, in pages, trimmed to the cap', async () => {
      const audit = new AuditLog(db.database, Date.now, 5);
      for (let i = 0; i < 8; i++) await audit.record({ type: 'signin.failure', reason: String(i) });
      const recent = await audit.recent(3);
      assert.deepEqual(recent.map((e) => e.reason), ['7', '6', '5']);
      assert.ok((await audit.recent(100)).length <= 8);
      // Past the ninth event: newest first by number, not by text ("9" > "10" as text).
      const many = new AuditLog(db.database, Date.now, 1000);
      for (let i = 0; i < 14; i++) await many.record({ type: 'signin.failure', reason: `n${i}` });
      assert.deepEqual((await many.recent(3)).map((e) => e.reason), ['n13', 'n12', 'n11']);
    });

    it('migrations are versioned: a second run applies nothing, and a dry run writes nothing', async () => {
      const again = await migrate(db.database, db.env.DATABASE_SCHEMA ?? 'public');
      assert.deepEqual(again.applied, []);
      assert.equal(again.version, MIGRATIONS[MIGRATIONS.length - 1]!.version);
    });
  });
}

describe('database migrations on a PostgreSQL server', function () {
  this.timeout(30_000);
  it('a dry run lists what it would apply and creates nothing; a database of a newer release is refused', async () => {
    const s = await newSchema();
    const database = new PostgresDatabase({ url: s.env.DATABASE_URL, schema: s.schema });
    try {
      const dry = await migrate(database, s.schema, { dryRun: true });
      assert.deepEqual(dry.applied.map((m) => m.version), MIGRATIONS.map((m) => m.version));
      assert.deepEqual(await database.query(`select table_name from information_schema.tables where table_schema = $1`, [s.schema]), [], 'nothing created');
      await migrate(database, s.schema);
      await database.query('insert into schema_migrations (version, name) values (999, $1)', ['from the future']);
      await assert.rejects(migrate(database, s.schema), NewerDatabaseError);
    } finally {
      await database.close();
      await s.drop();
    }
  });
});

describe('the embedded database across a restart', function () {
  this.timeout(60_000);
  it('keeps accounts, their factors and the audit trail in its data folder', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-embedded-'));
    try {
      const first = new EmbeddedDatabase(dir);
      await migrate(first, 'public');
      const d1 = new Directory(first, Date.now);
      const a = await d1.create(newAccount('kept@students.edu.sg'));
      await d1.update(a.id, (x) => ({ ...x, questions: [{ question: 'q', answerHash: 'h' }], mfa: { passkeys: [{ id: 'kept-cred' }], totp: null } }) as WithMfa);
      await new AuditLog(first, Date.now, 100).record({ type: 'account.created', accountId: a.id });
      await first.close();

      const second = new EmbeddedDatabase(dir);
      assert.deepEqual((await migrate(second, 'public')).applied, [], 'the schema was kept too');
      const d2 = new Directory(second, Date.now);
      const back = await d2.findByLoginId('kept@students.edu.sg');
      assert.equal(back?.questions.length, 1);
      assert.equal((await d2.findByPasskey('kept-cred'))?.id, a.id);
      assert.equal((await new AuditLog(second, Date.now, 100).recent(1))[0]?.accountId, a.id);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
