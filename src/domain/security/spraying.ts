// Password spraying across addresses: one or a few guesses on each of many accounts, from
// many IPs, stays under every per-IP and per-account limit. What gives it away is the rate
// of failed sign-ins against *distinct* accounts from unknown devices (a typo fails one
// account, a spray fails hundreds), counted for the whole IdP and for each school.
//
// - The rate is the failures of the last 60 s (this minute's count plus the previous
//   minute's, weighted by the part of it still inside the window).
// - The alarm of a scope goes on when its rate passes max(floor, factor × its average per
//   minute over the previous hour) *and* more than twice as many accounts failed as got in
//   from unknown devices in the same 60 s: a morning of pupils on new devices mistyping
//   their passwords is mostly pupils who then get in; a spray is failures only. It stays on for
//   `holdMinutes` after the last time it went on, is audited (security.spraying) and
//   counted in metrics when it goes on.
// - Failures against login IDs that do not exist count in a scope of their own: made-up
//   login IDs (which cannot succeed) never raise the alarm for real pupils.
// - While the alarm of the whole IdP or of the account's school is on, unknown devices get
//   at most `budgetPerMinute` password checks a minute in that scope, all addresses
//   together, and one address at most a fifth of them (so that one attacker cannot take
//   it all); the rest are held back with a time to retry, spread over the next minute (the
//   page waits and sends again by itself). Only attempts that passed the lockout and the
//   address's budget take a place (nothing is spent on attempts refused anyway). Known
//   devices (devices.ts) are never held back.
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
/** The scope of login IDs that are no account's. */
export const UNKNOWN = 'unknown-ids';

/** The scopes an attempt on an account of `school` belongs to (undefined: no such account). */
function scopesOf(school: string | undefined): string[] {
  return school === undefined ? [UNKNOWN] : [ALL, schoolScope(school)];
}

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

  /**
   * Whether an unknown device at `ip` may have a password checked now against an account of
   * `school` (undefined: no such account). Call it only for an attempt that will be checked.
   */
  async admit(school: string | undefined, ip: string): Promise<Admission> {
    const scopes = scopesOf(school);
    const alarms = await Promise.all(scopes.map((scope) => this.#store.get(keys.sprayAlarm(scope))));
    const now = this.#clock();
    const minute = String(Math.floor(now / 60_000));
    const share = Math.max(1, Math.ceil(this.#s.budgetPerMinute / 5));
    for (const [i, scope] of scopes.entries()) {
      if (alarms[i] === null) continue;
      const places = [keys.sprayAdmitted(scope, minute), keys.sprayAdmitted(scope, `${minute}:${ip}`)];
      const [all, mine] = await Promise.all(places.map((key) => this.#store.increment(key, 120_000)));
      if (all! > this.#s.budgetPerMinute || mine! > share) {
        // Not admitted: the places taken are given back (a refusal spends nobody's budget).
        await Promise.all(places.map((key) => this.#store.increment(key, 120_000, -1)));
        // Next minute's budget, at a moment spread over most of it (not all at its first second).
        const retryAfterSeconds = Math.ceil((60_000 - (now % 60_000)) / 1000) + Math.floor(Math.random() * 45);
        return { admitted: false, retryAfterSeconds, scope };
      }
    }
    return { admitted: true };
  }

  /**
   * A right password from an unknown device: the first for this login ID in 10 minutes
   * counts as an account that got in (a pupil mistyping on a new device is not a spray).
   */
  async succeededAccount(school: string, loginId: string): Promise<void> {
    if (!(await this.#store.set(keys.spraySucceeded(loginId), '1', { onlyIfAbsent: true, ttlMs: 10 * 60_000 }))) return;
    const minute = Math.floor(this.#clock() / 60_000);
    await Promise.all(scopesOf(school).map((scope) => this.#store.increment(keys.sprayFailures(scope, `ok${minute}`), 3 * 60_000)));
  }

  /** A wrong password from an unknown device, against an account (or a login ID that is none) that had no failure in its window yet. */
  async failedAccount(school: string | undefined): Promise<void> {
    await Promise.all(scopesOf(school).map((scope) => this.#count(scope)));
  }

  async #count(scope: string): Promise<void> {
    const now = this.#clock();
    const minute = Math.floor(now / 60_000);
    const hour = Math.floor(now / 3_600_000);
    const [current, previous, lastHour, , okNow, okBefore] = await Promise.all([
      this.#store.increment(keys.sprayFailures(scope, `m${minute}`), 3 * 60_000),
      this.#store.get(keys.sprayFailures(scope, `m${minute - 1}`)),
      this.#store.get(keys.sprayFailures(scope, `h${hour - 1}`)),
      this.#store.increment(keys.sprayFailures(scope, `h${hour}`), 2 * 3_600_000),
      this.#store.get(keys.sprayFailures(scope, `ok${minute}`)),
      this.#store.get(keys.sprayFailures(scope, `ok${minute - 1}`)),
    ]);
    const past = 1 - (now % 60_000) / 60_000;
    const rate = current + Number(previous ?? 0) * past;
    const succeeded = Number(okNow ?? 0) + Number(okBefore ?? 0) * past;
    const floor = scope === ALL || scope === UNKNOWN ? this.#s.floorPerMinute : this.#s.schoolFloorPerMinute;
    const threshold = Math.max(floor, this.#s.factor * (Number(lastHour ?? 0) / 60));
    if (rate < threshold || rate <= 2 * succeeded) return;
    const hold = this.#s.holdMinutes * 60_000;
    const raised = await this.#store.set(keys.sprayAlarm(scope), JSON.stringify({ since: now }), { onlyIfAbsent: true, ttlMs: hold });
    if (raised) await this.#onAlarm(scope.startsWith('school:') ? scope.slice('school:'.length) : scope, Math.round(rate), Math.round(threshold));
    else await this.#store.expire(keys.sprayAlarm(scope), hold);
  }
}

function schoolScope(school: string): string {
  return `school:${school}`;
}
