// Who must, may or may not use two-step sign-in: by role, from configuration (like the
// password policy). Default: required for school and ministry administrators, offered to
// staff, off for students.
import type { Account } from '../accounts/account.ts';

export interface MfaSettings {
  requiredForRoles: string[];
  offeredToRoles: string[];
  /** Wrong second-factor codes per account within the window before codes are refused. */
  maxFailures: number;
  windowMinutes: number;
}

export class MfaPolicy {
  readonly #s: MfaSettings;

  constructor(settings: MfaSettings) {
    this.#s = settings;
  }

  get settings(): MfaSettings {
    return this.#s;
  }

  required(account: Pick<Account, 'roles'>): boolean {
    return (account.roles as string[]).some((r) => this.#s.requiredForRoles.includes(r));
  }

  /**
   * Who may hold a passkey at all, for the sign-in page's words: 'everyone' when students may,
   * 'staff' when only other roles may (students are not offered the button's words), null
   * when nobody may (no button).
   */
  passkeysFor(): 'everyone' | 'staff' | null {
    const roles = new Set([...this.#s.requiredForRoles, ...this.#s.offeredToRoles]);
    if (roles.size === 0) return null;
    return roles.has('student') ? 'everyone' : 'staff';
  }

  /** Whether the account may set up a second factor (required implies offered). */
  offered(account: Pick<Account, 'roles'>): boolean {
    return this.required(account) || (account.roles as string[]).some((r) => this.#s.offeredToRoles.includes(r));
  }
}
