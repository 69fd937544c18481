// The password policy engine. One rule per unit, each with a stable code and a message id
// (the guides' words are in src/messages/en.ts). Rules are configured per population (students, school staff, HQ staff),
// chosen from the login ID's domain or the account's roles. The server is the authority:
// the browser's live checklist only mirrors these rules.
import { hasInvisibleCharacters } from '../text.ts';
import type { Account } from '../accounts/account.ts';
import { message, type Message, type MessageId, type MessageParams } from '../../messages/catalogue.ts';
import type { TemporaryPasswordFormat } from './generate.ts';

/** How temporary passwords of a population look (generate.ts), and the words of the "words" format. */
export interface TemporaryPasswords {
  format: TemporaryPasswordFormat;
  words: readonly string[];
}

const RANDOM: TemporaryPasswords = { format: 'random', words: [] };

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
  | 'PWD_INVISIBLE'
  | 'PWD_HISTORY';

export interface Requirement {
  code: RuleCode;
  /** The words of the requirement list (catalogue `password.requirement.<code>`). */
  message: Message;
  /** Checked in the browser as the user types (history and current need the server). */
  live: boolean;
}

export interface Violation {
  code: RuleCode;
  /** What was broken (catalogue `password.violation.<code>`). */
  message: Message;
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
  readonly temporary: TemporaryPasswords;
  readonly #common: ReadonlySet<string>;

  constructor(rules: PasswordRules, population: string, common: ReadonlySet<string>, temporary: TemporaryPasswords = RANDOM) {
    this.rules = rules;
    this.population = population;
    this.#common = common;
    this.temporary = temporary;
  }

  /** The requirement list shown on the Change Password screen (the guides' words are in the catalogue). */
  requirements(): Requirement[] {
    const r = this.rules;
    const list: Requirement[] = [
      requirement('PWD_CASE', false),
      requirement('PWD_MIN_LENGTH', true, { min: r.minLength }),
    ];
    if (r.firstCharNotSymbol) list.push(requirement('PWD_FIRST_CHAR', true));
    if (r.noNameParts) list.push(requirement('PWD_NAME_PART', true));
    if (r.minCharTypes > 0) list.push(requirement('PWD_CHAR_TYPES', true, { count: r.minCharTypes }));
    list.push(requirement('PWD_MAX_LENGTH', true, { max: r.maxLength }));
    if (r.historyLength > 0) list.push(requirement('PWD_HISTORY', false, { count: r.historyLength }));
    if (r.refuseCommon) list.push(requirement('PWD_COMMON', false));
    return list;
  }

  /** Rules that need only the candidate and the account (no secrets). */
  checkShape(candidate: string, account: Pick<Account, 'loginId' | 'displayName' | 'givenName' | 'familyName'>): Violation[] {
    const r = this.rules;
    const out: Violation[] = [];
    const length = [...candidate].length;
    if (hasInvisibleCharacters(candidate)) out.push(violation('PWD_INVISIBLE'));
    if (length < r.minLength) out.push(violation('PWD_MIN_LENGTH', { min: r.minLength }));
    if (length > r.maxLength) out.push(violation('PWD_MAX_LENGTH', { max: r.maxLength }));
    if (r.firstCharNotSymbol && length > 0 && SYMBOL.test([...candidate][0]!)) {
      out.push(violation('PWD_FIRST_CHAR'));
    }
    if (charTypes(candidate) < r.minCharTypes) {
      out.push(violation('PWD_CHAR_TYPES', { count: r.minCharTypes }));
    }
    if (r.noNameParts) {
      const lower = candidate.toLocaleLowerCase('en');
      const found = nameParts(account, r.namePartMinLength).find((p) => lower.includes(p));
      if (found) out.push(violation('PWD_NAME_PART'));
    }
    if (r.refuseCommon && this.isCommon(candidate)) out.push(violation('PWD_COMMON'));
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
      out.push(violation('PWD_SAME_AS_CURRENT'));
    } else if (this.rules.historyLength > 0 && (await history.inHistory(candidate, this.rules.historyLength))) {
      out.push(violation('PWD_HISTORY'));
    }
    return out;
  }
}

function requirement(code: RuleCode, live: boolean, params?: MessageParams): Requirement {
  return { code, message: message(`password.requirement.${code}` as MessageId, params), live };
}

function violation(code: RuleCode, params?: MessageParams): Violation {
  return { code, message: message(`password.violation.${code}` as MessageId, params) };
}

export function parseCommonPasswords(text: string): Set<string> {
  return new Set(text.split('\n').map((l) => l.trim().toLowerCase()).filter((l) => l && !l.startsWith('#')));
}

export interface TemporaryPasswordSettings {
  formats: Record<string, TemporaryPasswordFormat>;
  words: readonly string[];
  /** How many days a generated temporary password signs in (default 14). */
  lifeDays?: number;
}

/** Picks the policy for an account: first population whose domain or role matches. */
export class PasswordPolicies {
  readonly #defaults: PasswordRules;
  readonly #populations: Population[];
  readonly #common: ReadonlySet<string>;
  readonly #temporary: TemporaryPasswordSettings;

  /**
   * `temporary`: the format of temporary passwords by population name ("default" for
   * accounts of no population, and for populations not named), and the word list.
   */
  constructor(defaults: PasswordRules, populations: Population[], common: ReadonlySet<string>, temporary: TemporaryPasswordSettings = { formats: {}, words: [] }) {
    this.#defaults = defaults;
    this.#populations = populations;
    this.#common = common;
    this.#temporary = temporary;
  }

  /** How long a generated temporary password signs in (Account.temporaryUntil), in ms. */
  temporaryLifeMs(): number {
    return (this.#temporary.lifeDays ?? 14) * 86_400_000;
  }

  for(account: Pick<Account, 'loginId' | 'roles'>): PasswordPolicy {
    const domain = account.loginId.split('@')[1] ?? '';
    const match =
      this.#populations.find((p) => p.loginIdDomains.includes(domain)) ??
      this.#populations.find((p) => p.roles.some((r) => (account.roles as string[]).includes(r)));
    const population = match?.name ?? 'default';
    const format = this.#temporary.formats[population] ?? this.#temporary.formats.default ?? 'random';
    return new PasswordPolicy({ ...this.#defaults, ...(match?.rules ?? {}) }, population, this.#common, { format, words: this.#temporary.words });
  }
}
