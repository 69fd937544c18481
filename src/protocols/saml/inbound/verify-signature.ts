// Verifies the message's signature with the keys of the SP named by its Issuer, and
// from here on has every field read from what the signature covers (msg.trusted).
//   HTTP-Redirect: the detached signature over the query string exactly as received
//     (SAMLRequest|SAMLResponse, RelayState, SigAlg, in that order); no XML signature.
//   HTTP-POST and SOAP: exactly one ds:Signature in the whole document, a direct child of the root,
//     with one Reference to the root's own ID and only the enveloped-signature and
//     exclusive-c14n transforms. The signed content (xml-crypto's getSignedReferences)
//     is parsed again and becomes msg.trusted, so a signed element wrapped in forged
//     content (samlify issue #634) proves nothing about the forged content.
// SHA-256 or stronger only. Refused unsigned: LogoutRequests; AuthnRequests from an SP
// whose requests must be signed; LogoutResponses from an SP with a signing key in its
// metadata (the responder authenticates its response: saml-profiles 4.4.3.4 and 4.4.4.2,
// saml-bindings 3.4.5.2 and 3.5.5.2; routes.ts then counts that SP as not confirmed).
import { verify, X509Certificate } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import { ACCEPTED_C14N, ACCEPTED_DIGESTS, ACCEPTED_SIGNATURE_ALGORITHMS, ACCEPTED_TRANSFORMS, NS } from '../constants.ts';
import { childElement, childElements, descendants, parseStrict, XmlRefusal } from '../xml.ts';
import { issuerOf } from './identify-sp.ts';
import { established, refuse, type Check, type InboundMessage } from './message.ts';

function algorithmOf(el: Element | null, what: string): string {
  const alg = el?.getAttribute('Algorithm');
  if (!alg) refuse(`signature without ${what}`);
  return alg;
}

function verifyRedirect(msg: InboundMessage, certs: string[]): boolean {
  const raw = established(msg, 'rawQuery');
  if (descendants(established(msg, 'root'), NS.dsig, 'Signature').length > 0) refuse('XML signature inside an HTTP-Redirect message');
  const { sigAlg, signature } = msg;
  if (signature === undefined && sigAlg === undefined) return false;
  if (signature === undefined || sigAlg === undefined) refuse('Signature and SigAlg must come together');
  if (!Object.hasOwn(ACCEPTED_SIGNATURE_ALGORITHMS, sigAlg)) refuse(`signature algorithm not allowed: ${sigAlg}`);
  const algorithm = ACCEPTED_SIGNATURE_ALGORITHMS[sigAlg]!;
  // The signed octets are the parameters exactly as received (decode-binding.ts decoded them).
  let octets = `${msg.param}=${raw.get(msg.param)}`;
  if (raw.has('RelayState')) octets += `&RelayState=${raw.get('RelayState')}`;
  octets += `&SigAlg=${raw.get('SigAlg')}`;
  const ok = certs.some((cert) => {
    try {
      return verify(algorithm, Buffer.from(octets, 'utf8'), { key: new X509Certificate(cert).publicKey, dsaEncoding: 'ieee-p1363' }, signature);
    } catch {
      return false;
    }
  });
  if (!ok) refuse('HTTP-Redirect signature does not verify with the SP\'s keys');
  msg.trusted = established(msg, 'root');
  return true;
}

function verifyPost(msg: InboundMessage, certs: string[]): boolean {
  const root = established(msg, 'root');
  const signatures = descendants(root.ownerDocument!, NS.dsig, 'Signature');
  if (signatures.length === 0) return false;
  if (signatures.length > 1) refuse('more than one Signature in the message');
  const signature = signatures[0]!;
  if (signature.parentNode !== root) refuse('the Signature is not on the root element');

  const signedInfo = childElement(signature, NS.dsig, 'SignedInfo');
  if (!signedInfo) refuse('signature without SignedInfo');
  if (!ACCEPTED_C14N.has(algorithmOf(childElement(signedInfo, NS.dsig, 'CanonicalizationMethod'), 'CanonicalizationMethod'))) refuse('canonicalization method not allowed');
  const method = algorithmOf(childElement(signedInfo, NS.dsig, 'SignatureMethod'), 'SignatureMethod');
  if (!Object.hasOwn(ACCEPTED_SIGNATURE_ALGORITHMS, method)) refuse(`signature algorithm not allowed: ${method}`);
  const references = childElements(signedInfo, NS.dsig, 'Reference');
  if (references.length !== 1) refuse('the signature must have exactly one Reference');
  const reference = references[0]!;
  const id = root.getAttribute('ID');
  if (!id || reference.getAttribute('URI') !== `#${id}`) refuse('the signature does not reference the root element');
  // No other element may carry the same ID (xml-crypto finds references by any ID-like attribute).
  const sameId = Array.from(root.ownerDocument!.getElementsByTagName('*')).filter((el) =>
    ['ID', 'Id', 'id'].some((a) => el.getAttribute(a) === id),
  );
  if (sameId.length !== 1) refuse('the referenced ID is not unique');
  const transforms = childElement(reference, NS.dsig, 'Transforms');
  for (const t of transforms ? childElements(transforms, NS.dsig, 'Transform') : []) {
    if (!ACCEPTED_TRANSFORMS.has(algorithmOf(t, 'Transform Algorithm'))) refuse(`transform not allowed: ${t.getAttribute('Algorithm')}`);
  }
  if (!ACCEPTED_DIGESTS.has(algorithmOf(childElement(reference, NS.dsig, 'DigestMethod'), 'DigestMethod'))) refuse('digest algorithm not allowed');

  const xml = established(msg, 'xml');
  let signedContent: string | undefined;
  for (const cert of certs) {
    const verifier = new SignedXml({ publicCert: cert, getCertFromKeyInfo: () => null });
    try {
      verifier.loadSignature(signature);
      if (verifier.checkSignature(xml)) {
        signedContent = verifier.getSignedReferences()[0];
        break;
      }
    } catch {
      // try the SP's next key
    }
  }
  if (!signedContent) refuse('XML signature does not verify with the SP\'s keys');

  let trusted: Element;
  try {
    trusted = parseStrict(signedContent).documentElement!;
  } catch (err) {
    return refuse(`signed content unusable: ${(err as XmlRefusal).message}`);
  }
  if (trusted.namespaceURI !== root.namespaceURI || trusted.localName !== root.localName || trusted.getAttribute('ID') !== id) {
    refuse('the signed element is not the message');
  }
  msg.trusted = trusted;
  return true;
}

export const verifySignature: Check = (msg) => {
  const sp = established(msg, 'sp');
  const signed = msg.binding === 'redirect' ? verifyRedirect(msg, sp.signingCerts) : verifyPost(msg, sp.signingCerts);
  if (signed) {
    // The key was chosen by the Issuer of the received message: it must be the signed one.
    if (issuerOf(msg.trusted!) !== sp.entityId) refuse('the signed Issuer is not the one that chose the key');
  } else {
    if (msg.kind === 'LogoutRequest') refuse('LogoutRequest without a signature');
    if (msg.kind === 'LogoutResponse' && sp.signingCerts.length > 0) refuse(`LogoutResponse without a signature from ${sp.id}, whose metadata has a signing key`);
    if (msg.kind === 'AuthnRequest' && sp.requestsMustBeSigned) refuse(`${sp.id} must sign its requests`);
    msg.trusted = established(msg, 'root');
  }
  msg.signed = signed;
};
