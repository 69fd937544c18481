// Decodes a message from its binding, refusing anything ambiguous: a parameter given
// twice, both SAMLRequest and SAMLResponse, URL encoding or base64 that is not strict,
// and a message over the size cap after base64 and inflate — a deflate bomb stops at
// the cap instead of filling memory. Every value an attacker sends is URL-decoded here,
// and only here: a malformed escape (%ZZ, a cut UTF-8 sequence) is a refusal, never an
// exception that escapes as a 5xx.
//   HTTP-Redirect: always DEFLATE (the binding requires it).
//   HTTP-POST: plain XML as the binding says, or DEFLATE'd XML as node-saml (and the SPs
//     built on it) send by default: XML first; raw DEFLATE only when the bytes are not
//     XML and inflate, under the same cap, to XML.
import { inflateRawSync } from 'node:zlib';
import { refuse, type InboundMessage, type MessageKind } from './message.ts';

const SAML_PARAMS = ['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg', 'Signature'];
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function base64(value: string, maxBytes: number): Buffer {
  const compact = value.replace(/[\r\n\t ]/g, '');
  if (!BASE64.test(compact) || compact.length % 4 !== 0) refuse('message is not valid base64');
  if ((compact.length / 4) * 3 > maxBytes * 2) refuse('message larger than the cap');
  return Buffer.from(compact, 'base64');
}

function text(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return refuse('message is not UTF-8');
  }
}

function inflate(bytes: Buffer, maxBytes: number): Buffer {
  try {
    return inflateRawSync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    return refuse((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError ? `inflated message larger than ${maxBytes} bytes` : 'message is not DEFLATE-encoded');
  }
}

/** Text that starts like an XML document (after a byte order mark and white space). */
function looksLikeXml(bytes: Buffer): boolean {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  return bytes[i] === 0x3c; // "<"
}

/** A query value URL-decoded (`+` is a space), or refused: never a URIError. */
function decodeQueryValue(what: string, raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return refuse(`${what} is not valid URL encoding`);
  }
}

/** HTTP-Redirect: `querystring` is the raw query as received. */
export function fromRedirect(querystring: string, endpointUrl: string, expected: MessageKind[], maxBytes: number): InboundMessage {
  const raw = new Map<string, string>();
  const decoded = new Map<string, string>();
  for (const part of querystring.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = decodeQueryValue('a parameter name', eq === -1 ? part : part.slice(0, eq));
    if (!SAML_PARAMS.includes(name)) continue;
    if (raw.has(name)) refuse(`parameter ${name} given twice`);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    raw.set(name, value);
    decoded.set(name, decodeQueryValue(name, value));
  }
  const param = raw.has('SAMLRequest') ? 'SAMLRequest' : 'SAMLResponse';
  if (raw.has('SAMLRequest') === raw.has('SAMLResponse')) refuse('exactly one of SAMLRequest and SAMLResponse is required');
  const inflated = inflate(base64(decoded.get(param)!, maxBytes), maxBytes);
  const signature = decoded.get('Signature');
  if (signature !== undefined && (!BASE64.test(signature) || signature.length % 4 !== 0)) refuse('Signature is not valid base64');
  return {
    binding: 'redirect', param, expected, endpointUrl, rawQuery: raw, xml: text(inflated), relayState: decoded.get('RelayState'),
    sigAlg: decoded.get('SigAlg'), signature: signature === undefined ? undefined : Buffer.from(signature, 'base64'),
  };
}

/** HTTP-POST: `body` is the parsed body, `isForm` whether it came as a form (the binding's only encoding). */
export function fromPost(body: unknown, isForm: boolean, endpointUrl: string, expected: MessageKind[], maxBytes: number): InboundMessage {
  if (!isForm) refuse('an HTTP-POST message that is not a form (application/x-www-form-urlencoded)');
  const form = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  for (const name of SAML_PARAMS) {
    if (form[name] !== undefined && typeof form[name] !== 'string') refuse(`parameter ${name} given twice or malformed`);
  }
  if ((form.SAMLRequest === undefined) === (form.SAMLResponse === undefined)) refuse('exactly one of SAMLRequest and SAMLResponse is required');
  if (form.SigAlg !== undefined || form.Signature !== undefined) refuse('SigAlg and Signature belong to HTTP-Redirect, not HTTP-POST');
  const param = form.SAMLRequest !== undefined ? 'SAMLRequest' : 'SAMLResponse';
  const bytes = base64(form[param] as string, maxBytes);
  if (bytes.length > maxBytes) refuse(`message larger than ${maxBytes} bytes`);
  let xml: Buffer = bytes;
  if (!looksLikeXml(bytes)) {
    // Not XML: DEFLATE'd XML (node-saml's default), or refused.
    xml = inflate(bytes, maxBytes);
    if (!looksLikeXml(xml)) refuse('message is neither XML nor DEFLATE-encoded XML');
  }
  return { binding: 'post', param, expected, endpointUrl, xml: text(xml), relayState: form.RelayState as string | undefined };
}
