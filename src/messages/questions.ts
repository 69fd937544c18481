// The challenge questions are stored on accounts by their English text (config
// challenge.catalogue): that stays the stored form. Each known question has a stable
// message id, so it is shown in the reader's language; a question an operator added to
// the config without an id is shown as configured. Answers are compared after the
// language-neutral normalisation of domain/accounts/answers.ts, whatever the script.
import type { MessageId, Translate } from './catalogue.ts';

export const QUESTION_IDS: Record<string, MessageId> = {
  'What is your favourite animal?': 'question.animal',
  'What is your favourite colour?': 'question.colour',
  'What is your favourite sport or hobby?': 'question.sport',
  'What is your favourite food?': 'question.food',
  'What is your favourite cartoon hero/pop group?': 'question.hero',
  'What is your favourite toy?': 'question.toy',
  'What is your favourite movie?': 'question.movie',
  'What is your favourite book?': 'question.book',
};

/** A stored (English) question in the reader's language. */
export function questionText(t: Translate, stored: string): string {
  const id = QUESTION_IDS[stored];
  return id ? t(id) : stored;
}
