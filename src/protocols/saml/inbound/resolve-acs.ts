// Chooses where the Response will be sent: only an AssertionConsumerService registered in
// the SP's metadata, by the request's AssertionConsumerServiceURL (exact match) or
// AssertionConsumerServiceIndex, else the SP's default. An unknown URL or index is
// refused with an error page: nothing is redirected or posted anywhere.
import { BINDING } from '../constants.ts';
import { established, refuse, type Check } from './message.ts';

export const resolveAcs: Check = (msg) => {
  if (msg.kind !== 'AuthnRequest') return;
  const sp = established(msg, 'sp');
  const el = established(msg, 'trusted');
  const url = el.getAttribute('AssertionConsumerServiceURL');
  const index = el.getAttribute('AssertionConsumerServiceIndex');
  const binding = el.getAttribute('ProtocolBinding');
  if (url && index) refuse('both AssertionConsumerServiceURL and AssertionConsumerServiceIndex');
  if (binding && binding !== BINDING.post) refuse(`responses are sent with HTTP-POST only, not ${binding}`, 'SSPR 5132');
  let acs = sp.acs[0];
  if (url) acs = sp.acs.find((e) => e.location === url);
  else if (index) acs = sp.acs.find((e) => String(e.index) === index);
  if (!acs) refuse(`assertion consumer service ${url || `index ${index}`} is not registered for ${sp.id}`, 'SSPR 5132');
  msg.acs = acs;
};
