// The Response and Assertion are written in canonical form and signed without parsing
// (src/protocols/saml/canonical-signing.ts). Checked from outside, with an account whose
// names hold every character canonical XML escapes:
// - xml-crypto canonicalises what the SP received and gets our bytes exactly;
// - node-saml (xml-crypto) and xmlsec1 verify both signatures;
// - the SP reads the names back unchanged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { DOMParser } from '@xmldom/xmldom';
import { C14nCanonicalization, ExclusiveCanonicalization } from 'xml-crypto';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { autoForm, testSp } from '../support/saml.ts';

const NASTY = 'Ann & "Bo" <Ci> \'Di\' >\ttab\r\nCRLF\rCR\nLF ]]> &amp; Ω 漢字 😀';

function xmlsecVerify(xml: string, certPem: string, idAttr: string): { ok: boolean; out: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'xmlsec-'));
  writeFileSync(path.join(dir, 'm.xml'), xml);
  writeFileSync(path.join(dir, 'cert.pem'), certPem);
  const r = spawnSync('xmlsec1', ['--verify', '--pubkey-cert-pem', path.join(dir, 'cert.pem'), '--id-attr:ID', idAttr, path.join(dir, 'm.xml')], { encoding: 'utf8' });
  if (r.error) throw new Error('xmlsec1 is not installed (apt-get install -y xmlsec1; .ci/run does it)');
  return { ok: r.status === 0, out: r.stderr };
}

/** The element's canonical form as xml-crypto writes it, its own ds:Signature left out (enveloped-signature). */
function canonical(xml: string, localName: string, exclusive = true): string {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const el = doc.getElementsByTagNameNS('*', localName)[0]!;
  const own = Array.from(el.childNodes).find((n) => (n as Element).localName === 'Signature');
  if (own) el.removeChild(own as unknown as Parameters<typeof el.removeChild>[0]);
  const c14n = exclusive ? new ExclusiveCanonicalization() : new C14nCanonicalization();
  return c14n.process(el as unknown as Element, {}) as string;
}

/** The element's text as sent, its own ds:Signature cut out. */
function asSent(xml: string, localName: string): string {
  const start = xml.indexOf(`<saml${localName === 'Response' ? 'p' : ''}:${localName} `);
  const endTag = `</saml${localName === 'Response' ? 'p' : ''}:${localName}>`;
  const element = xml.slice(start, xml.indexOf(endTag, start) + endTag.length);
  const issuerEnd = element.indexOf('</saml:Issuer>') + '</saml:Issuer>'.length;
  const sig = element.slice(issuerEnd);
  return sig.startsWith('<ds:Signature') ? element.slice(0, issuerEnd) + sig.slice(sig.indexOf('</ds:Signature>') + '</ds:Signature>'.length) : element;
}

describe('SAML responses signed in canonical form', () => {
  let t: TestIdp;
  let idpCert: string;
  const sp = testSp({ id: 'c14n-sp', acs: ['http://127.0.0.1:9/c14n/acs?a=1&amp;b=%222%22'], options: { attributes: ['mail', 'displayName', 'givenName', 'sn', 'school'] } });

  before(async () => {
    t = await startTestIdp({ serviceProviders: [sp.file] });
    idpCert = (await new Browser(t.url).get('/saml/certificate.pem')).text;
    const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    await t.idp.directory.update(account.id, (a) => ({ ...a, displayName: NASTY, givenName: `${NASTY} given`, familyName: '\t\n' }));
  });
  after(async () => {
    await t.close();
  });

  /** A sign-in at `idp` through node-saml as the SP: the Response received, and that SP to check it. */
  async function signIn(idp: TestIdp = t, cert = idpCert): Promise<{ xml: string; saml: SAML; fields: Record<string, string> }> {
    const acs = 'http://127.0.0.1:9/c14n/acs?a=1&b=%222%22';
    const saml = new SAML({
      callbackUrl: acs, entryPoint: `${idp.url}/saml/sso`, issuer: sp.entityId, audience: sp.entityId, idpCert: cert, idpIssuer: `${idp.url}/saml/metadata`,
      identifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', validateInResponseTo: ValidateInResponseTo.never,
      wantAssertionsSigned: true, wantAuthnResponseSigned: true, disableRequestedAuthnContext: true,
    });
    const url = new URL(await saml.getAuthorizeUrlAsync('relay', undefined, {}));
    const b = new Browser(idp.url);
    let page = await b.follow(await b.get(`${url.pathname}${url.search}`));
    if (/name="password"/.test(page.res.text)) page = await b.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
    const form = autoForm(page.res.text);
    return { xml: Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8'), saml, fields: form.fields as Record<string, string> };
  }

  it('sends Response and Assertion in the very form xml-crypto canonicalises them to', async () => {
    const { xml } = await signIn();
    assert.ok(xml.includes('&#xD;'), 'carriage returns are escaped (a parser would otherwise turn CRLF into LF)');
    for (const el of ['Assertion', 'Response']) {
      assert.equal(canonical(xml, el), asSent(xml, el), `${el}: exclusive canonical form`);
    }
    // Inclusive C14N 1.0 differs only by namespaces in scope: the Assertion declares its own.
    assert.equal(canonical(xml, 'Assertion', false), asSent(xml, 'Assertion'));
  });

  it('verifies with node-saml (xml-crypto) and xmlsec1, and the names come back unchanged', async () => {
    const { xml, saml, fields } = await signIn();
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: fields.SAMLResponse! });
    assert.equal(profile!.nameID, DEMO.student.loginId);
    assert.equal(profile!.displayName, NASTY);
    assert.equal(profile!.givenName, `${NASTY} given`);
    assert.equal(profile!.sn, '\t\n');
    const response = xmlsecVerify(xml, idpCert, 'urn:oasis:names:tc:SAML:2.0:protocol:Response');
    assert.ok(response.ok, `xmlsec1 refused the Response: ${response.out}`);
    const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
    const verified = xmlsecVerify(assertion, idpCert, 'urn:oasis:names:tc:SAML:2.0:assertion:Assertion');
    assert.ok(verified.ok, `xmlsec1 refused the Assertion: ${verified.out}`);
  });

  it('is refused once a byte of the signed content changes (the signatures cover what is sent)', async () => {
    const { xml, saml } = await signIn();
    const tampered = xml.replace('Ann &amp;', 'Ann &amp;&amp;');
    assert.notEqual(tampered, xml);
    await assert.rejects(saml.validatePostResponseAsync({ SAMLResponse: Buffer.from(tampered).toString('base64') }));
    assert.equal(xmlsecVerify(tampered, idpCert, 'urn:oasis:names:tc:SAML:2.0:protocol:Response').ok, false);
  });

  it('signs with RSA-SHA512 and a SHA-512 digest when saml.signatureAlgorithm says so; node-saml and xmlsec1 verify it', async () => {
    const strong = await startTestIdp({ serviceProviders: [sp.file], overrides: { saml: { signatureAlgorithm: 'rsa-sha512' } } });
    try {
      const cert = (await new Browser(strong.url).get('/saml/certificate.pem')).text;
      const { xml, saml, fields } = await signIn(strong, cert);
      const response = fields.SAMLResponse!;
      assert.equal(xml.match(/SignatureMethod Algorithm="http:\/\/www.w3.org\/2001\/04\/xmldsig-more#rsa-sha512"/g)?.length, 2);
      assert.equal(xml.match(/DigestMethod Algorithm="http:\/\/www.w3.org\/2001\/04\/xmlenc#sha512"/g)?.length, 2);
      const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: response });
      assert.equal(profile!.nameID, DEMO.student.loginId);
      assert.ok(xmlsecVerify(xml, cert, 'urn:oasis:names:tc:SAML:2.0:protocol:Response').ok);
    } finally {
      await strong.close();
    }
  });
});
