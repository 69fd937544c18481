// Picks the service provider by the message's Issuer. Only that SP's keys are used to
// verify the signature; after verification, verify-signature.ts checks that the signed
// Issuer is this same one.
import { NS } from '../constants.ts';
import { childElement, textOf } from '../xml.ts';
import { established, refuse, type Check } from './message.ts';

export const ENTITY_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity';

export function issuerOf(el: Element): string | undefined {
  const issuer = childElement(el, NS.assertion, 'Issuer');
  if (!issuer) return undefined;
  const format = issuer.getAttribute('Format');
  if (format && format !== ENTITY_FORMAT) refuse(`Issuer with Format ${format}`);
  return textOf(issuer);
}

export const identifySp: Check = async (msg, ctx) => {
  const issuer = issuerOf(established(msg, 'root'));
  if (!issuer) refuse('message has no Issuer');
  const sp = await ctx.sps.findByEntityId(issuer);
  if (!sp) refuse(`no service provider with entityID ${issuer}`, 'SSPR 5131');
  msg.sp = sp;
};
