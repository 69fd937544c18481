// Required actions for an SSO session that is already signed in: the gate found one due
// (questions not set up, a temporary or expired password) when an application, the portal
// or /admin was reached with a live session. No password is asked here: the session vouches.
//
//   begins at the first pending action's step; its steps are those of setup-questions (with
//   the recovery email's offer after it), change-password and setup-mfa (actions/), in the
//   order the gate listed them.
//   finish: the SSO session goes on as it was (same id, participants, authentication time
//           and methods) and the browser goes back to what it asked for; the gate lets it through now.
//   cancel: the application is told the user cancelled (the portal shows "cancelled").
import { changePassword } from '../actions/change-password/index.ts';
import { setupMfa } from '../actions/setup-mfa/index.ts';
import { recoveryEmail } from '../actions/recovery-email/index.ts';
import { setupQuestions } from '../actions/setup-questions/index.ts';
import type { FlowKindSpec } from '../machine.ts';

export const requiredActions: FlowKindSpec = {
  kind: 'required-actions',
  table: {},
  pages: {},
  actions: [setupQuestions, recoveryEmail, changePassword, setupMfa],
  finish: 'keep-session',
  cancel: 'tell-app',
};
