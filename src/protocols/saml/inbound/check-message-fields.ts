// Checks the envelope of the (trusted) message: Version 2.0, an ID, an IssueInstant
// no older than saml.requestMaxAgeSeconds and not in the future beyond the clock skew,
// and a Destination that is this endpoint (required when the message is signed, as the
// SAML bindings say for both HTTP-Redirect and HTTP-POST; the SOAP binding, an answer on
// the connection the IdP opened, does not require it).
import { established, refuse, type Check } from './message.ts';

export const checkMessageFields: Check = (msg, ctx) => {
  const el = established(msg, 'trusted');
  if (el.getAttribute('Version') !== '2.0') refuse('Version must be 2.0');
  const id = el.getAttribute('ID');
  if (!id || id.length > 256) refuse('message without a usable ID');
  msg.id = id;

  const instant = Date.parse(el.getAttribute('IssueInstant') ?? '');
  if (!Number.isFinite(instant)) refuse('IssueInstant missing or not a date');
  if (instant > ctx.now + ctx.clockSkewMs) refuse('IssueInstant is in the future');
  if (instant < ctx.now - ctx.requestMaxAgeMs - ctx.clockSkewMs) refuse('IssueInstant is too old');
  msg.issueInstant = instant;

  const destination = el.getAttribute('Destination');
  if (destination) {
    if (destination !== msg.endpointUrl) refuse(`Destination ${destination} is not ${msg.endpointUrl}`);
  } else if (msg.signed && msg.binding !== 'soap') {
    refuse('a signed message must name its Destination');
  }
};
