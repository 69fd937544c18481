// Device cookies (OWASP, "Slow down online guessing attacks with device cookies"): a
// browser that has finished a password sign-in to a login ID carries a signed entry for it,
// and is judged by its own record for that login ID, not by its network address. The IP
// throttle and the spraying alarm hold back unknown devices only, so a pupil on the laptop
// they used yesterday still signs in while an attacker behind the school's NAT is stopped.
//
// One cookie holds the browser's entries (a classroom computer is used by many pupils):
//   <base64url JSON [[login tag, nonce, day, password tag], ...]>.<MAC>
// The login tag is an HMAC of the login ID (the cookie does not say who signed in on a
// shared computer); the nonce names this device for that login ID; the day (days since
// 1970) of the last sign-in lets entries unused for `maxAgeDays` go; the password tag is an
// HMAC of the login ID and when its password was last set: a new password (a reset by an
// administrator, a change) makes every device that signed in with an earlier one unknown
// again, until it signs in with the new one.
// The MAC is an HMAC under a key of the deployment's own, not the rotating cookie keys.
// Nothing is stored for a device: the entry is proof enough that this browser signed in.
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

export interface DeviceEntry {
  tag: string;
  nonce: string;
  day: number;
  password: string;
}

export interface DeviceSettings {
  /** Entries kept per browser, most recent first. */
  maxEntries: number;
  /** An entry unused for this long is forgotten. */
  maxAgeDays: number;
}

const DAY_MS = 86_400_000;

export class DeviceCookies {
  readonly #key: KeyObject;
  readonly settings: DeviceSettings;

  constructor(secret: string, settings: DeviceSettings) {
    this.#key = createSecretKey(createHmac('sha256', secret).update('device cookies').digest());
    this.settings = settings;
  }

  /** The entries of a cookie value, or none when it is not ours (altered, malformed) or they are too old. */
  read(raw: string | undefined, now: number): DeviceEntry[] {
    if (!raw || raw.length > 8192) return [];
    const dot = raw.lastIndexOf('.');
    if (dot < 1) return [];
    const body = raw.slice(0, dot);
    const given = Buffer.from(raw.slice(dot + 1), 'base64url');
    const expected = this.#mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return [];
    try {
      const parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown;
      if (!Array.isArray(parsed)) return [];
      const oldest = Math.floor(now / DAY_MS) - this.settings.maxAgeDays;
      return parsed
        .filter((e): e is [string, string, number, string] => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string' && typeof e[2] === 'number' && typeof e[3] === 'string')
        .map(([tag, nonce, day, password]) => ({ tag, nonce, day, password }))
        .filter((e) => e.day >= oldest);
    } catch {
      return [];
    }
  }

  /**
   * This browser's device nonce for `loginId` (normalised), when it has signed in to it with
   * its current password (`passwordSet`: when that was set, passwordStamp()).
   */
  deviceFor(entries: readonly DeviceEntry[], loginId: string, passwordSet: string): string | undefined {
    const tag = this.#tag(`login:${loginId}`);
    const password = this.#tag(`password:${loginId}:${passwordSet}`);
    return entries.find((e) => e.tag === tag && e.password === password)?.nonce;
  }

  /** The cookie value after a password sign-in to `loginId`: its entry first (kept or new), at most maxEntries. */
  remember(entries: readonly DeviceEntry[], loginId: string, passwordSet: string, now: number): string {
    const tag = this.#tag(`login:${loginId}`);
    const password = this.#tag(`password:${loginId}:${passwordSet}`);
    const mine = entries.find((e) => e.tag === tag) ?? { tag, nonce: randomBytes(9).toString('base64url'), day: 0, password };
    const kept = [{ ...mine, day: Math.floor(now / DAY_MS), password }, ...entries.filter((e) => e.tag !== tag)].slice(0, this.settings.maxEntries);
    const body = Buffer.from(JSON.stringify(kept.map((e) => [e.tag, e.nonce, e.day, e.password]))).toString('base64url');
    return `${body}.${this.#mac(body).toString('base64url')}`;
  }

  #tag(what: string): string {
    return createHmac('sha256', this.#key).update(what).digest().subarray(0, 12).toString('base64url');
  }

  #mac(body: string): Buffer {
    return createHmac('sha256', this.#key).update(`cookie:${body}`).digest().subarray(0, 16);
  }
}

/** What ties a device entry to the account's current password: when it was set. */
export function passwordStamp(account: { passwordChangedAt: number }): string {
  return String(account.passwordChangedAt);
}
