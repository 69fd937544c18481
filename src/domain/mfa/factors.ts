// Second factors an account may hold (staff MFA): passkeys (WebAuthn), one authenticator
// app (TOTP) and single-use recovery codes. Kept on the account record (durable, versioned
// with it). Nothing here is usable if the store is read: passkeys are public keys, the TOTP
// secret is sealed with a server key (seal.ts), recovery codes are keyed hashes.
import type { Account } from '../accounts/account.ts';

export interface Passkey {
  /** Credential id, base64url. */
  id: string;
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  /** The name the user gave it ("School laptop"). */
  name: string;
  /** singleDevice: bound to one authenticator; multiDevice: synced (backed up). */
  deviceType: 'singleDevice' | 'multiDevice';
  addedAt: number;
  lastUsedAt: number | null;
}

export interface TotpFactor {
  /** The base32 secret, sealed (seal.ts). */
  sealedSecret: string;
  addedAt: number;
  lastUsedAt: number | null;
  /** The last time step a code was accepted for: a code is accepted once. */
  lastStep: number;
}

export interface MfaState {
  /** WebAuthn user handle (random, base64url): never the login ID. */
  userHandle: string;
  passkeys: Passkey[];
  totp: TotpFactor | null;
  /** Keyed hashes of the unused recovery codes. */
  recoveryCodes: string[];
  recoveryCodesAt: number | null;
}

/** An account with MFA fields (the base record type does not list them). */
export type MfaAccount = Account & { mfa?: MfaState };

export function mfaOf(account: Account): MfaState | null {
  return (account as MfaAccount).mfa ?? null;
}

/** Whether the account has a second factor it can sign in with (recovery codes alone are not one). */
export function hasSecondFactor(account: Account): boolean {
  const m = mfaOf(account);
  return !!m && (m.passkeys.length > 0 || m.totp !== null);
}

/**
 * RFC 8176 method of a passkey: `swk`. `hwk` (a hardware-secured key) would need attestation,
 * which this IdP does not ask for (attestationType "none"): a device-bound credential may
 * still live in software, so `hwk` could overstate it.
 */
export function passkeyMethod(_p: Pick<Passkey, 'deviceType'>): 'swk' {
  return 'swk';
}
