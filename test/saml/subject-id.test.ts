// Scoped subject identifiers of the uri attribute profile (SAML V2.0 Subject Identifier
// Attributes Profile): an SP whose metadata asks for pairwise-id (entity attribute
// subject-id:req) gets a pairwise-id of its own and no identifier another SP also gets;
// "none" gets none; without the entity attribute, eduPersonPrincipalName and subject-id.
// Checked on signed Responses that node-saml validates, as an SP reads them.
import assert from 'node:assert/strict';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { parseSamlSp, type SamlSpFile } from '../../src/config/relying-parties.ts';
import { pairwiseUnique, scopedUnique } from '../../src/protocols/saml/attributes.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { autoForm, testSp } from '../support/saml.ts';

const EPPN = 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6';
const SUBJECT_ID = 'urn:oasis:names:tc:SAML:attribute:subject-id';
const PAIRWISE_ID = 'urn:oasis:names:tc:SAML:attribute:pairwise-id';

/** An SP of the uri profile whose metadata carries subject-id:req = `req` (none when undefined). */
function spAsking(id: string, req: string | undefined): { file: SamlSpFile; entityId: string; acs: string } {
  const acs = `http://127.0.0.1:9/${id}/acs`;
  const sp = testSp({ id, entityId: `https://${id}.example/sp`, acs: [acs] });
  const extension = req === undefined ? '' :
    '<md:Extensions><mdattr:EntityAttributes xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute">' +
    '<saml:Attribute xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Name="urn:oasis:names:tc:SAML:profiles:subject-id:req" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">' +
    `<saml:AttributeValue>${req}</saml:AttributeValue></saml:Attribute></mdattr:EntityAttributes></md:Extensions>`;
  const metadata = sp.metadata.replace(/(<md:EntityDescriptor[^>]*>)/, `$1${extension}`);
  return { file: parseSamlSp({ protocol: 'saml', id, display_name: id, metadata, attribute_profile: 'uri' }, `(test ${id})`), entityId: sp.entityId, acs };
}

describe('SAML subject identifiers (uri profile)', () => {
  let t: TestIdp;
  let idpCert: string;
  const sps = {
    pairwiseA: spAsking('pairwise-a', 'pairwise-id'),
    pairwiseB: spAsking('pairwise-b', 'pairwise-id'),
    none: spAsking('wants-none', 'none'),
    plain: spAsking('plain-uri', undefined),
  };

  before(async () => {
    t = await startTestIdp({ serviceProviders: Object.values(sps).map((s) => s.file) });
    idpCert = (await new Browser(t.url).get('/saml/certificate.pem')).text;
  });
  after(async () => t.close());

  /** The attributes `who` is released to `sp` (IdP-initiated, as a portal tile launches it), as node-saml reads them. */
  async function released(sp: { file: SamlSpFile; entityId: string; acs: string }, who = DEMO.student): Promise<Record<string, unknown>> {
    const b = new Browser(t.url);
    await b.signIn((await b.open('/portal')).res, who.loginId, who.password);
    const form = autoForm((await b.open(`/saml/launch/${sp.file.id}`)).res.text);
    const saml = new SAML({
      callbackUrl: sp.acs, issuer: sp.entityId, audience: sp.entityId, idpCert, idpIssuer: `${t.url}/saml/metadata`,
      validateInResponseTo: ValidateInResponseTo.never, wantAssertionsSigned: true, wantAuthnResponseSigned: true,
    });
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse! });
    return profile as unknown as Record<string, unknown>;
  }

  it('pairwise-id when the SP asks for it: its own, stable, different at another SP, and no eppn or subject-id', async () => {
    const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const a = await released(sps.pairwiseA);
    const again = await released(sps.pairwiseA);
    const b = await released(sps.pairwiseB);
    assert.match(String(a[PAIRWISE_ID]), /^[0-9a-f]{32}@127\.0\.0\.1$/);
    assert.equal(again[PAIRWISE_ID], a[PAIRWISE_ID], 'the same at every sign-in');
    assert.notEqual(b[PAIRWISE_ID], a[PAIRWISE_ID], 'another SP gets another');
    assert.notEqual(String(a[PAIRWISE_ID]).split('@')[0], scopedUnique(account), 'not the subject-id');
    assert.notEqual(String(a[PAIRWISE_ID]).split('@')[0], pairwiseUnique(account, sps.pairwiseA.entityId, 'guessable'), 'keyed by the deployment\'s secret');
    for (const profile of [a, b]) {
      assert.equal(profile[EPPN], undefined);
      assert.equal(profile[SUBJECT_ID], undefined);
    }
    const other = await released(sps.pairwiseA, DEMO.student2);
    assert.notEqual(other[PAIRWISE_ID], a[PAIRWISE_ID], 'another account gets another');
  });

  it('"none" gets no identifier; without subject-id:req, eduPersonPrincipalName and subject-id', async () => {
    const none = await released(sps.none);
    for (const name of [EPPN, SUBJECT_ID, PAIRWISE_ID]) assert.equal(none[name], undefined, name);
    const plain = await released(sps.plain);
    assert.equal(plain[EPPN], plain[SUBJECT_ID]);
    assert.match(String(plain[SUBJECT_ID]), /^[0-9a-f]{32}@127\.0\.0\.1$/);
    assert.equal(plain[PAIRWISE_ID], undefined);
  });
});
