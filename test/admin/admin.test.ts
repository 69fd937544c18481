// School administrators in the browser: find, reset, unlock, clear questions, disable,
// enable, audit; always within their own school.
import assert from 'node:assert/strict';
import type { Response } from 'supertest';
import { keys } from '../../src/store/index.ts';
import { Browser, formOf, temporaryPasswordOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const GRACE = { loginId: 'grace_lee@hq.moe.gov.sg', password: 'Summit=Harbour84' };
const IVAN = { loginId: 'ivan_teo@students.edu.sg', password: 'Lakeside-Otter-62' };
const ACTIONS = ['reset-password', 'unlock', 'clear-questions', 'disable', 'enable'] as const;

async function signedIn(t: TestIdp, who: { loginId: string; password: string }): Promise<Browser> {
  const b = new Browser(t.url);
  await b.signIn((await b.open('/portal')).res, who.loginId, who.password);
  return b;
}

async function act(b: Browser, accountId: string, action: string, fields: Record<string, string> = {}): Promise<{ res: Response }> {
  const confirm = await b.get(`/admin/accounts/${accountId}/${action}`);
  assert.equal(confirm.status, 200, confirm.text.slice(0, 300));
  return b.follow(await b.submit(confirm, `/admin/accounts/${accountId}/${action}`, fields));
}

describe('administrators', () => {
  let t: TestIdp;
  let allenId: string;
  let ivanId: string;
  beforeEach(async () => {
    t = await startTestIdp();
    allenId = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!.id;
    ivanId = (await t.idp.directory.findByLoginId(IVAN.loginId))!.id;
  });
  afterEach(async () => {
    await t.close();
  });

  it('finds accounts of their own school by login ID or name, and shows their state', async () => {
    const b = await signedIn(t, SITI);
    const portal = await b.open('/portal');
    assert.match(portal.res.text, /School Administration/);
    const byLogin = await b.get('/admin?q=allen');
    assert.match(byLogin.text, /allen_tan@students\.edu\.sg/);
    const byName = await b.get('/admin?q=Bella');
    assert.match(byName.text, /bella_lim@students\.edu\.sg/);
    const other = await b.get('/admin?q=ivan');
    assert.match(other.text, /No accounts found/);
    const all = await b.get('/admin?q=');
    assert.doesNotMatch(all.text, /ivan_teo/);
    const state = await b.get(`/admin/accounts/${allenId}`);
    for (const text of ['Allen Tan', 'Locked</dt><dd>No', 'Security questions</dt><dd>Set', 'Temporary password</dt><dd>No', 'Last sign-in']) assert.ok(state.text.includes(text), text);
  });

  it('returns to the admin page after signing in there, and runs required actions first', async () => {
    const b = new Browser(t.url);
    const signIn = await b.open(`/admin/accounts/${allenId}`);
    assert.match(signIn.res.text, /name="password"/);
    const landed = await b.signIn(signIn.res, SITI.loginId, SITI.password);
    assert.match(landed.res.text, /<h1>Allen Tan<\/h1>/, 'back at the page asked for');

    // An administrator whose password was reset must change it before reaching /admin.
    const siti = (await t.idp.directory.findByLoginId(SITI.loginId))!;
    await t.idp.directory.update(siti.id, (a) => ({ ...a, mustChangePassword: true }));
    const pending = await b.open('/admin');
    assert.match(pending.res.text, /<h1>Change Password<\/h1>/);
  });

  it('pages through search results', async () => {
    const paged = await startTestIdp({ overrides: { admin: { pageSize: 3 } } });
    try {
      const b = await signedIn(paged, GRACE);
      const seen: string[] = [];
      let url = '/admin?q=';
      let pages = 0;
      for (; pages < 10 && url; pages++) {
        const page = await b.get(url);
        for (const m of page.text.matchAll(/href="\/admin\/accounts\/([^"/]+)"/g)) seen.push(m[1]!);
        url = /href="(\/admin\?q=[^"]*after=[^"]+)"/.exec(page.text)?.[1]?.replace(/&amp;/g, '&') ?? '';
      }
      assert.equal(new Set(seen).size, 8, 'every demo account');
      assert.equal(seen.length, 8, 'each once');
      assert.ok(pages >= 3);
    } finally {
      await paged.close();
    }
  });

  it('resets a password: shown once, never logged; the student then goes straight to Change Password', async () => {
    const b = await signedIn(t, SITI);
    const done = await act(b, allenId, 'reset-password');
    const temporary = temporaryPasswordOf(done.res.text);
    assert.ok(temporary.length >= 12);
    assert.equal(done.res.headers['cache-control'], 'no-store');
    assert.equal(t.logs.join('').includes(temporary), false, 'the temporary password is not in the logs');
    const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    assert.equal(account.mustChangePassword, true);
    assert.equal(account.questions.length, 3, 'questions are kept');
    assert.equal(JSON.stringify(account).includes(temporary), false);
    const events = await t.idp.audit.recent(20, (e) => e.accountId === allenId);
    const siti = (await t.idp.directory.findByLoginId(SITI.loginId))!;
    assert.ok(events.some((e) => e.type === 'admin.password.reset' && e.actor === siti.id));

    const student = new Browser(t.url);
    const next = await student.signIn((await student.open('/portal')).res, DEMO.student.loginId, temporary);
    assert.match(next.res.text, /<h1>Change Password<\/h1>/);
  });

  it('clears questions: the student sets new ones at the next sign-in', async () => {
    const b = await signedIn(t, SITI);
    const done = await act(b, allenId, 'clear-questions');
    assert.match(done.res.text, /Done: Clear Security Questions/);
    const student = new Browser(t.url);
    const next = await student.signIn((await student.open('/portal')).res, DEMO.student.loginId, DEMO.student.password);
    assert.match(next.res.text, /<h1>Setup Security Questions<\/h1>/);
  });

  it('unlocks, disables and enables', async () => {
    for (let i = 0; i < 5; i++) {
      const s = new Browser(t.url);
      await s.signIn((await s.open('/portal')).res, DEMO.student.loginId, 'Wrong-Password-00');
    }
    const b = await signedIn(t, SITI);
    assert.match((await b.get(`/admin/accounts/${allenId}`)).text, /Locked<\/dt><dd>Yes, since/);
    await act(b, allenId, 'unlock');
    assert.equal(await t.store.get(keys.lock(DEMO.student.loginId)), null);
    await act(b, allenId, 'disable');
    const student = new Browser(t.url);
    assert.match((await student.signIn((await student.open('/portal')).res, DEMO.student.loginId, DEMO.student.password)).res.text, /disabled/);
    await act(b, allenId, 'enable');
    assert.match((await student.signIn((await student.open('/portal')).res, DEMO.student.loginId, DEMO.student.password)).res.text, /Allen Tan/);
  });

  it("refuses every action on another school's account, by id, and changes nothing", async () => {
    const b = await signedIn(t, SITI);
    const before = await t.store.get(keys.account(ivanId));
    assert.equal((await b.get(`/admin/accounts/${ivanId}`)).status, 403);
    const csrf = formOf((await b.get(`/admin/accounts/${allenId}/unlock`)).text, '/unlock').hidden._csrf!;
    for (const action of ACTIONS) {
      assert.equal((await b.get(`/admin/accounts/${ivanId}/${action}`)).status, 403, action);
      const res = await b.post(`/admin/accounts/${ivanId}/${action}`, { _csrf: csrf });
      assert.equal(res.status, 403, action);
      assert.match(res.text, /SSPR 5403/);
    }
    assert.equal((await b.get(`/admin/audit?account=${ivanId}`)).status, 403);
    assert.equal(await t.store.get(keys.account(ivanId)), before, 'nothing changed');
    // An id that does not exist looks the same.
    assert.equal((await b.get('/admin/accounts/AAAAAAAAAAAAAAAAAAAAAA')).status, 403);
  });

  it('lets a ministry administrator act on every school', async () => {
    const b = await signedIn(t, GRACE);
    assert.match((await b.get('/admin?q=ivan')).text, /ivan_teo/);
    const done = await act(b, ivanId, 'reset-password');
    assert.match(done.res.text, /Temporary password/);
  });

  it('refuses non-administrators and forms without a CSRF token', async () => {
    const student = await signedIn(t, DEMO.student);
    assert.equal((await student.get('/admin')).status, 403);
    assert.equal((await student.get(`/admin/accounts/${allenId}`)).status, 403);
    const b = await signedIn(t, SITI);
    const res = await b.post(`/admin/accounts/${allenId}/disable`, {});
    assert.equal(res.status, 403);
    assert.match(res.text, /SSPR 5104/);
    assert.equal((await t.idp.directory.get(allenId))!.status, 'active');
  });

  it('asks for the password again when the sign-in is not recent', async () => {
    let offset = 0;
    const old = await startTestIdp({ clock: () => Date.now() + offset });
    try {
      const b = await signedIn(old, SITI);
      const id = (await old.idp.directory.findByLoginId(DEMO.student.loginId))!.id;
      offset = 16 * 60_000;
      const confirm = await b.get(`/admin/accounts/${id}/disable`);
      assert.match(confirm.text, /Your current password is required for this action/);
      const refused = await b.submit(confirm, `/admin/accounts/${id}/disable`, { password: 'wrong' });
      assert.equal(refused.status, 401);
      assert.equal((await old.idp.directory.get(id))!.status, 'active');
      const ok = await b.follow(await b.submit(confirm, `/admin/accounts/${id}/disable`, { password: SITI.password }));
      assert.match(ok.res.text, /Done: Disable Account/);
      assert.equal((await old.idp.directory.get(id))!.status, 'disabled');
    } finally {
      await old.close();
    }
  });

  it('shows and exports the audit trail of its school only, newest first, filterable', async () => {
    await signedIn(t, IVAN); // events of another school
    const b = await signedIn(t, SITI);
    await act(b, allenId, 'unlock');
    const page = await b.get('/admin/audit');
    assert.match(page.text, /account\.unlocked/);
    assert.doesNotMatch(page.text, new RegExp(ivanId));
    const filtered = await b.get('/admin/audit?type=signin.success');
    assert.doesNotMatch(filtered.text, /account\.unlocked/);
    const csv = await b.get(`/admin/audit?account=${allenId}&format=csv`);
    assert.match(String(csv.headers['content-type']), /text\/csv/);
    const lines = csv.text.trim().split('\n');
    assert.equal(lines[0], 'at,type,accountId,loginId,actor,client,ip,reason,requestId,actorName,accountName');
    assert.ok(lines.length > 2);
    const times = lines.slice(1).map((l) => l.split(',')[0]!);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
  });
});
