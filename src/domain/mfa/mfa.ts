// Two-step sign-in: enrolling, checking and removing second factors, recovery codes, and an
// administrator's reset. Every change goes through the directory's compare-and-set (the
// account record is durable and versioned) and leaves an audit event; wrong codes are
// limited per account like wrong passwords (counted before the check, so parallel guesses
// cannot exceed the limit).
//   TOTP (otplib): RFC 6238, 6 digits, 30 s; one step of clock drift either way; a code is
//   accepted once (its time step must be later than the last accepted one).
//   Passkeys (@simplewebauthn/server): discoverable credentials, so an account that has one
//   can sign in with it alone; user verification required for administrators.
//   Recovery codes: 10 single-use codes, shown once; a new set replaces the old one.
import { randomBytes, randomInt } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import QRCode from 'qrcode';
import { keys, type Store } from '../../store/index.ts';
import type { Account } from '../accounts/account.ts';
import type { RequestContext } from '../accounts/authentication.ts';
import { PasskeyTakenError, type Directory } from '../accounts/directory.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import { hasSecondFactor, mfaOf, type MfaAccount, type MfaState, type Passkey } from './factors.ts';
import type { MfaPolicy } from './policy.ts';
import type { SecretSeal } from './seal.ts';

/**
 * @simplewebauthn/server, loaded on first use: it (with its certificate and CBOR libraries)
 * is the largest module the IdP loads, ~130 ms of start-up and ~15 MB of memory, and a
 * process that shows no sign-in page has no use for it (bench:startup, bench/README.md).
 */
let webauthnModule: Promise<typeof import('@simplewebauthn/server')> | undefined;
const webauthn = () => (webauthnModule ??= import('@simplewebauthn/server'));

export interface WebAuthnSettings {
  rpName: string;
  /** The host name of the IdP's public URL. */
  rpId: string;
  /** The IdP's public origin (scheme, host, port). */
  origin: string;
}

export type CodeCheck = 'ok' | 'wrong' | 'throttled';

/** Recovery codes: 10 groups of 4+4 from an alphabet without look-alikes (≈ 64 bits each). */
const RECOVERY_ALPHABET = '23456789abcdefghjkmnpqrstuvwxyz';
const RECOVERY_COUNT = 10;

function recoveryCode(): string {
  const part = () => Array.from({ length: 4 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
  return `${part()}-${part()}-${part()}`;
}

/** A recovery code as typed: spaces and case do not matter, dashes are optional. */
function normaliseRecoveryCode(raw: string): string {
  const v = raw.toLowerCase().replace(/[\s-]/g, '');
  return v.length === 12 ? `${v.slice(0, 4)}-${v.slice(4, 8)}-${v.slice(8)}` : v;
}

export class Mfa {
  readonly #directory: Directory;
  readonly #store: Store;
  readonly #audit: AuditLog;
  readonly #clock: Clock;
  readonly #seal: SecretSeal;
  readonly policy: MfaPolicy;
  readonly #webauthn: WebAuthnSettings;

  constructor(deps: { directory: Directory; store: Store; audit: AuditLog; clock: Clock; seal: SecretSeal; policy: MfaPolicy; webauthn: WebAuthnSettings }) {
    this.#directory = deps.directory;
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#seal = deps.seal;
    this.policy = deps.policy;
    this.#webauthn = deps.webauthn;
  }

  hasSecondFactor(account: Account): boolean {
    return hasSecondFactor(account);
  }

  /** Whether passkeys for this account must verify the user (PIN, biometrics): administrators. */
  userVerificationRequired(account: Pick<Account, 'roles'>): boolean {
    return this.policy.required(account);
  }

  // --- authenticator app (TOTP)

  /** A new secret to enrol in an authenticator app. */
  newTotpSecret(): string {
    return generateSecret();
  }

  /** The otpauth URI of a secret for this account, and its QR code (SVG, made here: no outside service). */
  async totpQr(account: Account, secret: string): Promise<{ uri: string; qrSvg: string }> {
    const uri = generateURI({ issuer: this.#webauthn.rpName, label: account.loginId, secret });
    return { uri, qrSvg: await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }) };
  }

  /** Confirms the app with a code of the new secret, then keeps the (sealed) secret. */
  async enrolTotp(account: Account, secret: string, code: string, rc: RequestContext): Promise<CodeCheck> {
    const limited = await this.#begin(account, rc);
    if (limited) return limited;
    const step = await this.#totpStep(secret, code, 0);
    if (step === null) return this.#failed(account, rc, 'authenticator app code (enrolment)');
    await this.#succeeded(account);
    await this.#change(account.id, (m) => {
      m.totp = { sealedSecret: this.#seal.seal(secret), addedAt: this.#clock(), lastUsedAt: this.#clock(), lastStep: step };
    });
    await this.#audit.record({ type: 'mfa.added', accountId: account.id, reason: 'authenticator app', ...rc });
    return 'ok';
  }

  /**
   * An authenticator app with a secret the caller knows (seed files and the CLI: an
   * integration tester computes the codes with any TOTP library). No code is checked.
   */
  async setTotpSecret(account: Account, secret: string, rc: RequestContext & { actor?: string }): Promise<void> {
    const normalised = secret.replace(/[\s=]/g, '').toUpperCase();
    if (!/^[A-Z2-7]{16,128}$/.test(normalised)) throw new Error('an authenticator secret is base32 (A-Z, 2-7), at least 16 characters');
    await this.#change(account.id, (m) => {
      m.totp = { sealedSecret: this.#seal.seal(normalised), addedAt: this.#clock(), lastUsedAt: null, lastStep: 0 };
    });
    await this.#audit.record({ type: 'mfa.added', accountId: account.id, reason: 'authenticator app (set by seed or CLI)', ...rc });
  }

  /** What an account has, without secrets (CLI `account show`). */
  describe(account: Account): { passkeys: Array<{ name: string; addedAt: string }>; authenticatorApp: boolean; recoveryCodesLeft: number } {
    const m = mfaOf(account);
    return {
      passkeys: (m?.passkeys ?? []).map((p) => ({ name: p.name, addedAt: new Date(p.addedAt).toISOString() })),
      authenticatorApp: !!m?.totp,
      recoveryCodesLeft: m?.recoveryCodes.length ?? 0,
    };
  }

  /** A code from the account's authenticator app (each accepted once). */
  async checkTotp(account: Account, code: string, rc: RequestContext): Promise<CodeCheck> {
    const totp = mfaOf(account)?.totp;
    if (!totp) return 'wrong';
    const limited = await this.#begin(account, rc);
    if (limited) return limited;
    const step = await this.#totpStep(this.#seal.open(totp.sealedSecret), code, totp.lastStep);
    if (step === null) return this.#failed(account, rc, 'authenticator app code');
    // Accepted once: the step is recorded by compare-and-set, so two requests with one code cannot both pass.
    let accepted = false;
    await this.#change(account.id, (m) => {
      accepted = false;
      if (!m.totp || m.totp.lastStep >= step) return;
      m.totp.lastStep = step;
      m.totp.lastUsedAt = this.#clock();
      accepted = true;
    });
    if (!accepted) return this.#failed(account, rc, 'authenticator app code used twice');
    await this.#succeeded(account);
    await this.#audit.record({ type: 'mfa.success', accountId: account.id, reason: 'authenticator app', ...rc });
    return 'ok';
  }

  /** The time step a code belongs to (now, or one step either side), if later than `after`. */
  async #totpStep(secret: string, code: string, after: number): Promise<number | null> {
    const token = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(token)) return null;
    const result = await verifyTotp({ secret, token, epoch: Math.floor(this.#clock() / 1000), epochTolerance: 30, afterTimeStep: after });
    return result.valid && 'timeStep' in result ? result.timeStep : null;
  }

  /**
   * Removes the authenticator app. With `keepOne`, only if a passkey remains (checked in the
   * same compare-and-set, so parallel removals cannot leave none); resolves whether it was removed.
   */
  async removeTotp(account: Account, rc: RequestContext & { actor?: string }, keepOne = false): Promise<boolean> {
    let removed = false;
    await this.#change(account.id, (m) => {
      removed = m.totp !== null && (!keepOne || m.passkeys.length > 0);
      if (removed) m.totp = null;
    });
    if (removed) await this.#audit.record({ type: 'mfa.removed', accountId: account.id, reason: 'authenticator app', ...rc });
    return removed;
  }

  // --- passkeys

  async registrationOptions(account: Account): Promise<PublicKeyCredentialCreationOptionsJSON> {
    // The WebAuthn user handle is made (and kept) before the first registration.
    const m = mfaOf(account)?.userHandle ? mfaOf(account) : mfaOf((await this.#change(account.id, () => {}))!);
    return (await webauthn()).generateRegistrationOptions({
      rpName: this.#webauthn.rpName,
      rpID: this.#webauthn.rpId,
      userName: account.loginId,
      userDisplayName: account.displayName,
      userID: Buffer.from(m!.userHandle, 'base64url'),
      attestationType: 'none',
      excludeCredentials: (m?.passkeys ?? []).map((p) => ({ id: p.id, transports: p.transports })),
      authenticatorSelection: { residentKey: 'required', userVerification: this.userVerificationRequired(account) ? 'required' : 'preferred' },
    });
  }

  /** Verifies the browser's new credential against the challenge it was given, and keeps it. */
  async addPasskey(account: Account, response: RegistrationResponseJSON, expectedChallenge: string, name: string, rc: RequestContext): Promise<Passkey | null> {
    let verified;
    try {
      verified = await (await webauthn()).verifyRegistrationResponse({
        response,
        expectedChallenge,
        expectedOrigin: this.#webauthn.origin,
        expectedRPID: this.#webauthn.rpId,
        requireUserVerification: this.userVerificationRequired(account),
      });
    } catch (err) {
      await this.#audit.record({ type: 'mfa.failure', accountId: account.id, reason: `passkey registration refused: ${(err as Error).message.slice(0, 120)}`, ...rc });
      return null;
    }
    if (!verified.verified) return null;
    const info = verified.registrationInfo;
    const passkey: Passkey = {
      id: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: info.credential.transports ?? [],
      name: name.trim().slice(0, 60) || 'Passkey',
      deviceType: info.credentialDeviceType,
      addedAt: this.#clock(),
      lastUsedAt: this.#clock(),
    };
    // One passkey belongs to one account: the directory refuses a credential id another
    // account has (PasskeyTakenError), in the same transaction as the record.
    try {
      await this.#change(account.id, (m) => {
        m.passkeys.push(passkey);
      });
    } catch (err) {
      if (err instanceof PasskeyTakenError) return null;
      throw err;
    }
    await this.#audit.record({ type: 'mfa.added', accountId: account.id, reason: `passkey "${passkey.name}"`, ...rc });
    return passkey;
  }

  /** Options for a sign-in with a passkey: the account's passkeys, or any (a passkey alone). */
  /** `challenge` (base64url): one the caller keeps (a flow that is only a reference derives its own); random by default. */
  async authenticationOptions(account: Account | null, challenge?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    return (await webauthn()).generateAuthenticationOptions({
      rpID: this.#webauthn.rpId,
      ...(challenge === undefined ? {} : { challenge: new Uint8Array(Buffer.from(challenge, 'base64url')) }),
      allowCredentials: account ? (mfaOf(account)?.passkeys ?? []).map((p) => ({ id: p.id, transports: p.transports })) : [],
      userVerification: account === null || this.userVerificationRequired(account) ? 'required' : 'preferred',
    });
  }

  /**
   * Verifies a passkey assertion for `account`, or, without one (a passkey alone), for the
   * account that registered the credential; user verification is then required.
   */
  async checkPasskey(response: AuthenticationResponseJSON, expectedChallenge: string, account: Account | null, rc: RequestContext): Promise<{ account: Account; passkey: Passkey; userVerified: boolean } | null> {
    const owner = typeof response?.id === 'string' ? await this.#directory.findByPasskey(response.id) : null;
    const passkey = owner ? mfaOf(owner)?.passkeys.find((p) => p.id === response.id) : undefined;
    if (!owner || !passkey || (account && owner.id !== account.id) || owner.status !== 'active') {
      await this.#audit.record({ type: 'mfa.failure', accountId: account?.id, reason: 'unknown passkey', ...rc });
      return null;
    }
    const requireUv = account === null || this.userVerificationRequired(owner);
    let verified;
    try {
      verified = await (await webauthn()).verifyAuthenticationResponse({
        response,
        expectedChallenge,
        expectedOrigin: this.#webauthn.origin,
        expectedRPID: this.#webauthn.rpId,
        credential: { id: passkey.id, publicKey: Buffer.from(passkey.publicKey, 'base64url'), counter: passkey.counter, transports: passkey.transports },
        requireUserVerification: requireUv,
      });
    } catch (err) {
      await this.#audit.record({ type: 'mfa.failure', accountId: owner.id, reason: `passkey refused: ${(err as Error).message.slice(0, 120)}`, ...rc });
      return null;
    }
    if (!verified.verified) return null;
    await this.#change(owner.id, (m) => {
      const p = m.passkeys.find((x) => x.id === passkey.id);
      if (p) {
        p.counter = verified.authenticationInfo.newCounter;
        p.lastUsedAt = this.#clock();
      }
    });
    await this.#audit.record({ type: 'mfa.success', accountId: owner.id, reason: `passkey "${passkey.name}"`, ...rc });
    return { account: owner, passkey, userVerified: verified.authenticationInfo.userVerified };
  }

  /** Removes a passkey; with `keepOne`, only if another factor remains (in the same compare-and-set). */
  async removePasskey(account: Account, id: string, rc: RequestContext & { actor?: string }, keepOne = false): Promise<boolean> {
    const passkey = mfaOf(account)?.passkeys.find((p) => p.id === id);
    if (!passkey) return false;
    let removed = false;
    await this.#change(account.id, (m) => {
      const left = m.passkeys.filter((p) => p.id !== id);
      removed = left.length < m.passkeys.length && (!keepOne || left.length > 0 || m.totp !== null);
      if (removed) m.passkeys = left;
    });
    if (!removed) return false;
    await this.#audit.record({ type: 'mfa.removed', accountId: account.id, reason: `passkey "${passkey.name}"`, ...rc });
    return true;
  }

  // --- recovery codes

  /** A new set of recovery codes (the old ones stop working); the codes are returned once. */
  async newRecoveryCodes(account: Account, rc: RequestContext): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_COUNT }, recoveryCode);
    await this.#change(account.id, (m) => {
      m.recoveryCodes = codes.map((c) => this.#seal.hash(c));
      m.recoveryCodesAt = this.#clock();
    });
    await this.#audit.record({ type: 'mfa.recovery.generated', accountId: account.id, ...rc });
    return codes;
  }

  /** A recovery code instead of the second factor: used up by compare-and-set. */
  async useRecoveryCode(account: Account, raw: string, rc: RequestContext): Promise<CodeCheck> {
    const limited = await this.#begin(account, rc);
    if (limited) return limited;
    const hash = this.#seal.hash(normaliseRecoveryCode(raw));
    let used = false;
    await this.#change(account.id, (m) => {
      used = m.recoveryCodes.includes(hash);
      m.recoveryCodes = m.recoveryCodes.filter((h) => h !== hash);
    });
    if (!used) return this.#failed(account, rc, 'recovery code');
    await this.#succeeded(account);
    const left = mfaOf((await this.#directory.get(account.id))!)?.recoveryCodes.length ?? 0;
    await this.#audit.record({ type: 'mfa.recovery.used', accountId: account.id, reason: `${left} left`, ...rc });
    return 'ok';
  }

  // --- administrators

  /** Removes every factor and recovery code: enrolment is required again at the next sign-in (if the policy requires it). */
  async reset(account: Account, rc: RequestContext & { actor: string }): Promise<void> {
    await this.#change(account.id, (m) => {
      m.passkeys = [];
      m.totp = null;
      m.recoveryCodes = [];
      m.recoveryCodesAt = null;
    });
    await this.#store.del(keys.mfaFailures(account.id));
    await this.#audit.record({ type: 'mfa.reset', accountId: account.id, ...rc });
  }

  // --- internals

  async #change(accountId: string, change: (m: MfaState) => void): Promise<Account | null> {
    return this.#directory.update(accountId, (a) => {
      const acct = a as MfaAccount;
      const m: MfaState = acct.mfa ? structuredClone(acct.mfa) : { userHandle: '', passkeys: [], totp: null, recoveryCodes: [], recoveryCodesAt: null };
      change(m);
      if (!m.userHandle) m.userHandle = randomBytes(32).toString('base64url');
      return { ...acct, mfa: m };
    });
  }

  /** Counts a code attempt before it is checked; refuses past the limit. */
  async #begin(account: Account, rc: RequestContext): Promise<CodeCheck | null> {
    const { maxFailures, windowMinutes } = this.policy.settings;
    const n = await this.#store.increment(keys.mfaFailures(account.id), windowMinutes * 60_000);
    if (n <= maxFailures) return null;
    await this.#audit.record({ type: 'mfa.throttled', accountId: account.id, reason: `more than ${maxFailures} codes in ${windowMinutes} minutes`, ...rc });
    return 'throttled';
  }

  async #failed(account: Account, rc: RequestContext, what: string): Promise<CodeCheck> {
    await this.#audit.record({ type: 'mfa.failure', accountId: account.id, reason: `wrong ${what}`, ...rc });
    return 'wrong';
  }

  async #succeeded(account: Account): Promise<void> {
    await this.#store.del(keys.mfaFailures(account.id));
  }
}
