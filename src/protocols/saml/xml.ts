// Parsing inbound XML that is hostile until proved otherwise.
// Refused before any parser sees it: a DOCTYPE or entity declaration (XXE, entity
// expansion), comments (the comment-in-NameID truncation attack: canonicalisation drops
// comments, so "a@evil.test<!---->.victim.test" would verify as something else),
// processing instructions other than the XML declaration, and CDATA sections. In
// well-formed XML a literal "<" cannot occur inside attribute values or text, so a scan
// of the raw text finds exactly these constructs.
import { DOMParser } from '@xmldom/xmldom';
// Document and Element are the DOM types @xmldom/xmldom's typings bring in (lib "dom").

export class XmlRefusal extends Error {
  override name = 'XmlRefusal';
}

const FORBIDDEN: Array<[RegExp, string]> = [
  [/<!DOCTYPE/i, 'a DOCTYPE'],
  [/<!ENTITY/i, 'an entity declaration'],
  [/<!--/, 'a comment'],
  [/<!\[CDATA\[/, 'a CDATA section'],
];

/** Parses one XML document with exactly one root element, or throws XmlRefusal. */
export function parseStrict(xml: string): Document {
  const text = xml.replace(/^\uFEFF/, '');
  for (const [pattern, what] of FORBIDDEN) {
    if (pattern.test(text)) throw new XmlRefusal(`message contains ${what}`);
  }
  // Only an XML declaration, and only at the very start.
  const pi = text.indexOf('<?');
  if (pi !== -1 && !(pi === 0 && /^<\?xml[\s?]/.test(text) && text.indexOf('<?', 2) === -1)) {
    throw new XmlRefusal('message contains a processing instruction');
  }
  const problems: string[] = [];
  const doc = new DOMParser({
    errorHandler: {
      warning: () => {},
      error: (m: string) => problems.push(m),
      fatalError: (m: string) => problems.push(m),
    },
  }).parseFromString(text, 'text/xml');
  if (problems.length > 0) throw new XmlRefusal(`not well-formed XML: ${problems[0]!.split('\n')[0]}`);
  const roots = Array.from(doc.childNodes).filter((n) => n.nodeType === 1);
  if (roots.length !== 1 || !doc.documentElement) throw new XmlRefusal('message must have exactly one root element');
  for (const n of Array.from(doc.childNodes)) {
    if (n.nodeType !== 1 && n.nodeType !== 7 && !(n.nodeType === 3 && !/\S/.test(n.nodeValue ?? ''))) {
      throw new XmlRefusal('unexpected content outside the root element');
    }
  }
  return doc;
}

/**
 * Parses XML from configuration (SP metadata files): comments are fine there, but a
 * DOCTYPE is still refused.
 */
export function parseConfigXml(xml: string): Document {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new XmlRefusal('a DOCTYPE or entity declaration is not allowed');
  const problems: string[] = [];
  const doc = new DOMParser({
    errorHandler: { warning: () => {}, error: (m: string) => problems.push(m), fatalError: (m: string) => problems.push(m) },
  }).parseFromString(xml.replace(/^\uFEFF/, ''), 'text/xml');
  if (problems.length > 0 || !doc.documentElement) throw new XmlRefusal(`not well-formed XML: ${(problems[0] ?? 'no root element').split('\n')[0]}`);
  return doc;
}

/** Child elements of `el` with this namespace and local name. */
export function childElements(el: Element, ns: string, localName: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === localName) out.push(n as Element);
  }
  return out;
}

/** The one child element with this name, null when absent; more than one is refused. */
export function childElement(el: Element, ns: string, localName: string): Element | null {
  const found = childElements(el, ns, localName);
  if (found.length > 1) throw new XmlRefusal(`more than one ${localName} in ${el.localName}`);
  return found[0] ?? null;
}

/** Every element below `root` (inclusive) with this namespace and local name. */
export function descendants(root: Element | Document, ns: string, localName: string): Element[] {
  return Array.from(root.getElementsByTagNameNS(ns, localName));
}

export function textOf(el: Element | null): string | undefined {
  if (!el) return undefined;
  return (el.textContent ?? '').trim();
}

export function attribute(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? el.getAttribute(name)! : undefined;
}

/** Escapes text for an XML attribute value or element content. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}
