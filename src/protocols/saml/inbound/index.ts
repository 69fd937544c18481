// The inbound pipeline: every SAML message the IdP receives passes these checks in this
// order, each in its own file. A message that fails one is refused with SamlRefusal and
// changes nothing.
import { checkMessageFields } from './check-message-fields.ts';
import { checkRelayState } from './check-relay-state.ts';
import { checkReplay } from './check-replay.ts';
import { checkSchema } from './check-schema.ts';
import { identifySp } from './identify-sp.ts';
import type { Check, CheckContext, InboundMessage } from './message.ts';
import { parseXml } from './parse-xml.ts';
import { resolveAcs } from './resolve-acs.ts';
import { verifySignature } from './verify-signature.ts';

export { fromPost, fromRedirect } from './decode-binding.ts';
export { fromSoap } from './decode-soap.ts';
export { SamlRefusal, type CheckContext, type InboundMessage, type MessageKind } from './message.ts';

const CHECKS: Check[] = [parseXml, checkSchema, identifySp, verifySignature, checkMessageFields, checkRelayState, checkReplay, resolveAcs];

export async function checkInbound(msg: InboundMessage, ctx: CheckContext): Promise<InboundMessage> {
  for (const check of CHECKS) await check(msg, ctx);
  return msg;
}
