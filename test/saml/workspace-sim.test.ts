// workspace-sim (SAML SP on @node-saml/node-saml) against a running IdP: SP-initiated
// sign-in over HTTP-Redirect with an unsigned AuthnRequest, the signed Response, the
// first-visit terms page, apps by level, IdP-initiated sign-in from a portal tile, and
// single logout started at the sim and at the portal.
import assert from 'node:assert/strict';
import { formOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { MultiBrowser } from '../support/multi-browser.ts';
import { autoForm, followHandOffs, workspaceSim, type RunningWorkspaceSim } from '../support/saml.ts';

describe('workspace-sim (SAML service provider)', () => {
  let t: TestIdp;
  let ws: RunningWorkspaceSim;
  before(async () => {
    ws = await workspaceSim();
    t = await startTestIdp({ serviceProviders: [ws.sp] });
    await ws.start(t.url);
  });
  after(async () => {
    await ws.close();
    await t.close();
  });

  /** From the sim's "Next" to the IdP's sign-in page. */
  async function toIdpSignIn(b: MultiBrowser) {
    const login = await b.open(`${ws.url}/login?email=${encodeURIComponent(DEMO.student.loginId)}`);
    assert.ok(login.url.startsWith(`${t.url}/flow/`), `at the IdP's sign-in: ${login.url}`);
    assert.match(login.res.text, /Username/);
    return login;
  }

  it('signs a student in from the app: unsigned AuthnRequest, signed Response, welcome page, apps by level', async () => {
    const b = new MultiBrowser(t.url, ws.url);
    const home = await b.open(`${ws.url}/`);
    assert.match(home.res.text, /Student iCON email address/);

    // The AuthnRequest is unsigned and goes by HTTP-Redirect, as Google sends it.
    const first = await b.at(ws.url).get(`${ws.url}/login`);
    const toIdp = new URL(first.headers.location!);
    assert.equal(toIdp.pathname, '/saml/sso');
    assert.ok(toIdp.searchParams.get('SAMLRequest'));
    assert.equal(toIdp.searchParams.get('Signature'), null);

    const login = await toIdpSignIn(b);
    const f = formOf(login.res.text, '/sign-in');
    const handOff = await b.post(new URL(f.action, t.url).toString(), { ...f.hidden, username: DEMO.student.loginId, password: DEMO.student.password });
    // The Response is posted to the sim's registered ACS by a script-submitted form.
    const post = autoForm(handOff.res.text);
    assert.equal(post.action, `${ws.url}/saml/acs`);
    const xml = Buffer.from(post.fields.SAMLResponse!, 'base64').toString('utf8');
    assert.match(xml, /<ds:Signature/);
    const welcome = await followHandOffs(b, handOff);
    assert.equal(welcome.url, `${ws.url}/welcome`);
    assert.match(welcome.res.text, /Welcome to your new account/);
    assert.match(welcome.res.text, /allen_tan@students\.edu\.sg/);

    const dashboard = await b.post(`${ws.url}/welcome`, {});
    assert.match(dashboard.res.text, /<h1 id="name">Allen Tan<\/h1>/);
    assert.match(dashboard.res.text, /id="level">P2</);
    // Primary 1-3: no Gmail.
    assert.match(dashboard.res.text, /data-band="lower-primary"/);
    assert.doesNotMatch(dashboard.res.text, /data-app="gmail"/);
    assert.match(dashboard.res.text, /data-app="classroom"/);
    // The details panel shows what the IdP sent.
    assert.match(dashboard.res.text, /&#34;nameID&#34;: &#34;allen_tan@students.edu.sg&#34;/);
    assert.match(dashboard.res.text, /urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress/);

    // A second visit of the same account skips the welcome page.
    const again = await b.open(`${ws.url}/`);
    assert.match(again.res.text, /id="apps"/);

    // The portal shares the SSO session: no password.
    const portal = await b.open(`${t.url}/portal`);
    assert.match(portal.res.text, /Allen Tan/);
    const events = await t.idp.audit.recent(20, (e) => e.type === 'saml.assertion' && e.client === 'workspace-sim');
    assert.ok(events.length >= 1, 'the assertion is audited');
  });

  it('shows each level its apps: P5 with mail limited to the ministry domains, staff the full set', async () => {
    for (const [who, band, gmail] of [[DEMO.student2, 'upper-primary', /Mail to and from @students\.edu\.sg/], [DEMO.staff, 'staff', /data-app="currents"/]] as const) {
      const b = new MultiBrowser(t.url, ws.url);
      const login = await toIdpSignIn(b);
      const f = formOf(login.res.text, '/sign-in');
      const handOff = await b.post(new URL(f.action, t.url).toString(), { ...f.hidden, username: who.loginId, password: who.password });
      await followHandOffs(b, handOff);
      const dashboard = await b.post(`${ws.url}/welcome`, {});
      assert.match(dashboard.res.text, new RegExp(`data-band="${band}"`));
      assert.match(dashboard.res.text, /data-app="gmail"/);
      assert.match(dashboard.res.text, gmail);
    }
  });

  it('opens the app from the portal tile with IdP-initiated sign-in', async () => {
    const b = new MultiBrowser(t.url, ws.url);
    const signIn = await b.open(`${t.url}/portal`);
    const f = formOf(signIn.res.text, '/sign-in');
    const portal = await b.post(new URL(f.action, t.url).toString(), { ...f.hidden, username: DEMO.student.loginId, password: DEMO.student.password });
    assert.match(portal.res.text, /href="\/saml\/launch\/workspace-sim"/);
    const handOff = await b.open(`${t.url}/saml/launch/workspace-sim`);
    const post = autoForm(handOff.res.text);
    assert.equal(post.fields.RelayState, '/');
    const xml = Buffer.from(post.fields.SAMLResponse!, 'base64').toString('utf8');
    assert.doesNotMatch(xml, /InResponseTo/, 'unsolicited: answers no request');
    const landed = await followHandOffs(b, handOff);
    assert.ok(landed.url.startsWith(ws.url));
    assert.match(landed.res.text, /Welcome to your new account|id="apps"/);
  });

  it('signs out from the app with SAML single logout, ending the SSO session', async () => {
    const b = new MultiBrowser(t.url, ws.url);
    const login = await toIdpSignIn(b);
    const f = formOf(login.res.text, '/sign-in');
    await followHandOffs(b, await b.post(new URL(f.action, t.url).toString(), { ...f.hidden, username: DEMO.student.loginId, password: DEMO.student.password }));
    await b.post(`${ws.url}/welcome`, {});
    const sessionsBefore = ws.sim.sessions.size;

    // The sim sends a signed LogoutRequest by HTTP-Redirect; the IdP ends the SSO session,
    // passes through its OIDC logout, and answers with a LogoutResponse.
    const out = await b.post(`${ws.url}/logout`, {});
    const done = await followHandOffs(b, out);
    assert.ok(done.url.startsWith(`${ws.url}/saml/slo?SAMLResponse=`), `back at the sim with a LogoutResponse: ${done.url}`);
    assert.match(done.res.text, /Signed out/);
    assert.ok(ws.sim.sessions.size < sessionsBefore);
    const portal = await b.open(`${t.url}/portal`);
    assert.match(portal.res.text, /Sign in/, 'the SSO session has ended');
  });

  it('signs out from the portal and tells the app with a LogoutRequest', async () => {
    const b = new MultiBrowser(t.url, ws.url);
    const login = await toIdpSignIn(b);
    const f = formOf(login.res.text, '/sign-in');
    await followHandOffs(b, await b.post(new URL(f.action, t.url).toString(), { ...f.hidden, username: DEMO.student.loginId, password: DEMO.student.password }));
    const dashboard = await b.post(`${ws.url}/welcome`, {});
    assert.match(dashboard.res.text, /id="apps"/);

    const portal = await b.open(`${t.url}/portal`);
    const out = await b.post(`${t.url}/portal/sign-out`, formOf(portal.res.text, '/portal/sign-out').hidden);
    const done = await followHandOffs(b, out);
    assert.equal(done.url.startsWith(t.url), true, done.url);
    assert.match(done.res.text, /Signed out/);
    assert.match(done.res.text, /Also signed out of: Student iCON\./);
    const app = await b.open(`${ws.url}/`);
    assert.match(app.res.text, /Student iCON email address/, 'the app session has ended');
  });

  it('says its errors in the browser\'s language (en, zh, ms, ta); the library\'s detail stays as it is', async () => {
    const expected: Record<string, RegExp> = {
      en: /Sign-in failed: /,
      zh: /登录失败：/,
      ms: /Log masuk gagal: /,
      ta: /உள்நுழைவு தோல்வியடைந்தது: /,
    };
    for (const [lang, words] of Object.entries(expected)) {
      const res = await fetch(`${ws.url}/saml/acs`, { method: 'POST', headers: { 'Accept-Language': lang, 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ SAMLResponse: Buffer.from('<not-saml/>').toString('base64') }) });
      assert.equal(res.status, 400, lang);
      const html = await res.text();
      assert.match(html, words, lang);
      if (lang !== 'en') assert.doesNotMatch(html, /Sign-in failed/, lang);
    }
  });
});
