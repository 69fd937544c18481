// SAML requests as a service provider would build them, signed for real with the test
// SP's key (xml-crypto for HTTP-POST, node:crypto for HTTP-Redirect), so that hostile-
// input tests can start from genuinely signed messages and then tamper with them.
import { randomBytes, sign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { SignedXml } from 'xml-crypto';
import { spKeys } from './saml.ts';

const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';

export const ALG = {
  sha256: { uri: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', digest: 'http://www.w3.org/2001/04/xmlenc#sha256', node: 'RSA-SHA256' },
  sha1: { uri: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1', digest: 'http://www.w3.org/2000/09/xmldsig#sha1', node: 'RSA-SHA1' },
} as const;

export function messageId(): string {
  return `_${randomBytes(16).toString('hex')}`;
}

function instant(offsetMs = 0): string {
  return new Date(Date.now() + offsetMs).toISOString();
}

export interface AuthnRequestInput {
  issuer: string;
  destination?: string | null;
  acs?: string;
  acsIndex?: number;
  id?: string;
  issueInstantOffsetMs?: number;
  forceAuthn?: boolean;
  isPassive?: boolean;
  nameIdFormat?: string;
}

export function authnRequestXml(o: AuthnRequestInput): string {
  const attrs = [
    `ID="${o.id ?? messageId()}"`,
    'Version="2.0"',
    `IssueInstant="${instant(o.issueInstantOffsetMs)}"`,
    o.destination ? `Destination="${o.destination}"` : '',
    o.acs ? `AssertionConsumerServiceURL="${o.acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"` : '',
    o.acsIndex !== undefined ? `AssertionConsumerServiceIndex="${o.acsIndex}"` : '',
    o.forceAuthn ? 'ForceAuthn="true"' : '',
    o.isPassive ? 'IsPassive="true"' : '',
  ].filter(Boolean);
  return (
    `<samlp:AuthnRequest xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ${attrs.join(' ')}>` +
    `<saml:Issuer>${o.issuer}</saml:Issuer>` +
    `<samlp:NameIDPolicy Format="${o.nameIdFormat ?? 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'}" AllowCreate="true"/>` +
    '</samlp:AuthnRequest>'
  );
}

export function logoutRequestXml(o: { issuer: string; destination: string; nameId: string; sessionIndex?: string; id?: string }): string {
  return (
    `<samlp:LogoutRequest xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ID="${o.id ?? messageId()}" Version="2.0" IssueInstant="${instant()}" Destination="${o.destination}">` +
    `<saml:Issuer>${o.issuer}</saml:Issuer>` +
    `<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${o.nameId}</saml:NameID>` +
    (o.sessionIndex ? `<samlp:SessionIndex>${o.sessionIndex}</samlp:SessionIndex>` : '') +
    '</samlp:LogoutRequest>'
  );
}

export function logoutResponseXml(o: { issuer: string; destination: string; inResponseTo: string; status?: string }): string {
  return (
    `<samlp:LogoutResponse xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ID="${messageId()}" Version="2.0" IssueInstant="${instant()}" Destination="${o.destination}" InResponseTo="${o.inResponseTo}">` +
    `<saml:Issuer>${o.issuer}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${o.status ?? 'urn:oasis:names:tc:SAML:2.0:status:Success'}"/></samlp:Status>` +
    '</samlp:LogoutResponse>'
  );
}

/** An enveloped signature over the root, after its Issuer (HTTP-POST binding). */
export function signXml(xml: string, alg: keyof typeof ALG = 'sha256', key = spKeys().signing): string {
  const sig = new SignedXml({ privateKey: key.privateKeyPem, publicCert: key.certificatePem });
  sig.signatureAlgorithm = ALG[alg].uri;
  sig.canonicalizationAlgorithm = 'http://www.w3.org/2001/10/xml-exc-c14n#';
  sig.addReference({
    xpath: '/*',
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: ALG[alg].digest,
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: "/*/*[local-name(.)='Issuer']", action: 'after' } });
  return sig.getSignedXml();
}

export function base64(xml: string): string {
  return Buffer.from(xml, 'utf8').toString('base64');
}

/** The raw query string of an HTTP-Redirect message, signed unless `sign` is false. */
export function redirectQuery(param: 'SAMLRequest' | 'SAMLResponse', xml: string, o: { relayState?: string; sign?: boolean; alg?: keyof typeof ALG; key?: { privateKeyPem: string } } = {}): string {
  let query = `${param}=${encodeURIComponent(deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'))}`;
  if (o.relayState !== undefined) query += `&RelayState=${encodeURIComponent(o.relayState)}`;
  if (o.sign === false) return query;
  const alg = ALG[o.alg ?? 'sha256'];
  query += `&SigAlg=${encodeURIComponent(alg.uri)}`;
  const signature = sign(alg.node, Buffer.from(query), (o.key ?? spKeys().signing).privateKeyPem).toString('base64');
  return `${query}&Signature=${encodeURIComponent(signature)}`;
}
