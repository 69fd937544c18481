// Forgotten Password: Username -> the account's challenge questions -> Change Password
// (or, for a locked account, "Unlock Password") -> sign in again.
//   step fp-username: POST /flow/:id/forgot/search    (Search)
//   step fp-answers:  POST /flow/:id/forgot/answers   (Check Answers)
//   step fp-locked:   POST /flow/:id/forgot/unlock    (Unlock Password)
//                     POST /flow/:id/forgot/change    (Change Password)
// No enumeration: an unknown login ID gets the same page with the same number of
// questions (chosen deterministically from the ID), answers that are always wrong, the
// same hashing work and the same throttling. SSPR 5006 for an account without
// questions is shown only when configuration allows revealing it.
import { createHmac, randomInt } from 'node:crypto';
import { normaliseAnswer } from '../../domain/accounts/answers.ts';
import { normaliseLoginId } from '../../domain/accounts/account.ts';
import { AppError } from '../../domain/errors.ts';
import { advance, currentFlow, expectStep, field, flowAccount, formBody, requestContext, showAgain, type FlowDeps } from '../engine.ts';
import type { Flow } from '../flow.ts';
import { pageData, type FlowModule } from '../steps.ts';

export const WRONG_ANSWERS = 'One or more responses are not correct. Please try again.';

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

async function questionTexts(deps: FlowDeps, flow: Flow): Promise<string[]> {
  const c = flow.candidate!;
  if (c.decoy) return c.questions.map((i) => deps.challenge.catalogue[i]!);
  const account = await deps.directory.get(c.accountId!);
  return c.questions.map((i) => account?.questions[i]?.question ?? '');
}

export const forgotPassword: FlowModule = {
  views: {
    'fp-username': async (deps, ctx, flow) => {
      await deps.render(ctx, 'forgot-username', { ...pageData(deps, flow), username: flow.form?.username ?? '' }, flow.error ? 400 : 200);
    },
    'fp-answers': async (deps, ctx, flow) => {
      await deps.render(ctx, 'forgot-answers', { ...pageData(deps, flow), questions: await questionTexts(deps, flow) }, flow.error ? 401 : 200);
    },
    'fp-locked': async (deps, ctx, flow) => {
      await deps.render(ctx, 'forgot-locked', pageData(deps, flow));
    },
    'fp-unlocked': async (deps, ctx, flow) => {
      await deps.render(ctx, 'forgot-unlocked', pageData(deps, flow));
    },
  },

  routes(router, deps) {
    router.post('/flow/:id/forgot/search', async (ctx) => {
      const flow = await currentFlow(deps, ctx);
      expectStep(flow, 'fp-username');
      const raw = field(formBody(ctx), 'username', 254).trim();
      const loginId = normaliseLoginId(raw);
      if (!loginId) {
        flow.error = 'Please enter your MIMS login ID (your email address).';
        flow.form = { username: raw };
        return showAgain(deps, ctx, flow);
      }
      const account = await deps.directory.findByLoginId(loginId);
      const usable = account && account.status === 'active' ? account : null;
      if (usable && usable.questions.length === 0 && deps.forgotPassword.revealNoQuestions) {
        await deps.flows.end(flow.id);
        throw new AppError('SSPR 5006', 'forgot password without questions', { continueTo: '/portal' });
      }
      const count = deps.forgotPassword.askCount ?? deps.challenge.setupCount;
      flow.candidate = usable && usable.questions.length > 0
        ? { loginId, accountId: usable.id, questions: askedQuestions(usable.questions.length, deps.forgotPassword.askCount), decoy: false }
        : { loginId, questions: decoyQuestions(deps.decoyKey, loginId, deps.challenge.catalogue.length, count), decoy: true };
      await deps.audit.record({ type: 'forgot.started', ...requestContext(ctx), accountId: flow.candidate.accountId, loginId: flow.candidate.accountId ? undefined : loginId });
      flow.step = 'fp-answers';
      await showAgain(deps, ctx, flow);
    });

    router.post('/flow/:id/forgot/answers', async (ctx) => {
      const flow = await currentFlow(deps, ctx);
      expectStep(flow, 'fp-answers');
      const c = flow.candidate;
      if (!c) throw new AppError('SSPR 5102', 'answers without a candidate');
      const body = formBody(ctx);
      const answers = c.questions.map((_, i) => normaliseAnswer(field(body, `a${i}`, deps.challenge.answerMaxLength * 4)));
      const rc = { ...requestContext(ctx), accountId: c.accountId, loginId: c.accountId ? undefined : c.loginId };
      const gate = await deps.answerLimiter.begin(c.loginId, ctx.ip);
      if (!gate.allowed) {
        await deps.audit.record({ type: 'forgot.throttled', ...rc, reason: gate.why });
        await deps.flows.end(flow.id);
        throw new AppError('SSPR 5112', `answer limit reached (${gate.why})`, { continueTo: '/portal' });
      }
      // Every answer is checked (no early exit), so right and wrong take the same time.
      let allRight = !c.decoy;
      const account = c.decoy ? null : await deps.directory.get(c.accountId!);
      for (const [i, answer] of answers.entries()) {
        const hash = account?.questions[c.questions[i]!]?.answerHash;
        const ok = hash && answer ? (await deps.hasher.verify(hash, answer)).ok : await deps.hasher.verifyDecoy(answer);
        allRight &&= ok;
      }
      if (!allRight || !account || account.status !== 'active') {
        await deps.answerLimiter.failed(ctx.ip);
        await deps.audit.record({ type: 'forgot.answers.failure', ...rc });
        if (gate.lastTry) await deps.audit.record({ type: 'forgot.throttled', ...rc, reason: 'limit reached' });
        flow.error = WRONG_ANSWERS;
        return showAgain(deps, ctx, flow);
      }
      await deps.answerLimiter.succeeded(c.loginId, ctx.ip);
      await deps.audit.record({ type: 'forgot.answers.success', ...rc });
      flow.accountId = account.id;
      delete flow.candidate;
      if ((await deps.credentials.lockedSince(account)) !== null) {
        flow.step = 'fp-locked';
        return showAgain(deps, ctx, flow);
      }
      flow.pending = ['change-password'];
      await advance(deps, ctx, flow);
    });

    router.post('/flow/:id/forgot/unlock', async (ctx) => {
      const flow = await currentFlow(deps, ctx);
      expectStep(flow, 'fp-locked');
      const account = await flowAccount(deps, flow);
      await deps.credentials.unlock(account, { actor: account.id, via: 'forgot-password', ...requestContext(ctx) });
      flow.step = 'fp-unlocked';
      await showAgain(deps, ctx, flow);
    });

    router.post('/flow/:id/forgot/change', async (ctx) => {
      const flow = await currentFlow(deps, ctx);
      expectStep(flow, 'fp-locked');
      flow.pending = ['change-password'];
      await advance(deps, ctx, flow);
    });
  },
};
