// SAML SOAP binding (saml-bindings 3.2): a back-channel answer is a SOAP 1.1 envelope whose
// Body holds exactly one SAML protocol message. The envelope is refused like any inbound
// XML (DOCTYPE, comments, processing instructions, CDATA, over the size cap), and must be
// exactly Envelope, an optional Header (read for nothing), Body, one element; a SOAP Fault
// is a refusal. The SAML message then goes through the same checks as the other bindings
// (schema, the SP's signature by its Issuer, fields, replay): see index.ts.
import { XMLSerializer } from '@xmldom/xmldom';
import { parseStrict, textOf, XmlRefusal } from '../xml.ts';
import { refuse, type InboundMessage, type MessageKind } from './message.ts';

export const SOAP11_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';

function elementChildren(el: Element): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1) out.push(n as Element);
    else if (n.nodeType !== 3 || /\S/.test(n.nodeValue ?? '')) refuse('unexpected content in the SOAP envelope');
  }
  return out;
}

/** The SAML message of a SOAP envelope, as text for the inbound checks. */
export function fromSoap(body: string, endpointUrl: string, expected: MessageKind[], maxBytes: number): InboundMessage {
  if (Buffer.byteLength(body, 'utf8') > maxBytes) refuse(`SOAP message larger than ${maxBytes} bytes`);
  let envelope: Element;
  try {
    envelope = parseStrict(body).documentElement!;
  } catch (err) {
    if (err instanceof XmlRefusal) refuse(`SOAP envelope: ${err.message}`);
    throw err;
  }
  if (envelope.namespaceURI !== SOAP11_ENV || envelope.localName !== 'Envelope') refuse('not a SOAP 1.1 envelope');
  const parts = elementChildren(envelope);
  const names = parts.map((p) => (p.namespaceURI === SOAP11_ENV ? p.localName : '?'));
  if (!(names.length === 1 && names[0] === 'Body') && !(names.length === 2 && names[0] === 'Header' && names[1] === 'Body')) {
    refuse('a SOAP envelope must hold an optional Header and one Body');
  }
  const content = elementChildren(parts[parts.length - 1]!);
  if (content.length !== 1) refuse('the SOAP Body must hold exactly one element');
  const message = content[0]!;
  if (message.namespaceURI === SOAP11_ENV && message.localName === 'Fault') {
    const reason = textOf(Array.from(message.childNodes).find((n): n is Element => n.nodeType === 1 && (n as Element).localName === 'faultstring') ?? null);
    refuse(`SOAP Fault${reason ? `: ${reason.slice(0, 200)}` : ''}`);
  }
  return {
    binding: 'soap',
    param: /Response$/.test(message.localName ?? '') ? 'SAMLResponse' : 'SAMLRequest',
    expected,
    endpointUrl,
    // Serialised on its own: xmldom declares on it the namespaces it inherited.
    xml: new XMLSerializer().serializeToString(message),
  };
}
