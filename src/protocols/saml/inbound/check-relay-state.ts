// Bounds RelayState: at most the SP's relay_state_max_bytes (80 by default, as the SAML
// bindings require), no control characters, and well-formed Unicode (a lone surrogate
// cannot be URL-encoded when it is echoed back). It is echoed back to the SP untouched.
import { established, refuse, type Check } from './message.ts';

export const checkRelayState: Check = (msg) => {
  if (msg.relayState === undefined) return;
  const max = established(msg, 'sp').relayStateMaxBytes;
  if (Buffer.byteLength(msg.relayState, 'utf8') > max) refuse(`RelayState longer than ${max} bytes`);
  if (/[\u0000-\u001f\u007f]/.test(msg.relayState)) refuse('RelayState contains control characters');
  if (/\p{Cs}/u.test(msg.relayState)) refuse('RelayState is not well-formed Unicode');
};
