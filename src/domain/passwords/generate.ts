// Temporary passwords for administrator resets and imports, in the format the account's
// population is configured for (passwordPolicy.temporaryPasswords), always free of
// look-alike characters (no 0/O, 1/l/I) and accepted by the account's own policy.
//   random  14+ characters from upper, lower, digits and a few symbols (staff)
//   words   capitalised short words joined by digits, e.g. "Tiger4Moon7Acorn2Pond":
//           readable and copyable from a slip by a Primary 1 child, at least 45 bits
//           (the word count follows from the size of config/temporary-password-words.txt).
//           Sized for what threatens it, not for a permanent password: it signs in only
//           for passwordPolicy.temporaryPasswordDays and once (a new password is chosen at
//           once), guesses online are throttled (lockout, spraying alarm), and it is stored
//           only as an argon2id hash; README "Temporary passwords" gives the arithmetic.
import { randomInt } from 'node:crypto';
import type { Account } from '../accounts/account.ts';
import type { PasswordPolicy } from './policy.ts';

export const TEMPORARY_PASSWORD_FORMATS = ['random', 'words'] as const;
export type TemporaryPasswordFormat = (typeof TEMPORARY_PASSWORD_FORMATS)[number];

/** Look-alike characters no temporary password contains. */
export const LOOK_ALIKES = /[0O1lI]/;

const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnpqrstuvwxyz';
const DIGITS = '23456789';
const SYMBOLS = '#%+=!-';

/** The entropy a random-format temporary password has at least (bits). */
export const MIN_TEMPORARY_BITS = 80;
/** The entropy a words-format temporary password has at least (bits): see the header. */
export const MIN_WORDS_TEMPORARY_BITS = 45;

function pick(alphabet: string): string {
  return alphabet[randomInt(alphabet.length)]!;
}

type Named = Pick<Account, 'loginId' | 'displayName' | 'givenName' | 'familyName'>;

export function temporaryPassword(policy: PasswordPolicy, account: Named): string {
  const make = policy.temporary.format === 'words' ? () => wordsCandidate(policy) : () => randomCandidate(policy);
  for (let attempt = 0; attempt < 100; attempt++) {
    const candidate = make();
    if (policy.checkShape(candidate, account).length === 0) return candidate;
  }
  throw new Error(`could not generate a ${policy.temporary.format} temporary password that satisfies the ${policy.population} policy`);
}

function randomCandidate(policy: PasswordPolicy): string {
  const length = Math.max(policy.rules.minLength, 14);
  const chars = [pick(UPPER), pick(LOWER), pick(DIGITS), pick(SYMBOLS)];
  const all = UPPER + LOWER + DIGITS + SYMBOLS;
  while (chars.length < length - 1) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return pick(UPPER + LOWER) + chars.join(''); // never a symbol first
}

/** The curated word list's text (config/temporary-password-words.txt: source, licence and rules in its header) as words. */
export function parseWordList(text: string): string[] {
  const words = [...new Set(text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')))];
  for (const w of words) {
    // Capitalised, a word must not begin with I or O; no l anywhere; letters only.
    if (!/^[a-hj-np-z][a-km-z]*$/.test(w)) throw new Error(`temporary password word "${w}" has a look-alike or non-letter character`);
  }
  return words;
}

/**
 * The shape of a words-format password for a list of `listSize` words: the fewest words
 * (joined by one digit of DIGITS each) that reach MIN_WORDS_TEMPORARY_BITS, and the bits.
 */
export function wordsShape(listSize: number): { words: number; digits: number; bits: number } {
  const wordBits = Math.log2(listSize);
  const digitBits = Math.log2(DIGITS.length);
  for (let words = 1; ; words++) {
    const bits = words * wordBits + (words - 1) * digitBits;
    if (bits >= MIN_WORDS_TEMPORARY_BITS) return { words, digits: words - 1, bits };
  }
}

function wordsCandidate(policy: PasswordPolicy): string {
  const list = policy.temporary.words;
  if (list.length < 2) throw new Error('no word list for words-format temporary passwords');
  const { words } = wordsShape(list.length);
  let out = '';
  for (let i = 0; i < words; i++) {
    const w = list[randomInt(list.length)]!;
    if (i > 0) out += pick(DIGITS);
    out += w[0]!.toUpperCase() + w.slice(1);
  }
  // Upper, lower and digits are three types; a policy that wants all four gets a symbol at the end.
  return policy.rules.minCharTypes >= 4 ? `${out}-` : out;
}
