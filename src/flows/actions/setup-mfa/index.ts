// Required action "setup-mfa" (two-step sign-in for administrators by default; offered to
// staff from the SSPR app): a passkey or an authenticator app, then recovery codes.
//
//   step          action (POST /flow/:id/…)       leads to
//   mfa-choose    mfa-setup/passkey               mfa-passkey
//                 mfa-setup/totp                  mfa-totp        (a new secret, sealed to this browser)
//   mfa-passkey   mfa-setup/passkey-confirm       mfa-passkey     (refused or cancelled: said on the page)
//                                                 mfa-recovery    (the first factor: recovery codes are made)
//                                                 next            (recovery codes exist already)
//                 mfa-setup/back                  mfa-choose
//   mfa-totp      mfa-setup/totp-confirm          mfa-totp        (wrong code, too many codes)
//                                                 mfa-recovery
//                                                 next
//                 mfa-setup/back                  mfa-choose
//   mfa-recovery  continue                        next            (the codes were shown once, on this page)
//
// Setting up a factor proves it: the flow's amr gains it and "mfa".
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { AppError } from '../../../domain/errors.ts';
import { mfaOf, passkeyMethod } from '../../../domain/mfa/factors.ts';
import { message } from '../../../messages/catalogue.ts';
import type { Flow } from '../../flow.ts';
import { field, flowAccount, requestOf, type FlowServices, type RequiredActionSpec, type StepInput, type Target } from '../../machine.ts';
import { seal, unseal } from '../../sealed.ts';
import { passkeyResponse, verified } from '../second-factor/index.ts';

/** A factor was set up: recovery codes next if the account has none, else done. */
async function enrolled(s: FlowServices, flow: Flow, input: StepInput, method: string): Promise<Target> {
  verified(s, flow, method);
  const account = await flowAccount(s, flow);
  if ((mfaOf(account)?.recoveryCodes.length ?? 0) === 0) {
    const codes = await s.mfa.newRecoveryCodes(account, requestOf(input));
    flow.sealed = seal({ recoveryCodes: codes }, input.browserSecret, flow.id);
    return 'mfa-recovery';
  }
  flow.pending = flow.pending.filter((p) => p !== 'setup-mfa');
  return 'next';
}

export const setupMfa: RequiredActionSpec = {
  action: 'setup-mfa',
  entry: 'mfa-choose',
  table: {
    'mfa-choose': {
      'mfa-setup/passkey': { to: ['mfa-passkey'], run: async () => 'mfa-passkey' },
      'mfa-setup/totp': {
        to: ['mfa-totp'],
        run: async (s, flow, input) => {
          flow.sealed = seal({ totpSecret: s.mfa.newTotpSecret() }, input.browserSecret, flow.id);
          return 'mfa-totp';
        },
      },
    },
    'mfa-passkey': {
      'mfa-setup/passkey-confirm': {
        to: ['mfa-passkey', 'mfa-recovery', 'next'],
        run: async (s, flow, input) => {
          const account = await flowAccount(s, flow);
          const response = passkeyResponse<RegistrationResponseJSON>(flow, input);
          if (!response) return 'mfa-passkey';
          const name = field(input.fields, 'name', 200);
          const added = await s.mfa.addPasskey(account, response.credential, response.challenge, name, requestOf(input));
          if (!added) {
            flow.error = message('mfa.passkey_not_added');
            return 'mfa-passkey';
          }
          return enrolled(s, flow, input, passkeyMethod(added));
        },
      },
      'mfa-setup/back': { to: ['mfa-choose'], run: async () => 'mfa-choose' },
    },
    'mfa-totp': {
      'mfa-setup/totp-confirm': {
        to: ['mfa-totp', 'mfa-recovery', 'next'],
        run: async (s, flow, input) => {
          const account = await flowAccount(s, flow);
          const secret = unseal<{ totpSecret: string }>(flow.sealed, input.browserSecret, flow.id)?.totpSecret;
          if (!secret) throw new AppError('SSPR 5102', 'authenticator secret cannot be opened');
          const code = field(input.fields, 'code', 64);
          if (!code.trim()) {
            flow.error = message('mfa.code_missing');
            return 'mfa-totp';
          }
          const result = await s.mfa.enrolTotp(account, secret, code, requestOf(input));
          if (result !== 'ok') {
            flow.error = result === 'throttled' ? message('mfa.throttled', { minutes: s.mfa.policy.settings.windowMinutes }) : message('mfa.code_wrong');
            return 'mfa-totp';
          }
          delete flow.sealed;
          return enrolled(s, flow, input, 'otp');
        },
      },
      'mfa-setup/back': { to: ['mfa-choose'], run: async () => 'mfa-choose' },
    },
    'mfa-recovery': {
      continue: {
        to: ['next'],
        run: async (_s, flow) => {
          flow.pending = flow.pending.filter((p) => p !== 'setup-mfa');
          return 'next';
        },
      },
    },
  },
  pages: {
    'mfa-choose': async (s, flow) => {
      const account = await flowAccount(s, flow);
      return { view: 'mfa-choose', data: { required: s.mfa.policy.required(account) } };
    },
    'mfa-passkey': async (s, flow) => {
      const account = await flowAccount(s, flow);
      const options = await s.mfa.registrationOptions(account);
      // A new challenge for each page shown; the POST uses (and clears) the last one.
      flow.challenge = options.challenge;
      await s.flows.save(flow);
      return { view: 'mfa-passkey', data: { registrationOptions: JSON.stringify(options) }, status: flow.error ? 400 : 200 };
    },
    'mfa-totp': async (s, flow, browserSecret) => {
      const account = await flowAccount(s, flow);
      const secret = unseal<{ totpSecret: string }>(flow.sealed, browserSecret, flow.id)?.totpSecret;
      if (!secret) throw new AppError('SSPR 5102', 'authenticator secret cannot be opened', { continueTo: '/portal' });
      const { qrSvg } = await s.mfa.totpQr(account, secret);
      return { view: 'mfa-totp', data: { qrSvg, secret: secret.replace(/(.{4})/g, '$1 ').trim() }, status: flow.error ? 400 : 200 };
    },
    'mfa-recovery': async (_s, flow, browserSecret) => {
      const codes = unseal<{ recoveryCodes: string[] }>(flow.sealed, browserSecret, flow.id)?.recoveryCodes;
      if (!codes) throw new AppError('SSPR 5102', 'recovery codes cannot be opened', { continueTo: '/portal' });
      return { view: 'mfa-recovery', data: { codes } };
    },
  },
};
