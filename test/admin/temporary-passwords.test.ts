// Issue 15, item 10 over HTTP: an administrator's reset and an import give students the
// readable "words" format and staff the random one; the student signs in with it.
import assert from 'node:assert/strict';
import { LOOK_ALIKES } from '../../src/domain/passwords/generate.ts';
import { Browser, formOf, temporaryPasswordOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const WORDS_FORMAT = /^[A-HJ-NP-Z][a-km-z]+(?:[2-9][A-HJ-NP-Z][a-km-z]+){3,}$/;

async function resetBy(b: Browser, accountId: string): Promise<string> {
  const confirm = await b.get(`/admin/accounts/${accountId}/reset-password`);
  assert.equal(confirm.status, 200, confirm.text.slice(0, 300));
  const done = await b.follow(await b.submit(confirm, `/admin/accounts/${accountId}/reset-password`, {}));
  return temporaryPasswordOf(done.res.text);
}

describe('temporary passwords per population over HTTP (issue 15, item 10)', () => {
  let t: TestIdp;
  let admin: Browser;
  before(async () => {
    t = await startTestIdp();
    admin = new Browser(t.url);
    await admin.signIn((await admin.open('/portal')).res, SITI.loginId, SITI.password);
  });
  after(async () => {
    await t.close();
  });

  it('an administrator reset of a student shows a words-format password, and the student signs in with it', async () => {
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const temporary = await resetBy(admin, allen.id);
    assert.match(temporary, WORDS_FORMAT);
    assert.doesNotMatch(temporary, LOOK_ALIKES);
    const s = new Browser(t.url);
    const next = await s.signIn((await s.open('/portal')).res, DEMO.student.loginId, temporary);
    assert.match(next.res.text, /<h1>Change Password<\/h1>/, 'signed in with it: the temporary password is changed first');
  });

  it('a staff reset keeps the random format', async () => {
    const daniel = (await t.idp.directory.findByLoginId(DEMO.staff.loginId))!;
    const temporary = await resetBy(admin, daniel.id);
    assert.ok(temporary.length >= 14);
    assert.doesNotMatch(temporary, WORDS_FORMAT);
    assert.match(temporary, /[#%+=!-]/);
    assert.doesNotMatch(temporary, LOOK_ALIKES);
  });

  it('an import gives each new account the format of its population', async () => {
    const csvText = [
      'loginId,givenName,familyName,schoolCode,schoolName,level,roles',
      'mei_ling_ong@students.edu.sg,Mei Ling,Ong,DEMO01,Rivervale Demo School,P1,student',
      'karen_ho@schools.gov.sg,Karen,Ho,DEMO01,Rivervale Demo School,,staff',
    ].join('\n');
    const page = await admin.get('/admin/import');
    const csrf = formOf(page.text, '/admin/import/preview').hidden._csrf!;
    const preview = await admin.agent.post('/admin/import/preview').field('_csrf', csrf).attach('file', Buffer.from(csvText), { filename: 'cohort.csv', contentType: 'text/csv' }).redirects(0);
    assert.equal(preview.status, 200, preview.text.slice(0, 500));
    const commit = formOf(preview.text, '/commit');
    const csv = await admin.post(commit.action, commit.hidden);
    const rows = Object.fromEntries(csv.text.trim().split('\n').slice(1).map((l) => l.split(',') as [string, string]));
    const mei = rows['mei_ling_ong@students.edu.sg']!.replace(/^"|"$/g, '');
    const karen = rows['karen_ho@schools.gov.sg']!.replace(/^"|"$/g, '').replace(/""/g, '"');
    assert.match(mei, WORDS_FORMAT);
    assert.doesNotMatch(karen, WORDS_FORMAT);
    assert.match(karen, /[#%+=!-]/);
    const s = new Browser(t.url);
    assert.match((await s.signIn((await s.open('/portal')).res, 'mei_ling_ong@students.edu.sg', mei)).res.text, /<h1>Setup Security Questions<\/h1>/);
  });
});

describe('temporary passwords have a limited life (issue 27, item 4)', () => {
  let t: TestIdp;
  let offset = 0;
  before(async () => {
    t = await startTestIdp({ clock: () => Date.now() + offset });
  });
  after(async () => {
    await t.close();
  });

  it('a reset password signs in for passwordPolicy.temporaryPasswordDays (14), then is refused with words that say whom to ask; a wrong one still gets the usual answer', async () => {
    const admin = new Browser(t.url);
    await admin.signIn((await admin.open('/portal')).res, SITI.loginId, SITI.password);
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const temporary = await resetBy(admin, allen.id);
    const reset = (await t.idp.directory.get(allen.id))!;
    assert.equal(reset.temporaryUntil, reset.passwordChangedAt + 14 * 86_400_000);

    offset = 13 * 86_400_000;
    const early = new Browser(t.url);
    assert.match((await early.signIn((await early.open('/portal')).res, DEMO.student.loginId, temporary)).res.text, /<h1>Change Password<\/h1>/, 'day 13: still signs in');

    offset = 15 * 86_400_000;
    const late = new Browser(t.url);
    const refused = await late.signIn((await late.open('/portal')).res, DEMO.student.loginId, temporary);
    assert.match(refused.res.text, /Your temporary password has expired\. Please ask your Form Teacher or school administrator for a new one\./);
    const wrong = new Browser(t.url);
    const answer = await wrong.signIn((await wrong.open('/portal')).res, DEMO.student.loginId, `${temporary}x`);
    assert.doesNotMatch(answer.res.text, /temporary password has expired/, 'only whoever knows the temporary password learns it expired');
    assert.match(answer.res.text, /Login failed/);
    const events = await t.idp.audit.recent(20, (e) => e.accountId === allen.id && e.type === 'signin.failure');
    assert.ok(events.some((e) => e.reason === 'temporary_expired'), 'audited');
  });
});
