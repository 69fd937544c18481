// Parses the message with no DOCTYPE, comments, processing instructions or CDATA, and
// exactly one root element, which must be a SAML protocol message this endpoint takes
// and fit the parameter it came in (requests as SAMLRequest, responses as SAMLResponse).
import { NS } from '../constants.ts';
import { parseStrict, XmlRefusal } from '../xml.ts';
import { established, refuse, type Check, type MessageKind } from './message.ts';

export const parseXml: Check = (msg) => {
  let root: Element;
  try {
    root = parseStrict(established(msg, 'xml')).documentElement!;
  } catch (err) {
    if (err instanceof XmlRefusal) refuse(err.message);
    throw err;
  }
  const kind = root.localName as MessageKind;
  if (root.namespaceURI !== NS.protocol || !msg.expected.includes(kind)) {
    refuse(`unexpected message ${root.namespaceURI}:${root.localName} at this endpoint`);
  }
  if ((kind === 'LogoutResponse') !== (msg.param === 'SAMLResponse')) refuse(`${kind} sent as ${msg.param}`);
  msg.root = root;
  msg.kind = kind;
};
