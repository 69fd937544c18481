// Bulk import over HTTP: preview, commit, idempotent re-run, refused files.
import assert from 'node:assert/strict';
import { Browser, formOf } from '../support/browser.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const HEADER = 'loginId,givenName,familyName,schoolCode,schoolName,level,roles';
const GOOD = [
  HEADER,
  'mei_ling_ong@students.edu.sg,Mei Ling,Ong,DEMO01,Rivervale Demo School,P3,student',
  'arjun_nair@students.edu.sg,Arjun,Nair,DEMO01,Rivervale Demo School,s2,student',
  'karen_ho@schools.gov.sg,Karen,Ho,DEMO01,Rivervale Demo School,,staff',
].join('\n');

async function upload(b: Browser, body: Buffer | string) {
  const page = await b.get('/admin/import');
  const csrf = formOf(page.text, '/admin/import/preview').hidden._csrf!;
  return b.agent.post('/admin/import/preview').field('_csrf', csrf).attach('file', Buffer.from(body), { filename: 'cohort.csv', contentType: 'text/csv' }).redirects(0);
}

async function count(t: TestIdp): Promise<number> {
  return (await t.idp.directory.searchLoginIds('', 10_000)).length;
}

describe('bulk import', () => {
  let t: TestIdp;
  let b: Browser;
  beforeEach(async () => {
    t = await startTestIdp();
    b = new Browser(t.url);
    await b.signIn((await b.open('/portal')).res, SITI.loginId, SITI.password);
  });
  afterEach(async () => {
    await t.close();
  });

  it('previews, commits once with a CSV of temporary passwords, and re-importing changes nothing', async () => {
    const preview = await upload(b, GOOD);
    assert.equal(preview.status, 200, preview.text.slice(0, 500));
    assert.match(preview.text, /New: <strong>3<\/strong> · Updated: <strong>0<\/strong> · Unchanged: <strong>0<\/strong> · Errors: <strong>0<\/strong>/);
    const before = await count(t);
    const commitForm = formOf(preview.text, '/commit');
    const csv = await b.post(commitForm.action, commitForm.hidden);
    assert.equal(csv.status, 200);
    assert.match(String(csv.headers['content-disposition']), /attachment; filename="temporary-passwords-/);
    const lines = csv.text.trim().split('\n');
    assert.equal(lines[0], 'loginId,temporaryPassword');
    assert.equal(lines.length, 4);
    assert.equal(await count(t), before + 3);
    const again = await b.post(commitForm.action, commitForm.hidden);
    assert.equal(again.status, 410, 'a preview commits once');

    // A new student signs in with the temporary password: questions first, then a new password.
    const [loginId, temporary] = lines.find((l) => l.startsWith('arjun'))!.split(',') as [string, string];
    assert.equal(t.logs.join('').includes(temporary), false, 'temporary passwords are not logged');
    const arjun = await t.idp.directory.findByLoginId(loginId);
    assert.equal(arjun!.level, 'S2');
    assert.equal(arjun!.mustChangePassword, true);
    const s = new Browser(t.url);
    assert.match((await s.signIn((await s.open('/portal')).res, loginId, temporary.replace(/^"|"$/g, ''))).res.text, /<h1>Setup Security Questions<\/h1>/);

    // The same file again: nothing to do, and nothing is written.
    const rerun = await upload(b, GOOD);
    assert.match(rerun.text, /Unchanged: <strong>3<\/strong>/);
    assert.match(rerun.text, /Nothing to change/);
    assert.doesNotMatch(rerun.text, /\/commit"/);
    // A changed name is an update, and keeps the password.
    const changed = await upload(b, GOOD.replace('Karen,Ho', 'Karen,Ho-Tan'));
    assert.match(changed.text, /Updated: <strong>1<\/strong> · Unchanged: <strong>2<\/strong>/);
    const f = formOf(changed.text, '/commit');
    const updatedCsv = await b.post(f.action, f.hidden);
    assert.equal(updatedCsv.text.trim(), 'loginId,temporaryPassword', 'no new passwords for updates');
    assert.equal((await t.idp.directory.findByLoginId('karen_ho@schools.gov.sg'))!.familyName, 'Ho-Tan');
  });

  it('reports per-row errors and imports nothing', async () => {
    const before = await count(t);
    const res = await upload(b, [
      HEADER,
      'good_one@students.edu.sg,Good,One,DEMO01,Rivervale Demo School,P1,student',
      'bad_domain@gmail.com,Bad,Domain,DEMO01,Rivervale Demo School,P1,student',
      'good_one@students.edu.sg,Good,Again,DEMO01,Rivervale Demo School,P1,student',
      'odd_level@students.edu.sg,Odd,Level,DEMO01,Rivervale Demo School,P9,student',
      'other_school@students.edu.sg,Other,School,DEMO02,Lakeside Demo School,P1,student',
      'ivan_teo@students.edu.sg,Ivan,Teo,DEMO01,Rivervale Demo School,P4,student',
      'sneaky@schools.gov.sg,Sneaky,Admin,DEMO01,Rivervale Demo School,,ministry-admin',
    ].join('\n'));
    assert.equal(res.status, 400);
    assert.match(res.text, /Errors: <strong>6<\/strong>/);
    for (const message of [
      /bad_domain@gmail\.com<\/td><td>loginId: a student login ID must end with @students\.edu\.sg/,
      /duplicate of line 2/,
      /level: unknown level &#34;P9&#34;/,
      /schoolCode: DEMO02 is not your school/,
      /ivan_teo@students\.edu\.sg<\/td><td>loginId: the account belongs to another school/,
      /a school administrator cannot import administrators/,
    ]) assert.match(res.text, message);
    assert.doesNotMatch(res.text, /\/commit"/);
    assert.equal(await count(t), before);
    assert.equal((await t.idp.directory.findByLoginId('ivan_teo@students.edu.sg'))!.school.code, 'DEMO02');
  });

  for (const [name, body, message] of [
    ['bad encoding', Buffer.concat([Buffer.from(`${HEADER}\n`), Buffer.from('zo\xe9_tan@students.edu.sg,Zo\xe9,Tan,DEMO01,R,P1,student\n', 'latin1')]), /not UTF-8/],
    ['missing columns', 'loginId,givenName\nx@students.edu.sg,X', /Missing column\(s\): familyName, schoolCode, schoolName, level, roles/],
    ['a 1 MB line', `${HEADER}\n${'a'.repeat(1024 * 1024)}@students.edu.sg,A,B,DEMO01,R,P1,student`, /Line 2 is longer than/],
    ['not CSV', `${HEADER}\n"unterminated,A,B,DEMO01,R,P1,student`, /not valid CSV/],
    ['empty', '', /empty/],
  ] as const) {
    it(`refuses ${name} with a clear error and writes nothing`, async () => {
      const before = await count(t);
      const res = await upload(b, body);
      assert.equal(res.status, 400);
      assert.match(res.text, message);
      assert.equal(await count(t), before);
    });
  }

  it('needs the CSRF token and the administrator role', async () => {
    const noToken = await b.agent.post('/admin/import/preview').attach('file', Buffer.from(GOOD), 'x.csv').redirects(0);
    assert.equal(noToken.status, 403);
    const student = new Browser(t.url);
    await student.signIn((await student.open('/portal')).res, 'allen_tan@students.edu.sg', 'Sunflower-Kite-42');
    assert.equal((await student.get('/admin/import')).status, 403);
  });
});
