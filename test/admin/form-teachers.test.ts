// Issue 27, item 1 over HTTP: classes and form teachers. The demo school has Daniel Wong as
// form teacher of 2A (Allen Tan's class); Bella Lim is in 5B; Ivan Teo is in another school.
// A form teacher reaches only their classes' students, by menu and by URL, and can unlock
// them, give them temporary passwords (or ask for one where the school wants approval) and
// print their sign-in slips; everything is audited with the teacher's name.
import assert from 'node:assert/strict';
import { schoolYear } from '../../src/domain/classes/classes.ts';
import { Browser, formOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { idOf, signedIn } from '../support/people.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const WORDS_FORMAT = /^[A-HJ-NP-Z][a-km-z]+(?:[2-9][A-HJ-NP-Z][a-km-z]+){3}$/;
const YEAR = schoolYear(Date.now());
const CLASS_2A = `/admin/classes/DEMO01/${YEAR}/2A`;

/** The slips a slips page shows: login ID and temporary password, as the teacher reads them. */
function slipsOf(html: string): Array<{ loginId: string; password: string }> {
  return [...html.matchAll(/<article class="slip"[\s\S]*?<code>([^<]+)<\/code>[\s\S]*?<code class="slip-password">([\s\S]*?)<\/code>/g)].map((m) => ({ loginId: m[1]!, password: m[2]!.replace(/<wbr>/g, '') }));
}

describe('form teachers (issue 27, item 1)', () => {
  let t: TestIdp;
  let daniel: Browser;
  before(async () => {
    t = await startTestIdp();
    daniel = await signedIn(t, DEMO.staff);
  });
  after(async () => {
    await t.close();
  });

  it('the seed makes Daniel form teacher of 2A: his portal offers My Class, and /admin offers only what a form teacher may do', async () => {
    const portal = await daniel.get('/portal');
    assert.match(portal.text, /href="\/admin\/classes"/, 'the My Class tile');
    const admin = await daniel.get('/admin');
    assert.equal(admin.status, 200);
    assert.match(admin.text, /href="\/admin\/classes"/);
    assert.doesNotMatch(admin.text, /href="\/admin\/audit"|href="\/admin\/import"/, 'no audit trail, no import in the menu');
    const classes = await daniel.get('/admin/classes');
    assert.equal(classes.status, 200);
    assert.ok(classes.text.includes(`href="${CLASS_2A}"`), 'his class is listed');
    assert.doesNotMatch(classes.text, /5B/, 'not another class');
  });

  it('his class page lists its students with what he needs (locked, questions, temporary password, last sign-in), and nobody else', async () => {
    const page = await daniel.get(CLASS_2A);
    assert.equal(page.status, 200, page.text.slice(0, 300));
    assert.match(page.text, /Class 2A \(\d{4}\)/);
    assert.match(page.text, /data-login-id="allen_tan@students.edu.sg"/);
    assert.doesNotMatch(page.text, /bella_lim|ivan_teo|siti_rahman/);
    assert.match(page.text, /Form teachers: Daniel Wong/);
  });

  it('he unlocks a locked student of his class; the audit trail names him', async () => {
    const allen = await idOf(t, DEMO.student.loginId);
    for (let i = 0; i < 5; i++) {
      const s = new Browser(t.url);
      await s.signIn((await s.open('/portal')).res, DEMO.student.loginId, `wrong-${i}-Password`);
    }
    assert.match((await daniel.get(CLASS_2A)).text, /data-locked="yes"/);
    const confirm = await daniel.get(`/admin/accounts/${allen}/unlock`);
    assert.equal(confirm.status, 200, confirm.text.slice(0, 300));
    const done = await daniel.follow(await daniel.submit(confirm, `/admin/accounts/${allen}/unlock`, {}));
    assert.equal(done.res.status, 200);
    assert.doesNotMatch((await daniel.get(CLASS_2A)).text, /data-locked="yes"/);
    const events = await t.idp.audit.recent(20, (e) => e.accountId === allen && e.type === 'account.unlocked');
    assert.equal(events[0]?.actor, await idOf(t, DEMO.staff.loginId), JSON.stringify(events));
    assert.equal(events[0]?.actorName, 'Daniel Wong (form teacher)');
    assert.equal(events[0]?.reason, 'form teacher');
  });

  it('he prints sign-in slips: a new temporary password a child can type, in the language chosen, and the student signs in with it', async () => {
    const allen = await idOf(t, DEMO.student.loginId);
    const page = await daniel.get(CLASS_2A);
    const form = formOf(page.text, '/slips');
    const slips = await daniel.post(form.action, { ...form.hidden, account: allen, lang: 'zh' });
    assert.equal(slips.status, 200, slips.text.slice(0, 500));
    const [slip, ...more] = slipsOf(slips.text);
    assert.equal(more.length, 0);
    assert.equal(slip!.loginId, DEMO.student.loginId);
    assert.match(slip!.password, WORDS_FORMAT);
    assert.ok(slip!.password.length <= 23, slip!.password);
    assert.match(slips.text, /<article class="slip" lang="zh-Hans-SG">/);
    assert.match(slips.text, /MIMS 门户登录/, 'the slip in Chinese');
    assert.match(slips.text, /第一次登录时，你要选择自己的密码。/, 'his questions are set: the slip speaks of the password only');
    assert.ok(slips.text.includes(`${t.url}/portal`), 'the portal address');
    assert.match(slips.text, /@page \{ size: A4|data-print/, 'printable');
    const events = await t.idp.audit.recent(20, (e) => e.accountId === allen && e.type === 'admin.password.reset');
    assert.equal(events[0]?.actorName, 'Daniel Wong (form teacher)');
    const s = new Browser(t.url);
    const next = await s.signIn((await s.open('/portal')).res, DEMO.student.loginId, slip!.password);
    assert.match(next.res.text, /<h1>Change Password<\/h1>/);
  });

  it('by URL he reaches no other class, no other school, no staff account, and none of the administrators\' actions', async () => {
    const bella = await idOf(t, DEMO.student2.loginId);
    const siti = await idOf(t, SITI.loginId);
    const ivan = await idOf(t, 'ivan_teo@students.edu.sg');
    const allen = await idOf(t, DEMO.student.loginId);
    const refused = [
      `/admin/accounts/${bella}`, `/admin/accounts/${bella}/unlock`, `/admin/accounts/${bella}/reset-password`,
      `/admin/accounts/${siti}`, `/admin/accounts/${ivan}`,
      `/admin/classes/DEMO01/${YEAR}/5B`, `/admin/classes/DEMO02/${YEAR}/2A`,
      `/admin/accounts/${allen}/reset-mfa`, `/admin/accounts/${allen}/clear-questions`, `/admin/accounts/${allen}/disable`,
      '/admin/audit', `/admin/audit?account=${allen}`, '/admin/import', '/admin/requests',
    ];
    for (const path of refused) assert.equal((await daniel.get(path)).status, 403, path);
    const csrf = formOf((await daniel.get(CLASS_2A)).text, '/slips').hidden._csrf!;
    const before = (await t.idp.directory.get(bella))!.passwordHash;
    // Another class's student slipped into his class's form: refused, nothing changed.
    assert.equal((await daniel.post(`${CLASS_2A}/slips`, { _csrf: csrf, account: bella, lang: 'en' })).status, 403);
    assert.equal((await daniel.post(`/admin/classes/DEMO01/${YEAR}/5B/slips`, { _csrf: csrf, account: bella, lang: 'en' })).status, 403);
    assert.equal((await daniel.post(`/admin/accounts/${bella}/reset-password`, { _csrf: csrf })).status, 403);
    assert.equal((await daniel.post(`/admin/accounts/${allen}/disable`, { _csrf: csrf })).status, 403);
    assert.equal((await daniel.post(`/admin/accounts/${allen}/class`, { _csrf: csrf, classes: '5B', year: String(YEAR) })).status, 403);
    assert.equal((await t.idp.directory.get(bella))!.passwordHash, before);
    assert.equal((await t.idp.directory.get(allen))!.class?.name, '2A');
    // Nothing in the account page offers what he may not do.
    const page = await daniel.get(`/admin/accounts/${allen}`);
    assert.doesNotMatch(page.text, /\/disable"|\/clear-questions"|\/reset-mfa"|\/admin\/audit/);
    assert.match(page.text, /\/reset-password"/);
  });

  it('a student who is no longer in his class is out of his reach at once', async () => {
    const admin = await signedIn(t, SITI);
    const allen = await idOf(t, DEMO.student.loginId);
    const page = await admin.get(`/admin/accounts/${allen}`);
    await admin.follow(await admin.submit(page, `/admin/accounts/${allen}/class`, { classes: '3C', year: String(YEAR) }));
    assert.equal((await daniel.get(`/admin/accounts/${allen}`)).status, 403);
    assert.doesNotMatch((await daniel.get(CLASS_2A)).text, /allen_tan/);
    await admin.follow(await admin.submit(await admin.get(`/admin/accounts/${allen}`), `/admin/accounts/${allen}/class`, { classes: '2a', year: String(YEAR) }));
    assert.deepEqual((await t.idp.directory.get(allen))!.class, { year: YEAR, name: '2A' });
    assert.equal((await daniel.get(`/admin/accounts/${allen}`)).status, 200);
  });
});

describe('school administrators set classes and form teachers (issue 27, item 1)', () => {
  let t: TestIdp;
  let admin: Browser;
  before(async () => {
    t = await startTestIdp();
    admin = await signedIn(t, SITI);
  });
  after(async () => {
    await t.close();
  });

  it('on the account page: a student\'s class, a teacher\'s form classes; a bad name is refused with words and changes nothing', async () => {
    const bella = await idOf(t, DEMO.student2.loginId);
    const bad = await admin.follow(await admin.submit(await admin.get(`/admin/accounts/${bella}`), `/admin/accounts/${bella}/class`, { classes: '5B<script>', year: String(YEAR) }));
    assert.match(bad.res.text, /A class name is 1 to 20 letters/);
    assert.equal((await t.idp.directory.get(bella))!.class?.name, '5B');
    const badYear = await admin.follow(await admin.submit(await admin.get(`/admin/accounts/${bella}`), `/admin/accounts/${bella}/class`, { classes: '5C', year: '27' }));
    assert.match(badYear.res.text, /four digits/);
    const daniel = await idOf(t, DEMO.staff.loginId);
    await admin.follow(await admin.submit(await admin.get(`/admin/accounts/${daniel}`), `/admin/accounts/${daniel}/class`, { classes: '2A; 5b', year: String(YEAR) }));
    assert.deepEqual((await t.idp.directory.get(daniel))!.formClasses, [{ year: YEAR, name: '2A' }, { year: YEAR, name: '5B' }]);
    const events = await t.idp.audit.recent(10, (e) => e.accountId === daniel && e.type === 'account.form_classes.set');
    assert.equal(events[0]?.actorName, 'Siti Rahman');
    assert.equal(events[0]?.reason, `2A (${YEAR}), 5B (${YEAR})`);
    // Now Daniel reaches Bella too.
    const d = await signedIn(t, DEMO.staff);
    assert.equal((await d.get(`/admin/accounts/${bella}`)).status, 200);
  });

  it('the classes page lists the school\'s classes with their students, and a class page its form teachers', async () => {
    const list = await admin.get('/admin/classes');
    assert.equal(list.status, 200);
    assert.ok(list.text.includes(`href="${CLASS_2A}"`));
    assert.ok(list.text.includes(`href="/admin/classes/DEMO01/${YEAR}/5B"`));
    assert.doesNotMatch(list.text, /DEMO02/, 'not another school');
    assert.equal((await admin.get(`/admin/classes/DEMO02/${YEAR}/4A`)).status, 403);
    // A class nobody is in and nobody teaches does not exist, however its name is written.
    for (const path of [`/admin/classes/DEMO01/${YEAR}/ZZ`, `/admin/classes/DEMO01/${YEAR}/2A%2F..%2F5B`, `/admin/classes/DEMO01/${YEAR + 1}/2A`, '/admin/classes/DEMO01/0999/2A']) {
      assert.equal((await admin.get(path)).status, 404, path);
    }
  });

  it('CSV import sets classes (optional columns class, formClasses, classYear) and says what is wrong with a row', async () => {
    const csvText = [
      'loginId,givenName,familyName,schoolCode,schoolName,level,roles,class,formClasses,classYear',
      `nurul_huda@students.edu.sg,Nurul,Huda,DEMO01,Rivervale Demo School,P4,student,4A,,${YEAR}`,
      `karen_ho@schools.gov.sg,Karen,Ho,DEMO01,Rivervale Demo School,,staff,,4A;4B,${YEAR}`,
      `ong_wei@students.edu.sg,Wei,Ong,DEMO01,Rivervale Demo School,P4,student,4A!,,`,
      `lim_kai@schools.gov.sg,Kai,Lim,DEMO01,Rivervale Demo School,,staff,4A,,`,
    ].join('\n');
    const upload = async (text: string) => {
      const csrf = formOf((await admin.get('/admin/import')).text, '/admin/import/preview').hidden._csrf!;
      return admin.agent.post('/admin/import/preview').field('_csrf', csrf).attach('file', Buffer.from(text), { filename: 'cohort.csv', contentType: 'text/csv' }).redirects(0);
    };
    const refused = await upload(csvText);
    assert.equal(refused.status, 400);
    assert.match(refused.text, /class: &#34;4A!&#34; is not a class name|class: "4A!" is not a class name/);
    assert.match(refused.text, /only students belong to a class/);
    const ok = await upload(csvText.split('\n').slice(0, 3).join('\n'));
    assert.equal(ok.status, 200, ok.text.slice(0, 400));
    const commit = formOf(ok.text, '/commit');
    assert.equal((await admin.post(commit.action, commit.hidden)).status, 200);
    assert.deepEqual((await t.idp.directory.findByLoginId('nurul_huda@students.edu.sg'))!.class, { year: YEAR, name: '4A' });
    assert.deepEqual((await t.idp.directory.findByLoginId('karen_ho@schools.gov.sg'))!.formClasses, [{ year: YEAR, name: '4A' }, { year: YEAR, name: '4B' }]);
    // The same file again changes nothing.
    const again = await upload(csvText.split('\n').slice(0, 3).join('\n'));
    assert.match(again.text, /Nothing to change/);
  });
});

describe('where the school wants approval, form teachers ask for temporary passwords (issue 27, item 1)', () => {
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp({ overrides: { admin: { recentAuthMinutes: 15, pageSize: 25, formTeacherPasswords: { default: 'allowed', DEMO01: 'approval' } } } });
  });
  after(async () => {
    await t.close();
  });

  it('he asks; the school administrator sees the request, resets the password, and the request is answered', async () => {
    const daniel = await signedIn(t, DEMO.staff);
    const allen = await idOf(t, DEMO.student.loginId);
    const before = (await t.idp.directory.get(allen))!.passwordHash;
    assert.equal((await daniel.get(`/admin/accounts/${allen}/reset-password`)).status, 403, 'no password without approval');
    const roster = await daniel.get(CLASS_2A);
    assert.doesNotMatch(roster.text, /\/slips"/, 'no slips to print');
    const confirm = await daniel.get(`/admin/accounts/${allen}/request-password`);
    assert.equal(confirm.status, 200);
    await daniel.follow(await daniel.submit(confirm, `/admin/accounts/${allen}/request-password`, {}));
    assert.equal((await t.idp.directory.get(allen))!.passwordHash, before, 'the password is unchanged');

    const siti = await signedIn(t, SITI);
    const requests = await siti.get('/admin/requests');
    assert.match(requests.text, /Allen Tan[\s\S]*Daniel Wong/);
    const page = await siti.get(`/admin/accounts/${allen}`);
    assert.match(page.text, /A temporary password was asked for by Daniel Wong/);
    const reset = await siti.follow(await siti.submit(await siti.get(`/admin/accounts/${allen}/reset-password`), `/admin/accounts/${allen}/reset-password`, {}));
    assert.match(reset.res.text, /class="slip"/, 'a slip to print for the teacher');
    assert.equal((await t.idp.directory.get(allen))!.passwordRequest, null);
    assert.match((await siti.get('/admin/requests')).text, /No requests are waiting/);
    const events = await t.idp.audit.recent(20, (e) => e.accountId === allen && e.type === 'password.requested');
    assert.equal(events[0]?.actorName, 'Daniel Wong (form teacher)');
  });
});
