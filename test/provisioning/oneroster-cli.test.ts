// `import-oneroster` as an operator runs it: a process on the server's PostgreSQL and Redis,
// a dry run that names each bad line, a commit with its progress on stderr, --json, and the
// rules that take a small roster to show (1.1's role column, guardians skipped, enabledUser,
// tobedeleted, an administrator's role kept).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { idpForCli, runCli } from '../support/cli.ts';
import type { TestIdp } from '../support/idp.ts';
import { copyRoster, generateRoster, rosterZip, userLine, type RosterData } from '../support/oneroster.ts';

describe('import-oneroster (CLI)', function () {
  this.timeout(120_000);
  let t: TestIdp;
  let env: NodeJS.ProcessEnv;
  let dir: string;
  let data: RosterData;

  before(async () => {
    let base: NodeJS.ProcessEnv;
    ({ t, env: base } = await idpForCli());
    dir = mkdtempSync(path.join(tmpdir(), 'idp-oneroster-'));
    env = { ...base, IDP_RP_DIR: dir, IDP_KEYS_DIR: t.keysDir, IDP_PUBLIC_URL: t.url, IDP_SIMS: 'false' };
    data = generateRoster(62, { schools: 2, prefix: 'c' });
    // A guardian (skipped) and a pupil the school has switched off.
    data.users.push({ sourcedId: 'cparent-1', username: 'parent1@example.com', givenName: 'Mei', familyName: 'Tan', role: 'parent', grades: '', primaryOrgSourcedId: 'cschool-0' });
    data.users.push({ sourcedId: 'cstu-off', username: 'cpupil-off@students.edu.sg', givenName: 'Off', familyName: 'Line', role: 'student', grades: '08', primaryOrgSourcedId: 'cschool-0', enabledUser: 'false' });
  });
  after(async () => {
    await t?.close();
  });

  function zipFile(name: string, d: RosterData, version: '1.1' | '1.2' = '1.1'): string {
    const file = path.join(dir, name);
    writeFileSync(file, rosterZip(d, { version }));
    return file;
  }

  it('a dry run names each bad line and changes nothing; usage errors exit 2', async () => {
    const bad = copyRoster(data);
    bad.users[3]!.username = 'pupil@not-a-school.example';
    const r = await runCli(env, 'import-oneroster', zipFile('bad.zip', bad), '--source', 'sis', '--dry-run');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`users\\.csv line ${userLine(bad, bad.users[3]!.sourcedId)}: error: username: a student login ID must end with @students\\.edu\\.sg`));
    assert.match(r.stdout, /users: create 62, update 0, move 0, leave 0, unchanged 0, skipped 1, error 1/);
    assert.match(r.stdout, /dry run: 1 error\(s\) to fix/);
    assert.equal(await t.idp.directory.findByLoginId('cpupil0@students.edu.sg'), null);
    assert.equal((await runCli(env, 'import-oneroster')).code, 2);
    assert.equal((await runCli(env, 'import-oneroster', 'a.zip', '--nope')).code, 2);
    const refused = await runCli(env, 'import-oneroster', zipFile('bad.zip', bad), '--source', 'sis');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /1 error\(s\): nothing was imported/);
  });

  it('commits with its progress on stderr; a re-run is all unchanged (--json); tobedeleted leaves', async () => {
    const r = await runCli(env, 'import-oneroster', zipFile('good.zip', data), '--source', 'sis');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stderr, /committing: (\d+)\/\1 \(100 %\)/);
    assert.match(r.stdout, /committed in [\d.]+ s: created 63, updated 0, moved 0, left 0, unchanged 0; classes created 2, linked 2; failed 0/);
    const off = (await t.idp.directory.findByLoginId('cpupil-off@students.edu.sg'))!;
    assert.equal(off.status, 'disabled');
    assert.equal(off.level, 'S2');
    assert.equal(await t.idp.directory.findByLoginId('parent1@example.com'), null);
    const [event] = await t.idp.audit.recent(1, (e) => e.type === 'roster.import');
    assert.equal(event!.actor, 'oneroster:sis');
    assert.match(event!.actorName!, /^cli:/);

    const again = await runCli(env, 'import-oneroster', zipFile('good.zip', data), '--source', 'sis', '--dry-run', '--json');
    assert.equal(again.code, 0, again.stderr);
    const report = JSON.parse(again.stdout) as { counts: Record<string, number>; changes: unknown[] };
    assert.deepEqual(report.counts, { create: 0, update: 0, move: 0, leave: 0, unchanged: 63, skipped: 1, error: 0 });
    assert.deepEqual(report.changes, []);

    // The same users from another source are not that source's: one source keeps an account
    // (two would undo each other: one leaving a pupil the other still lists).
    const other = await runCli(env, 'import-oneroster', zipFile('good.zip', data), '--source', 'other-sis', '--dry-run', '--json');
    const otherReport = JSON.parse(other.stdout) as { counts: Record<string, number> };
    assert.equal(otherReport.counts.error, 63);
    assert.equal(otherReport.counts.update, 0);
    assert.match(other.stdout, /belongs to another source \(sis\)/);

    // A pupil marked tobedeleted leaves; the 1.2 form of the same export (roles.csv) is read alike.
    const next = copyRoster(data);
    next.users.find((u) => u.sourcedId === 'cstu-0')!.status = 'tobedeleted';
    const gone = await runCli(env, 'import-oneroster', zipFile('next.zip', next, '1.2'), '--source', 'sis');
    assert.equal(gone.code, 0, gone.stderr + gone.stdout);
    assert.match(gone.stdout, /users: create 0, update 0, move 0, leave 1, unchanged 62, skipped 1, error 0/);
    assert.match(gone.stdout, /leave cpupil0@students\.edu\.sg \(cstu-0, users\.csv line \d+\): leaves/);
    assert.ok((await t.idp.directory.findByLoginId('cpupil0@students.edu.sg'))!.lifecycle?.leftAt);
  });
});
