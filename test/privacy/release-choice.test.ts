// Issue 29, item 4: what each app receives is chosen by the ministry (every school) and by
// each school (its own pupils, within the ministry's choice), at /admin/apps. An OIDC client
// the ministry withholds email from gets no email claim for any pupil; an SP a school
// withholds email and name from gets neither for that school's pupils (and a persistent
// NameID instead of the address) while another school's pupils are unaffected. Form
// teachers cannot choose; every choice is audited.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { Browser, formOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, client, discover, redeem } from '../support/rp.ts';
import { autoForm, testSp } from '../support/saml.ts';
import { authnRequestXml, base64 } from '../support/saml-messages.ts';
import { signedIn } from '../support/people.ts';

const SECRET = 'release-choice-secret-0123456789abcdef0123';
const APP = { id: 'reading-app', redirect: 'http://127.0.0.1:9/reading/callback' };
const GRACE = { loginId: 'grace_lee@hq.moe.gov.sg', password: 'Summit=Harbour84' };
const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const IVAN = { loginId: 'ivan_teo@students.edu.sg', password: 'Lakeside-Otter-62' };

describe('what an app receives, as the ministry and each school choose (/admin/apps)', () => {
  let t: TestIdp;
  const sp = testSp({ id: 'library-sp', slo: 'http://127.0.0.1:9/library/slo', options: { attributes: ['mail', 'displayName', 'level'] } });

  before(async () => {
    t = await startTestIdp({ clients: [client({ client_id: APP.id, client_secret: SECRET, redirect_uris: [APP.redirect], scope: 'openid email profile school', display_name: 'Reading app' })], serviceProviders: [sp.file] });
  });
  after(async () => {
    await t.close();
  });

  async function choose(b: Browser, app: string, items: string[], reset = false): Promise<string> {
    const page = await b.get('/admin/apps');
    assert.equal(page.status, 200, page.text.slice(0, 300));
    const form = formOf(page.text, '/admin/apps/release');
    const body = new URLSearchParams({ _csrf: form.hidden._csrf!, app });
    for (const i of items) body.append('items', i);
    if (reset) body.set('reset', '1');
    const res = await b.agent.post('/admin/apps/release').type('form').send(body.toString()).redirects(0);
    assert.equal(res.status, 303, res.text.slice(0, 300));
    return (await b.get(res.headers.location!)).text;
  }

  async function oidcClaims(who: { loginId: string; password: string }): Promise<Record<string, unknown>> {
    const config = await discover(t, APP.id, SECRET);
    const b = new Browser(t.url);
    const req = await authRequest(config, APP.redirect, { scope: 'openid email profile school' });
    const first = await b.open(req.url.toString());
    const back = first.external ?? (await b.signIn(first.res, who.loginId, who.password)).external;
    const tokens = await redeem(config, req, back);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    return { ...tokens.claims(), ...info };
  }

  async function samlXml(who: { loginId: string; password: string }): Promise<string> {
    const b = new Browser(t.url);
    const first = await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: sp.entityId })) });
    let page = first.status === 303 ? (await b.follow(first)).res : first;
    if (/name="password"/.test(page.text)) page = (await b.signIn(page, who.loginId, who.password)).res;
    return Buffer.from(autoForm(page.text).fields.SAMLResponse!, 'base64').toString('utf8');
  }

  it('the ministry withholds email from an OIDC app for every school: no email claim, in the ID token or from userinfo; taking the choice back restores it', async () => {
    assert.equal((await oidcClaims(DEMO.student)).email, DEMO.student.loginId, 'the file allows email');
    const grace = await signedIn(t, GRACE);
    const page = await grace.get('/admin/apps');
    assert.match(page.text, /Reading app[\s\S]*Its settings allow: Login ID \(email address\), Name, School, Level, Language/);
    const saved = await choose(grace, `oidc:${APP.id}`, ['name', 'school', 'level', 'language']);
    assert.match(saved, /Saved\. The app receives this from its next sign-in\./);
    assert.match(saved, /Receives: Name, School, Level, Language/);
    for (const who of [DEMO.student, IVAN]) {
      const claims = await oidcClaims(who);
      assert.equal(claims.email, undefined, `${who.loginId}: no email`);
      assert.equal(claims.email_verified, undefined);
      assert.equal(typeof claims.name, 'string', 'name is still released');
    }
    const events = await t.idp.audit.recent(5, (e) => e.type === 'privacy.release.set');
    assert.equal(events[0]!.client, `oidc:${APP.id}`);
    assert.match(events[0]!.reason!, /^every school: name, school, level, language$/);
    await choose(grace, `oidc:${APP.id}`, [], true);
    assert.equal((await oidcClaims(DEMO.student)).email, DEMO.student.loginId, 'as the file allows again');
  });

  it('a school withholds email and name from an SP for its own pupils only: no mail, no displayName, a persistent NameID; another school\'s pupils keep them', async () => {
    const siti = await signedIn(t, SITI);
    await choose(siti, `saml:library-sp`, ['level']);
    const allen = await samlXml(DEMO.student);
    assert.match(allen, /Name="level"/);
    assert.doesNotMatch(allen, /Name="mail"|Name="displayName"|allen_tan@|Allen Tan/);
    assert.match(allen, /<saml:NameID Format="urn:oasis:names:tc:SAML:2\.0:nameid-format:persistent"/);
    const ivan = await samlXml(IVAN);
    assert.match(ivan, /Name="mail"/);
    assert.match(ivan, /<saml:NameID Format="urn:oasis:names:tc:SAML:1\.1:nameid-format:emailAddress">ivan_teo@students\.edu\.sg</);
    // Within the ministry's choice: what the ministry withholds, a school cannot give.
    const grace = await signedIn(t, GRACE);
    await choose(grace, `saml:library-sp`, ['name', 'level']);
    const schoolPage = (await siti.get('/admin/apps')).text;
    assert.match(schoolPage, /The ministry allows: Name, Level/);
    assert.doesNotMatch(schoolPage.slice(schoolPage.indexOf('library-sp')), /id="saml:library-sp-email"/, 'email is not offered to the school');
    await choose(siti, `saml:library-sp`, ['email', 'name', 'level']);
    assert.doesNotMatch(await samlXml(DEMO.student), /Name="mail"|allen_tan@/, 'still no email: the ministry withholds it');
    assert.match(await samlXml(DEMO.student), /Name="displayName"/);
  });

  it('form teachers and students cannot choose (403), and an unknown app or kind is refused', async () => {
    const daniel = await signedIn(t, DEMO.staff);
    await t.idp.directory.update((await t.idp.directory.findByLoginId(DEMO.staff.loginId))!.id, (a) => ({ ...a, formClasses: [{ year: 2026, name: '2A' }] }));
    assert.equal((await daniel.get('/admin/apps')).status, 403);
    const grace = await signedIn(t, GRACE);
    const form = formOf((await grace.get('/admin/apps')).text, '/admin/apps/release');
    const bad = await grace.agent.post('/admin/apps/release').type('form').send({ _csrf: form.hidden._csrf!, app: 'oidc:nope', items: 'name' }).redirects(0);
    assert.equal(bad.status, 404);
    const kind = await grace.agent.post('/admin/apps/release').type('form').send({ _csrf: form.hidden._csrf!, app: `oidc:${APP.id}`, items: 'password' }).redirects(0);
    assert.equal(kind.status, 400);
    // A kind the app's file does not allow (the SP has no roles attribute): refused, not saved as nothing.
    const notAllowed = await grace.agent.post('/admin/apps/release').type('form').send({ _csrf: form.hidden._csrf!, app: 'saml:library-sp', items: 'roles' }).redirects(0);
    assert.equal(notAllowed.status, 400);
    // Each checkbox is named by its own label (ids are not shared with the headings).
    const page = (await grace.get('/admin/apps')).text;
    const ids = [...page.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length, 'no id twice');
    const noCsrf = await grace.agent.post('/admin/apps/release').type('form').send({ app: `oidc:${APP.id}`, items: 'name' }).redirects(0);
    assert.equal(noCsrf.status, 403);
  });
});
