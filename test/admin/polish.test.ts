// Issue 28, item 3 over HTTP: the rough edges an administrator, teacher or student still met.
// Each test is one edge: invisible characters refused with words (passwords, answers, names
// in an import), formula cells neutralised in every CSV the IdP writes, the audit trail by
// login ID and name with readable event names, per-page titles, Unlock only when locked.
import assert from 'node:assert/strict';
import { neutralise } from '../../src/domain/csv.ts';
import { PasswordPolicies } from '../../src/domain/passwords/policy.ts';
import { loadSettings } from '../../src/config/settings.ts';
import { checkAnswers } from '../../src/domain/accounts/challenge.ts';
import { Browser, formOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const INVISIBLE = ['\u0000', '\u0007', '\u200B', '\u200E', '\u202E', '\u2066', '\uFEFF'];

async function signedIn(t: TestIdp, who: { loginId: string; password: string }): Promise<Browser> {
  const b = new Browser(t.url);
  await b.signIn((await b.open('/portal')).res, who.loginId, who.password);
  return b;
}

describe('rough edges (issue 28, item 3)', () => {
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp();
  });
  after(async () => {
    await t.close();
  });

  it('a password or an answer with an invisible or control character is refused with words; an emoji joiner is not', async () => {
    const settings = loadSettings({ env: {} });
    const policies = new PasswordPolicies(settings.passwordPolicy.default, settings.passwordPolicy.populations, new Set());
    const student = { loginId: 'allen_tan@students.edu.sg', displayName: 'Allen Tan', givenName: 'Allen', familyName: 'Tan', roles: ['student' as const] };
    const policy = policies.for(student);
    for (const c of INVISIBLE) {
      const codes = policy.checkShape(`Harbour${c}Comet-1990`, student).map((v) => v.code);
      assert.ok(codes.includes('PWD_INVISIBLE'), JSON.stringify(c));
    }
    assert.deepEqual(policy.checkShape('Harbour-Comet-1990👩‍👧', student), [], 'the zero-width joiner of an emoji is kept');
    const catalogue = settings.challenge.catalogue;
    const violations = await checkAnswers([{ question: '0', answer: '\u200B\u200B\u200B' }, { question: '1', answer: 'Shark' }, { question: '2', answer: 'Turquoise' }], settings.challenge, async () => false);
    assert.equal(violations[0]?.code, 'ANS_INVISIBLE');
    assert.ok(catalogue.length > 2);
  });

  it('over HTTP: Change Password refuses a password with a right-to-left override, in words', async () => {
    const b = new Browser(t.url);
    const page = await b.signIn((await b.open('/portal')).res, 'farah_aziz@students.edu.sg', 'Rivervale#Start24');
    // Farah's first sign-in: questions first.
    let res = page.res;
    const picks = { q0: '0', a0: 'Laksa', q1: '1', a1: 'Cat', q2: '2', a2: 'Blue' };
    res = (await b.follow(await b.submit(res, '/questions', picks))).res;
    res = (await b.follow(await b.submit(res, '/questions/confirm', {}))).res;
    res = (await b.follow(await b.submit(res, '/continue', {}))).res;
    const refused = await b.submit(res, '/password', { newPassword: 'Harbour\u202ETemoc-1990', confirmPassword: 'Harbour\u202ETemoc-1990' });
    const shown = (await b.follow(refused)).res;
    assert.match(shown.text, /Must not contain invisible or control characters/);
  });

  it('the account search with control characters (a NUL) answers a page, not a 500', async () => {
    const siti = await signedIn(t, SITI);
    const found = await siti.get('/admin?q=allen%00_tan');
    assert.equal(found.status, 200, found.text.slice(0, 300));
    assert.match(found.text, /allen_tan@students\.edu\.sg/);
    assert.equal((await siti.get('/admin?q=%00&after=%00%01')).status, 200);
  });

  it('an import refuses names with invisible characters, per row, in words', async () => {
    const b = await signedIn(t, SITI);
    const csv = ['loginId,givenName,familyName,schoolCode,schoolName,level,roles', 'zara_lee@students.edu.sg,Za\u200Bra,Lee,DEMO01,Rivervale Demo School,P3,student'].join('\n');
    const csrf = formOf((await b.get('/admin/import')).text, '/admin/import/preview').hidden._csrf!;
    const preview = await b.agent.post('/admin/import/preview').field('_csrf', csrf).attach('file', Buffer.from(csv), { filename: 'c.csv', contentType: 'text/csv' }).redirects(0);
    assert.equal(preview.status, 400);
    assert.match(preview.text, /givenName: contains invisible or control characters/);
  });

  it('every CSV the IdP writes neutralises formula cells', async () => {
    for (const v of ['=1+1', '+SUM(A1)', '-2+3', '@cmd', '\t=x', '\r=x']) assert.equal(neutralise(v), `'${v}`);
    for (const v of ['allen_tan@students.edu.sg', 'Allen Tan', '2026-12-07T01:00:00Z', '']) assert.equal(neutralise(v), v);
    // The audit CSV: a reason that looks like a formula (an event written by anyone's input) is text.
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    await t.idp.audit.record({ type: 'account.updated', accountId: allen.id, actor: 'seed', reason: '=HYPERLINK("http://evil.example","x")' });
    const b = await signedIn(t, SITI);
    const csv = (await b.get(`/admin/audit?account=${allen.id}&format=csv`)).text;
    assert.match(csv, /"'=HYPERLINK\(""http:\/\/evil\.example"",""x""\)"/);
    assert.doesNotMatch(csv, /,=HYPERLINK|,"=HYPERLINK/);
  });

  it('the audit trail names people by login ID and name, its CSV has the login ID of failed sign-ins, and every event has words', async () => {
    const wrong = new Browser(t.url);
    await wrong.signIn((await wrong.open('/portal')).res, DEMO.student.loginId, 'Not-The-Password-1');
    const b = await signedIn(t, SITI);
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const page = (await b.get('/admin/audit')).text;
    assert.match(page, /Allen Tan<br><span class="login-id">allen_tan@students.edu.sg/);
    assert.doesNotMatch(page, new RegExp(`>${allen.id}<`), 'no opaque id shown for a known account');
    const lines = (await b.get(`/admin/audit?account=${allen.id}&format=csv&type=signin.failure`)).text.trim().split('\n');
    assert.ok(lines.length > 1);
    for (const line of lines.slice(1)) assert.match(line, /,allen_tan@students\.edu\.sg,/);
    const { en } = await import('../../src/messages/en.ts');
    const source = (await import('node:fs')).readFileSync(new URL('../../src/domain/audit/audit-log.ts', import.meta.url), 'utf8');
    const types = [...source.matchAll(/\| '([a-z_.]+)'/g)].map((m) => m[1]!);
    assert.ok(types.length > 40);
    for (const type of types) assert.ok(`event.${type}` in en, `event.${type} has words`);
  });

  it('each admin page has its own tab title; /dev is not "MIMS Portal – MIMS Portal"', async () => {
    const b = await signedIn(t, SITI);
    const title = (html: string) => /<title>([^<]*)<\/title>/.exec(html)?.[1];
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const titles = new Set<string | undefined>();
    for (const path of ['/admin', `/admin/accounts/${allen.id}`, '/admin/audit', '/admin/import', '/admin/classes', '/admin/requests']) titles.add(title((await b.get(path)).text));
    assert.equal(titles.size, 6, [...titles].join(' | '));
    assert.equal(title((await b.get('/dev')).text), 'For app developers – MIMS Portal');
  });

  it('after "Import and download passwords" a browser sees what was done: counts, the file (downloaded by itself), slips to print, a way back', async () => {
    const b = await signedIn(t, SITI);
    const csv = ['loginId,givenName,familyName,schoolCode,schoolName,level,roles,class', 'mei_tan@students.edu.sg,Mei,Tan,DEMO01,Rivervale Demo School,P1,student,1A'].join('\n');
    const csrf = formOf((await b.get('/admin/import')).text, '/admin/import/preview').hidden._csrf!;
    const preview = await b.agent.post('/admin/import/preview').field('_csrf', csrf).attach('file', Buffer.from(csv), { filename: 'c.csv', contentType: 'text/csv' }).redirects(0);
    const commit = formOf(preview.text, '/commit');
    const done = await b.agent.post(commit.action).type('form').set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8').send(commit.hidden).redirects(0);
    assert.equal(done.status, 200);
    assert.match(String(done.headers['content-type']), /text\/html/);
    assert.match(done.text, /<h1>Import done<\/h1>/);
    assert.match(done.text, /Imported: 1 new, 0 updated, 0 unchanged\./);
    const data = /href="data:text\/csv;charset=utf-8;base64,([^"]+)" data-autodownload/.exec(done.text)?.[1];
    assert.ok(data, 'the file, downloaded by itself');
    const [header, row] = Buffer.from(data, 'base64').toString('utf8').trim().split('\n');
    assert.equal(header, 'loginId,temporaryPassword');
    assert.match(row!, /^mei_tan@students\.edu\.sg,[A-Z]/);
    assert.match(done.text, /<article class="slip"[\s\S]*1A[\s\S]*Mei Tan/, 'her sign-in slip, to print');
    assert.match(done.text, /href="\/admin\/import"/);
    assert.doesNotMatch(done.text, /\/commit"/, 'no button to press again');
    // Scripts that ask for no HTML still get the CSV itself.
    assert.equal((await b.post(commit.action, commit.hidden)).status, 410, 'a preview commits once');
  });

  it('Unlock Account is offered only for a locked account', async () => {
    const b = await signedIn(t, SITI);
    const bella = (await t.idp.directory.findByLoginId(DEMO.student2.loginId))!;
    assert.doesNotMatch((await b.get(`/admin/accounts/${bella.id}`)).text, /\/unlock"/);
    for (let i = 0; i < 5; i++) {
      const s = new Browser(t.url);
      await s.signIn((await s.open('/portal')).res, DEMO.student2.loginId, `Wrong-Guess-${i}`);
    }
    assert.match((await b.get(`/admin/accounts/${bella.id}`)).text, /\/unlock"/);
  });

  it('the sign-in page offers "Sign in with a passkey" only to the populations that may hold one', async () => {
    const page = async (idp: TestIdp) => (await new Browser(idp.url).open('/portal')).res.text;
    assert.match(await page(t), /Staff: Sign in with a passkey/, 'students are not offered passkeys: the button says whose it is');
    const nobody = await startTestIdp({ overrides: { mfa: { requiredForRoles: [], offeredToRoles: [], maxFailures: 5, windowMinutes: 15 } } });
    const everyone = await startTestIdp({ overrides: { mfa: { requiredForRoles: [], offeredToRoles: ['student', 'staff'], maxFailures: 5, windowMinutes: 15 } } });
    try {
      assert.doesNotMatch(await page(nobody), /passkey/i, 'nobody may hold one: no button');
      const all = await page(everyone);
      assert.match(all, />Sign in with a passkey</);
      assert.doesNotMatch(all, /Staff:/);
    } finally {
      await nobody.close();
      await everyone.close();
    }
  });
});
