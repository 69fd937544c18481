// Validates the message against the SAML protocol schema (saml-schema-protocol-2.0.xsd):
// every element and attribute where the standard says, with the types it says.
import { established, refuse, type Check } from './message.ts';

export const checkSchema: Check = async (msg, ctx) => {
  let result;
  try {
    result = await ctx.schema.validate(established(msg, 'xml'));
  } catch (err) {
    // Could not check: refuse rather than let an unchecked message through.
    return refuse(`schema validation unavailable: ${(err as Error).message}`, 'SSPR 5019');
  }
  if (!result.valid) refuse(`not valid against the SAML schema: ${result.errors.join(' | ')}`);
};
