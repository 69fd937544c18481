// Step-up: a session signed in with a password needs two-step sign-in now (an application
// asked for acr mfa, a SAML RequestedAuthnContext, an /admin action). The account's second
// factor only; the password is not asked again.
//
//   begins at second-factor (actions/second-factor/).
//   finish: the browser's SSO session (same account) is renewed with the factor in its amr
//           and the time it was verified; the browser goes back to what asked.
//   cancel: the application is told the user cancelled (the portal shows "cancelled").
import { secondFactor } from '../actions/second-factor/index.ts';
import type { FlowKindSpec } from '../machine.ts';

export const stepUp: FlowKindSpec = {
  kind: 'step-up',
  table: {},
  pages: {},
  actions: [secondFactor],
  finish: 'step-up',
  cancel: 'tell-app',
};
