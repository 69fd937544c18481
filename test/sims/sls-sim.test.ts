// sls-sim against a running IdP: sign in from the app, SSO with the portal, RP-initiated
// logout, and back-channel logout when the user signs out at the portal.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config/settings.ts';
import { slsSimClient } from '../../src/sims/clients.ts';
import { createSlsSim } from '../../src/sims/sls/app.ts';
import { formOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { MultiBrowser } from '../support/multi-browser.ts';
import { freePort } from '../support/redis.ts';

describe('sls-sim (OIDC relying party)', () => {
  let t: TestIdp;
  let simServer: Server;
  let simUrl: string;
  let sessions: Map<string, unknown>;
  before(async () => {
    const port = await freePort();
    simUrl = `http://127.0.0.1:${port}`;
    const client = slsSimClient(mkdtempSync(path.join(tmpdir(), 'idp-sim-keys-')), simUrl);
    t = await startTestIdp({ clients: [client] });
    const sim = createSlsSim({ publicUrl: simUrl, issuer: t.url, clientId: client.client_id, clientSecret: client.client_secret!, viewsDir: path.join(projectRoot, 'views/sims/sls') });
    sessions = sim.sessions;
    simServer = createServer(sim.app.callback());
    await new Promise<void>((resolve) => simServer.listen(port, '127.0.0.1', resolve));
  });
  after(async () => {
    simServer.closeAllConnections();
    simServer.close();
    await t.close();
  });

  it('signs a student in from the app and shows name, school, level, assignments and claims', async () => {
    const b = new MultiBrowser(t.url, simUrl);
    const home = await b.open(`${simUrl}/`);
    assert.match(home.res.text, /Sign in with MIMS/);
    const login = await b.open(`${simUrl}/login`);
    assert.ok(login.url.startsWith(t.url), 'at the IdP');
    const signInForm = formOf(login.res.text, '/sign-in');
    const back = await b.post(new URL(signInForm.action, t.url).toString(), { ...signInForm.hidden, username: DEMO.student2.loginId, password: DEMO.student2.password });
    assert.ok(back.url.startsWith(simUrl), `back at the app: ${back.url}`);
    assert.match(back.res.text, /<h1 id="student-name">Bella Lim<\/h1>/);
    assert.match(back.res.text, /Rivervale Demo School/);
    assert.match(back.res.text, /id="level">P5</);
    assert.match(back.res.text, /Fractions practice/);
    assert.match(back.res.text, /&#34;sub&#34;/);

    // The portal shares the SSO session: no password.
    const portal = await b.open(`${t.url}/portal`);
    assert.match(portal.res.text, /Bella Lim/);

    // Sign out at the portal: the IdP tells the app over the back channel.
    assert.equal(sessions.size > 0, true);
    const out = await b.post(`${t.url}/portal/sign-out`, formOf(portal.res.text, '/portal/sign-out').hidden);
    // The SSO session has ended; the page hands over to oidc-provider (script-submitted).
    const confirm = formOf(out.res.text, '/oidc/session/end/confirm');
    const signedOut = await b.post(new URL(confirm.action, t.url).toString(), confirm.hidden);
    assert.match(signedOut.res.text, /Signed out/);
    let signedOutAtApp = false;
    for (let i = 0; i < 40 && !signedOutAtApp; i++) {
      const page = await b.open(`${simUrl}/`);
      signedOutAtApp = /Sign in with MIMS/.test(page.res.text);
      if (!signedOutAtApp) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(signedOutAtApp, 'the app session ended through back-channel logout');
  });

  it('shares the language: its own switcher reaches the IdP (ui_locales), and the IdP\'s footer choice comes back to it (OIDC locale)', async () => {
    // The app's own switcher: Malay here, and the IdP's sign-in page in Malay too.
    const b = new MultiBrowser(t.url, simUrl);
    const malay = await b.open(`${simUrl}/language/ms?return=/`);
    assert.match(malay.res.text, /Log masuk dengan MIMS/);
    assert.match(malay.res.text, /<html lang="ms-SG"/);
    const atIdp = await b.open(`${simUrl}/login`);
    assert.match(atIdp.res.text, /<html lang="ms-SG"/);

    // The IdP's footer: Chinese chosen on the sign-in page; back at the app, it speaks Chinese.
    const c = new MultiBrowser(t.url, simUrl);
    const login = await c.open(`${simUrl}/login`);
    const switched = await c.open(`${t.url}/language/zh?return=${encodeURIComponent(new URL(login.url).pathname)}`);
    assert.match(switched.res.text, /<html lang="zh-Hans-SG"/);
    const form = formOf(switched.res.text, '/sign-in');
    const back = await c.post(new URL(form.action, t.url).toString(), { ...form.hidden, username: DEMO.student.loginId, password: DEMO.student.password });
    assert.ok(back.url.startsWith(simUrl), back.url);
    assert.match(back.res.text, /<html lang="zh-Hans-SG"/);
    assert.match(back.res.text, /你的作业/);
    assert.equal((await t.idp.directory.findByLoginId(DEMO.student.loginId))!.language, 'zh');
  });

  it('signs out from the app with RP-initiated logout, ending the SSO session', async () => {
    const b = new MultiBrowser(t.url, simUrl);
    const login = await b.open(`${simUrl}/login`);
    const f = formOf(login.res.text, '/sign-in');
    const app = await b.post(new URL(f.action, t.url).toString(), { ...f.hidden, username: DEMO.student.loginId, password: DEMO.student.password });
    assert.match(app.res.text, /Allen Tan/);
    const logout = await b.post(`${simUrl}/logout`, {});
    assert.ok(logout.url.startsWith(t.url));
    const ours = formOf(logout.res.text, '/logout/confirm');
    const handOff = await b.post(new URL(ours.action, t.url).toString(), ours.hidden);
    const confirm = formOf(handOff.res.text, '/oidc/session/end/confirm');
    const done = await b.post(new URL(confirm.action, t.url).toString(), confirm.hidden);
    assert.ok(done.url.startsWith(simUrl), done.url);
    assert.match(done.res.text, /Sign in with MIMS/);
    assert.match((await b.open(`${t.url}/portal`)).res.text, /Sign in/);
  });

  it('says its errors in the browser\'s language (en, zh, ms, ta)', async () => {
    const expected: Record<string, RegExp> = {
      en: /This sign-in was not started here\. Please try again\./,
      'zh-SG': /这次登录不是从这里开始的。请再试一次。/,
      ms: /Log masuk ini tidak dimulakan di sini\. Sila cuba lagi\./,
      'ta-SG,en;q=0.5': /இந்த உள்நுழைவு இங்கே தொடங்கப்படவில்லை\. மீண்டும் முயலுங்கள்\./,
    };
    for (const [acceptLanguage, words] of Object.entries(expected)) {
      const res = await fetch(`${simUrl}/callback?code=x&state=y`, { headers: { 'Accept-Language': acceptLanguage } });
      assert.equal(res.status, 400, acceptLanguage);
      const html = await res.text();
      assert.match(html, words, acceptLanguage);
      assert.match(html, new RegExp(`<html lang="${acceptLanguage.slice(0, 2)}`), acceptLanguage);
    }
    // The IdP out of reach: a clear page in the browser's language, not a bare 500.
    const port = await freePort();
    const lonely = createSlsSim({ publicUrl: `http://127.0.0.1:${port}`, issuer: 'http://127.0.0.1:9', clientId: 'sls-sim', clientSecret: 'x'.repeat(43), viewsDir: path.join(projectRoot, 'views/sims/sls') });
    const server = createServer(lonely.app.callback());
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${port}/login`, { headers: { 'Accept-Language': 'ms' }, redirect: 'manual' });
      assert.equal(res.status, 502);
      assert.match(await res.text(), /Log masuk tidak dapat dimulakan: /);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
