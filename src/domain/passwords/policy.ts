// The password policy engine. One rule per unit, each with a stable code and the words
// of the guides. Rules are configured per population (students, school staff, HQ staff),
// chosen from the login ID's domain or the account's roles. The server is the authority:
// the browser's live checklist only mirrors these rules.
import type { Account } from '../accounts/account.ts';

export interface PasswordRules {
  minLength: number;
  maxLength: number;
  firstCharNotSymbol: boolean;
  minCharTypes: number;
  noNameParts: boolean;
  namePartMinLength: number;
  historyLength: number;
  refuseCommon: boolean;
  maxAgeDays: number | null;
}

export interface Population {
  name: string;
  loginIdDomains: string[];
  roles: string[];
  rules: Partial<PasswordRules>;
}

export type RuleCode =
  | 'PWD_CASE'
  | 'PWD_MIN_LENGTH'
  | 'PWD_MAX_LENGTH'
  | 'PWD_FIRST_CHAR'
  | 'PWD_CHAR_TYPES'
  | 'PWD_NAME_PART'
  | 'PWD_COMMON'
  | 'PWD_SAME_AS_CURRENT'
  | 'PWD_HISTORY';

export interface Requirement {
  code: RuleCode;
  text: string;
  /** Checked in the browser as the user types (history and current need the server). */
  live: boolean;
}

export interface Violation {
  code: RuleCode;
  message: string;
}

/** What the rule checks that the server alone can answer: hashes of earlier passwords. */
export interface PasswordHistoryCheck {
  isCurrent(candidate: string): Promise<boolean>;
  /** True when the candidate matches one of the `depth` most recent earlier passwords (the current one not counted). */
  inHistory(candidate: string, depth: number): Promise<boolean>;
}

const SYMBOL = /[^\p{L}\p{N}]/u;

export function charTypes(password: string): number {
  let n = 0;
  if (/\p{Lu}/u.test(password)) n++;
  if (/\p{Ll}/u.test(password)) n++;
  if (/\p{N}/u.test(password)) n++;
  if (SYMBOL.test(password)) n++;
  return n;
}

/** Parts of the name and login ID that a password may not contain (lower-cased). */
export function nameParts(account: Pick<Account, 'loginId' | 'displayName' | 'givenName' | 'familyName'>, minLength: number): string[] {
  const local = account.loginId.split('@')[0] ?? '';
  const text = [local, account.displayName, account.givenName, account.familyName].join(' ');
  const parts = text.toLocaleLowerCase('en').split(/[^\p{L}\p{N}]+/u).filter((p) => [...p].length >= minLength);
  if ([...local].length >= minLength) parts.push(local.toLocaleLowerCase('en'));
  return [...new Set(parts)];
}

export class PasswordPolicy {
  readonly rules: PasswordRules;
  readonly population: string;
  readonly #common: ReadonlySet<string>;

  constructor(rules: PasswordRules, population: string, common: ReadonlySet<string>) {
    this.rules = rules;
    this.population = population;
    this.#common = common;
  }

  /** The requirement list shown on the Change Password screen, in the guides' words. */
  requirements(): Requirement[] {
    const r = this.rules;
    const list: Requirement[] = [
      { code: 'PWD_CASE', text: 'Password is case sensitive.', live: false },
      { code: 'PWD_MIN_LENGTH', text: `Must be at least ${r.minLength} characters long.`, live: true },
    ];
    if (r.firstCharNotSymbol) list.push({ code: 'PWD_FIRST_CHAR', text: 'The first character can not be a symbol (non letter or number).', live: true });
    if (r.noNameParts) list.push({ code: 'PWD_NAME_PART', text: 'Must not include part of your name or user name.', live: true });
    if (r.minCharTypes > 0) {
      list.push({ code: 'PWD_CHAR_TYPES', text: `Must have at least ${numberWord(r.minCharTypes)} types of the following characters: Uppercase (A-Z), Lowercase (a-z), Number (0-9), Symbol (!, #, $, etc.)`, live: true });
    }
    list.push({ code: 'PWD_MAX_LENGTH', text: `Must be at most ${r.maxLength} characters long.`, live: true });
    if (r.historyLength > 0) list.push({ code: 'PWD_HISTORY', text: `New password must not have been used previously (last ${r.historyLength}).`, live: false });
    if (r.refuseCommon) list.push({ code: 'PWD_COMMON', text: 'Must not be a commonly used password.', live: false });
    return list;
  }

  /** Rules that need only the candidate and the account (no secrets). */
  checkShape(candidate: string, account: Pick<Account, 'loginId' | 'displayName' | 'givenName' | 'familyName'>): Violation[] {
    const r = this.rules;
    const out: Violation[] = [];
    const length = [...candidate].length;
    if (length < r.minLength) out.push({ code: 'PWD_MIN_LENGTH', message: `Must be at least ${r.minLength} characters long.` });
    if (length > r.maxLength) out.push({ code: 'PWD_MAX_LENGTH', message: `Must be at most ${r.maxLength} characters long.` });
    if (r.firstCharNotSymbol && length > 0 && SYMBOL.test([...candidate][0]!)) {
      out.push({ code: 'PWD_FIRST_CHAR', message: 'The first character can not be a symbol (non letter or number).' });
    }
    if (charTypes(candidate) < r.minCharTypes) {
      out.push({ code: 'PWD_CHAR_TYPES', message: `Must have at least ${numberWord(r.minCharTypes)} types of the following characters: uppercase, lowercase, number, symbol.` });
    }
    if (r.noNameParts) {
      const lower = candidate.toLocaleLowerCase('en');
      const found = nameParts(account, r.namePartMinLength).find((p) => lower.includes(p));
      if (found) out.push({ code: 'PWD_NAME_PART', message: 'Must not include part of your name or user name.' });
    }
    if (r.refuseCommon && this.isCommon(candidate)) out.push({ code: 'PWD_COMMON', message: 'This password is too common and easy to guess. Please choose another.' });
    return out;
  }

  isCommon(candidate: string): boolean {
    const lower = candidate.toLocaleLowerCase('en');
    const core = lower.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '');
    return this.#common.has(lower) || (core.length > 0 && this.#common.has(core));
  }

  /** Every rule, the history ones included. */
  async check(candidate: string, account: Pick<Account, 'loginId' | 'displayName' | 'givenName' | 'familyName'>, history: PasswordHistoryCheck): Promise<Violation[]> {
    const out = this.checkShape(candidate, account);
    if (out.length > 0) return out; // no need to spend argon2 time on a refused shape
    if (await history.isCurrent(candidate)) {
      out.push({ code: 'PWD_SAME_AS_CURRENT', message: 'The new password must be different from your current password.' });
    } else if (this.rules.historyLength > 0 && (await history.inHistory(candidate, this.rules.historyLength))) {
      out.push({ code: 'PWD_HISTORY', message: 'New password must not have been used previously.' });
    }
    return out;
  }
}

function numberWord(n: number): string {
  return ['zero', 'one', 'two', 'three', 'four'][n] ?? String(n);
}

export function parseCommonPasswords(text: string): Set<string> {
  return new Set(text.split('\n').map((l) => l.trim().toLowerCase()).filter((l) => l && !l.startsWith('#')));
}

/** Picks the policy for an account: first population whose domain or role matches. */
export class PasswordPolicies {
  readonly #defaults: PasswordRules;
  readonly #populations: Population[];
  readonly #common: ReadonlySet<string>;

  constructor(defaults: PasswordRules, populations: Population[], common: ReadonlySet<string>) {
    this.#defaults = defaults;
    this.#populations = populations;
    this.#common = common;
  }

  for(account: Pick<Account, 'loginId' | 'roles'>): PasswordPolicy {
    const domain = account.loginId.split('@')[1] ?? '';
    const match =
      this.#populations.find((p) => p.loginIdDomains.includes(domain)) ??
      this.#populations.find((p) => p.roles.some((r) => (account.roles as string[]).includes(r)));
    return new PasswordPolicy({ ...this.#defaults, ...(match?.rules ?? {}) }, match?.name ?? 'default', this.#common);
  }
}
