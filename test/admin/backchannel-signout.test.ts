// An administrator's reset or disable ends the student's sessions at the apps too, as far
// as the apps can be told without the student's browser: OIDC clients by back-channel
// logout token (sls-sim, and a recording client whose token is checked here with jose),
// SAML SPs with a SOAP SingleLogoutService by a signed LogoutRequest (workspace-sim on
// node-saml, and a recording SP whose request xmlsec1 checks). An SP with front-channel
// logout only, a client without back-channel logout, and an app that does not answer are
// named on the page as not told.
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { parseOidcClient } from '../../src/config/relying-parties.ts';
import { Browser, formOf } from '../support/browser.ts';
import { captureServer, logoutRequestOf, soapSp, xmlsecVerify, type CaptureServer } from '../support/backchannel.ts';
import { DEMO } from '../support/idp.ts';
import { MultiBrowser } from '../support/multi-browser.ts';
import { autoForm, followHandOffs, testSp } from '../support/saml.ts';
import { authnRequestXml, base64 } from '../support/saml-messages.ts';
import { startWorld, type World } from '../support/world.ts';
import { keys } from '../../src/store/index.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const CHANDRA = { loginId: 'chandra_kumar@students.edu.sg', password: 'Meadow-Violet-93' };
const SECRET = 'recording-client-secret-0123456789abcdef';

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 80 && !(await check()); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(await check(), what);
}

function unescapeHtml(s: string): string {
  return s.replace(/&#39;/g, "'").replace(/&#34;|&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The app names a page lists as told, and as not told. */
function listed(html: string): { told: string; notTold: string } {
  return {
    told: unescapeHtml(/id="apps-told-names">([^<]*)</.exec(html)?.[1] ?? ''),
    notTold: unescapeHtml(/id="apps-not-told-names">([^<]*)</.exec(html)?.[1] ?? ''),
  };
}

describe('administrators: back-channel sign-out of the apps', () => {
  let world: World;
  let oidcRp: CaptureServer;
  let deadRp: CaptureServer;
  let soapSpServer: CaptureServer;
  let hangingSp: CaptureServer;
  let idpCert: string;
  const recording = () =>
    parseOidcClient({
      protocol: 'oidc', display_name: 'Recording app', client_id: 'recording-app', client_secret: SECRET,
      redirect_uris: ['http://127.0.0.1:9/recording/callback'], grant_types: ['authorization_code'],
      backchannel_logout_uri: `${oidcRp.url}/backchannel`, backchannel_logout_session_required: true,
    }, '(test recording-app)');
  let soap: ReturnType<typeof testSp>;
  let frontOnly: ReturnType<typeof testSp>;
  let hanging: ReturnType<typeof testSp>;

  before(async () => {
    oidcRp = await captureServer();
    deadRp = await captureServer();
    await deadRp.close(); // its port answers nothing now: connection refused
    soapSpServer = await captureServer((req) => soapSp(soap.entityId, () => world.t.url)(req));
    hangingSp = await captureServer(() => ({ hang: true }));
    soap = testSp({ id: 'soap-sp', soapSlo: `${soapSpServer.url}/slo/soap` });
    frontOnly = testSp({ id: 'front-only-sp', slo: 'http://127.0.0.1:9/front-only/slo' });
    hanging = testSp({ id: 'hanging-sp', soapSlo: `${hangingSp.url}/slo/soap` });
    const dead = parseOidcClient({
      protocol: 'oidc', display_name: 'Unreachable app', client_id: 'unreachable-app', client_secret: SECRET,
      redirect_uris: ['http://127.0.0.1:9/unreachable/callback'], grant_types: ['authorization_code'],
      backchannel_logout_uri: `${deadRp.url}/backchannel`,
    }, '(test unreachable-app)');
    world = await startWorld({ clients: [recording(), dead], serviceProviders: [soap.file, frontOnly.file, hanging.file] });
    idpCert = (await new Browser(world.t.url).get('/saml/certificate.pem')).text;
  });
  after(async () => {
    await world.close();
    await Promise.all([oidcRp.close(), soapSpServer.close(), hangingSp.close()]);
  });

  function browser(): MultiBrowser {
    return new MultiBrowser(world.t.url, world.ws.url, world.slsUrl);
  }

  async function signInAtWorkspace(b: MultiBrowser, who = DEMO.student): Promise<void> {
    const login = await b.open(`${world.ws.url}/login`);
    if (/name="password"/.test(login.res.text)) {
      const f = formOf(login.res.text, '/sign-in');
      await followHandOffs(b, await b.post(new URL(f.action, world.t.url).toString(), { ...f.hidden, username: who.loginId, password: who.password }));
    } else {
      await followHandOffs(b, login);
    }
    if (/I understand/.test((await b.open(`${world.ws.url}/`)).res.text)) await b.post(`${world.ws.url}/welcome`, {});
    assert.ok(await signedInAtWorkspace(b));
  }

  async function signedInAtWorkspace(b: MultiBrowser): Promise<boolean> {
    return /id="apps"/.test((await b.open(`${world.ws.url}/`)).res.text);
  }

  async function signedInAtSls(b: MultiBrowser): Promise<boolean> {
    return /id="student-name"/.test((await b.open(`${world.slsUrl}/`)).res.text);
  }

  /** Code flow of an OIDC client in this browser (already signed in at the IdP). */
  async function oidcSignIn(b: MultiBrowser, clientId: string, redirect: string, secret = SECRET): Promise<oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers> {
    const config = await oidc.discovery(new URL(world.t.url), clientId, secret, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirect, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const step = await b.open(url.toString());
    assert.ok(step.external?.startsWith(redirect), `back at the app with a code: ${step.external ?? step.url}`);
    return oidc.authorizationCodeGrant(config, new URL(step.external!), { pkceCodeVerifier: verifier });
  }

  /** SP-initiated SAML sign-in of a test SP in this browser; the SessionIndex it received. */
  async function samlSignIn(b: MultiBrowser, sp: ReturnType<typeof testSp>): Promise<string> {
    const page = await b.post(`${world.t.url}/saml/sso`, { SAMLRequest: base64(authnRequestXml({ issuer: sp.entityId })) });
    const xml = Buffer.from(autoForm(page.res.text).fields.SAMLResponse!, 'base64').toString('utf8');
    return /SessionIndex="([^"]+)"/.exec(xml)![1]!;
  }

  async function admin(): Promise<Browser> {
    const b = new Browser(world.t.url);
    await b.signIn((await b.open('/portal')).res, SITI.loginId, SITI.password);
    return b;
  }

  async function act(b: Browser, accountId: string, action: string) {
    const confirm = await b.get(`/admin/accounts/${accountId}/${action}`);
    assert.equal(confirm.status, 200);
    assert.doesNotMatch(confirm.text, /signed out everywhere/);
    return b.follow(await b.submit(confirm, `/admin/accounts/${accountId}/${action}`, {}));
  }

  it('an app registered over HTTP whose sign-in session is no longer known is named by its client_name as not told (not by its client_id)', async () => {
    const t = world.t;
    const reg = await fetch(`${t.url}/oidc/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'Reading Corner', redirect_uris: ['http://127.0.0.1:9/reading/callback'], token_endpoint_auth_method: 'client_secret_basic' }) });
    const body = (await reg.json()) as { client_id: string; client_secret: string };
    assert.equal(reg.status, 201, JSON.stringify(body));
    const chandra = (await t.idp.directory.findByLoginId(CHANDRA.loginId))!;
    const student = browser();
    await signInAtWorkspace(student, CHANDRA);
    await oidcSignIn(student, body.client_id, 'http://127.0.0.1:9/reading/callback', body.client_secret);
    // The link from the SSO session to the app's oidc-provider session is lost (as after a
    // Redis failover): the app is known to the session, but cannot be told.
    const ssoId = student.at(t.url).cookies('idp_sso')[0]!.slice('idp_sso='.length);
    await t.store.del(keys.ssoOidcSessions(ssoId));
    try {
      const done = await act(await admin(), chandra.id, 'reset-password');
      const { notTold } = listed(done.res.text);
      assert.match(notTold, /Reading Corner/, notTold);
      assert.ok(!notTold.includes(body.client_id), `named by client_name, not ${body.client_id}: ${notTold}`);
    } finally {
      // Chandra's own password back, for the tests after this one.
      await t.idp.directory.update(chandra.id, (a) => ({ ...a, passwordHash: chandra.passwordHash, mustChangePassword: false, temporaryUntil: null }));
    }
  });

  it('reset: sls-sim, workspace-sim and every app with a back channel are told; a front-channel-only SP is named as not told', async () => {
    const t = world.t;
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const student = browser();
    await signInAtWorkspace(student);
    await student.open(`${world.slsUrl}/login`);
    assert.ok(await signedInAtSls(student));
    const tokens = await oidcSignIn(student, 'recording-app', 'http://127.0.0.1:9/recording/callback');
    const sid = tokens.claims()!.sid as string;
    assert.ok(sid, 'the ID token of a client with backchannel_logout_session_required carries sid');
    // The fixture client "Test web app" has no backchannel_logout_uri.
    await oidcSignIn(student, 'test-web', 'http://127.0.0.1:9/callback', 'test-web-secret-0123456789abcdef0123456789');
    const soapIndex = await samlSignIn(student, soap);
    await samlSignIn(student, frontOnly);
    oidcRp.requests.length = 0;
    soapSpServer.requests.length = 0;

    const done = await act(await admin(), allen.id, 'reset-password');
    assert.match(done.res.text, /id="temporary-password"/, 'the reset itself succeeded');
    const { told, notTold } = listed(done.res.text);
    for (const name of ['Student Learning Space – SLS', 'Student iCON', 'Recording app', 'Test SP soap-sp']) assert.ok(told.includes(name), `told: ${name} in "${told}"`);
    assert.doesNotMatch(done.res.text, /simulated/, 'no internal label for users');
    assert.match(notTold, /Test SP front-only-sp \(cannot be told without the user’s browser\)/);
    assert.match(notTold, /Test web app \(has no back-channel sign-out\)/);
    assert.doesNotMatch(told, /front-only/);

    // OIDC: one logout token, as Back-Channel Logout 1.0 §2.4 says, signed with the IdP's keys.
    assert.equal(oidcRp.requests.length, 1);
    const posted = oidcRp.requests[0]!;
    assert.equal(posted.path, '/backchannel');
    assert.match(String(posted.headers['content-type']), /^application\/x-www-form-urlencoded/);
    const logoutToken = new URLSearchParams(posted.body).get('logout_token')!;
    const { payload } = await jwtVerify(logoutToken, createRemoteJWKSet(new URL(`${t.url}/oidc/jwks`)), { issuer: t.url, audience: 'recording-app', typ: 'logout+jwt' });
    assert.equal(payload.sub, allen.id);
    assert.equal(payload.sid, sid, 'the sid of the ID token');
    assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
    assert.ok(payload.jti && payload.iat && payload.exp);
    assert.equal('nonce' in payload, false);
    assert.ok(decodeProtectedHeader(logoutToken).kid);

    // sls-sim (openid-client + jose, sid-scoped) and workspace-sim (node-saml over SOAP) ended their sessions.
    await until(async () => !(await signedInAtSls(student)), 'sls-sim ended its session');
    assert.equal(await signedInAtWorkspace(student), false, 'workspace-sim ended its session');

    // SAML: a signed LogoutRequest in a SOAP envelope, for that participant.
    assert.equal(soapSpServer.requests.length, 1);
    const soapCall = soapSpServer.requests[0]!;
    assert.equal(soapCall.path, '/slo/soap');
    assert.match(String(soapCall.headers['content-type']), /^text\/xml/);
    assert.equal(soapCall.headers.soapaction, '"http://www.oasis-open.org/committees/security"');
    assert.match(soapCall.body, /^<soap11:Envelope xmlns:soap11="http:\/\/schemas\.xmlsoap\.org\/soap\/envelope\/"><soap11:Body><samlp:LogoutRequest /);
    const request = logoutRequestOf(soapCall.body);
    assert.ok(xmlsecVerify(request, idpCert, 'urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest'), 'xmlsec1 verifies the LogoutRequest');
    assert.match(request, new RegExp(`<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${DEMO.student.loginId}</saml:NameID>`));
    assert.match(request, new RegExp(`<samlp:SessionIndex>${soapIndex}</samlp:SessionIndex>`));
    assert.match(request, new RegExp(`Destination="${soapSpServer.url}/slo/soap"`));

    const events = await t.idp.audit.recent(50, (e) => e.type === 'logout.backchannel' && e.accountId === allen.id);
    const byClient = Object.fromEntries(events.map((e) => [e.client, e.reason]));
    assert.equal(byClient['recording-app'], 'oidc told');
    assert.equal(byClient['sls-sim'], 'oidc told');
    assert.equal(byClient['workspace-sim'], 'saml told');
    assert.equal(byClient['soap-sp'], 'saml told');
    assert.match(byClient['front-only-sp']!, /^saml not told: front-channel single logout only/);
    assert.equal(byClient['test-web'], 'oidc not told: no backchannel_logout_uri registered');
  });

  it('an app that cannot be reached is named, the reset still succeeds, and the audit trail says why', async () => {
    const t = world.t;
    const bella = (await t.idp.directory.findByLoginId(DEMO.student2.loginId))!;
    const student = browser();
    await signInAtWorkspace(student, DEMO.student2);
    await oidcSignIn(student, 'unreachable-app', 'http://127.0.0.1:9/unreachable/callback');
    await samlSignIn(student, hanging);

    const started = Date.now();
    const done = await act(await admin(), bella.id, 'reset-password');
    const took = Date.now() - started;
    assert.ok(took < 6_000, `the page waited ${took} ms: no longer than the back channel's time limit`);
    assert.match(done.res.text, /id="temporary-password"/, 'the reset itself succeeded');
    assert.equal((await t.idp.directory.get(bella.id))!.mustChangePassword, true);
    const { told, notTold } = listed(done.res.text);
    assert.match(told, /Student iCON/);
    assert.match(notTold, /Unreachable app \(did not confirm\)/);
    assert.match(notTold, /Test SP hanging-sp \(did not confirm\)/);
    assert.equal(hangingSp.requests.length, 1, 'the hanging SP was asked');

    const events = await t.idp.audit.recent(50, (e) => e.type === 'logout.backchannel' && e.accountId === bella.id);
    const byClient = Object.fromEntries(events.map((e) => [e.client, e.reason]));
    assert.match(byClient['unreachable-app']!, /^oidc failed: /);
    assert.match(byClient['hanging-sp']!, /^saml failed: no answer within 2500 ms/);
    assert.ok(t.logs.some((l) => /back-channel logout not confirmed/.test(l) && /unreachable-app/.test(l)), 'the failure is logged');
  });

  it('disable: the account page after the redirect names the apps told and not told', async () => {
    const t = world.t;
    const chandra = (await t.idp.directory.findByLoginId(CHANDRA.loginId))!;
    const student = browser();
    await signInAtWorkspace(student, CHANDRA);
    await samlSignIn(student, frontOnly);

    const siti = await admin();
    const confirm = await siti.get(`/admin/accounts/${chandra.id}/disable`);
    assert.doesNotMatch(confirm.text, /signed out everywhere/);
    const posted = await siti.submit(confirm, `/admin/accounts/${chandra.id}/disable`, {});
    assert.equal(posted.status, 303);
    const after = posted.headers.location!;
    assert.match(after, new RegExp(`^/admin/accounts/${chandra.id}\\?done=disable&report=[A-Za-z0-9_-]+$`));
    const done = await siti.get(after);
    assert.match(done.text, /Done: Disable Account/);
    const { told, notTold } = listed(done.text);
    assert.match(told, /Student iCON/);
    assert.match(notTold, /Test SP front-only-sp/);
    assert.equal(await signedInAtWorkspace(student), false);
    // The report is shown to this administrator only.
    const grace = new Browser(world.t.url);
    await grace.signIn((await grace.open('/portal')).res, 'grace_lee@hq.moe.gov.sg', 'Summit=Harbour84');
    assert.doesNotMatch((await grace.get(after)).text, /apps-told/);
    await siti.follow(await siti.submit(await siti.get(`/admin/accounts/${chandra.id}/enable`), `/admin/accounts/${chandra.id}/enable`, {}));
  });
});
