// SAML single logout over both bindings, from both sides: an SP's signed LogoutRequest by
// HTTP-POST ends the SSO session, the IdP sends LogoutRequests to the session's other SPs
// (signed, by each SP's binding), and answers the SP that asked with a signed
// LogoutResponse. Signatures are checked with xmlsec1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { autoForm, testSp } from '../support/saml.ts';
import { authnRequestXml, base64, logoutRequestXml, logoutResponseXml, redirectQuery, signXml } from '../support/saml-messages.ts';

function xmlsecVerify(xml: string, certPem: string, idAttr: string): boolean {
  const dir = mkdtempSync(path.join(tmpdir(), 'xmlsec-'));
  writeFileSync(path.join(dir, 'm.xml'), xml);
  writeFileSync(path.join(dir, 'c.pem'), certPem);
  const r = spawnSync('xmlsec1', ['--verify', '--pubkey-cert-pem', path.join(dir, 'c.pem'), '--id-attr:ID', idAttr, path.join(dir, 'm.xml')], { encoding: 'utf8' });
  if (r.error) throw new Error('xmlsec1 is not installed (apt-get install -y xmlsec1)');
  return r.status === 0;
}

describe('SAML single logout', () => {
  let t: TestIdp;
  let idpCert: string;
  const posting = testSp({ id: 'posting-sp', slo: 'http://127.0.0.1:9/posting/slo', sloBinding: 'post' });
  const redirecting = testSp({ id: 'redirect-sp', slo: 'http://127.0.0.1:9/redirect/slo' });

  before(async () => {
    t = await startTestIdp({ serviceProviders: [posting.file, redirecting.file] });
    idpCert = (await new Browser(t.url).get('/saml/certificate.pem')).text;
  });
  after(async () => {
    await t.close();
  });

  /** A browser signed in to both SPs; the SessionIndex each received. */
  async function signedInToBoth(): Promise<{ b: Browser; index: Record<string, string> }> {
    const b = new Browser(t.url);
    const index: Record<string, string> = {};
    for (const sp of [posting, redirecting]) {
      let page = await b.follow(await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: sp.entityId })) }));
      if (/name="password"/.test(page.res.text)) page = await b.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
      const xml = Buffer.from(autoForm(page.res.text).fields.SAMLResponse!, 'base64').toString('utf8');
      index[sp.file.id] = /SessionIndex="([^"]+)"/.exec(xml)![1]!;
    }
    return { b, index };
  }

  it('takes a signed LogoutRequest over HTTP-POST, logs out the other SP, and answers with a signed LogoutResponse', async () => {
    const { b, index } = await signedInToBoth();
    const request = signXml(logoutRequestXml({ issuer: posting.entityId, destination: `${t.url}/saml/slo`, nameId: DEMO.student.loginId, sessionIndex: index['posting-sp']!, id: '_lr-from-posting' }));
    const accepted = await b.post('/saml/slo', { SAMLRequest: base64(request), RelayState: 'back-to-posting' });
    assert.equal(accepted.status, 303);
    const chain = await b.follow(accepted);

    // The other SP gets a signed LogoutRequest by HTTP-Redirect.
    const toRedirectSp = new URL(chain.external!);
    assert.equal(`${toRedirectSp.origin}${toRedirectSp.pathname}`, 'http://127.0.0.1:9/redirect/slo');
    const logoutXml = inflateRawSync(Buffer.from(toRedirectSp.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    assert.match(logoutXml, new RegExp(`<saml:NameID [^>]*>${DEMO.student.loginId}</saml:NameID>`));
    assert.match(logoutXml, new RegExp(`<samlp:SessionIndex>${index['redirect-sp']}</samlp:SessionIndex>`));
    assert.equal(toRedirectSp.searchParams.get('SigAlg'), 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const chainId = toRedirectSp.searchParams.get('RelayState')!;
    const requestId = /ID="([^"]+)"/.exec(logoutXml)![1]!;

    // It answers; the IdP then owes the first SP its LogoutResponse, by HTTP-POST, signed.
    const answer = redirectQuery('SAMLResponse', logoutResponseXml({ issuer: redirecting.entityId, destination: `${t.url}/saml/slo`, inResponseTo: requestId }), { relayState: chainId });
    const final = await b.follow(await b.get(`/saml/slo?${answer}`));
    const form = autoForm(final.res.text);
    assert.equal(form.action, 'http://127.0.0.1:9/posting/slo');
    assert.equal(form.fields.RelayState, 'back-to-posting');
    const responseXml = Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8');
    assert.match(responseXml, /InResponseTo="_lr-from-posting"/);
    assert.match(responseXml, /status:Success/);
    assert.ok(xmlsecVerify(responseXml, idpCert, 'urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse'), 'xmlsec1 verifies the LogoutResponse');
    assert.match((await b.open('/portal')).res.text, /name="password"/, 'signed out');
    const events = await t.idp.audit.recent(10, (e) => e.type === 'logout' && e.client === 'posting-sp');
    assert.ok(events.length > 0);
  });

  it('sends a signed LogoutRequest by HTTP-POST when the SP takes that binding, and lists who confirmed', async () => {
    const { b, index } = await signedInToBoth();
    const portal = await b.open('/portal');
    let page = await b.follow(await b.submit(portal.res, '/portal/sign-out', {}));
    const seen: string[] = [];
    // One SP after the other, each by its own binding; posting-sp confirms, redirect-sp does not.
    for (let i = 0; i < 2; i++) {
      if (page.external) {
        const url = new URL(page.external);
        assert.equal(`${url.origin}${url.pathname}`, 'http://127.0.0.1:9/redirect/slo');
        const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
        assert.match(xml, new RegExp(`<samlp:SessionIndex>${index['redirect-sp']}</samlp:SessionIndex>`));
        const answer = redirectQuery('SAMLResponse', logoutResponseXml({ issuer: redirecting.entityId, destination: `${t.url}/saml/slo`, inResponseTo: /ID="([^"]+)"/.exec(xml)![1]!, status: 'urn:oasis:names:tc:SAML:2.0:status:Responder' }), { relayState: url.searchParams.get('RelayState')! });
        page = await b.follow(await b.get(`/saml/slo?${answer}`));
        seen.push('redirect-sp');
      } else {
        const form = autoForm(page.res.text);
        assert.equal(form.action, 'http://127.0.0.1:9/posting/slo');
        const xml = Buffer.from(form.fields.SAMLRequest!, 'base64').toString('utf8');
        assert.ok(xmlsecVerify(xml, idpCert, 'urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest'), 'xmlsec1 verifies the LogoutRequest');
        assert.match(xml, new RegExp(`<samlp:SessionIndex>${index['posting-sp']}</samlp:SessionIndex>`));
        // Unsigned LogoutResponses are taken: they only move the logout on.
        const answer = base64(logoutResponseXml({ issuer: posting.entityId, destination: `${t.url}/saml/slo`, inResponseTo: /ID="([^"]+)"/.exec(xml)![1]! }));
        page = await b.follow(await b.post('/saml/slo', { SAMLResponse: answer, RelayState: form.fields.RelayState! }));
        seen.push('posting-sp');
      }
    }
    assert.deepEqual(seen, ['posting-sp', 'redirect-sp'], 'in the order they joined the session');
    assert.match(page.res.text, /Also signed out of: Test SP posting-sp/);
    assert.match(page.res.text, /did not confirm the sign-out: Test SP redirect-sp/);
  });

  it('refuses a LogoutResponse that answers no logout in progress', async () => {
    const b = new Browser(t.url);
    const stray = redirectQuery('SAMLResponse', logoutResponseXml({ issuer: redirecting.entityId, destination: `${t.url}/saml/slo`, inResponseTo: '_nothing' }), { relayState: 'not-a-chain-id-000' });
    const res = await b.get(`/saml/slo?${stray}`);
    assert.equal(res.status, 400);
    assert.match(res.text, /SSPR 5130/);
  });
});
