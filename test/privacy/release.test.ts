// Issue 29, item 4 (part): an app receives only what its file allows. An OIDC client whose
// `scope` leaves out email never gets an address: not by asking for the scope, not through
// the claims parameter (OIDC Core 5.5), not from userinfo. A SAML SP whose `attributes` leave
// out mail gets no mail attribute, and not the address as its NameID either: a persistent
// NameID of its own (SAML core 8.3.7), which SLO then names it by.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, client, discover, redeem } from '../support/rp.ts';
import { autoForm, testSp } from '../support/saml.ts';
import { authnRequestXml, base64, logoutRequestXml, signXml } from '../support/saml-messages.ts';
import { inflateRawSync } from 'node:zlib';

const SECRET = 'no-email-client-secret-0123456789abcdef012';
const APP = { id: 'no-email-app', redirect: 'http://127.0.0.1:9/no-email/callback' };

describe('what an app receives is what its file allows (issue 29, item 4)', () => {
  let t: TestIdp;
  const sp = testSp({ id: 'level-only-sp', slo: 'http://127.0.0.1:9/level-only/slo', options: { attributes: ['level', 'displayName'] } });
  const sp2 = testSp({ id: 'class-only-sp', slo: 'http://127.0.0.1:9/class-only/slo', options: { attributes: ['level'] } });
  const uriSp = testSp({ id: 'uri-level-sp', options: { attributes: ['level'], attribute_profile: 'uri' } });
  before(async () => {
    t = await startTestIdp({ clients: [client({ client_id: APP.id, client_secret: SECRET, redirect_uris: [APP.redirect], scope: 'openid profile school', display_name: 'No email app' })], serviceProviders: [sp.file, sp2.file, uriSp.file] });
  });
  after(async () => {
    await t.close();
  });

  it('OIDC: a client not allowed email gets none: the scope is refused, the claims parameter yields nothing, userinfo has none', async () => {
    const config = await discover(t, APP.id, SECRET);
    const b = new Browser(t.url);
    // Asking for the scope: refused at the authorization endpoint.
    const asked = await authRequest(config, APP.redirect, { scope: 'openid email' });
    const refused = await b.open(asked.url.toString());
    const location = refused.external ?? refused.res.headers.location ?? '';
    assert.match(location + refused.res.text, /invalid_scope/);
    // Through the claims parameter, in the ID token and userinfo: nothing.
    const req = await authRequest(config, APP.redirect, { scope: 'openid profile', claims: JSON.stringify({ id_token: { email: { essential: true } }, userinfo: { email: { essential: true }, email_verified: null } }) });
    const first = await b.open(req.url.toString());
    const back = first.external ?? (await b.signIn(first.res, DEMO.student.loginId, DEMO.student.password)).external;
    const tokens = await redeem(config, req, back);
    const claims = tokens.claims()!;
    assert.equal(claims.email, undefined, 'no email in the ID token');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.email, undefined, 'no email from userinfo');
    assert.equal(info.name, 'Allen Tan', 'profile is allowed');
  });

  /** The SAML Response an SP gets for Allen (signing in when asked); its XML. */
  async function samlResponse(b: Browser, issuer: string, nameIdFormat: string): Promise<string> {
    const first = await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer, nameIdFormat })) });
    let page = first.status === 303 ? (await b.follow(first)).res : first;
    if (/name="password"/.test(page.text)) page = (await b.signIn(page, DEMO.student.loginId, DEMO.student.password)).res;
    return Buffer.from(autoForm(page.text).fields.SAMLResponse!, 'base64').toString('utf8');
  }

  it('SAML: an SP whose attributes leave out mail gets neither a mail attribute nor the address as its NameID: a persistent NameID of its own, stable, different at another SP', async () => {
    const b = new Browser(t.url);
    const xml = await samlResponse(b, sp.entityId, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
    assert.match(xml, /Name="level"/);
    assert.doesNotMatch(xml, /allen_tan@|Name="mail"/i, 'no address anywhere in the response');
    const nameId = /<saml:NameID Format="urn:oasis:names:tc:SAML:2\.0:nameid-format:persistent" NameQualifier="[^"]+" SPNameQualifier="([^"]+)">([0-9a-f]{32})<\/saml:NameID>/.exec(xml);
    assert.ok(nameId, xml.slice(0, 1500));
    assert.equal(nameId[1], sp.entityId);
    // Unspecified asks nothing: the same persistent NameID, also in another browser.
    assert.match(await samlResponse(new Browser(t.url), sp.entityId, 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'), new RegExp(`>${nameId[2]}</saml:NameID>`));
    // Another SP not allowed mail: another NameID for the same child.
    const other = await samlResponse(b, sp2.entityId, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
    assert.doesNotMatch(other, new RegExp(nameId[2]!));
    // The metadata lists both formats.
    assert.match((await b.get('/saml/metadata')).text, /<md:NameIDFormat>urn:oasis:names:tc:SAML:2\.0:nameid-format:persistent<\/md:NameIDFormat>/);
  });

  it('SAML: a uri-profile SP given a persistent NameID gets pairwise-id, never the identifiers every SP shares (eppn, subject-id)', async () => {
    const xml = await samlResponse(new Browser(t.url), uriSp.entityId, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
    assert.match(xml, /Name="urn:oasis:names:tc:SAML:attribute:pairwise-id"/);
    assert.doesNotMatch(xml, /urn:oid:1\.3\.6\.1\.4\.1\.5923\.1\.1\.1\.6|urn:oasis:names:tc:SAML:attribute:subject-id/);
  });

  it('SAML: such an SP asking for an emailAddress NameID is answered InvalidNameIDPolicy, and no address is sent', async () => {
    const xml = await samlResponse(new Browser(t.url), sp.entityId, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    assert.match(xml, /urn:oasis:names:tc:SAML:2\.0:status:InvalidNameIDPolicy/);
    assert.match(xml, /This service provider is given persistent NameIDs only\./);
    assert.doesNotMatch(xml, /allen_tan@/);
  });

  it('SAML single logout names each SP by its persistent NameID: the SP\'s request is matched, the other SP is told with its own', async () => {
    const b = new Browser(t.url);
    const first = await samlResponse(b, sp.entityId, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
    const nameId = /nameid-format:persistent"[^>]*>([0-9a-f]{32})</.exec(first)![1]!;
    const index = /SessionIndex="([^"]+)"/.exec(first)![1]!;
    const second = await samlResponse(b, sp2.entityId, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
    const otherNameId = /nameid-format:persistent"[^>]*>([0-9a-f]{32})</.exec(second)![1]!;
    const request = signXml(logoutRequestXml({ issuer: sp.entityId, destination: `${t.url}/saml/slo`, nameId, sessionIndex: index }));
    const accepted = await b.post('/saml/slo', { SAMLRequest: base64(request) });
    assert.equal(accepted.status, 303, accepted.text.slice(0, 300));
    const chain = await b.follow(accepted);
    const toOther = new URL(chain.external!);
    assert.equal(`${toOther.origin}${toOther.pathname}`, 'http://127.0.0.1:9/class-only/slo');
    const told = inflateRawSync(Buffer.from(toOther.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    assert.match(told, new RegExp(`<saml:NameID Format="urn:oasis:names:tc:SAML:2\\.0:nameid-format:persistent" NameQualifier="[^"]+" SPNameQualifier="${sp2.entityId.replace(/[.]/g, '\\.')}">${otherNameId}</saml:NameID>`));
    assert.doesNotMatch(told, /allen_tan@/);
  });

  it('an SP file asking for an emailAddress NameID without mail is refused, naming the field', () => {
    assert.throws(() => testSp({ id: 'contradiction-sp', options: { attributes: ['level'], name_id_format: 'emailAddress' } }), /name_id_format: an emailAddress NameID is the address/);
  });
});

describe('the access report: which apps received what for one child (issue 29, item 4)', () => {
  let t: TestIdp;
  const sp = testSp({ id: 'reading-sp', options: { attributes: ['level', 'displayName'] } });
  before(async () => {
    t = await startTestIdp({ clients: [client({ client_id: APP.id, client_secret: SECRET, redirect_uris: [APP.redirect], scope: 'openid profile school', subject_type: 'pairwise', display_name: 'Maths Garden' })], serviceProviders: [sp.file] });
  });
  after(async () => {
    await t.close();
  });

  it('an administrator sees and exports, for one child, each app given a sign-in, when, and what it received; a form teacher may not', async () => {
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const b = new Browser(t.url);
    const config = await discover(t, APP.id, SECRET);
    const req = await authRequest(config, APP.redirect, { scope: 'openid profile' });
    const first = await b.open(req.url.toString());
    await redeem(config, req, (await b.signIn(first.res, DEMO.student.loginId, DEMO.student.password)).external);
    const saml = await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: sp.entityId, nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified' })) });
    assert.ok(autoForm((await b.follow(saml)).res.text).fields.SAMLResponse);

    const siti = new Browser(t.url);
    await siti.signIn((await siti.open('/portal')).res, 'siti_rahman@schools.gov.sg', 'Orchid!Compass58');
    const page = await siti.get(`/admin/accounts/${allen.id}/access`);
    assert.equal(page.status, 200, page.text.slice(0, 300));
    assert.match(page.text, /Maths Garden \(OIDC\)<\/td><td[^>]*>sub \(pairwise\), name, given_name, family_name, locale<\/td>/);
    assert.match(page.text, /Test SP reading-sp \(SAML\)<\/td><td[^>]*>NameID \(persistent\), level, displayName<\/td>/);
    assert.doesNotMatch(page.text, /email/);
    const csv = await siti.get(`/admin/accounts/${allen.id}/access?format=csv`);
    assert.equal(csv.headers['content-type'], 'text/csv; charset=utf-8');
    assert.match(csv.text, /^at,app,protocol,receives,loginId\r?\n/);
    assert.match(csv.text, /Maths Garden,OIDC,sub \(pairwise\) name given_name family_name locale,allen_tan@students\.edu\.sg/);
    // A form teacher (Daniel, Allen's) has no audit trail, and no access report.
    const daniel = new Browser(t.url);
    await daniel.signIn((await daniel.open('/portal')).res, DEMO.staff.loginId, DEMO.staff.password);
    assert.equal((await daniel.get(`/admin/accounts/${allen.id}/access`)).status, 403);
  });
});
