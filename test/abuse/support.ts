// What the abuse tests share: many pupils in two schools, sign-in attempts as a browser
// makes them (from a chosen source address on loopback), and the IdP's own count of the
// passwords it actually checked (its metrics: what an attacker got, whatever the pages said).
import assert from 'node:assert/strict';
import { loadSeed, parseSeed } from '../../src/domain/accounts/seed.ts';
import { Browser, formOf } from '../support/browser.ts';
import type { TestIdp } from '../support/idp.ts';

export const PUPIL_PASSWORD = 'Orchid-Lantern-58';

/** `count` pupils, alternately in schools ABUSE1 and ABUSE2; their login IDs. With questions: nothing to do after signing in. */
export async function seedPupils(t: TestIdp, count: number, prefix = 'pupil', withQuestions = false): Promise<string[]> {
  const entries = Array.from({ length: count }, (_, i) => ({
    loginId: `${prefix}_${String(i).padStart(4, '0')}@students.edu.sg`,
    password: PUPIL_PASSWORD,
    temporary: false,
    givenName: `Pupil${i}`,
    familyName: 'Tan',
    school: i % 2 === 0 ? { code: 'ABUSE1', name: 'First Abuse School' } : { code: 'ABUSE2', name: 'Second Abuse School' },
    level: 'P5',
    roles: ['student'],
    questions: withQuestions ? [
      { question: 'What is your favourite food?', answer: 'Ramen' },
      { question: 'What is your favourite animal?', answer: 'Shark' },
      { question: 'What is your favourite colour?', answer: 'Turquoise' },
    ] : [],
  }));
  await loadSeed(parseSeed(entries, 'abuse test pupils'), { directory: t.idp.directory, hasher: t.idp.hasher, audit: t.idp.audit, now: Date.now() });
  return entries.map((e) => e.loginId);
}

/** Passwords the IdP verified, by outcome (idp_signin_total): everything but refusals before the check. */
export async function passwordsChecked(t: TestIdp): Promise<number> {
  const metric = await t.idp.metrics.registry.getSingleMetric('idp_signin_total')!.get();
  const checked = new Set(['success', 'bad_password', 'unknown_account', 'locked_by_this_attempt', 'disabled']);
  return metric.values.filter((v) => checked.has(String(v.labels.outcome))).reduce((n, v) => n + v.value, 0);
}

export async function outcomes(t: TestIdp): Promise<Record<string, number>> {
  const metric = await t.idp.metrics.registry.getSingleMetric('idp_signin_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.outcome), v.value]));
}

/**
 * A client as an attacker's script or a pupil's browser is: its own cookies, from `from`
 * (127.0.0.x). `page()` opens the login prompt once; `attempt()` posts to it (as often as
 * wanted: the form of a sealed reference stays valid) and says what happened.
 */
export class SignInClient {
  readonly browser: Browser;
  #form: { action: string; hidden: Record<string, string> } | undefined;

  constructor(base: string, from: string) {
    this.browser = new Browser(base, { from });
  }

  async page(): Promise<void> {
    const { res } = await this.browser.open('/portal');
    assert.equal(res.status, 200, 'the login prompt');
    this.#form = formOf(res.text, '/sign-in');
  }

  /** 'in' (signed in), 'refused' (the login prompt again, with its message), 'held' (429/503 with Retry-After); and the page. */
  async attempt(username: string, password: string): Promise<{ result: 'in' | 'refused' | 'held'; text: string; retryAfter?: number }> {
    if (!this.#form) await this.page();
    const res = await this.browser.post(this.#form!.action, { ...this.#form!.hidden, username, password });
    if (res.status === 429 || res.status === 503) {
      assert.ok(res.headers['retry-after'], 'held back with Retry-After');
      return { result: 'held', text: res.text, retryAfter: Number(res.headers['retry-after']) };
    }
    assert.equal(res.status, 303, `a redirect, not ${res.status}: ${res.text.slice(0, 300)}`);
    const next = await this.browser.follow(res);
    if (next.res.text.includes('/portal/sign-out')) return { result: 'in', text: next.res.text };
    return { result: 'refused', text: next.res.text };
  }
}
