// Every flow kind, by the name its records carry. Each kind's folder opens with its table.
import type { FlowKind } from './flow.ts';
import { appNotice } from './app-notice/index.ts';
import { forgotPassword } from './forgot-password/index.ts';
import type { FlowKindSpec } from './machine.ts';
import { requiredActions } from './required-actions/index.ts';
import { signIn } from './sign-in/index.ts';
import { ssprEmail, ssprMfa, ssprPassword, ssprQuestions } from './sspr/index.ts';
import { stepUp } from './step-up/index.ts';

export const FLOW_KINDS: Readonly<Record<FlowKind, FlowKindSpec>> = {
  'sign-in': signIn,
  'required-actions': requiredActions,
  'forgot-password': forgotPassword,
  'sspr-password': ssprPassword,
  'sspr-questions': ssprQuestions,
  'sspr-mfa': ssprMfa,
  'sspr-email': ssprEmail,
  'step-up': stepUp,
  'app-notice': appNotice,
};
