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
import { newSamlKeyPair } from '../../src/config/key-material.ts';
import { autoForm, spKeys, testSp } from '../support/saml.ts';
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
  const keyless = testSp({ id: 'keyless-sp', slo: 'http://127.0.0.1:9/keyless/slo', withoutSigningKey: true });
  const attackerKeys = newSamlKeyPair('another key');

  before(async () => {
    t = await startTestIdp({ serviceProviders: [posting.file, redirecting.file, keyless.file] });
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
        const answer = base64(signXml(logoutResponseXml({ issuer: posting.entityId, destination: `${t.url}/saml/slo`, inResponseTo: /ID="([^"]+)"/.exec(xml)![1]! })));
        page = await b.follow(await b.post('/saml/slo', { SAMLResponse: answer, RelayState: form.fields.RelayState! }));
        seen.push('posting-sp');
      }
    }
    assert.deepEqual(seen, ['posting-sp', 'redirect-sp'], 'in the order they joined the session');
    assert.match(page.res.text, /Also signed out of: Test SP posting-sp/);
    assert.match(page.res.text, /did not confirm the sign-out: Test SP redirect-sp/);
  });

  /** Refusals counted in /metrics so far. */
  async function refusedCount(): Promise<number> {
    const metrics = (await new Browser(t.url).get('/metrics')).text;
    return Number(/idp_saml_refused_total\{code="SSPR 5130"\} (\d+)/.exec(metrics)?.[1] ?? 0);
  }

  type Answer = 'signed' | 'unsigned' | 'other key';
  /**
   * Signs out at the portal and answers each SP's LogoutRequest (Success) by its binding,
   * signed as `how` says; resolves to the final page.
   */
  async function portalSignOut(b: Browser, how: Answer): Promise<string> {
    const key = how === 'other key' ? attackerKeys : spKeys().signing;
    let page = await b.follow(await b.submit((await b.open('/portal')).res, '/portal/sign-out', {}));
    for (let i = 0; i < 2; i++) {
      if (page.external) {
        const url = new URL(page.external);
        const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
        const response = logoutResponseXml({ issuer: redirecting.entityId, destination: `${t.url}/saml/slo`, inResponseTo: /ID="([^"]+)"/.exec(xml)![1]! });
        const answer = redirectQuery('SAMLResponse', response, { relayState: url.searchParams.get('RelayState')!, sign: how !== 'unsigned', key });
        page = await b.follow(await b.get(`/saml/slo?${answer}`));
      } else {
        const form = autoForm(page.res.text);
        const xml = Buffer.from(form.fields.SAMLRequest!, 'base64').toString('utf8');
        const response = logoutResponseXml({ issuer: posting.entityId, destination: `${t.url}/saml/slo`, inResponseTo: /ID="([^"]+)"/.exec(xml)![1]! });
        const answer = base64(how === 'unsigned' ? response : signXml(response, 'sha256', key));
        page = await b.follow(await b.post('/saml/slo', { SAMLResponse: answer, RelayState: form.fields.RelayState! }));
      }
    }
    assert.equal(page.res.status, 200);
    assert.match(page.res.text, /Signed out/);
    return page.res.text;
  }

  it('does not take an unsigned LogoutResponse as a confirmation from an SP with a signing key (HTTP-Redirect and HTTP-POST)', async () => {
    const { b } = await signedInToBoth();
    const before = await refusedCount();
    const page = await portalSignOut(b, 'unsigned');
    assert.doesNotMatch(page, /Also signed out of/);
    assert.match(page, /did not confirm the sign-out: Test SP posting-sp, Test SP redirect-sp/);
    assert.equal(await refusedCount(), before + 2, 'both refusals counted');
    assert.match((await b.open('/portal')).res.text, /name="password"/, 'signed out here all the same');
    const audited = await t.idp.audit.recent(20, (e) => e.type === 'logout' && /LogoutResponse refused, sign-out not confirmed: LogoutResponse without a signature/.test(e.reason ?? ''));
    assert.deepEqual(audited.map((e) => e.client).sort(), ['posting-sp', 'redirect-sp']);
  });

  it('takes an unsigned LogoutResponse from an SP whose metadata has no signing key', async () => {
    const b = new Browser(t.url);
    const signIn = await b.follow(await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: keyless.entityId })) }));
    autoForm((await b.signIn(signIn.res, DEMO.student.loginId, DEMO.student.password)).res.text);
    const out = await b.follow(await b.submit((await b.open('/portal')).res, '/portal/sign-out', {}));
    const url = new URL(out.external!);
    const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    const answer = redirectQuery('SAMLResponse', logoutResponseXml({ issuer: keyless.entityId, destination: `${t.url}/saml/slo`, inResponseTo: /ID="([^"]+)"/.exec(xml)![1]! }), { relayState: url.searchParams.get('RelayState')!, sign: false });
    const page = await b.follow(await b.get(`/saml/slo?${answer}`));
    assert.match(page.res.text, /Also signed out of: Test SP keyless-sp/);
  });

  it('does not take a LogoutResponse signed with a key that is not the SP\'s', async () => {
    const { b } = await signedInToBoth();
    const before = await refusedCount();
    const page = await portalSignOut(b, 'other key');
    assert.doesNotMatch(page, /Also signed out of/);
    assert.match(page, /did not confirm the sign-out: Test SP posting-sp, Test SP redirect-sp/);
    assert.equal(await refusedCount(), before + 2);
  });

  it('takes validly signed LogoutResponses over both bindings', async () => {
    const { b } = await signedInToBoth();
    const page = await portalSignOut(b, 'signed');
    assert.match(page, /Also signed out of: Test SP posting-sp, Test SP redirect-sp/);
    assert.doesNotMatch(page, /did not confirm/);
  });

  it('refuses a LogoutResponse that answers no logout in progress', async () => {
    const b = new Browser(t.url);
    const stray = redirectQuery('SAMLResponse', logoutResponseXml({ issuer: redirecting.entityId, destination: `${t.url}/saml/slo`, inResponseTo: '_nothing' }), { relayState: 'not-a-chain-id-000' });
    const res = await b.get(`/saml/slo?${stray}`);
    assert.equal(res.status, 400);
    assert.match(res.text, /SSPR 5130/);
  });
});
