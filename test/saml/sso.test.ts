// SAML single sign-on over both bindings, driven by independent SP implementations
// (node-saml, samlify as an SP), with the Response's signatures checked by xmlsec1 and the
// IdP's metadata by xmllint against the OASIS schemas shipped in the repository.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { DOMParser } from '@xmldom/xmldom';
import * as samlify from 'samlify';
import { projectRoot } from '../../src/config/settings.ts';
import { scopedUnique } from '../../src/protocols/saml/attributes.ts';
import { ACCEPTED_DIGESTS, ACCEPTED_SIGNATURE_ALGORITHMS } from '../../src/protocols/saml/constants.ts';
import { SchemaValidator } from '../../src/protocols/saml/schema-validator.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { autoForm, spKeys, testSp } from '../support/saml.ts';
import { authnRequestXml, base64 } from '../support/saml-messages.ts';

const SCHEMAS = path.join(projectRoot, 'src/protocols/saml/schemas');
const FARAH = { loginId: 'farah_aziz@students.edu.sg', password: 'Rivervale#Start24' };

function xmllint(xml: string, schema: string): { ok: boolean; out: string } {
  const r = spawnSync('xmllint', ['--noout', '--nonet', '--schema', path.join(SCHEMAS, schema), '-'], { input: xml, encoding: 'utf8' });
  if (r.error) throw new Error('xmllint is not installed (apt-get install -y libxml2-utils; .ci/run does it)');
  return { ok: r.status === 0, out: r.stderr };
}

function xmlsecVerify(xml: string, certPem: string, idAttrs: string[]): { ok: boolean; out: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'xmlsec-'));
  writeFileSync(path.join(dir, 'm.xml'), xml);
  writeFileSync(path.join(dir, 'cert.pem'), certPem);
  const args = ['--verify', '--pubkey-cert-pem', path.join(dir, 'cert.pem'), ...idAttrs.flatMap((a) => ['--id-attr:ID', a]), path.join(dir, 'm.xml')];
  const r = spawnSync('xmlsec1', args, { encoding: 'utf8' });
  if (r.error) throw new Error('xmlsec1 is not installed (apt-get install -y xmlsec1; .ci/run does it)');
  return { ok: r.status === 0, out: r.stderr };
}

function parse(xml: string): Document {
  return new DOMParser().parseFromString(xml, 'text/xml') as unknown as Document;
}

describe('SAML single sign-on', () => {
  let t: TestIdp;
  let idpCert: string;
  const plain = testSp({ id: 'plain-sp', acs: ['http://127.0.0.1:9/plain/acs', 'http://127.0.0.1:9/plain/acs2'] });
  const signedOnly = testSp({ id: 'strict-sp', authnRequestsSigned: true });
  const encrypted = testSp({ id: 'enc-sp', withEncryptionKey: true, options: { attributes: ['mail', 'level'] } });
  const assertionOnly = testSp({ id: 'assertion-sp', options: { sign_response: false, sign_assertion: true } });
  const responseOnly = testSp({ id: 'response-sp', options: { sign_response: true, sign_assertion: false } });
  const samlifySpMeta = testSp({ id: 'samlify-sp', authnRequestsSigned: true, acs: ['http://127.0.0.1:9/samlify/acs'] });
  const uriSp = testSp({ id: 'uri-sp', acs: ['http://127.0.0.1:9/uri-sp/acs'], options: { attribute_profile: 'uri' } });

  before(async () => {
    t = await startTestIdp({ serviceProviders: [plain, signedOnly, encrypted, assertionOnly, responseOnly, samlifySpMeta, uriSp].map((s) => s.file) });
    idpCert = (await new Browser(t.url).get('/saml/certificate.pem')).text;
  });
  after(async () => {
    await t.close();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(t.logs.filter((l) => /refused|failed/.test(l)).slice(-5).join(''));
  });

  /** node-saml configured as the given test SP. */
  function nodeSaml(sp: { entityId: string }, acs: string, extra: Record<string, unknown> = {}): SAML {
    return new SAML({
      callbackUrl: acs, entryPoint: `${t.url}/saml/sso`, issuer: sp.entityId, audience: sp.entityId, idpCert, idpIssuer: `${t.url}/saml/metadata`,
      identifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', validateInResponseTo: ValidateInResponseTo.always,
      wantAssertionsSigned: true, wantAuthnResponseSigned: true, disableRequestedAuthnContext: true, ...extra,
    });
  }

  /** Follows from a request at the IdP to the auto-submitted Response form, signing in on the way. */
  async function signInThrough(b: Browser, first: Awaited<ReturnType<Browser['get']>>, who: { loginId: string; password: string } = DEMO.student) {
    let page = await b.follow(first);
    if (/name="password"/.test(page.res.text)) page = await b.signIn(page.res, who.loginId, who.password);
    return autoForm(page.res.text);
  }

  it('publishes metadata that the SAML metadata schema accepts, in the order strict SPs require', async () => {
    const res = await new Browser(t.url).get('/saml/metadata');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type']!, /application\/samlmetadata\+xml/);
    const xml = res.text;
    const lint = xmllint(xml, 'saml-schema-metadata-2.0.xsd');
    assert.ok(lint.ok, lint.out);
    const order = [...xml.matchAll(/<(md|saml):(KeyDescriptor|SingleLogoutService|NameIDFormat|SingleSignOnService|Attribute)\b/g)].map((m) => m[2]);
    const firstIndex = (name: string) => order.indexOf(name);
    assert.ok(firstIndex('KeyDescriptor') < firstIndex('SingleLogoutService'));
    assert.ok(firstIndex('SingleLogoutService') < firstIndex('NameIDFormat'));
    assert.ok(firstIndex('NameIDFormat') < firstIndex('SingleSignOnService'));
    assert.ok(firstIndex('SingleSignOnService') < firstIndex('Attribute'));
    // The certificate at its stable URL is the one in the metadata.
    const body = idpCert.replace(/-----[^-]+-----|\s/g, '');
    assert.ok(xml.includes(body));
    assert.match(idpCert, /^-----BEGIN CERTIFICATE-----/);
  });

  it('says in its metadata which signing and digest algorithms it accepts (algsupport), none of them SHA-1', async () => {
    const xml = (await new Browser(t.url).get('/saml/metadata')).text;
    const doc = new DOMParser().parseFromString(xml, 'text/xml');
    const ALG = 'urn:oasis:names:tc:SAML:metadata:algsupport';
    const extensions = doc.documentElement!.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:metadata', 'Extensions')[0]!;
    assert.equal(extensions.parentNode, doc.documentElement, 'entity-level md:Extensions');
    assert.equal(doc.documentElement!.firstChild?.nextSibling, extensions, 'first in EntityDescriptor, as the schema orders it');
    const algorithms = (name: string) => Array.from(extensions.getElementsByTagNameNS(ALG, name)).map((e) => e.getAttribute('Algorithm')!);
    assert.deepEqual(algorithms('SigningMethod'), Object.keys(ACCEPTED_SIGNATURE_ALGORITHMS));
    assert.deepEqual(algorithms('DigestMethod'), [...ACCEPTED_DIGESTS]);
    assert.ok(algorithms('SigningMethod').includes('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256'));
    assert.doesNotMatch(xml, /sha1/i);
    assert.ok(xmllint(xml, 'saml-schema-metadata-2.0.xsd').ok);
    // The scope of eduPersonPrincipalName and subject-id, in the IdP role's Extensions.
    const scope = Array.from(doc.getElementsByTagNameNS('urn:mace:shibboleth:metadata:1.0', 'Scope'));
    assert.equal(scope.length, 1);
    assert.equal(scope[0]!.textContent, '127.0.0.1');
    assert.equal(scope[0]!.getAttribute('regexp'), 'false');
    assert.equal((scope[0]!.parentNode!.parentNode as Element).localName, 'IDPSSODescriptor');
  });

  it('says how long its metadata may be cached and until when it is valid', async () => {
    const before = Date.now();
    const xml = (await new Browser(t.url).get('/saml/metadata')).text;
    const root = parse(xml).documentElement!;
    assert.equal(root.localName, 'EntityDescriptor');
    assert.equal(root.getAttribute('cacheDuration'), 'PT4H');
    const validUntil = Date.parse(root.getAttribute('validUntil') ?? '');
    assert.ok(validUntil >= before + 7 * 24 * 3600_000 - 1000 && validUntil <= Date.now() + 7 * 24 * 3600_000, `validUntil ${root.getAttribute('validUntil')} is 7 days from now`);
    assert.match(root.getAttribute('validUntil')!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const lint = xmllint(xml, 'saml-schema-metadata-2.0.xsd');
    assert.ok(lint.ok, lint.out);
  });

  it('serves its certificate as PEM with LF line endings that openssl and node parse', async () => {
    const res = await new Browser(t.url).get('/saml/certificate.pem');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type']!, /^application\/x-pem-file/);
    assert.ok(!res.text.includes('\r'), 'no CR');
    assert.match(res.text, /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/);
    assert.match(new X509Certificate(res.text).subject, /CN=/);
    const openssl = spawnSync('openssl', ['x509', '-noout', '-subject'], { input: res.text, encoding: 'utf8' });
    if (openssl.error) throw new Error('openssl is not installed');
    assert.equal(openssl.status, 0, openssl.stderr);
  });

  it('signs a user in for node-saml over HTTP-Redirect with a signed request; xmlsec1 verifies both signatures', async () => {
    const acs = signedOnly.file.metadataXml.match(/Location="([^"]+acs)"/)![1]!;
    const sp = nodeSaml(signedOnly, acs, { privateKey: spKeys().signing.privateKeyPem, signatureAlgorithm: 'sha256' });
    const url = new URL(await sp.getAuthorizeUrlAsync('relay-1', undefined, {}));
    assert.ok(url.searchParams.get('Signature'));
    const b = new Browser(t.url);
    const form = await signInThrough(b, await b.get(`${url.pathname}${url.search}`));
    assert.equal(form.action, acs);
    assert.equal(form.fields.RelayState, 'relay-1');
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse! });
    assert.equal(profile!.nameID, DEMO.student.loginId);
    assert.equal(profile!.nameIDFormat, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress');
    assert.equal(profile!.level, 'P2');
    assert.equal(profile!.role, 'student');

    const xml = Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8');
    assert.ok(xmllint(xml, 'saml-schema-protocol-2.0.xsd').ok, 'the Response is schema-valid');
    const response = xmlsecVerify(xml, idpCert, ['urn:oasis:names:tc:SAML:2.0:protocol:Response']);
    assert.ok(response.ok, `xmlsec1 refused the Response signature: ${response.out}`);
    assert.match(xml, /SignatureMethod Algorithm="http:\/\/www.w3.org\/2001\/04\/xmldsig-more#rsa-sha256"/);
    const assertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
    const verified = xmlsecVerify(assertion, idpCert, ['urn:oasis:names:tc:SAML:2.0:assertion:Assertion']);
    assert.ok(verified.ok, `xmlsec1 refused the Assertion signature: ${verified.out}`);

    // What the Response says.
    const doc = parse(xml);
    const root = doc.documentElement!;
    assert.equal(root.getAttribute('Destination'), acs);
    assert.ok(root.getAttribute('InResponseTo'));
    const confirmation = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'SubjectConfirmationData')[0]!;
    assert.equal(confirmation.getAttribute('Recipient'), acs);
    assert.equal(confirmation.getAttribute('InResponseTo'), root.getAttribute('InResponseTo'));
    const conditions = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Conditions')[0]!;
    const now = Date.now();
    assert.ok(Date.parse(conditions.getAttribute('NotBefore')!) <= now - 30_000, 'NotBefore allows for clock skew');
    assert.ok(Date.parse(conditions.getAttribute('NotOnOrAfter')!) > now);
    assert.equal(doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Audience')[0]!.textContent, signedOnly.entityId);
    assert.match(doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'AuthnStatement')[0]!.getAttribute('SessionIndex')!, /^_/);
    const names = Array.from(doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Attribute')).map((a) => a.getAttribute('Name'));
    assert.deepEqual(names, ['mail', 'givenName', 'sn', 'displayName', 'school', 'level', 'role']);
  });

  it('takes a signed AuthnRequest over HTTP-POST from node-saml', async () => {
    const acs = signedOnly.file.metadataXml.match(/Location="([^"]+acs)"/)![1]!;
    // Plain base64 XML, as the HTTP-POST binding says (node-saml's default DEFLATE'd form is the next test).
    const sp = nodeSaml(signedOnly, acs, { privateKey: spKeys().signing.privateKeyPem, signatureAlgorithm: 'sha256', authnRequestBinding: 'HTTP-POST', skipRequestCompression: true, digestAlgorithm: 'sha256' });
    const html = await sp.getAuthorizeFormAsync('relay-2', undefined, {});
    const samlRequest = /name="SAMLRequest" value="([^"]+)"/.exec(html)![1]!;
    const b = new Browser(t.url);
    const form = await signInThrough(b, await b.post('/saml/sso', { SAMLRequest: samlRequest, RelayState: 'relay-2' }));
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse! });
    assert.equal(profile!.nameID, DEMO.student.loginId);
  });

  it('takes node-saml\'s default HTTP-POST AuthnRequest (DEFLATE\'d), signed and unsigned, through to the Response', async () => {
    // What node-saml sends for HTTP-POST unless skipRequestCompression is set: base64 of raw DEFLATE.
    const signedAcs = signedOnly.file.metadataXml.match(/Location="([^"]+acs)"/)![1]!;
    const signed = nodeSaml(signedOnly, signedAcs, { privateKey: spKeys().signing.privateKeyPem, signatureAlgorithm: 'sha256', digestAlgorithm: 'sha256', authnRequestBinding: 'HTTP-POST' });
    const unsigned = nodeSaml(plain, 'http://127.0.0.1:9/plain/acs', { authnRequestBinding: 'HTTP-POST' });
    const b = new Browser(t.url);
    for (const [sp, relayState] of [[signed, 'relay-deflated-signed'], [unsigned, 'relay-deflated']] as const) {
      const html = await sp.getAuthorizeFormAsync(relayState, undefined, {});
      const samlRequest = /name="SAMLRequest" value="([^"]+)"/.exec(html)![1]!;
      assert.notEqual(Buffer.from(samlRequest, 'base64')[0], '<'.charCodeAt(0), 'node-saml deflated it');
      const form = await signInThrough(b, await b.post('/saml/sso', { SAMLRequest: samlRequest, RelayState: relayState }));
      assert.equal(form.fields.RelayState, relayState);
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse! });
      assert.equal(profile!.nameID, DEMO.student.loginId);
    }
  });

  it('serves samlify as an SP over both bindings, and the SSO session signs the second request in without a password', async () => {
    const validator = new SchemaValidator();
    samlify.setSchemaValidator({
      validate: async (xml: string) => {
        const r = await validator.validate(xml);
        if (!r.valid) throw new Error(r.errors.join('; '));
        return 'valid';
      },
    });
    // samlify refuses to sign requests for an IdP whose metadata says WantAuthnRequestsSigned="false"
    // (the IdP decides per SP); this SP's own view of the IdP says true.
    const metadata = (await new Browser(t.url).get('/saml/metadata')).text.replace('WantAuthnRequestsSigned="false"', 'WantAuthnRequestsSigned="true"');
    const idp = samlify.IdentityProvider({ metadata });
    const sp = samlify.ServiceProvider({
      metadata: samlifySpMeta.metadata,
      privateKey: spKeys().signing.privateKeyPem,
      requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    });
    const b = new Browser(t.url);
    try {
      const redirect = sp.createLoginRequest(idp, 'redirect') as { context: string };
      const url = new URL(redirect.context);
      const first = await signInThrough(b, await b.get(`${url.pathname}${url.search}`));
      const parsed = await sp.parseLoginResponse(idp, 'post', { body: { SAMLResponse: first.fields.SAMLResponse } });
      assert.equal(parsed.extract.nameID, DEMO.student.loginId);
      assert.equal(parsed.extract.attributes?.displayName, 'Allen Tan');

      const post = sp.createLoginRequest(idp, 'post') as { context: string };
      const res = await b.post('/saml/sso', { SAMLRequest: post.context });
      const page = await b.follow(res);
      assert.doesNotMatch(page.res.text, /name="password"/, 'no password: the SSO session is live');
      const second = autoForm(page.res.text);
      const parsed2 = await sp.parseLoginResponse(idp, 'post', { body: { SAMLResponse: second.fields.SAMLResponse } });
      assert.equal(parsed2.extract.nameID, DEMO.student.loginId);
      assert.equal(parsed.extract.sessionIndex?.sessionIndex, parsed2.extract.sessionIndex?.sessionIndex, 'one SessionIndex per SP and SSO session');
    } finally {
      await validator.close();
    }
  });

  it('names attributes by the uri profile (Shibboleth\'s stock attribute map) for an SP that asks for it: node-saml, samlify and xmlsec1 agree', async () => {
    const URI = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';
    const expected: Record<string, [string, string]> = {
      mail: ['urn:oid:0.9.2342.19200300.100.1.3', 'mail'],
      givenName: ['urn:oid:2.5.4.42', 'givenName'],
      sn: ['urn:oid:2.5.4.4', 'sn'],
      displayName: ['urn:oid:2.16.840.1.113730.3.1.241', 'displayName'],
      school: ['urn:school-idp:attribute:school', 'school'],
      level: ['urn:school-idp:attribute:level', 'level'],
      role: ['urn:oid:1.3.6.1.4.1.5923.1.1.1.1', 'eduPersonAffiliation'],
    };
    const acs = 'http://127.0.0.1:9/uri-sp/acs';
    const validator = new SchemaValidator();
    samlify.setSchemaValidator({
      validate: async (xml: string) => {
        const r = await validator.validate(xml);
        if (!r.valid) throw new Error(r.errors.join('; '));
        return 'valid';
      },
    });
    try {
      for (const [who, affiliation] of [[DEMO.student, ['student', 'member']], [DEMO.staff, ['staff', 'employee', 'member']]] as const) {
        const b = new Browser(t.url);
        const sp = nodeSaml(uriSp, acs);
        const html = await sp.getAuthorizeFormAsync('', undefined, {});
        const form = await signInThrough(b, await b.post('/saml/sso', { SAMLRequest: /name="SAMLRequest" value="([^"]+)"/.exec(html)![1]! }), who);
        const xml = Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8');

        // Name, NameFormat and FriendlyName as the standard names are written.
        const attributes = Array.from(parse(xml).getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Attribute'));
        const names = attributes.map((a) => [a.getAttribute('Name'), a.getAttribute('NameFormat'), a.getAttribute('FriendlyName')]);
        const released = who === DEMO.student ? Object.keys(expected) : Object.keys(expected).filter((n) => n !== 'level');
        // First the scoped identifiers Shibboleth's stock attribute map decodes (eppn, subject-id), then the selected
        // attributes, role as eduPersonAffiliation followed by eduPersonScopedAffiliation (which that map decodes too).
        assert.deepEqual(names, [
          ['urn:oid:1.3.6.1.4.1.5923.1.1.1.6', URI, 'eduPersonPrincipalName'],
          ['urn:oasis:names:tc:SAML:attribute:subject-id', URI, 'subject-id'],
          ...released.flatMap((n) => [[expected[n]![0], URI, expected[n]![1]], ...(n === 'role' ? [['urn:oid:1.3.6.1.4.1.5923.1.1.1.9', URI, 'eduPersonScopedAffiliation']] : [])]),
        ]);

        // node-saml (keyed by Name, as Shibboleth's attribute map is).
        const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse! });
        assert.equal(profile!['urn:oid:0.9.2342.19200300.100.1.3'], who.loginId);
        assert.deepEqual(profile!['urn:oid:1.3.6.1.4.1.5923.1.1.1.1'], affiliation);
        assert.deepEqual(profile!['urn:oid:1.3.6.1.4.1.5923.1.1.1.9'], affiliation.map((a) => `${a}@127.0.0.1`), 'eduPersonScopedAffiliation: the same values, scoped');
        assert.equal(profile!['urn:school-idp:attribute:level'], who === DEMO.student ? 'P2' : undefined);
        // Scoped by the IdP's scope (the public URL's host here, in its metadata as shibmd:Scope),
        // opaque, within subject-id's alphabet, and the account's own: the same at every sign-in.
        const account = (await t.idp.directory.findByLoginId(who.loginId))!;
        const scoped = `${scopedUnique(account)}@127.0.0.1`;
        assert.match(scoped, /^[0-9a-z][0-9a-z=-]{0,126}@127\.0\.0\.1$/);
        assert.equal(profile!['urn:oid:1.3.6.1.4.1.5923.1.1.1.6'], scoped);
        assert.equal(profile!['urn:oasis:names:tc:SAML:attribute:subject-id'], scoped);
        if (who === DEMO.staff) assert.notEqual(scopedUnique(account), scopedUnique((await t.idp.directory.findByLoginId(DEMO.student.loginId))!));

        // samlify as the SP.
        const idp = samlify.IdentityProvider({ metadata: (await b.get('/saml/metadata')).text });
        const samlifySp = samlify.ServiceProvider({ metadata: uriSp.metadata });
        const parsed = await samlifySp.parseLoginResponse(idp, 'post', { body: { SAMLResponse: form.fields.SAMLResponse } });
        assert.equal(parsed.extract.attributes?.['urn:oid:2.16.840.1.113730.3.1.241'], who === DEMO.student ? 'Allen Tan' : 'Daniel Wong');
        assert.deepEqual(parsed.extract.attributes?.['urn:oid:1.3.6.1.4.1.5923.1.1.1.1'], affiliation);

        // xmlsec1: both signatures hold.
        const response = xmlsecVerify(xml, idpCert, ['urn:oasis:names:tc:SAML:2.0:protocol:Response']);
        assert.ok(response.ok, `xmlsec1 refused the Response signature: ${response.out}`);
        const assertion = xmlsecVerify(/<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0], idpCert, ['urn:oasis:names:tc:SAML:2.0:assertion:Assertion']);
        assert.ok(assertion.ok, `xmlsec1 refused the Assertion signature: ${assertion.out}`);
        assert.ok(xmllint(xml, 'saml-schema-protocol-2.0.xsd').ok, 'the Response is schema-valid');
      }
    } finally {
      await validator.close();
    }
    // The profile is validated like every field of the SP file; basic stays the default.
    assert.throws(() => testSp({ id: 'bad-profile', options: { attribute_profile: 'oid' } }), /attribute_profile/);
    assert.equal(plain.file.attribute_profile, 'basic');
  });

  it('encrypts the assertion for an SP with an encryption key, releasing only its attributes', async () => {
    const acs = 'http://127.0.0.1:9/enc-sp/acs';
    const b = new Browser(t.url);
    const form = await signInThrough(b, await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: encrypted.entityId, destination: `${t.url}/saml/sso` })) }));
    const xml = Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8');
    assert.match(xml, /<saml:EncryptedAssertion/);
    assert.match(xml, /xmlenc11#aes256-gcm/);
    assert.doesNotMatch(xml, /allen_tan/, 'nothing about the user in clear');
    const sp = nodeSaml(encrypted, acs, { decryptionPvk: spKeys().encryption.privateKeyPem, validateInResponseTo: ValidateInResponseTo.never });
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse! });
    assert.equal(profile!.nameID, DEMO.student.loginId);
    assert.deepEqual(Object.keys(profile!.attributes!).sort(), ['level', 'mail']);
  });

  it('signs only the assertion or only the response when the SP file says so', async () => {
    for (const [sp, wantResponse, wantAssertion] of [[assertionOnly, false, true], [responseOnly, true, false]] as const) {
      const b = new Browser(t.url);
      const form = await signInThrough(b, await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: sp.entityId, destination: `${t.url}/saml/sso` })) }));
      const xml = Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8');
      const doc = parse(xml);
      const signatures = Array.from(doc.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')).map((s) => (s.parentNode as Element).localName);
      assert.deepEqual(signatures, [...(wantResponse ? ['Response'] : []), ...(wantAssertion ? ['Assertion'] : [])], sp.file.id);
      const check = nodeSaml(sp, sp.file.metadataXml.match(/Location="([^"]+acs)"/)![1]!, { wantAssertionsSigned: wantAssertion, wantAuthnResponseSigned: wantResponse, validateInResponseTo: ValidateInResponseTo.never });
      assert.equal((await check.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse! })).profile!.nameID, DEMO.student.loginId);
    }
  });

  it('sends the response to the requested registered ACS, by URL or by index', async () => {
    const b = new Browser(t.url);
    const byUrl = await signInThrough(b, await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: plain.entityId, destination: `${t.url}/saml/sso`, acs: 'http://127.0.0.1:9/plain/acs2' })) }));
    assert.equal(byUrl.action, 'http://127.0.0.1:9/plain/acs2');
    const byIndex = await signInThrough(b, await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: plain.entityId, destination: `${t.url}/saml/sso`, acsIndex: 1 })) }));
    assert.equal(byIndex.action, 'http://127.0.0.1:9/plain/acs2');
    const byDefault = await signInThrough(b, await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: plain.entityId, destination: null })) }));
    assert.equal(byDefault.action, 'http://127.0.0.1:9/plain/acs');
  });

  it('asks for the password again on ForceAuthn, and answers IsPassive without a session with NoPassive', async () => {
    const b = new Browser(t.url);
    await signInThrough(b, await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: plain.entityId })) }));
    const forced = await b.follow(await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: plain.entityId, forceAuthn: true })) }));
    assert.match(forced.res.text, /name="password"/, 'ForceAuthn: the password again despite the SSO session');
    const after = await b.signIn(forced.res, DEMO.student.loginId, DEMO.student.password);
    assert.ok(autoForm(after.res.text).fields.SAMLResponse);

    const fresh = new Browser(t.url);
    const passive = await fresh.follow(await fresh.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: plain.entityId, isPassive: true })) }));
    const xml = Buffer.from(autoForm(passive.res.text).fields.SAMLResponse!, 'base64').toString('utf8');
    assert.match(xml, /status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:NoPassive"/);
    assert.doesNotMatch(xml, /Assertion/);
    assert.ok(xmlsecVerify(xml, idpCert, ['urn:oasis:names:tc:SAML:2.0:protocol:Response']).ok, 'error responses are signed too');
  });

  it('tells the SP AuthnFailed when the user cancels, and refuses NameID formats it cannot issue', async () => {
    const b = new Browser(t.url);
    const signIn = await b.follow(await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: plain.entityId })) }));
    const cancelled = await b.follow(await b.submit(signIn.res, '/cancel', {}));
    const xml = Buffer.from(autoForm(cancelled.res.text).fields.SAMLResponse!, 'base64').toString('utf8');
    assert.match(xml, /status:AuthnFailed/);

    const persistent = await b.follow(await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: plain.entityId, nameIdFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent' })) }));
    assert.match(Buffer.from(autoForm(persistent.res.text).fields.SAMLResponse!, 'base64').toString('utf8'), /InvalidNameIDPolicy/);
  });

  it('runs the first-login journey before any assertion: questions, then a new password', async () => {
    const b = new Browser(t.url);
    const first = await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: plain.entityId })) });
    const resumeUrl = first.headers.location!;
    const signIn = await b.follow(first);
    const questions = await b.signIn(signIn.res, FARAH.loginId, FARAH.password);
    assert.match(questions.res.text, /Setup Security Questions/);
    // Going straight back to the request issues nothing: there is no SSO session until
    // the required actions are done, so it asks for a sign-in again.
    const skip = await b.open(resumeUrl);
    assert.doesNotMatch(skip.res.text, /SAMLResponse/);
    assert.match(skip.res.text, /name="password"/);

    const confirm = await b.follow(await b.submit(questions.res, '/questions', { q0: '3', a0: 'Ramen', q1: '0', a1: 'Shark', q2: '1', a2: 'Turquoise' }));
    const saved = await b.follow(await b.submit(confirm.res, '/questions/confirm', {}));
    const change = await b.follow(await b.submit(saved.res, '/continue', {}));
    assert.match(change.res.text, /Change Password/);
    assert.doesNotMatch((await b.open(resumeUrl)).res.text, /SAMLResponse/, 'still nothing issued');
    const password = change.res;
    const wait = await b.follow(await b.submit(password, '/password', { newPassword: 'Orchard-Lamp-2077', confirmPassword: 'Orchard-Lamp-2077' }));
    assert.match(wait.res.text, /Please Wait/);
    const done = await b.follow(await b.submit(wait.res, '/password/commit', {}));
    assert.match(done.res.text, /The password has been changed successfully/);
    const handOff = await b.follow(await b.submit(done.res, '/continue', {}));
    const form = autoForm(handOff.res.text);
    assert.equal(form.action, 'http://127.0.0.1:9/plain/acs');
    assert.match(Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8'), /farah_aziz@students\.edu\.sg/);
  });
});
