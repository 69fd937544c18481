/** Challenge answers are compared after trim, case-fold and collapsing inner spaces. */
export function normaliseAnswer(raw: string): string {
  return raw.normalize('NFKC').trim().toLocaleLowerCase('en').replace(/\s+/gu, ' ');
}
