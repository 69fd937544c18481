// Password spraying across addresses: one or a few guesses on each of many accounts, from
// many IPs, stays under every per-IP and per-account limit. What gives it away is the rate
// of failed sign-ins against *distinct* accounts from unknown devices (a typo fails one
// account, a spray fails hundreds), counted for the whole IdP and for each school.
//
// - The rate is the failures of the last 60 s (this minute's count plus the previous
//   minute's, weighted by the part of it still inside the window).
// - The alarm of a scope goes on when its rate passes max(floor, factor × its average per
//   minute over the previous hour), and stays on for `holdMinutes` after the last time it did.
//   It is audited (security.spraying) and counted in metrics when it goes on.
// - While the alarm of the whole IdP or of the account's school is on, unknown devices get
//   at most `budgetPerMinute` password checks a minute in that scope, all addresses
//   together; the rest are held back with a time to retry (the page waits and sends again
//   by itself). Known devices (devices.ts) are never held back.
import { keys, type Store } from '../../store/index.ts';
import type { Clock } from '../clock.ts';

export interface SprayingSettings {
  /** Failed accounts a minute (unknown devices) above which the alarm of the whole IdP may go on. */
  floorPerMinute: number;
  /** The same for one school. */
  schoolFloorPerMinute: number;
  /** The alarm goes on at this many times the scope's average rate of the previous hour, when that is above the floor. */
  factor: number;
  /** Password checks a minute for unknown devices in a scope whose alarm is on. */
  budgetPerMinute: number;
  /** How long the alarm stays on after the rate last passed the threshold. */
  holdMinutes: number;
}

export type Admission = { admitted: true } | { admitted: false; retryAfterSeconds: number; scope: string };

/** The scope of the whole IdP; a school's is its code. */
export const ALL = 'all';

export class Spraying {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #s: SprayingSettings;
  readonly #onAlarm: (scope: string, rate: number, threshold: number) => Promise<void>;

  constructor(store: Store, clock: Clock, settings: SprayingSettings, onAlarm: (scope: string, rate: number, threshold: number) => Promise<void>) {
    this.#store = store;
    this.#clock = clock;
    this.#s = settings;
    this.#onAlarm = onAlarm;
  }

  get settings(): SprayingSettings {
    return this.#s;
  }

  /** Whether an unknown device may have a password checked now against an account of `school` (undefined: no such account). */
  async admit(school: string | undefined): Promise<Admission> {
    const scopes = school ? [ALL, schoolScope(school)] : [ALL];
    const alarms = await Promise.all(scopes.map((scope) => this.#store.get(keys.sprayAlarm(scope))));
    const now = this.#clock();
    const minute = String(Math.floor(now / 60_000));
    for (const [i, scope] of scopes.entries()) {
      if (alarms[i] === null) continue;
      const granted = await this.#store.increment(keys.sprayAdmitted(scope, minute), 120_000);
      if (granted > this.#s.budgetPerMinute) {
        // Until the next minute's budget, spread a little so that waiting pages do not all return at once.
        const retryAfterSeconds = Math.ceil((60_000 - (now % 60_000)) / 1000) + Math.floor(Math.random() * 10);
        return { admitted: false, retryAfterSeconds, scope };
      }
    }
    return { admitted: true };
  }

  /** A wrong password from an unknown device, against an account that had no failure in its window yet. */
  async failedAccount(school: string | undefined): Promise<void> {
    const scopes = school ? [ALL, schoolScope(school)] : [ALL];
    await Promise.all(scopes.map((scope) => this.#count(scope)));
  }

  /** Whether the alarm of a scope is on (ALL or a school's code). */
  async alarmOn(scope: string): Promise<boolean> {
    return (await this.#store.get(keys.sprayAlarm(scope === ALL ? ALL : schoolScope(scope)))) !== null;
  }

  async #count(scope: string): Promise<void> {
    const now = this.#clock();
    const minute = Math.floor(now / 60_000);
    const hour = Math.floor(now / 3_600_000);
    const [current, previous, lastHour] = await Promise.all([
      this.#store.increment(keys.sprayFailures(scope, `m${minute}`), 3 * 60_000),
      this.#store.get(keys.sprayFailures(scope, `m${minute - 1}`)),
      this.#store.get(keys.sprayFailures(scope, `h${hour - 1}`)),
      this.#store.increment(keys.sprayFailures(scope, `h${hour}`), 2 * 3_600_000),
    ]);
    const rate = current + Number(previous ?? 0) * (1 - (now % 60_000) / 60_000);
    const floor = scope === ALL ? this.#s.floorPerMinute : this.#s.schoolFloorPerMinute;
    const threshold = Math.max(floor, this.#s.factor * (Number(lastHour ?? 0) / 60));
    if (rate < threshold) return;
    const hold = this.#s.holdMinutes * 60_000;
    const raised = await this.#store.set(keys.sprayAlarm(scope), JSON.stringify({ since: now }), { onlyIfAbsent: true, ttlMs: hold });
    if (raised) await this.#onAlarm(scope === ALL ? ALL : scope.slice('school:'.length), Math.round(rate), Math.round(threshold));
    else await this.#store.expire(keys.sprayAlarm(scope), hold);
  }
}

function schoolScope(school: string): string {
  return `school:${school}`;
}
