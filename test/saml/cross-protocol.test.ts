// One SSO session across protocols, with both simulated apps: sign in at the SAML app and
// reach the OIDC app and the portal without a password, and the reverse; sign out anywhere
// and every app learns of it (SAML by front-channel LogoutRequest, OIDC by back-channel
// logout token).
import assert from 'node:assert/strict';
import { formOf } from '../support/browser.ts';
import { DEMO, type TestIdp } from '../support/idp.ts';
import { MultiBrowser } from '../support/multi-browser.ts';
import { followHandOffs, type RunningWorkspaceSim } from '../support/saml.ts';
import { startWorld, type World } from '../support/world.ts';

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 80 && !(await check()); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(await check(), what);
}

describe('one SSO session across SAML, OIDC and the portal', () => {
  let t: TestIdp;
  let ws: RunningWorkspaceSim;
  let slsUrl: string;
  let world: World;

  before(async () => {
    world = await startWorld();
    ({ t, ws, slsUrl } = world);
  });
  after(async () => {
    await world.close();
  });

  function browser(): MultiBrowser {
    return new MultiBrowser(t.url, ws.url, slsUrl);
  }

  async function signInAtWorkspace(b: MultiBrowser): Promise<void> {
    const login = await b.open(`${ws.url}/login`);
    const f = formOf(login.res.text, '/sign-in');
    await followHandOffs(b, await b.post(new URL(f.action, t.url).toString(), { ...f.hidden, username: DEMO.student.loginId, password: DEMO.student.password }));
    const dashboard = await followHandOffs(b, await b.open(`${ws.url}/`));
    if (/I understand/.test(dashboard.res.text)) await b.post(`${ws.url}/welcome`, {});
    assert.match((await b.open(`${ws.url}/`)).res.text, /id="apps"/);
  }

  async function signedInAtWorkspace(b: MultiBrowser): Promise<boolean> {
    return /id="apps"/.test((await b.open(`${ws.url}/`)).res.text);
  }

  async function signedInAtSls(b: MultiBrowser): Promise<boolean> {
    return /id="student-name"/.test((await b.open(`${slsUrl}/`)).res.text);
  }

  it('signs in at the SAML app, then the OIDC app and the portal need no password', async () => {
    const b = browser();
    await signInAtWorkspace(b);
    const sls = await b.open(`${slsUrl}/login`);
    assert.equal(sls.url, `${slsUrl}/`, 'straight back to the app: no sign-in page');
    assert.match(sls.res.text, /<h1 id="student-name">Allen Tan<\/h1>/);
    assert.match((await b.open(`${t.url}/portal`)).res.text, /Allen Tan/);
  });

  it('signs in at the OIDC app, then the SAML app needs no password', async () => {
    const b = browser();
    const login = await b.open(`${slsUrl}/login`);
    const f = formOf(login.res.text, '/sign-in');
    const app = await b.post(new URL(f.action, t.url).toString(), { ...f.hidden, username: DEMO.student.loginId, password: DEMO.student.password });
    assert.match(app.res.text, /Allen Tan/);
    const ws1 = await b.open(`${ws.url}/login`);
    assert.doesNotMatch(ws1.res.text, /name="password"/, 'no sign-in page');
    const landed = await followHandOffs(b, ws1);
    assert.ok(landed.url.startsWith(ws.url), landed.url);
  });

  it('"Sign out" at the portal ends the session at both apps', async () => {
    const b = browser();
    await signInAtWorkspace(b);
    await b.open(`${slsUrl}/login`);
    assert.ok(await signedInAtSls(b));
    assert.ok(await signedInAtWorkspace(b));

    const portal = await b.open(`${t.url}/portal`);
    const out = await b.post(`${t.url}/portal/sign-out`, formOf(portal.res.text, '/portal/sign-out').hidden);
    const done = await followHandOffs(b, out);
    assert.ok(done.url.startsWith(t.url), done.url);
    assert.match(done.res.text, /Signed out/);
    // Both apps by their names, without internal labels (item 8).
    assert.match(done.res.text, /Also signed out of: (Student iCON, Student Learning Space – SLS|Student Learning Space – SLS, Student iCON)\./);
    assert.doesNotMatch(done.res.text, /simulated/);
    assert.equal(await signedInAtWorkspace(b), false, 'the SAML app got its LogoutRequest');
    // sls-sim registers backchannel_logout_session_required: its token ends this browser's session (sid).
    await until(async () => !(await signedInAtSls(b)), 'the OIDC app got its back-channel logout token');
    assert.match((await b.open(`${t.url}/portal`)).res.text, /name="password"/);
  });

  it('sign-out at the OIDC app reaches the SAML app too', async () => {
    const b = browser();
    await signInAtWorkspace(b);
    await b.open(`${slsUrl}/login`);
    const out = await b.post(`${slsUrl}/logout`, {});
    const done = await followHandOffs(b, out);
    assert.equal(done.url, `${slsUrl}/`, `back at the OIDC app: ${done.url}`);
    assert.match(done.res.text, /Sign in with MIMS/);
    assert.equal(await signedInAtWorkspace(b), false, 'the SAML app got its LogoutRequest');
  });

  it('sign-out at the SAML app reaches the OIDC app by back channel', async () => {
    const b = browser();
    await signInAtWorkspace(b);
    await b.open(`${slsUrl}/login`);
    assert.ok(await signedInAtSls(b));
    const out = await b.post(`${ws.url}/logout`, {});
    const done = await followHandOffs(b, out);
    assert.ok(done.url.startsWith(`${ws.url}/saml/slo?SAMLResponse=`), done.url);
    assert.match(done.res.text, /Signed out/);
    await until(async () => !(await signedInAtSls(b)), 'the OIDC app got its back-channel logout token');
    assert.match((await b.open(`${t.url}/portal`)).res.text, /name="password"/);
  });
});
