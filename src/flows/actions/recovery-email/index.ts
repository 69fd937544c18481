// The recovery email's offer (after the challenge questions at first sign-in, for the
// populations settings name) and its page in the SSPR app (change or remove, after the
// current password). It is an offer: "Skip" goes on; the gate never asks for it.
//
//   step        action (POST /flow/:id/…)      leads to
//   re-offer    recovery-email/send            re-offer    (not an address, the login ID itself, too many codes sent)
//                                              re-confirm  (a 6-digit code was sent to it; the address is sealed to this browser)
//               recovery-email/skip            next
//               recovery-email/remove          re-done     (SSPR app only: the address is removed, and told)
//   re-confirm  recovery-email/confirm         re-confirm  (missing or wrong code; a code dropped after too many tries)
//                                              re-done     (saved; the old address and the new one are told)
//               recovery-email/resend          re-confirm  (a new code; the old one stops working)
//               recovery-email/back            re-offer    (another address)
//               recovery-email/skip            next
//   re-done     continue                       next
//
// The address is shown whole only in its own field while its owner types it; every other
// page, message, log line and audit event has it masked (j***@gmail.com).
import { AppError } from '../../../domain/errors.ts';
import { maskAddress, normaliseAddress } from '../../../domain/recovery/recovery-email.ts';
import { message } from '../../../messages/catalogue.ts';
import type { Flow } from '../../flow.ts';
import { field, flowAccount, requestOf, type FlowServices, type RequiredActionSpec, type StepInput, type Target } from '../../machine.ts';
import { seal, unseal } from '../../sealed.ts';

interface Proposed {
  address: string;
}

/** Sends a confirmation code to the address (counted against the send throttles); false when refused. */
async function sendCode(s: FlowServices, flow: Flow, input: StepInput, loginId: string, accountId: string, address: string): Promise<boolean> {
  if (!(await s.recoveryCodes.maySend('confirm', loginId, input.ip ?? 'unknown'))) {
    flow.error = message('recovery.send_throttled');
    return false;
  }
  const code = await s.recoveryCodes.issue('confirm', accountId, { flowId: flow.id, address });
  s.recoveryEmails.notify(address, 'confirm-code', input.lang ?? 'en', { code, minutes: s.recoveryCodes.codeMinutes });
  await s.audit.record({ type: 'recovery_email.code.sent', accountId, ...requestOf(input), reason: `confirm ${maskAddress(address)}` });
  return true;
}

function proposed(flow: Flow, browserSecret: string): Proposed | null {
  return unseal<Proposed>(flow.sealed, browserSecret, flow.id) ?? null;
}

const skip = { to: ['next'] as const, run: async (_s: FlowServices, flow: Flow): Promise<Target> => done(flow) };

function done(flow: Flow): Target {
  flow.pending = flow.pending.filter((p) => p !== 'recovery-email');
  return 'next';
}

export const recoveryEmail: RequiredActionSpec = {
  action: 'recovery-email',
  entry: 're-offer',
  table: {
    're-offer': {
      'recovery-email/send': {
        to: ['re-offer', 're-confirm'],
        run: async (s, flow, input) => {
          const account = await flowAccount(s, flow);
          if (!s.recoveryEmails.offered(account)) throw new AppError('SSPR 5403', 'recovery email not offered to this account');
          const raw = field(input.fields, 'email', 1024);
          const address = normaliseAddress(raw);
          // What the owner typed is shown again in its field (theirs, on their own page); sealed to this browser.
          flow.sealed = seal({ address: raw.trim().slice(0, 254) }, input.browserSecret, flow.id);
          if (!address) {
            flow.fieldErrors = { email: message('recovery.invalid_address') };
            return 're-offer';
          }
          if (address === account.loginId) {
            flow.fieldErrors = { email: message('recovery.same_as_login') };
            return 're-offer';
          }
          flow.sealed = seal({ address }, input.browserSecret, flow.id);
          return (await sendCode(s, flow, input, account.loginId, account.id, address)) ? 're-confirm' : 're-offer';
        },
      },
      'recovery-email/skip': skip,
      'recovery-email/remove': {
        to: ['re-done'],
        run: async (s, flow, input) => {
          if (flow.kind !== 'sspr-email') throw new AppError('SSPR 5102', 'remove outside the SSPR app');
          const account = await flowAccount(s, flow);
          if (!account.recoveryEmail) throw new AppError('SSPR 5102', 'no recovery email to remove');
          await s.recoveryEmails.remove(account.id, { ...requestOf(input), lang: input.lang ?? 'en' });
          await s.recoveryCodes.drop('reset', account.id);
          flow.form = { done: 'removed' };
          return 're-done';
        },
      },
    },
    're-confirm': {
      'recovery-email/confirm': {
        to: ['re-confirm', 're-done'],
        run: async (s, flow, input) => {
          const account = await flowAccount(s, flow);
          const address = proposed(flow, input.browserSecret)?.address;
          if (!address) throw new AppError('SSPR 5102', 'address to confirm cannot be opened');
          const typed = field(input.fields, 'code', 32).trim();
          if (!typed) {
            flow.error = message('recovery.code_missing');
            return 're-confirm';
          }
          const result = await s.recoveryCodes.check('confirm', account.id, { flowId: flow.id, address }, typed);
          if (result !== 'ok') {
            await s.audit.record({ type: 'recovery_email.code.refused', accountId: account.id, ...requestOf(input), reason: `confirm ${result === 'none' ? 'no live code' : 'wrong code'}` });
            flow.error = message('recovery.code_wrong');
            return 're-confirm';
          }
          await s.audit.record({ type: 'recovery_email.code.used', accountId: account.id, ...requestOf(input), reason: `confirm ${maskAddress(address)}` });
          await s.recoveryEmails.set(account.id, address, { ...requestOf(input), lang: input.lang ?? 'en' });
          // A reset code sent to the old address before the change no longer works.
          await s.recoveryCodes.drop('reset', account.id);
          delete flow.sealed;
          flow.form = { done: 'saved' };
          return 're-done';
        },
      },
      'recovery-email/resend': {
        to: ['re-confirm'],
        run: async (s, flow, input) => {
          const account = await flowAccount(s, flow);
          const address = proposed(flow, input.browserSecret)?.address;
          if (!address) throw new AppError('SSPR 5102', 'address to confirm cannot be opened');
          if (await sendCode(s, flow, input, account.loginId, account.id, address)) flow.notice = message('recovery.code_resent');
          return 're-confirm';
        },
      },
      'recovery-email/back': {
        to: ['re-offer'],
        run: async (s, flow) => {
          await s.recoveryCodes.drop('confirm', flow.accountId ?? 'none');
          return 're-offer';
        },
      },
      'recovery-email/skip': skip,
    },
    're-done': {
      continue: skip,
    },
  },
  pages: {
    're-offer': async (s, flow, browserSecret) => {
      const account = await flowAccount(s, flow);
      const current = account.recoveryEmail ? maskAddress(account.recoveryEmail.address) : null;
      return {
        view: 'recovery-email',
        data: { current, inSspr: flow.kind === 'sspr-email', email: proposed(flow, browserSecret)?.address ?? '' },
        status: flow.fieldErrors || flow.error ? 400 : 200,
      };
    },
    're-confirm': async (s, flow, browserSecret) => {
      const address = proposed(flow, browserSecret)?.address;
      if (!address) throw new AppError('SSPR 5102', 'address to confirm cannot be opened', { continueTo: '/portal' });
      return { view: 'recovery-email-confirm', data: { masked: maskAddress(address), minutes: s.recoveryCodes.codeMinutes }, status: flow.error ? 400 : 200 };
    },
    're-done': async (_s, flow) => ({ view: 'recovery-email-saved', data: { removed: flow.form?.done === 'removed' } }),
  },
};
