// Sign-in badges: a printed card with a QR code for the youngest pupils (badges.levels,
// Primary 1–3 by default), who cannot type a password yet. The QR code holds a random
// secret of 256 bits ("MIMS-BADGE:1:<43 base64url characters>", not a web address, so a
// phone's camera app opens nothing); the directory keeps only its keyed hash (HMAC under a
// key derived from the deployment's keys) and one badge per pupil is valid at a time:
// printing a new one voids the last. Optionally a PIN of badges.pinDigits digits (printed on
// the teacher's list, never on the card), school hours and school networks (badges.hours,
// badges.networks) limit where a photo of a badge can be used.
// A badge is a credential kind of its own:
// - a scan is looked up first: a valid badge signs in whatever else came from the address (a
//   school is one address); scans that name no badge are counted per address apart from wrong
//   passwords (security/lockout.ts), so junk never holds a school's passwords or badges back;
// - hours and networks are checked before anything about the account is told; then a badge
//   signs in only an active pupil of an enabled level (never staff, whatever the account
//   became; never an account with, or required to have, a second factor), and not while the
//   login ID is locked for everyone (the guides' lock, an administrator's, or five wrong PINs on
//   the pupil's device); a lock that holds back only unknown devices (someone guessing the
//   password elsewhere) does not stop a badge without a PIN, which cannot be guessed;
// - a PIN is checked like a password (reserved in the login ID's count before it is checked,
//   five wrong lock the login ID as five wrong passwords do, with the guides' Unlock path) and
//   counted on the badge for its life (badges.maxPinFailures void it); the PIN step checks
//   hours, networks and who may hold one again;
// - the session says so (amr ["badge"], ["badge", "pin"]): never two-step, whatever follows
//   (acr badge; the gate; SAML names no password class and refuses requests for one).
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Account } from '../accounts/account.ts';
import type { RequestContext } from '../accounts/authentication.ts';
import type { Directory } from '../accounts/directory.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import { newId } from '../ids.ts';
import type { SecretSeal } from '../mfa/seal.ts';
import type { Lockout } from '../security/lockout.ts';
import type { Database } from '../../store/database/index.ts';
import { BadgeRows, type BadgeRecord } from '../../store/directory/badges.ts';

export type { BadgeRecord } from '../../store/directory/badges.ts';

export interface BadgeSettings {
  /** School levels whose pupils may sign in by badge (e.g. P1, P2, P3); empty: nobody. */
  levels: string[];
  /** Digits of the PIN asked after a scan (4–6), or 0 for none. */
  pinDigits: number;
  /** When badges sign in (Singapore time): weekdays 1 (Monday) to 7, and a time of day from–to ("07:00"); null: any time. */
  hours: { days: number[]; from: string; to: string } | null;
  /** Addresses (CIDR, or single addresses) badges sign in from; empty: any. */
  networks: string[];
  /** Wrong PINs in a badge's whole life that void it (guessing paced under the lockout's window). */
  maxPinFailures: number;
}

export const BADGE_PREFIX = 'MIMS-BADGE:1:';
const SECRET = /^MIMS-BADGE:1:[A-Za-z0-9_-]{43}$/;
const ZONE = 'Asia/Singapore';

export type ScanFailure = 'badge_unknown' | 'badge_voided' | 'badge_not_allowed' | 'badge_other_account' | 'badge_hours' | 'badge_network' | 'disabled' | 'locked' | 'ip_throttled';
export type ScanResult = { ok: true; account: Account; badge: BadgeRecord; needsPin: boolean } | { ok: false; reason: ScanFailure };
export type PinResult = { ok: true; account: Account } | { ok: false; reason: 'bad_pin' | 'locked' | ScanFailure; lockedNow?: boolean };

/** A printed badge: what goes on the card (the secret, once), and the PIN for the teacher's list. */
export interface IssuedBadge {
  account: Account;
  secret: string;
  pin: string | null;
}

export class Badges {
  readonly #store: BadgeRows;
  readonly #directory: Directory;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #lockout: Lockout;
  readonly #seal: SecretSeal;
  readonly #s: BadgeSettings;
  readonly #networks: BlockList | null;
  readonly #secondStep: (account: Account) => boolean;

  /** `secondStep`: whether the account's sign-in has (or must have) a second factor. */
  constructor(deps: { database: Database; directory: Directory; audit: AuditLog; clock: Clock; lockout: Lockout; seal: SecretSeal; settings: BadgeSettings; secondStep: (account: Account) => boolean }) {
    this.#store = new BadgeRows(deps.database);
    this.#directory = deps.directory;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#lockout = deps.lockout;
    this.#seal = deps.seal;
    this.#s = deps.settings;
    this.#networks = deps.settings.networks.length ? networkList(deps.settings.networks) : null;
    this.#secondStep = deps.secondStep;
  }

  get settings(): BadgeSettings {
    return this.#s;
  }

  /** Whether badges are on for anyone (the sign-in page's button). */
  get enabled(): boolean {
    return this.#s.levels.length > 0;
  }

  /**
   * Whether an account may hold a badge: an active pupil (only a student) of an enabled level
   * whose sign-in has no second step: an account with a second factor, or for which two-step
   * sign-in is required, signs in with its password and that step (a badge would skip it, or
   * take a photo of a card through setting one up).
   */
  mayHold(account: Account): boolean {
    return account.status === 'active' && account.roles.length > 0 && account.roles.every((r) => r === 'student') && account.level !== null && this.#s.levels.includes(account.level)
      && !this.#secondStep(account);
  }

  /** New badges for these accounts (each must be allowed one), voiding their badges before. The secrets are returned once, for printing. */
  async issue(accounts: readonly Account[], by: { actor: string; actorName: string }, ctx: RequestContext): Promise<IssuedBadge[]> {
    const now = this.#clock();
    const issued = accounts.map((account) => {
      const secret = `${BADGE_PREFIX}${randomBytes(32).toString('base64url')}`;
      const id = newId();
      const pin = this.#s.pinDigits > 0 ? String(randomInt(0, 10 ** this.#s.pinDigits)).padStart(this.#s.pinDigits, '0') : null;
      const record: BadgeRecord = { id, accountId: account.id, secretHash: this.#seal.hash(secret), pinHash: pin === null ? null : this.#pinHash(id, pin), issuedAt: now, issuedBy: by.actor, voidedAt: null, voidedBy: null };
      return { account, secret, pin, record };
    });
    await this.#store.issue(issued.map((i) => i.record), by.actor, now);
    for (const i of issued) await this.#audit.record({ type: 'badge.issued', accountId: i.account.id, ...by, reason: i.pin ? 'with a PIN' : undefined, ...ctx });
    return issued.map(({ account, secret, pin }) => ({ account, secret, pin }));
  }

  async validFor(accountIds: readonly string[]): Promise<Map<string, BadgeRecord>> {
    return this.#store.validFor(accountIds);
  }

  /** Voids these accounts' badges; resolves how many were valid. */
  async voidFor(accountIds: readonly string[], by: { actor: string; actorName: string }, ctx: RequestContext): Promise<number> {
    const valid = await this.#store.validFor(accountIds);
    const n = await this.#store.voidFor(accountIds, by.actor, this.#clock());
    for (const id of valid.keys()) await this.#audit.record({ type: 'badge.voided', accountId: id, ...by, ...ctx });
    return n;
  }

  /** Voids every badge of a school (every school: null), e.g. at the end of a term. */
  async voidSchool(schoolCode: string | null, by: { actor: string; actorName: string }, ctx: RequestContext): Promise<number> {
    const n = await this.#store.voidSchool(schoolCode, by.actor, this.#clock());
    await this.#audit.record({ type: 'badge.voided', ...by, reason: `${n} badges of ${schoolCode === null ? 'every school' : `school ${schoolCode}`}`, ...ctx });
    return n;
  }

  /**
   * A scanned badge: which pupil, and whether a PIN must follow. Everything but the PIN is
   * checked here. `deviceOf`: this browser's nonce for the login ID when it is a known device;
   * `expected`: the account a re-authentication is for (another pupil's badge is refused, and
   * nothing is recorded as their sign-in).
   */
  async scan(raw: string, ctx: RequestContext, deviceOf: (account: Account) => string | undefined, expected?: string): Promise<ScanResult> {
    const ip = ctx.ip ?? 'unknown';
    // Looked up first: a valid badge signs in whatever else was scanned at this address (a
    // school is one address). Misses are counted per address on their own, never in the
    // budget of wrong passwords; past it they are no longer audited one by one.
    const badge = SECRET.test(raw) ? await this.#store.bySecretHash(this.#seal.hash(raw)) : null;
    if (!badge) {
      const misses = await this.#lockout.badgeMiss(ip);
      if (misses <= this.#lockout.settings.maxFailuresPerIp) await this.#audit.record({ type: 'signin.failure', reason: 'badge_unknown', ...ctx });
      return { ok: false, reason: 'badge_unknown' };
    }
    const refuse = async (reason: ScanFailure, accountId: string | undefined = badge.accountId): Promise<ScanResult> => {
      await this.#audit.record({ type: 'signin.failure', accountId, reason, ...ctx });
      return { ok: false, reason };
    };
    // Where and when first: off the school's network or hours, nothing more about the account is told.
    if (!this.#withinHours()) return refuse('badge_hours');
    if (this.#networks && !onNetwork(this.#networks, ip)) return refuse('badge_network');
    if (badge.voidedAt !== null) return refuse('badge_voided');
    if (expected !== undefined && expected !== badge.accountId) return refuse('badge_other_account', expected);
    const account = await this.#directory.get(badge.accountId);
    if (!account || account.status !== 'active') return refuse('disabled');
    if (!this.mayHold(account)) return refuse('badge_not_allowed');
    const lock = await this.#lockout.lockOf(account.loginId);
    if (lock && (lock.scope === 'everyone' || (badge.pinHash !== null && !deviceOf(account)))) return refuse('locked');
    if (badge.pinHash === null) await this.#signedIn(account, ctx, 'badge');
    return { ok: true, account, badge, needsPin: badge.pinHash !== null };
  }

  /** The pupil a scanned badge with a PIN names (to greet them on the PIN page), while it is valid. */
  async pinOf(badgeId: string): Promise<Account | null> {
    const badge = await this.#store.get(badgeId);
    if (!badge || badge.pinHash === null || badge.voidedAt !== null) return null;
    return this.#directory.get(badge.accountId);
  }

  /**
   * The PIN after a scan, checked like a password (reserved, counted, five wrong within the
   * lockout window lock the login ID) and, against guessing paced under that window, counted
   * on the badge for its whole life: badges.maxPinFailures wrong PINs void it. The scan's
   * checks (hours, networks, who may hold one) are made again.
   */
  async checkPin(badgeId: string, pin: string, ctx: RequestContext, deviceOf: (account: Account) => string | undefined): Promise<PinResult> {
    const badge = await this.#store.get(badgeId);
    const account = badge ? await this.#directory.get(badge.accountId) : null;
    if (!badge || badge.pinHash === null || badge.voidedAt !== null) return { ok: false, reason: 'badge_voided' };
    const refuse = async (reason: ScanFailure): Promise<PinResult> => {
      await this.#audit.record({ type: 'signin.failure', accountId: badge.accountId, reason: `${reason} (badge PIN)`, ...ctx });
      return { ok: false, reason };
    };
    if (!this.#withinHours()) return refuse('badge_hours');
    if (this.#networks && !onNetwork(this.#networks, ctx.ip ?? 'unknown')) return refuse('badge_network');
    if (!account || account.status !== 'active') return refuse('disabled');
    if (!this.mayHold(account)) return refuse('badge_not_allowed');
    const device = deviceOf(account);
    const gate = await this.#lockout.beginAttempt(account.loginId, ctx.ip ?? 'unknown', device);
    if (!gate.allowed) {
      await this.#audit.record({ type: 'signin.failure', accountId: account.id, reason: `${gate.why} (badge PIN)`, ...ctx });
      return { ok: false, reason: gate.why === 'ip_throttled' ? 'ip_throttled' : 'locked' };
    }
    const expected = Buffer.from(badge.pinHash);
    const given = Buffer.from(this.#pinHash(badge.id, /^\d{1,12}$/.test(pin) ? pin : '-'));
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      await this.#audit.record({ type: 'signin.failure', accountId: account.id, reason: 'bad_badge_pin', ...ctx });
      const failures = await this.#store.pinFailed(badge.id);
      if (failures >= this.#s.maxPinFailures) {
        await this.#store.voidFor([account.id], 'idp', this.#clock());
        await this.#audit.record({ type: 'badge.voided', accountId: account.id, actor: 'idp', reason: `${failures} wrong PINs in the badge's life`, ...ctx });
      }
      if (await this.#lockout.failed(gate.attempt, true)) {
        await this.#audit.record({ type: 'account.locked', accountId: account.id, reason: 'too many wrong badge PINs', ...ctx });
        return { ok: false, reason: 'locked', lockedNow: true };
      }
      return { ok: false, reason: failures >= this.#s.maxPinFailures ? 'badge_voided' : 'bad_pin' };
    }
    await this.#lockout.succeeded(gate.attempt);
    await this.#signedIn(account, ctx, 'badge with PIN');
    return { ok: true, account };
  }

  async #signedIn(account: Account, ctx: RequestContext, how: string): Promise<void> {
    const { language, ...rest } = ctx;
    await this.#directory.update(account.id, (a) => {
      a.lastSignInAt = this.#clock();
      if (language) a.language = language;
      return a;
    });
    await this.#audit.record({ type: 'signin.success', accountId: account.id, reason: how, ...rest });
  }

  #pinHash(badgeId: string, pin: string): string {
    return this.#seal.hash(`pin:${badgeId}:${pin}`);
  }

  #withinHours(): boolean {
    const hours = this.#s.hours;
    if (!hours) return true;
    const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(this.#clock())).map((p) => [p.type, p.value]));
    const day = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(parts.weekday ?? '') + 1;
    const time = `${parts.hour}:${parts.minute}`;
    return hours.days.includes(day) && time >= hours.from && time < hours.to;
  }
}

/** badges.networks as a BlockList ("10.0.0.0/8", "192.0.2.7", "2001:db8::/32"); throws on what is none. */
export function networkList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const type = isIPv4(address ?? '') ? 'ipv4' : isIPv6(address ?? '') ? 'ipv6' : null;
    if (!type || (bits !== undefined && !/^\d{1,3}$/.test(bits))) throw new Error(`badges.networks: "${entry}" is not an address or a network (CIDR)`);
    if (bits === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(bits), type);
  }
  return list;
}

function onNetwork(list: BlockList, ip: string): boolean {
  const plain = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (isIPv4(plain)) return list.check(plain, 'ipv4');
  return isIPv6(plain) && list.check(plain, 'ipv6');
}
