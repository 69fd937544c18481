// The OneRoster import's safety rules on a small roster: a commit the store interrupts is
// completed by the same import again (accounts created but not yet linked are found by login
// ID, nothing is made twice); a users.csv that would empty a school is refused unless asked;
// users of a school the zip does not name are error lines.
import assert from 'node:assert/strict';
import { OneRosterImport, OneRosterInterruptedError } from '../../src/domain/provisioning/oneroster.ts';
import type { Roster } from '../../src/domain/provisioning/roster.ts';
import { StoreUnavailableError } from '../../src/store/index.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { zipSync } from 'fflate';
import { copyRoster, generateRoster, removeUsers, rosterFiles, rosterZip, userLine } from '../support/oneroster.ts';

describe('OneRoster import: crashes, mass leaves, other schools', function () {
  this.timeout(120_000);
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp();
  });
  after(async () => {
    await t?.close();
  });

  function importer(roster: Roster = t.idp.roster): OneRosterImport {
    const s = t.idp;
    return new OneRosterImport({ directory: s.directory, roster, rows: s.provisioningRows, database: s.database, audit: s.audit, store: t.store, clock: Date.now, settings: t.settings.import });
  }

  it('a commit interrupted by the store is completed by the same import again', async () => {
    const data = generateRoster(620, { schools: 2, prefix: 'k' });
    const zip = rosterZip(data);
    // The directory goes away after 250 joins.
    let joins = 0;
    const failing = Object.create(t.idp.roster) as Roster;
    failing.join = async (p, ctx) => {
      if (++joins > 250) throw new StoreUnavailableError('the database went away');
      return t.idp.roster.join(p, ctx);
    };
    const plan = await importer(failing).plan(zip, { source: 'crash' });
    await assert.rejects(importer(failing).apply(plan), (e: Error) => e instanceof OneRosterInterruptedError && /run the same import again/.test(e.message));
    const [event] = await t.idp.audit.recent(1, (e) => e.type === 'roster.import');
    assert.match(event!.reason!, /INTERRUPTED after \d+ of \d+/);

    // Again, with the directory back (and the lease released): the rest is created, the first ones linked.
    const again = await importer().plan(zip, { source: 'crash' });
    assert.equal(again.counts.create, 620 - 250);
    assert.equal(again.counts.update + again.counts.unchanged, 250);
    const done = await importer().apply(again);
    assert.deepEqual(done.failed, []);
    const third = await importer().plan(zip, { source: 'crash' });
    assert.deepEqual(third.counts, { create: 0, update: 0, move: 0, leave: 0, unchanged: 620, skipped: 0, error: 0 });
    const created = await t.idp.audit.recent(5_000, (e) => e.type === 'account.created' && e.actor === 'oneroster:crash');
    assert.equal(created.length, 620, 'each account created once');
  });

  it('refuses to let more than a quarter of a school leave unless asked', async () => {
    const data = generateRoster(124, { schools: 1, prefix: 'm' });
    await importer().apply(await importer().plan(rosterZip(data), { source: 'mass' }));
    const cut = copyRoster(data);
    removeUsers(cut, cut.users.filter((u) => u.role === 'student').slice(0, 40).map((u) => u.sourcedId));
    const plan = await importer().plan(rosterZip(cut), { source: 'mass' });
    assert.equal(plan.counts.leave, 40);
    assert.match(plan.refusals[0]!, /40 of the 124 users of school MNS00 from source mass would leave/);
    await assert.rejects(importer().apply(plan, { allowErrors: true }), /would leave/);
    const allowed = await importer().plan(rosterZip(cut), { source: 'mass', allowMassLeave: true });
    assert.deepEqual(allowed.refusals, []);
    assert.equal((await importer().apply(allowed)).counts.leave, 40);
  });

  it('a user whose account is at a school the zip does not name is an error line, and is left alone', async () => {
    const data = generateRoster(31, { schools: 1, prefix: 'o' });
    data.users.push({ sourcedId: 'o-demo', username: DEMO.student.loginId, givenName: 'Allen', familyName: 'Tan', role: 'student', grades: '05', primaryOrgSourcedId: 'oschool-0' });
    const plan = await importer().plan(rosterZip(data), { source: 'other' });
    const errors = plan.files.find((f) => f.file === 'users.csv')!.errors;
    assert.deepEqual(errors, [{ line: userLine(data, 'o-demo'), message: `username: ${DEMO.student.loginId} is an account of school DEMO01, which orgs.csv does not name` }]);
    const result = await importer().apply(plan, { allowErrors: true });
    assert.equal(result.counts.create, 31);
    assert.equal((await t.idp.directory.findByLoginId(DEMO.student.loginId))!.school.code, 'DEMO01');
  });

  describe('after an outside review', () => {
    it('a users.csv that cannot be read refuses the import, even with the error lines left out (all its users counted as absent and left before)', async () => {
      const data = generateRoster(15, { schools: 1, prefix: 'u' });
      await importer().apply(await importer().plan(rosterZip(data), { source: 'u16' }));
      const files = rosterFiles(data);
      const text = new TextDecoder().decode(files['users.csv']);
      const utf16 = new Uint8Array([0xff, 0xfe, ...new Uint8Array(Buffer.from(text, 'utf16le'))]);
      const plan = await importer().plan(zipSync({ ...files, 'users.csv': utf16 }), { source: 'u16' });
      assert.ok(plan.refusals.some((r) => /^users\.csv: .*could not be read as a whole/.test(r)), JSON.stringify(plan.refusals));
      await assert.rejects(importer().apply(plan, { allowErrors: true }), /could not be read as a whole/);
      const lines = text.split('\n');
      lines[3] = `"${lines[3]}`;
      const quote = new TextEncoder().encode(lines.join('\n'));
      const plan2 = await importer().plan(zipSync({ ...files, 'users.csv': quote }), { source: 'u16', allowMassLeave: true });
      await assert.rejects(importer().apply(plan2, { allowErrors: true }), /could not be read as a whole/);
      const left = await t.idp.audit.recent(100, (e) => e.type === 'account.left' && e.actor === 'oneroster:u16');
      assert.equal(left.length, 0, 'nobody left');
    });

    it('a whole school never leaves without asking, and slices add up over 30 days', async () => {
      const data = generateRoster(20, { schools: 1, prefix: 'w' });
      await importer().apply(await importer().plan(rosterZip(data), { source: 'whole' }));
      const empty = copyRoster(data);
      removeUsers(empty, empty.users.map((u) => u.sourcedId));
      assert.match((await importer().plan(rosterZip(empty), { source: 'whole' })).refusals[0] ?? '', /would leave/);
      // 3 of 20, then 3 more: the second slice counts the first.
      const pupils = data.users.filter((u) => u.role === 'student').map((u) => u.sourcedId);
      const first = copyRoster(data);
      removeUsers(first, pupils.slice(0, 3));
      const p1 = await importer().plan(rosterZip(first), { source: 'whole' });
      assert.deepEqual(p1.refusals, []);
      await importer().apply(p1);
      const second = copyRoster(first);
      removeUsers(second, pupils.slice(3, 6));
      assert.match((await importer().plan(rosterZip(second), { source: 'whole' })).refusals[0] ?? '', /after 3 in the last 30 days/);
    });

    it('file names are compared without case (a second ORGS.CSV was read silently); an administrator is an error line in the dry run, and does not leave when absent', async () => {
      const data = generateRoster(10, { schools: 1, prefix: 'c' });
      const files = rosterFiles(data);
      await assert.rejects(importer().plan(zipSync({ ...files, 'ORGS.CSV': files['orgs.csv']! }), { source: 'case' }), /twice \(names are compared without case\)/);
      const withAdmin = copyRoster(data);
      withAdmin.orgs.find((o) => o.type === 'school')!.identifier = 'DEMO01';
      withAdmin.users.push({ sourcedId: 'c-siti', username: 'siti_rahman@schools.gov.sg', givenName: 'Siti', familyName: 'Renamed', role: 'teacher', grades: '', primaryOrgSourcedId: data.users[0]!.primaryOrgSourcedId });
      const plan = await importer().plan(rosterZip(withAdmin), { source: 'case' });
      const errors = plan.files.flatMap((f) => f.errors).map((e) => e.message);
      assert.ok(errors.some((m) => /siti_rahman@schools\.gov\.sg is an administrator: a roster does not change administrators/.test(m)), JSON.stringify(errors));
    });
  });
});
