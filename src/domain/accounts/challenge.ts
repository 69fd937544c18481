// Challenge questions: the catalogue, the rules for a set of answers, and checking
// answers. Answers are normalised (trim, case-fold, collapse inner spaces) and kept only
// as argon2id hashes.
import { normaliseAnswer } from './answers.ts';
import { hasInvisibleCharacters } from '../text.ts';
import type { ChallengeAnswer } from './account.ts';
import type { SecretHasher } from './passwords.ts';
import { message, type Message, type MessageParams } from '../../messages/catalogue.ts';

export interface ChallengeSettings {
  catalogue: string[];
  setupCount: number;
  answerMinLength: number;
  answerMaxLength: number;
}

export interface ProposedAnswer {
  /** Index into the catalogue, as posted by the form (validated here). */
  question: string;
  answer: string;
}

export type AnswerRuleCode =
  | 'QST_REQUIRED'
  | 'QST_UNKNOWN'
  | 'QST_DUPLICATE'
  | 'ANS_REQUIRED'
  | 'ANS_LENGTH'
  | 'ANS_DUPLICATE'
  | 'ANS_QUESTION_WORDS'
  | 'ANS_PASSWORD'
  | 'ANS_INVISIBLE';

export interface AnswerViolation {
  /** Which row (0-based) the message belongs next to. */
  index: number;
  field: 'question' | 'answer';
  code: AnswerRuleCode;
  /** What was broken (catalogue `answers.<code>`). */
  message: Message;
}

function violation(index: number, field: 'question' | 'answer', code: AnswerRuleCode, params?: MessageParams): AnswerViolation {
  return { index, field, code, message: message(`answers.${code}`, params) };
}

function words(text: string): string[] {
  return normaliseAnswer(text).split(/[^\p{L}\p{N}]+/u).filter((w) => [...w].length >= 3);
}

/**
 * Checks a set of proposed answers. `matchesPassword` tells whether an answer equals
 * the account's password (checked against its hash: the password itself is not kept).
 */
export async function checkAnswers(
  proposed: ProposedAnswer[],
  settings: ChallengeSettings,
  matchesPassword: (answer: string) => Promise<boolean>,
): Promise<AnswerViolation[]> {
  const out: AnswerViolation[] = [];
  const seenQuestions = new Map<string, number>();
  const seenAnswers = new Map<string, number>();
  for (let i = 0; i < settings.setupCount; i++) {
    const row = proposed[i] ?? { question: '', answer: '' };
    let questionText: string | undefined;
    if (!row.question) {
      out.push(violation(i, 'question', 'QST_REQUIRED'));
    } else if (!/^\d+$/.test(row.question) || (questionText = settings.catalogue[Number(row.question)]) === undefined) {
      out.push(violation(i, 'question', 'QST_UNKNOWN'));
    } else if (seenQuestions.has(row.question)) {
      out.push(violation(i, 'question', 'QST_DUPLICATE', { count: settings.setupCount }));
    } else {
      seenQuestions.set(row.question, i);
    }

    if (hasInvisibleCharacters(row.answer)) {
      out.push(violation(i, 'answer', 'ANS_INVISIBLE'));
      continue;
    }
    const answer = normaliseAnswer(row.answer);
    const length = [...answer].length;
    if (length === 0) {
      out.push(violation(i, 'answer', 'ANS_REQUIRED'));
      continue;
    }
    if (length < settings.answerMinLength || length > settings.answerMaxLength) {
      out.push(violation(i, 'answer', 'ANS_LENGTH', { min: settings.answerMinLength, max: settings.answerMaxLength }));
      continue;
    }
    if (seenAnswers.has(answer)) {
      out.push(violation(i, 'answer', 'ANS_DUPLICATE'));
      continue;
    }
    seenAnswers.set(answer, i);
    if (questionText) {
      const own = new Set(words(questionText));
      if (words(answer).some((w) => own.has(w))) {
        out.push(violation(i, 'answer', 'ANS_QUESTION_WORDS'));
        continue;
      }
    }
    if (await matchesPassword(row.answer.trim())) {
      out.push(violation(i, 'answer', 'ANS_PASSWORD'));
    }
  }
  return out;
}

export async function hashAnswers(proposed: ProposedAnswer[], settings: ChallengeSettings, hasher: SecretHasher): Promise<ChallengeAnswer[]> {
  return Promise.all(
    proposed.slice(0, settings.setupCount).map(async (p) => ({
      question: settings.catalogue[Number(p.question)]!,
      answerHash: await hasher.hash(normaliseAnswer(p.answer)),
    })),
  );
}
