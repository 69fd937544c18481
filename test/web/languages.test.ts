// Four languages (issue 15): the language of each request (footer choice > OIDC ui_locales >
// Accept-Language > English), <html lang>, translated error pages with codes unchanged,
// and the fixes that came with it, over HTTP.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as oidc from 'openid-client';
import { projectRoot } from '../../src/config/settings.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };

/** A browser that sends an Accept-Language header with every request. */
function browserIn(t: TestIdp, acceptLanguage?: string): Browser {
  const b = new Browser(t.url);
  if (acceptLanguage) b.agent.set('Accept-Language', acceptLanguage);
  return b;
}

async function authorizeUrl(t: TestIdp, extra: Record<string, string> = {}): Promise<string> {
  const config = await oidc.discovery(new URL(t.url), WEB.id, WEB.secret, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests] });
  const challenge = await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier());
  return oidc.buildAuthorizationUrl(config, { redirect_uri: WEB.redirect, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', ...extra }).toString();
}

function htmlLang(html: string): string | undefined {
  return /<html lang="([^"]+)"/.exec(html)?.[1];
}

function title(html: string): string | undefined {
  return /<title>([^<]*)<\/title>/.exec(html)?.[1];
}

describe('languages', () => {
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp();
  });
  after(async () => {
    await t.close();
  });

  it('is English by default, and for languages it does not have', async () => {
    for (const header of [undefined, 'fr-FR, de;q=0.8']) {
      const page = await browserIn(t, header).open('/portal');
      assert.equal(htmlLang(page.res.text), 'en-SG');
      assert.match(page.res.text, /<label for="username">Username<\/label>/);
    }
  });

  it('follows Accept-Language (by quality), and says so in <html lang>', async () => {
    const zh = await browserIn(t, 'zh-SG,zh;q=0.9,en;q=0.8').open('/portal');
    assert.equal(htmlLang(zh.res.text), 'zh-Hans-SG');
    assert.match(zh.res.text, /<label for="username">用户名<\/label>/);
    assert.match(zh.res.text, /<button type="submit" class="primary">登录<\/button>/);
    const ms = await browserIn(t, 'en;q=0.5, ms-MY;q=0.9').open('/portal');
    assert.equal(htmlLang(ms.res.text), 'ms-SG');
    assert.match(ms.res.text, /Kata laluan/);
    const ta = await browserIn(t, 'ta').open('/portal');
    assert.equal(htmlLang(ta.res.text), 'ta-SG');
    assert.match(ta.res.text, /கடவுச்சொல்/);
  });

  it('the footer switcher wins over Accept-Language, is remembered, and returns to the same page only', async () => {
    const b = browserIn(t, 'zh-SG');
    const page = await b.open('/portal');
    const link = /href="(\/language\/ta\?return=[^"]+)"/.exec(page.res.text)?.[1];
    assert.ok(link, 'a link to Tamil in the footer');
    assert.match(page.res.text, /<nav class="languages" aria-label="语言">/);
    const switched = await b.get(link.replace(/&amp;/g, '&'));
    assert.equal(switched.status, 303);
    const flowPath = new URL(page.res.request.url).pathname;
    assert.equal(switched.headers.location, flowPath, 'back to the page it was chosen on');
    const again = await b.open(switched.headers.location!);
    assert.equal(htmlLang(again.res.text), 'ta-SG');
    assert.match(again.res.text, /<span aria-current="true" lang="ta-SG">தமிழ்<\/span>/);
    // Remembered for later pages (the cookie), whatever the browser's header says.
    assert.equal(htmlLang((await b.open('/portal')).res.text), 'ta-SG');
    // Only our own paths; unknown languages are not found.
    assert.equal((await b.get('/language/ms?return=https://evil.example/')).headers.location, '/portal');
    assert.equal((await b.get('/language/ms?return=//evil.example/')).headers.location, '/portal');
    assert.equal((await b.get('/language/xx?return=/portal')).status, 404);
  });

  it('OIDC ui_locales chooses the sign-in pages\' language over Accept-Language, but not over the footer choice', async () => {
    const b = browserIn(t, 'en-SG');
    const page = await b.open(await authorizeUrl(t, { ui_locales: 'ms-SG en' }));
    assert.equal(htmlLang(page.res.text), 'ms-SG');
    assert.match(page.res.text, /Test web app meminta anda log masuk\./, 'and names the app asking');
    const chosen = browserIn(t, 'en-SG');
    await chosen.get('/language/zh?return=/portal');
    const zh = await chosen.open(await authorizeUrl(t, { ui_locales: 'ta' }));
    assert.equal(htmlLang(zh.res.text), 'zh-Hans-SG');
  });

  it('error pages: the code unchanged, the words in the language', async () => {
    const res = await browserIn(t, 'ms').get('/flow/AAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(res.status, 410);
    assert.match(res.text, /<p class="code">SSPR 5101<\/p>/);
    assert.match(res.text, /<h1>Ralat<\/h1>/);
    assert.match(res.text, /Sesi anda telah tamat masa/);
    assert.match(res.text, /Rujukan: <code>/);
    const notFound = await browserIn(t, 'ta').get('/no-such-page');
    assert.match(notFound.text, /SSPR 5404/);
    assert.match(notFound.text, /நீங்கள் கேட்ட பக்கம் இல்லை/);
  });

  it('item 11: tab titles and the header name the screen', async () => {
    const b = new Browser(t.url);
    const signIn = await b.open('/portal');
    assert.equal(title(signIn.res.text), 'Sign in – MIMS Portal');
    const portal = await b.signIn(signIn.res, DEMO.student.loginId, DEMO.student.password);
    assert.equal(title(portal.res.text), 'Applications – MIMS Portal');
    assert.match(portal.res.text, /<div class="product">MIMS Portal<\/div>/);
    const sspr = await b.open('/portal/sspr');
    assert.equal(title(sspr.res.text), 'Self Service Password Reset – MIMS Portal');
    const error = await b.get('/flow/AAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(title(error.text), 'Error – MIMS Portal');
    const zh = await browserIn(t, 'zh').open('/portal');
    assert.equal(title(zh.res.text), '登录 – MIMS 门户');
  });

  it('item 12: the sign-in page says which application is asking', async () => {
    const page = await new Browser(t.url).open(await authorizeUrl(t));
    assert.match(page.res.text, /<p class="asking" id="app-asking">Test web app wants you to sign in\.<\/p>/);
    const portal = await new Browser(t.url).open('/portal');
    assert.doesNotMatch(portal.res.text, /wants you to sign in/, 'not for the portal itself');
  });

  it('item 1: Back after a finished flow says it is finished and leads on; a re-sent form is refused in those words', async () => {
    const b = new Browser(t.url);
    await b.signIn((await b.open('/portal')).res, DEMO.staff.loginId, DEMO.staff.password);
    const sspr = await b.open('/portal/sspr');
    const reauth = await b.follow(await b.submit(sspr.res, '/portal/sspr/questions', {}));
    const questions = await b.follow(await b.submit(reauth.res, '/reauth', { password: DEMO.staff.password }));
    const confirm = await b.follow(await b.submit(questions.res, '/questions', { q0: '6', a0: 'Inception', q1: '7', a1: 'Dune', q2: '2', a2: 'Chess' }));
    const saved = await b.follow(await b.submit(confirm.res, '/questions/confirm', {}));
    const flowPath = new URL(saved.res.request.url).pathname;
    await b.follow(await b.submit(saved.res, '/continue', {}));
    const back = await b.get(flowPath);
    assert.equal(back.status, 200);
    assert.match(back.text, /<h1>Already done<\/h1>/);
    assert.match(back.text, /Your security questions were already saved\./);
    assert.match(back.text, /href="\/portal\/sspr"/);
    assert.doesNotMatch(back.text, /Nothing was changed/);
    const resent = await b.submit(saved.res, '/continue', {});
    assert.equal(resent.status, 410);
    assert.match(resent.text, /SSPR 5101/);
    assert.match(resent.text, /Your security questions were already saved\./);
    // Another browser learns nothing from the id.
    assert.match((await new Browser(t.url).get(flowPath)).text, /SSPR 5101/);
  });

  it('item 9: the SSPR app asks for the password once within minutes, and a wrong one is called a wrong password', async () => {
    const b = new Browser(t.url);
    await b.signIn((await b.open('/portal')).res, DEMO.student.loginId, DEMO.student.password);
    let sspr = await b.open('/portal/sspr');
    let reauth = await b.follow(await b.submit(sspr.res, '/portal/sspr/questions', {}));
    reauth = await b.follow(await b.submit(reauth.res, '/reauth', { password: 'not-my-password' }));
    assert.equal(reauth.res.status, 401);
    assert.match(reauth.res.text, /The password you entered is incorrect\. Please try again\./);
    assert.doesNotMatch(reauth.res.text, /username or password/);
    const questions = await b.follow(await b.submit(reauth.res, '/reauth', { password: DEMO.student.password }));
    assert.match(questions.res.text, /<h1>Setup Security Questions<\/h1>/);
    // Moments later, the other task of the app: no second password prompt.
    sspr = await b.open('/portal/sspr');
    const change = await b.follow(await b.submit(sspr.res, '/portal/sspr/password', {}));
    assert.match(change.res.text, /<h1>Change Password<\/h1>/);
    assert.doesNotMatch(change.res.text, /Please enter your password below/);
    // Another browser of the same account is still asked.
    const other = new Browser(t.url);
    await other.signIn((await other.open('/portal')).res, DEMO.student.loginId, DEMO.student.password);
    const asked = await other.follow(await other.submit((await other.open('/portal/sspr')).res, '/portal/sspr/password', {}));
    assert.match(asked.res.text, /Please enter your password below/);
  });

  it('item 4: too many wrong answers says how long to wait (from the settings)', async () => {
    const b = new Browser(t.url);
    const signInPage = await b.open('/portal');
    const link = /href="(\/flow\/forgot-password\?from=[^"]+)"/.exec(signInPage.res.text)![1]!;
    const search = await b.open(link);
    let page = (await b.follow(await b.submit(search.res, '/forgot/search', { username: DEMO.student2.loginId }))).res;
    for (let i = 0; i < 4; i++) page = (await b.follow(await b.submit(page, '/forgot/answers', { a0: 'x', a1: 'y', a2: 'z' }))).res;
    assert.equal(page.status, 429);
    assert.match(page.text, /SSPR 5112/);
    assert.match(page.text, new RegExp(`Please try again in ${t.settings.forgotPassword.windowMinutes} minutes`));
  });

  it('item 6: administrator screens show Singapore time with its zone and events in words, in the language', async () => {
    const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
    const b = new Browser(t.url);
    await b.signIn((await b.open('/admin')).res, SITI.loginId, SITI.password);
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    await t.idp.directory.update(allen.id, (a) => ({ ...a, passwordChangedAt: Date.parse('2026-03-01T16:30:00Z') }));
    const state = await b.get(`/admin/accounts/${allen.id}`);
    assert.match(state.text, /Password changed<\/dt><dd>2 Mar 2026, 12:30 am SGT<\/dd>/, 'UTC 16:30 is 00:30 the next day in Singapore');
    assert.doesNotMatch(state.text, /\d{4}-\d\d-\d\dT\d\d:\d\d/, 'no raw ISO times');
    const audit = await b.get('/admin/audit');
    assert.match(audit.text, /<td data-type="signin.success" data-label="Event">Signed in<\/td>/);
    await b.get('/language/zh?return=/admin');
    const zh = await b.get(`/admin/accounts/${allen.id}`);
    assert.match(zh.text, /密码更改时间<\/dt><dd>2026年3月2日 上午12:30 SGT<\/dd>/);
    assert.match((await b.get('/admin/audit')).text, /<td data-type="signin.success" data-label="事件">登录成功<\/td>/);
  });

  it('item 14: the README lists the demo accounts\' challenge answers', () => {
    const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
    const accounts = JSON.parse(readFileSync(path.join(projectRoot, 'config/demo-accounts.json'), 'utf8')) as Array<{ loginId: string; questions?: Array<{ question: string; answer: string }> }>;
    for (const a of accounts) {
      for (const q of a.questions ?? []) {
        const row = readme.split('\n').find((line) => line.startsWith(`| \`${a.loginId}\` | ${a.questions![0]!.question}`));
        assert.ok(row, `a row of answers for ${a.loginId}`);
        assert.ok(row.includes(`${q.question} **${q.answer}**`), `${a.loginId}: ${q.question}`);
      }
    }
  });
});
