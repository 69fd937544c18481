// Enveloped XML signatures over messages this IdP writes itself, without parsing them.
// A signature covers the exclusive canonical form (xml-exc-c14n) of the signed element.
// The Response and Assertion of a sign-in are written here already in that form, so the
// canonical bytes are the text itself:
// - attributes sorted, namespaces declared where used;
// - no self-closing tags;
// - only the escapes canonical XML keeps.
// Signing is then a digest of the text and one RSA signature. xml-crypto (through samlify)
// parsed, cloned and canonicalised the whole message twice per Response: 73 % of the CPU
// of an SSO (bench/README.md "Where the time goes").
// SP libraries check the result: node-saml (xml-crypto), samlify, xmlsec1 and a Shibboleth
// SP in test/saml/, python3-saml strict in the peer harness. canonical-signing.test.ts
// checks text with every character canonical XML escapes: xml-crypto's canonical form of
// what was sent must equal ours. Logout messages and encrypted assertions are signed by samlify.
import { createHash, sign, type KeyObject } from 'node:crypto';
import { NS, OUTBOUND_SIGNATURE } from './constants.ts';

const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const DIGEST = {
  'rsa-sha256': { uri: 'http://www.w3.org/2001/04/xmlenc#sha256', node: 'sha256' },
  'rsa-sha512': { uri: 'http://www.w3.org/2001/04/xmlenc#sha512', node: 'sha512' },
} as const;

const TEXT: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' };
const ATTRIBUTE: Record<string, string> = { '&': '&amp;', '<': '&lt;', '"': '&quot;', '\t': '&#x9;', '\n': '&#xA;', '\r': '&#xD;' };

/** Character data as canonical XML writes it (C14N 1.0 §2.3: & < > and CR escaped, nothing else). */
export function c14nText(value: string): string {
  return value.replace(/[&<>\r]/g, (c) => TEXT[c]!);
}

/** An attribute value (in double quotes) as canonical XML writes it: & < " TAB LF CR escaped. */
export function c14nAttr(value: string): string {
  return value.replace(/[&<"\t\n\r]/g, (c) => ATTRIBUTE[c]!);
}

/**
 * An element in canonical form: `attrs` are the element's unqualified attributes (sorted
 * here, as C14N orders them: by name, after the namespace declaration); undefined values
 * are left out. `ns` declares the element's own prefix (exclusive C14N renders a
 * declaration on the outermost element that uses it). Empty elements get an end tag.
 */
export function c14nElement(name: string, attrs: Record<string, string | undefined>, content = '', ns?: string): string {
  const prefix = name.includes(':') ? name.slice(0, name.indexOf(':')) : '';
  let open = `<${name}`;
  if (ns !== undefined) open += prefix ? ` xmlns:${prefix}="${c14nAttr(ns)}"` : ` xmlns="${c14nAttr(ns)}"`;
  for (const key of Object.keys(attrs).sort(byCodePoint)) {
    const value = attrs[key];
    if (value !== undefined) open += ` ${key}="${c14nAttr(value)}"`;
  }
  return `${open}>${content}</${name}>`;
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class CanonicalSigner {
  readonly #key: KeyObject;
  readonly #certificate: string;
  readonly #alg: (typeof OUTBOUND_SIGNATURE)[keyof typeof OUTBOUND_SIGNATURE];
  readonly #digest: (typeof DIGEST)[keyof typeof DIGEST];

  /** `certificateBody`: the signing certificate as metadata carries it (base64 DER, no armour). */
  constructor(key: KeyObject, certificateBody: string, algorithm: keyof typeof OUTBOUND_SIGNATURE) {
    this.#key = key;
    this.#certificate = certificateBody;
    this.#alg = OUTBOUND_SIGNATURE[algorithm];
    this.#digest = DIGEST[algorithm];
  }

  /**
   * `xml`: an element in canonical form whose ID attribute is `id` and whose first child is
   * its saml:Issuer. Returns it with an enveloped signature after that Issuer (where the
   * SAML schema puts ds:Signature).
   */
  sign(xml: string, id: string): string {
    const at = xml.indexOf('</saml:Issuer>');
    if (at < 0 || !xml.includes(` ID="${id}"`)) throw new Error('canonical signing: the element has no Issuer or not this ID');
    const digest = createHash(this.#digest.node).update(xml, 'utf8').digest('base64');
    const signedInfo =
      `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"></ds:CanonicalizationMethod>` +
      `<ds:SignatureMethod Algorithm="${this.#alg.uri}"></ds:SignatureMethod>` +
      `<ds:Reference URI="#${id}"><ds:Transforms><ds:Transform Algorithm="${ENVELOPED}"></ds:Transform><ds:Transform Algorithm="${EXC_C14N}"></ds:Transform></ds:Transforms>` +
      `<ds:DigestMethod Algorithm="${this.#digest.uri}"></ds:DigestMethod><ds:DigestValue>${digest}</ds:DigestValue></ds:Reference>`;
    // SignedInfo canonicalised alone declares the ds prefix it uses (its parent did in the message).
    const value = sign(this.#alg.node, Buffer.from(`<ds:SignedInfo xmlns:ds="${NS.dsig}">${signedInfo}</ds:SignedInfo>`, 'utf8'), this.#key).toString('base64');
    const signature =
      `<ds:Signature xmlns:ds="${NS.dsig}"><ds:SignedInfo>${signedInfo}</ds:SignedInfo><ds:SignatureValue>${value}</ds:SignatureValue>` +
      `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${this.#certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`;
    const end = at + '</saml:Issuer>'.length;
    return xml.slice(0, end) + signature + xml.slice(end);
  }
}
