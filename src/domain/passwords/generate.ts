// Temporary passwords for administrator resets and imports: random, free of look-alike
// characters, and accepted by the account's own policy.
import { randomInt } from 'node:crypto';
import type { Account } from '../accounts/account.ts';
import type { PasswordPolicy } from './policy.ts';

const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnpqrstuvwxyz';
const DIGITS = '23456789';
const SYMBOLS = '#%+=!-';

function pick(alphabet: string): string {
  return alphabet[randomInt(alphabet.length)]!;
}

export function temporaryPassword(policy: PasswordPolicy, account: Pick<Account, 'loginId' | 'displayName' | 'givenName' | 'familyName'>): string {
  const length = Math.max(policy.rules.minLength, 14);
  for (let attempt = 0; attempt < 100; attempt++) {
    const chars = [pick(UPPER), pick(LOWER), pick(DIGITS), pick(SYMBOLS)];
    const all = UPPER + LOWER + DIGITS + SYMBOLS;
    while (chars.length < length - 1) chars.push(pick(all));
    for (let i = chars.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [chars[i], chars[j]] = [chars[j]!, chars[i]!];
    }
    const candidate = pick(UPPER + LOWER) + chars.join(''); // never a symbol first
    if (policy.checkShape(candidate, account).length === 0) return candidate;
  }
  throw new Error('could not generate a temporary password that satisfies the policy');
}
