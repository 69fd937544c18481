// The recovery email: a personal address where a code to reset the password may be sent
// (issue 27). Rules, in one place:
// - offered per population (settings recoveryEmail.offer: students, staff) once the account
//   has its challenge questions (first sign-in), and in the SSPR app, where it can be
//   changed or removed after the current password;
// - an address is saved only once a 6-digit code sent to it was typed back (codes.ts);
// - it is never shown whole (only to its owner while typing it), never logged, never in an
//   audit event: everywhere else it is masked, first letter + *** + @domain;
// - every change notifies the addresses on file: the new one ("added"), the old one
//   ("changed to n***@…", "removed"); every code sent or used is a message to it as well.
import { createHmac } from 'node:crypto';
import type { Account } from '../accounts/account.ts';
import type { Directory } from '../accounts/directory.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';

/** The messages the recovery email causes (src/mail/templates.ts words them). */
export type RecoveryMailKind = 'confirm-code' | 'reset-code' | 'code-used' | 'email-added' | 'email-changed' | 'email-removed' | 'account-dormant';

/**
 * Sends one of those messages, in the background (it never throws, never waits for the
 * mail server: src/mail/outbox.ts). `lang`: the language of the page that caused it.
 */
export type SendRecoveryMail = (to: string, kind: RecoveryMailKind, lang: string, params: Record<string, string | number>) => void;

export interface RecoveryEmailSettings {
  offer: { students: boolean; staff: boolean };
  codeMinutes: number;
  /** Wrong codes typed for one confirmation before that code is dropped (a new one must be sent). */
  maxConfirmTries: number;
  /** Codes sent for one login ID, and from one client IP, within sendWindowMinutes. */
  maxSendsPerAccount: number;
  maxSendsPerIp: number;
  sendWindowMinutes: number;
}

const ADDRESS = /^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/** An address as stored (trimmed, lower-cased), or null when it is not one. */
export function normaliseAddress(raw: string): string | null {
  const v = raw.trim().toLowerCase();
  return v.length <= 254 && ADDRESS.test(v) ? v : null;
}

/** j***@gmail.com: the first letter, ***, and the domain. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 1) return '***';
  return `${address[0]}***${address.slice(at)}`;
}

/** Domains a decoy mask is drawn from (the commonest personal mail providers here). */
const DECOY_DOMAINS = ['gmail.com', 'gmail.com', 'gmail.com', 'hotmail.com', 'yahoo.com', 'outlook.com', 'icloud.com', 'yahoo.com.sg'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/**
 * The masked address Forgotten Password shows for a login ID that has none on file (an
 * unknown login ID, or an account without a recovery email): drawn from the login ID under
 * the deployment's secret, so the same ID always shows the same one, as a real account does.
 * (README "Recovery email": why a placeholder rather than no option.)
 */
export function decoyMask(key: string, loginId: string): string {
  const h = createHmac('sha256', key).update(`decoy-recovery-email:${loginId}`).digest();
  return `${LETTERS[h[0]! % LETTERS.length]}***@${DECOY_DOMAINS[h[1]! % DECOY_DOMAINS.length]}`;
}

/** Which population of the offer an account belongs to. */
export function populationOf(account: Pick<Account, 'roles'>): 'students' | 'staff' {
  return account.roles.includes('student') ? 'students' : 'staff';
}

export interface ChangeContext {
  ip?: string | undefined;
  requestId?: string | undefined;
  lang: string;
}

export class RecoveryEmails {
  readonly #directory: Directory;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #send: SendRecoveryMail;
  readonly settings: RecoveryEmailSettings;
  /** Whether mail can be sent at all (SMTP_URL, or the demo mailbox): nothing is offered otherwise. */
  readonly #available: boolean;

  constructor(deps: { directory: Directory; audit: AuditLog; clock: Clock; send: SendRecoveryMail; settings: RecoveryEmailSettings; available: boolean }) {
    this.#directory = deps.directory;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#send = deps.send;
    this.settings = deps.settings;
    this.#available = deps.available;
  }

  get available(): boolean {
    return this.#available;
  }

  /** Whether the account's population is offered a recovery email (first sign-in, SSPR app). */
  offered(account: Account): boolean {
    return this.#available && this.settings.offer[populationOf(account)];
  }

  /** The address on file, if any (only for sending and masking). */
  addressOf(account: Account): string | null {
    return account.recoveryEmail?.address ?? null;
  }

  /** Sends a message (the caller passes what it says); never throws. */
  notify(to: string, kind: RecoveryMailKind, lang: string, params: Record<string, string | number> = {}): void {
    this.#send(to, kind, lang, params);
  }

  /** Saves a confirmed address; the old one (if another) and the new one are told. */
  async set(accountId: string, address: string, ctx: ChangeContext): Promise<Account> {
    let previous: string | null = null;
    const updated = await this.#directory.update(accountId, (a) => {
      previous = a.recoveryEmail?.address ?? null;
      return { ...a, recoveryEmail: { address, confirmedAt: this.#clock() } };
    });
    if (!updated) throw new Error(`account ${accountId} vanished`);
    const old = previous as string | null;
    if (old && old !== address) {
      await this.#audit.record({ type: 'recovery_email.changed', accountId, actor: accountId, ip: ctx.ip, requestId: ctx.requestId, reason: `${maskAddress(old)} -> ${maskAddress(address)}` });
      this.#send(old, 'email-changed', ctx.lang, { masked: maskAddress(address) });
    } else {
      await this.#audit.record({ type: 'recovery_email.added', accountId, actor: accountId, ip: ctx.ip, requestId: ctx.requestId, reason: maskAddress(address) });
    }
    this.#send(address, 'email-added', ctx.lang, {});
    return updated;
  }

  /** Removes the address; it is told. */
  async remove(accountId: string, ctx: ChangeContext): Promise<void> {
    let previous: string | null = null;
    await this.#directory.update(accountId, (a) => {
      previous = a.recoveryEmail?.address ?? null;
      return previous ? { ...a, recoveryEmail: null } : null;
    });
    const old = previous as string | null;
    if (!old) return;
    await this.#audit.record({ type: 'recovery_email.removed', accountId, actor: accountId, ip: ctx.ip, requestId: ctx.requestId, reason: maskAddress(old) });
    this.#send(old, 'email-removed', ctx.lang, {});
  }
}
