// The second factor of an account that has one: after its password (sign-in), or alone for
// a session that needs two-step sign-in now (step-up: acr mfa, /admin actions).
//
//   step           action (POST /flow/:id/…)   leads to
//   second-factor  mfa/passkey                 second-factor   (unknown or refused passkey, cancelled prompt, expired challenge)
//                                              next
//                  mfa/code                    second-factor   (wrong or used code, too many codes: said on the page)
//                                              next
//                  mfa/recovery                second-factor   (wrong or used recovery code)
//                                              next
//
// A code is accepted once; wrong codes of any kind count towards one limit per account.
// What was used goes into the flow's amr (RFC 8176): swk for a passkey (factors.ts: why not hwk), otp for a
// code, and mfa; the sign-in's (or step-up's) time is when the second factor was verified.
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { mfaOf, passkeyMethod } from '../../../domain/mfa/factors.ts';
import type { CodeCheck } from '../../../domain/mfa/mfa.ts';
import { message } from '../../../messages/catalogue.ts';
import type { Flow } from '../../flow.ts';
import { field, flowAccount, requestOf, type FlowServices, type RequiredActionSpec, type StepInput, type Target } from '../../machine.ts';

/** Records a verified second factor on the flow. */
export function verified(s: FlowServices, flow: Flow, method: string): void {
  const now = s.clock();
  flow.amr = [...new Set([...(flow.amr ?? []), method, 'mfa'])];
  flow.mfaAt = now;
  if (flow.authenticatedAt !== undefined) flow.authenticatedAt = now;
}

/** The posted WebAuthn response (JSON made by the page's script). */
function credentialOf(input: StepInput): unknown {
  try {
    return JSON.parse(field(input.fields, 'credential', 32_768) || 'null');
  } catch {
    return null;
  }
}

/**
 * The browser's passkey response and the challenge of the page it answers, which is used
 * up whatever the outcome; null, with the message set on the flow, when either is missing
 * (a cancelled prompt, or no page shown with a challenge).
 */
export function passkeyResponse<T>(flow: Flow, input: StepInput): { credential: T; challenge: string } | null {
  const challenge = flow.challenge;
  delete flow.challenge;
  const credential = credentialOf(input);
  if (challenge && credential) return { credential: credential as T, challenge };
  flow.error = message(credential ? 'mfa.passkey_expired' : 'mfa.passkey_cancelled');
  return null;
}

function codeResult(s: FlowServices, flow: Flow, result: CodeCheck, wrong: 'mfa.code_wrong' | 'mfa.recovery_wrong'): Target {
  if (result === 'ok') {
    verified(s, flow, 'otp');
    flow.pending = flow.pending.filter((p) => p !== 'second-factor');
    return 'next';
  }
  flow.error = result === 'throttled' ? message('mfa.throttled', { minutes: s.mfa.policy.settings.windowMinutes }) : message(wrong);
  return 'second-factor';
}

export const secondFactor: RequiredActionSpec = {
  action: 'second-factor',
  entry: 'second-factor',
  table: {
    'second-factor': {
      'mfa/passkey': {
        to: ['second-factor', 'next'],
        run: async (s, flow, input) => {
          const account = await flowAccount(s, flow);
          const response = passkeyResponse<AuthenticationResponseJSON>(flow, input);
          if (!response) return 'second-factor';
          const checked = await s.mfa.checkPasskey(response.credential, response.challenge, account, requestOf(input));
          if (!checked) {
            flow.error = message('mfa.passkey_failed');
            return 'second-factor';
          }
          verified(s, flow, passkeyMethod(checked.passkey));
          flow.pending = flow.pending.filter((p) => p !== 'second-factor');
          return 'next';
        },
      },
      'mfa/code': {
        to: ['second-factor', 'next'],
        run: async (s, flow, input) => codeResult(s, flow, await s.mfa.checkTotp(await flowAccount(s, flow), field(input.fields, 'code', 64), requestOf(input)), 'mfa.code_wrong'),
      },
      'mfa/recovery': {
        to: ['second-factor', 'next'],
        run: async (s, flow, input) => codeResult(s, flow, await s.mfa.useRecoveryCode(await flowAccount(s, flow), field(input.fields, 'recoveryCode', 64), requestOf(input)), 'mfa.recovery_wrong'),
      },
    },
  },
  pages: {
    'second-factor': async (s, flow) => {
      const account = await flowAccount(s, flow);
      const m = mfaOf(account);
      const passkeys = m?.passkeys.length ? await s.mfa.authenticationOptions(account) : null;
      // A new challenge for each page shown; the POST uses (and clears) the last one.
      if (passkeys) {
        flow.challenge = passkeys.challenge;
        await s.flows.save(flow);
      }
      return {
        view: 'second-factor',
        data: { passkeyOptions: passkeys ? JSON.stringify(passkeys) : null, hasTotp: !!m?.totp, hasRecovery: (m?.recoveryCodes.length ?? 0) > 0, stepUp: flow.kind === 'step-up' },
        status: flow.error ? 401 : 200,
      };
    },
  },
};
