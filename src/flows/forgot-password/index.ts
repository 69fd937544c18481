// Forgotten Password: Username -> the account's challenge questions -> Change Password (or,
// for a locked account, "Unlock Password") -> sign in again.
//
//   step         action (POST /flow/:id/…)   leads to
//   fp-username  forgot/search               fp-username   (no login ID typed)
//                                            fp-answers    (a known account, or a decoy for an unknown one)
//                                            end           (SSPR 5006: no questions, when configuration reveals it)
//   fp-answers   forgot/answers              fp-answers    (a wrong answer: one message for all)
//                                            fp-locked     (right, and the account is locked)
//                                            next          (right: change-password)
//                                            end           (SSPR 5112: too many wrong answers)
//                forgot/send-code            fp-code       (a code to the recovery email on file; see below)
//                                            fp-answers    (too many codes asked for: said on the page)
//   fp-code      forgot/code                 fp-code       (a wrong, used or expired code: one message for all)
//                                            fp-locked     (right, and the account is locked)
//                                            next          (right: change-password)
//                                            end           (SSPR 5112: too many wrong answers or codes)
//                forgot/send-code            fp-code       (a new code; the previous one stops working)
//                forgot/questions            fp-answers
//   fp-locked    forgot/unlock               fp-unlocked   (unlocked, same password)
//                forgot/change               next          (change-password instead)
//   fp-unlocked  continue                    next
//   …then the steps of change-password (actions/).
//   finish and cancel: a new sign-in flow for the same destination.
//
// No enumeration: an unknown login ID gets the same page with the same number of questions
// (chosen deterministically from the ID), answers that are always wrong, the same hashing
// work and the same throttling.
// The recovery email: the answers page offers "Send a code to j***@gmail.com" for every
// login ID. An account with an address shows its own, masked; an unknown login ID and an
// account without one show a placeholder drawn from the login ID (the same every time, as a
// real one is), get the same "if this is the address…" page, and codes that are never right,
// counted in the same throttles (README "Recovery email"). Nothing is sent for them.
// A right code leads where right answers do (Change Password, or Unlock for a locked account).
import { createHmac, randomInt } from 'node:crypto';
import { normaliseLoginId } from '../../domain/accounts/account.ts';
import { normaliseAnswer } from '../../domain/accounts/answers.ts';
import { AppError } from '../../domain/errors.ts';
import { decoyMask, maskAddress } from '../../domain/recovery/recovery-email.ts';
import { message } from '../../messages/catalogue.ts';
import { changePassword } from '../actions/change-password/index.ts';
import type { Flow } from '../flow.ts';
import { EndFlow, field, flowAccount, requestOf, type FlowKindSpec, type FlowServices, type StepInput, type Target } from '../machine.ts';

/** `count` distinct indexes below `size`, the same every time for the same login ID. */
export function decoyQuestions(key: string, loginId: string, size: number, count: number): number[] {
  const picked: number[] = [];
  for (let i = 0; picked.length < Math.min(count, size); i++) {
    const n = createHmac('sha256', key).update(`decoy:${loginId}:${i}`).digest().readUInt32BE(0) % size;
    if (!picked.includes(n)) picked.push(n);
  }
  return picked;
}

/** All of the account's questions, or a random subset of `askCount` in their order. */
function askedQuestions(total: number, askCount: number | null): number[] {
  const all = Array.from({ length: total }, (_, i) => i);
  if (askCount === null || askCount >= total) return all;
  const chosen = new Set<number>();
  while (chosen.size < askCount) chosen.add(randomInt(total));
  return all.filter((i) => chosen.has(i));
}

async function questionTexts(s: FlowServices, flow: Flow): Promise<string[]> {
  const c = flow.candidate!;
  if (c.decoy) return c.questions.map((i) => s.challenge.catalogue[i]!);
  const account = await s.directory.get(c.accountId!);
  return c.questions.map((i) => account?.questions[i]?.question ?? '');
}

/**
 * The address a code goes to (null: none on file, or an unknown login ID) and what the page
 * shows for it: the account's own, masked, or the login ID's placeholder.
 */
async function emailTarget(s: FlowServices, flow: Flow): Promise<{ address: string | null; masked: string } | null> {
  const c = flow.candidate!;
  // Shown for every login ID as soon as any population is offered a recovery email: were it
  // shown by the account's population, a known login ID of a population without the offer
  // would stand out from unknown ones.
  const { offer } = s.recoveryEmails.settings;
  if (!s.recoveryEmails.available || !(offer.students || offer.staff)) return null;
  // A decoy reads an account too (none): the same round trips as a known login ID.
  const account = c.decoy ? await s.directory.getNothing() : await s.directory.get(c.accountId!);
  const address = account?.status === 'active' && s.recoveryEmails.offered(account) ? s.recoveryEmails.addressOf(account) : null;
  return { address, masked: address ? maskAddress(address) : decoyMask(s.decoyKey, c.loginId) };
}

/** "Send a code": a code to the address on file, if there is one (nothing for the rest, with the same answer). */
async function sendResetCode(s: FlowServices, flow: Flow, input: StepInput, stay: 'fp-answers' | 'fp-code'): Promise<Target> {
  const c = flow.candidate;
  if (!c) throw new AppError('SSPR 5102', 'send code without a candidate');
  const target = await emailTarget(s, flow);
  if (!target) throw new AppError('SSPR 5102', 'no recovery email option here');
  const rc = { ...requestOf(input), accountId: c.accountId, loginId: c.accountId ? undefined : c.loginId };
  // No code is mailed that could not be used: while answers (and codes) are refused here, say so now.
  const blocked = await s.answerLimiter.blocked(c.loginId, input.ip ?? 'unknown');
  if (blocked) {
    await s.audit.record({ type: 'forgot.throttled', ...rc, reason: `${blocked} (code not sent)` });
    throw new EndFlow(new AppError('SSPR 5112', `answer limit reached (${blocked}); no code sent`, { continueTo: '/portal', params: { minutes: s.forgotPassword.windowMinutes ?? 0 } }));
  }
  if (!(await s.recoveryCodes.maySend('reset', c.loginId, input.ip ?? 'unknown'))) {
    await s.audit.record({ type: 'recovery_email.code.refused', ...rc, reason: 'too many codes asked for' });
    flow.error = message('recovery.send_throttled');
    return stay;
  }
  if (target.address && c.accountId) {
    const code = await s.recoveryCodes.issue('reset', c.accountId, { flowId: flow.id, address: target.address });
    s.recoveryEmails.notify(target.address, 'reset-code', input.lang ?? 'en', { code, minutes: s.recoveryCodes.codeMinutes });
    await s.audit.record({ type: 'recovery_email.code.sent', ...rc, reason: `reset ${target.masked}` });
  } else {
    // The same round trip to the store as issuing a code, so that the answer takes as long.
    await s.recoveryCodes.issueNothing();
    await s.audit.record({ type: 'recovery_email.code.refused', ...rc, reason: 'no recovery email on file: nothing sent' });
  }
  if (stay === 'fp-code') flow.notice = message('recovery.code_resent');
  return 'fp-code';
}

/** The candidate proved who they are (right answers, or a right code): where they go next. */
async function proven(s: FlowServices, flow: Flow, accountId: string): Promise<Target> {
  const account = await s.directory.get(accountId);
  if (!account || account.status !== 'active') throw new AppError('SSPR 5110', 'account missing or disabled during a flow', { continueTo: '/portal' });
  flow.accountId = account.id;
  delete flow.candidate;
  if ((await s.credentials.lockedSince(account)) !== null) return 'fp-locked';
  flow.pending = ['change-password'];
  return 'next';
}

export const forgotPassword: FlowKindSpec = {
  kind: 'forgot-password',
  table: {
    'fp-username': {
      'forgot/search': {
        to: ['fp-username', 'fp-answers', 'end'],
        run: async (s, flow, input) => {
          const raw = field(input.fields, 'username', 254).trim();
          const loginId = normaliseLoginId(raw);
          if (!loginId) {
            // Not a login ID (perhaps a password typed in the wrong box): not kept, not shown again.
            flow.error = message('forgot.missing_login_id');
            return 'fp-username';
          }
          const account = await s.directory.findByLoginId(loginId);
          const usable = account && account.status === 'active' ? account : null;
          if (usable && usable.questions.length === 0 && s.forgotPassword.revealNoQuestions) {
            throw new EndFlow(new AppError('SSPR 5006', 'forgot password without questions', { continueTo: '/portal' }));
          }
          const count = s.forgotPassword.askCount ?? s.challenge.setupCount;
          flow.candidate = usable && usable.questions.length > 0
            ? { loginId, accountId: usable.id, questions: askedQuestions(usable.questions.length, s.forgotPassword.askCount), decoy: false }
            : { loginId, questions: decoyQuestions(s.decoyKey, loginId, s.challenge.catalogue.length, count), decoy: true };
          await s.audit.record({ type: 'forgot.started', ...requestOf(input), accountId: flow.candidate.accountId, loginId: flow.candidate.accountId ? undefined : loginId });
          return 'fp-answers';
        },
      },
    },
    'fp-answers': {
      'forgot/answers': {
        to: ['fp-answers', 'fp-locked', 'next', 'end'],
        run: async (s, flow, input) => {
          const c = flow.candidate;
          if (!c) throw new AppError('SSPR 5102', 'answers without a candidate');
          const answers = c.questions.map((_, i) => normaliseAnswer(field(input.fields, `a${i}`, s.challenge.answerMaxLength * 4)));
          const ip = input.ip ?? 'unknown';
          const rc = { ...requestOf(input), accountId: c.accountId, loginId: c.accountId ? undefined : c.loginId };
          const gate = await s.answerLimiter.begin(c.loginId, ip);
          if (!gate.allowed) {
            await s.audit.record({ type: 'forgot.throttled', ...rc, reason: gate.why });
            throw new EndFlow(new AppError('SSPR 5112', `answer limit reached (${gate.why})`, { continueTo: '/portal', params: { minutes: s.forgotPassword.windowMinutes ?? 0 } }));
          }
          // Every answer is checked (no early exit), so right and wrong take the same time.
          let allRight = !c.decoy;
          // A decoy reads an account too (none): the same round trips as a known login ID.
          const account = c.decoy ? await s.directory.getNothing() : await s.directory.get(c.accountId!);
          for (const [i, answer] of answers.entries()) {
            const hash = account?.questions[c.questions[i]!]?.answerHash;
            const ok = hash && answer ? (await s.hasher.verify(hash, answer)).ok : await s.hasher.verifyDecoy(answer);
            allRight &&= ok;
          }
          if (!allRight || !account || account.status !== 'active') {
            await s.answerLimiter.failed(ip);
            await s.audit.record({ type: 'forgot.answers.failure', ...rc });
            if (gate.lastTry) await s.audit.record({ type: 'forgot.throttled', ...rc, reason: 'limit reached' });
            flow.error = message('forgot.wrong_answers');
            return 'fp-answers';
          }
          await s.answerLimiter.succeeded(c.loginId, ip);
          await s.audit.record({ type: 'forgot.answers.success', ...rc });
          return proven(s, flow, account.id);
        },
      },
      'forgot/send-code': { to: ['fp-code', 'fp-answers', 'end'], run: (s, flow, input) => sendResetCode(s, flow, input, 'fp-answers') },
    },
    'fp-code': {
      'forgot/code': {
        to: ['fp-code', 'fp-locked', 'next', 'end'],
        run: async (s, flow, input) => {
          const c = flow.candidate;
          if (!c) throw new AppError('SSPR 5102', 'code without a candidate');
          const typed = field(input.fields, 'code', 32);
          const ip = input.ip ?? 'unknown';
          const rc = { ...requestOf(input), accountId: c.accountId, loginId: c.accountId ? undefined : c.loginId };
          // Counted as a wrong answer set is, in the same counters (one budget of guesses per account).
          const gate = await s.answerLimiter.begin(c.loginId, ip);
          if (!gate.allowed) {
            await s.audit.record({ type: 'forgot.throttled', ...rc, reason: `${gate.why} (codes)` });
            throw new EndFlow(new AppError('SSPR 5112', `answer limit reached (${gate.why})`, { continueTo: '/portal', params: { minutes: s.forgotPassword.windowMinutes ?? 0 } }));
          }
          const target = await emailTarget(s, flow);
          const address = target?.address ?? '';
          const result = await s.recoveryCodes.check('reset', target?.address ? c.accountId! : null, { flowId: flow.id, address }, typed);
          if (result !== 'ok') {
            await s.answerLimiter.failed(ip);
            await s.audit.record({ type: 'recovery_email.code.refused', ...rc, reason: `reset ${result === 'none' ? 'no live code (expired, used or never sent)' : 'wrong code'}` });
            if (gate.lastTry) await s.audit.record({ type: 'forgot.throttled', ...rc, reason: 'limit reached' });
            flow.error = message('recovery.code_wrong');
            return 'fp-code';
          }
          await s.answerLimiter.succeeded(c.loginId, ip);
          await s.audit.record({ type: 'recovery_email.code.used', ...rc, reason: `reset ${target!.masked}` });
          s.recoveryEmails.notify(address, 'code-used', input.lang ?? 'en', {});
          return proven(s, flow, c.accountId!);
        },
      },
      'forgot/send-code': { to: ['fp-code', 'end'], run: (s, flow, input) => sendResetCode(s, flow, input, 'fp-code') },
      'forgot/questions': { to: ['fp-answers'], run: async () => 'fp-answers' },
    },
    'fp-locked': {
      'forgot/unlock': {
        to: ['fp-unlocked'],
        run: async (s, flow, input) => {
          const account = await flowAccount(s, flow);
          await s.credentials.unlock(account, { actor: account.id, via: 'forgot-password', ...requestOf(input) });
          return 'fp-unlocked';
        },
      },
      'forgot/change': {
        to: ['next'],
        run: async (_s, flow) => {
          flow.pending = ['change-password'];
          return 'next';
        },
      },
    },
    'fp-unlocked': {
      continue: { to: ['next'], run: async () => 'next' },
    },
  },
  pages: {
    'fp-username': async (_s, flow) => ({ view: 'forgot-username', data: { username: flow.form?.username ?? '' }, status: flow.error ? 400 : 200 }),
    'fp-answers': async (s, flow) => ({
      view: 'forgot-answers',
      data: { questions: await questionTexts(s, flow), emailOption: (await emailTarget(s, flow))?.masked ?? null },
      status: flow.error ? (flow.error.id === 'recovery.send_throttled' ? 429 : 401) : 200,
    }),
    'fp-code': async (s, flow) => ({
      view: 'forgot-code',
      data: { masked: (await emailTarget(s, flow))?.masked ?? '', minutes: s.recoveryCodes.codeMinutes },
      status: flow.error ? (flow.error.id === 'recovery.send_throttled' ? 429 : 401) : 200,
    }),
    'fp-locked': async () => ({ view: 'forgot-locked', data: {} }),
    'fp-unlocked': async () => ({ view: 'forgot-unlocked', data: {} }),
  },
  actions: [changePassword],
  finish: 'sign-in-again',
  cancel: 'sign-in-again',
};
