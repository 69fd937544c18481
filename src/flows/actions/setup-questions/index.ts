// Required action "setup-questions": Setup Security Questions, then Confirm Security
// Questions, then Success.
//
//   step               action (POST /flow/:id/…)   leads to
//   questions          questions                   questions          (a rule is broken: messages per field)
//                                                  questions-confirm
//   questions-confirm  questions/back              questions          (Go Back: the fields are kept)
//                      questions/confirm           questions-done     (the hashes are saved to the account)
//   questions-done     continue                    next               (at first sign-in, the recovery email's offer when settings
//                                                                      make one; then the next required action, or the flow's finish)
//
// Answers between the steps are sealed to this browser; the account keeps only hashes.
import { checkAnswers, hashAnswers, type ProposedAnswer } from '../../../domain/accounts/challenge.ts';
import { AppError } from '../../../domain/errors.ts';
import type { Message } from '../../../messages/catalogue.ts';
import { field, flowAccount, requestOf, type RequiredActionSpec } from '../../machine.ts';
import { seal, unseal } from '../../sealed.ts';

export const setupQuestions: RequiredActionSpec = {
  action: 'setup-questions',
  entry: 'questions',
  table: {
    questions: {
      questions: {
        to: ['questions', 'questions-confirm'],
        run: async (s, flow, input) => {
          const account = await flowAccount(s, flow);
          const proposed: ProposedAnswer[] = Array.from({ length: s.challenge.setupCount }, (_, i) => ({
            question: field(input.fields, `q${i}`, 4),
            answer: field(input.fields, `a${i}`, s.challenge.answerMaxLength * 4),
          }));
          const violations = await checkAnswers(proposed, s.challenge, (answer) => s.credentials.matchesPassword(account, answer));
          flow.sealed = seal(proposed, input.browserSecret, flow.id);
          if (violations.length === 0) return 'questions-confirm';
          const errors: Record<string, Message> = {};
          for (const v of violations) errors[`${v.field === 'question' ? 'q' : 'a'}${v.index}`] ??= v.message;
          flow.fieldErrors = errors;
          return 'questions';
        },
      },
    },
    'questions-confirm': {
      'questions/back': { to: ['questions'], run: async () => 'questions' },
      'questions/confirm': {
        to: ['questions-done'],
        run: async (s, flow, input) => {
          const account = await flowAccount(s, flow);
          const proposed = unseal<ProposedAnswer[]>(flow.sealed, input.browserSecret, flow.id);
          if (!proposed) throw new AppError('SSPR 5102', 'answers to confirm cannot be opened');
          // Checked again: the rules are the server's, whatever happened in between.
          const violations = await checkAnswers(proposed, s.challenge, (answer) => s.credentials.matchesPassword(account, answer));
          if (violations.length > 0) throw new AppError('SSPR 5102', 'confirmed answers no longer valid');
          const hashed = await hashAnswers(proposed, s.challenge, s.credentials.hasher);
          await s.credentials.setQuestions(account.id, hashed, { actor: account.id, via: flow.kind, ...requestOf(input) });
          delete flow.sealed;
          return 'questions-done';
        },
      },
    },
    'questions-done': {
      continue: {
        to: ['next'],
        run: async (s, flow) => {
          flow.pending = flow.pending.filter((a) => a !== 'setup-questions');
          // First sign-in (the questions were due): the recovery email is offered next, to the populations settings name.
          if (flow.kind === 'sign-in' || flow.kind === 'required-actions') {
            const account = await flowAccount(s, flow);
            if (!account.recoveryEmail && s.recoveryEmails.offered(account) && !flow.pending.includes('recovery-email')) flow.pending.unshift('recovery-email');
          }
          return 'next';
        },
      },
    },
  },
  pages: {
    questions: async (s, flow, browserSecret) => {
      const saved = unseal<ProposedAnswer[]>(flow.sealed, browserSecret, flow.id) ?? [];
      const rows = Array.from({ length: s.challenge.setupCount }, (_, i) => ({
        question: saved[i]?.question ?? '',
        answer: saved[i]?.answer ?? '',
        questionError: flow.fieldErrors?.[`q${i}`],
        answerError: flow.fieldErrors?.[`a${i}`],
      }));
      return { view: 'setup-questions', data: { catalogue: s.challenge.catalogue, rows, fieldErrors: flow.fieldErrors ?? {} }, status: flow.fieldErrors ? 400 : 200 };
    },
    'questions-confirm': async (s, flow, browserSecret) => {
      const saved = unseal<ProposedAnswer[]>(flow.sealed, browserSecret, flow.id);
      if (!saved) throw new AppError('SSPR 5102', 'answers to confirm cannot be opened', { continueTo: '/portal' });
      return { view: 'confirm-questions', data: { rows: saved.map((p) => ({ question: s.challenge.catalogue[Number(p.question)], answer: p.answer })) } };
    },
    'questions-done': async () => ({ view: 'questions-saved', data: {} }),
  },
};
