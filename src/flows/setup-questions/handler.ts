// Setup Security Questions, then Confirm Security Questions, then Success.
//   step questions:          POST /flow/:id/questions          (Save Answers)
//   step questions-confirm:  POST /flow/:id/questions/back     (Go Back, fields kept)
//                            POST /flow/:id/questions/confirm  (Confirm Security Answers)
//   step questions-done:     POST /flow/:id/continue           (Continue; see router.ts)
// Answers between the steps are sealed to this browser; the account keeps only hashes.
import { checkAnswers, hashAnswers, type ProposedAnswer } from '../../domain/accounts/challenge.ts';
import { AppError } from '../../domain/errors.ts';
import { currentFlow, expectStep, field, flowAccount, formBody, requestContext, showAgain } from '../engine.ts';
import { seal, unseal } from '../sealed.ts';
import { pageData, type FlowModule } from '../steps.ts';

export const setupQuestions: FlowModule = {
  views: {
    questions: async (deps, ctx, flow) => {
      const saved = unseal<ProposedAnswer[]>(flow.sealed, deps.browserSecret(ctx), flow.id) ?? [];
      const rows = Array.from({ length: deps.challenge.setupCount }, (_, i) => ({
        question: saved[i]?.question ?? '',
        answer: saved[i]?.answer ?? '',
        questionError: flow.fieldErrors?.[`q${i}`],
        answerError: flow.fieldErrors?.[`a${i}`],
      }));
      await deps.render(ctx, 'setup-questions', { ...pageData(deps, flow), catalogue: deps.challenge.catalogue, rows }, flow.fieldErrors ? 400 : 200);
    },
    'questions-confirm': async (deps, ctx, flow) => {
      const saved = unseal<ProposedAnswer[]>(flow.sealed, deps.browserSecret(ctx), flow.id);
      if (!saved) throw new AppError('SSPR 5102', 'answers to confirm cannot be opened', { continueTo: '/portal' });
      const rows = saved.map((p) => ({ question: deps.challenge.catalogue[Number(p.question)], answer: p.answer }));
      await deps.render(ctx, 'confirm-questions', { ...pageData(deps, flow), rows });
    },
    'questions-done': async (deps, ctx, flow) => {
      await deps.render(ctx, 'questions-saved', pageData(deps, flow));
    },
  },

  routes(router, deps) {
    router.post('/flow/:id/questions', async (ctx) => {
      const flow = await currentFlow(deps, ctx);
      expectStep(flow, 'questions');
      const account = await flowAccount(deps, flow);
      const body = formBody(ctx);
      const proposed: ProposedAnswer[] = Array.from({ length: deps.challenge.setupCount }, (_, i) => ({
        question: field(body, `q${i}`, 4),
        answer: field(body, `a${i}`, deps.challenge.answerMaxLength * 4),
      }));
      const violations = await checkAnswers(proposed, deps.challenge, (answer) => deps.credentials.matchesPassword(account, answer));
      flow.sealed = seal(proposed, deps.browserSecret(ctx), flow.id);
      if (violations.length > 0) {
        flow.fieldErrors = {};
        for (const v of violations) flow.fieldErrors[`${v.field === 'question' ? 'q' : 'a'}${v.index}`] ??= v.message;
        return showAgain(deps, ctx, flow);
      }
      delete flow.fieldErrors;
      flow.step = 'questions-confirm';
      await showAgain(deps, ctx, flow);
    });

    router.post('/flow/:id/questions/back', async (ctx) => {
      const flow = await currentFlow(deps, ctx);
      expectStep(flow, 'questions-confirm');
      flow.step = 'questions';
      await showAgain(deps, ctx, flow);
    });

    router.post('/flow/:id/questions/confirm', async (ctx) => {
      const flow = await currentFlow(deps, ctx);
      expectStep(flow, 'questions-confirm');
      const account = await flowAccount(deps, flow);
      const proposed = unseal<ProposedAnswer[]>(flow.sealed, deps.browserSecret(ctx), flow.id);
      if (!proposed) throw new AppError('SSPR 5102', 'answers to confirm cannot be opened');
      // Checked again: the rules are the server's, whatever happened in between.
      const violations = await checkAnswers(proposed, deps.challenge, (answer) => deps.credentials.matchesPassword(account, answer));
      if (violations.length > 0) throw new AppError('SSPR 5102', 'confirmed answers no longer valid');
      const hashed = await hashAnswers(proposed, deps.challenge, deps.credentials.hasher);
      await deps.credentials.setQuestions(account.id, hashed, { actor: account.id, via: flow.kind, ...requestContext(ctx) });
      delete flow.sealed;
      flow.step = 'questions-done';
      await showAgain(deps, ctx, flow);
    });
  },
};
