// The trap of synchronous replication: a commit waiting for its standby, cancelled
// (pg_cancel_backend, as a statement_timeout would), is answered with *success* and only a
// WARNING, though no standby has it; terminated (pg_terminate_backend, a fast shutdown), the
// WARNING comes just before the connection closes. A PostgreSQL of the test's own (initdb, run as the
// postgres user) names a synchronous standby that never connects, so every commit waits;
// another connection cancels the wait. The IdP must not tell anyone the change was saved:
// the write is reported as not confirmed (NotReplicatedError), and is not "confirmed" by
// reading it back from the primary, where it is visible.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Directory } from '../../src/domain/accounts/directory.ts';
import { migrate, NotReplicatedError, PostgresDatabase } from '../../src/store/database/index.ts';
import { freePort } from '../support/redis.ts';

function asPostgres(args: string[]): ReturnType<typeof spawnSync> {
  const bin = `/usr/lib/postgresql/${readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b)).at(-1)}/bin`;
  const [command, ...rest] = args;
  const asRoot = process.getuid?.() === 0;
  return asRoot
    ? spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', [`${bin}/${command}`, ...rest].map((a) => `'${a}'`).join(' ')], { encoding: 'utf8' })
    : spawnSync(`${bin}/${command}`, rest, { encoding: 'utf8' });
}

describe('a commit whose wait for the synchronous standby is cancelled is not reported saved', function () {
  this.timeout(60_000);
  let dir: string;
  let port: number;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'idp-syncwait-'));
    if (process.getuid?.() === 0) spawnSync('chown', ['postgres:postgres', dir]);
    port = await freePort();
    const data = path.join(dir, 'data');
    const init = asPostgres(['initdb', '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    assert.equal(init.status, 0, String(init.stderr));
    const start = asPostgres(['pg_ctl', '-D', data, '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c synchronous_commit=on`, 'start']);
    assert.equal(start.status, 0, String(start.stderr));
  });
  after(() => {
    asPostgres(['pg_ctl', '-D', path.join(dir, 'data'), '-m', 'immediate', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const end of ['pg_cancel_backend', 'pg_terminate_backend'] as const) it(`${end} of the waiting commit: NotReplicatedError, and the change is visible on the primary all the same (the trap)`, async () => {
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const db = new PostgresDatabase({ url, schema: 'public' });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // The schema and the account first; then the server is told to wait for a standby that never comes.
      await admin.query("alter system reset synchronous_standby_names");
      await admin.query('select pg_reload_conf()');
      await sleep(200);
      await migrate(db, 'public');
      const directory = new Directory(db, Date.now);
      const a = await directory.create({
        loginId: `waiting_${end}@students.edu.sg`, displayName: 'Waiting', givenName: 'W', familyName: 'W', school: { code: 'S', name: 'S' }, level: 'P5',
        roles: ['student'], status: 'active', passwordHash: 'old-hash', mustChangePassword: false, passwordChangedAt: 0, passwordHistory: [], questions: [],
      });
      await admin.query("alter system set synchronous_standby_names = 'never_connects'");
      await admin.query('select pg_reload_conf()');
      await sleep(300);

      const change = directory.update(a.id, (x) => ({ ...x, passwordHash: 'new-hash' }));
      // The commit now waits for a standby that never comes: cancel that wait, as statement_timeout would.
      let cancelled = false;
      for (let i = 0; i < 50 && !cancelled; i++) {
        await sleep(100);
        const { rows } = await admin.query(`select ${end}(pid) as ok from pg_stat_activity where wait_event = 'SyncRep'`);
        cancelled = rows.some((r: { ok: boolean }) => r.ok);
      }
      assert.ok(cancelled, 'a commit was waiting for its standby');
      await assert.rejects(change, NotReplicatedError);
      const { rows } = await admin.query(`select record->>'passwordHash' as h from accounts where id = $1`, [a.id]);
      assert.equal(rows[0].h, 'new-hash', 'PostgreSQL kept it on the primary: only the IdP\'s answer stands between this and a false "saved"');
    } finally {
      await admin.end();
      await db.close();
    }
  });
});
