// A SAML sign-in waiting for its user: what a checked AuthnRequest (or a portal tile,
// for IdP-initiated sign-in) asked for, kept in the store between /saml/sso and the
// Response, with only its id in URLs. It belongs to the browser that brought it and is
// used once.
import { createHash } from 'node:crypto';
import { newId } from '../../domain/ids.ts';
import { keys, type Store } from '../../store/index.ts';
import { JsonRecords } from '../../store/records.ts';
import type { RequestedAuthnContext } from './authn-context.ts';

export interface PendingSignIn {
  id: string;
  spId: string;
  /** The AuthnRequest ID (InResponseTo); absent for IdP-initiated sign-in. */
  requestId?: string;
  acsUrl: string;
  relayState?: string;
  forceAuthn: boolean;
  isPassive: boolean;
  /** RequestedAuthnContext, when the SP sent one (authn-context.ts). */
  authnContext?: RequestedAuthnContext;
  receivedAt: number;
  /** Hash of the browser secret of the browser that brought the request. */
  binding: string;
}

const USED = 'used';

export function browserBinding(secret: string): string {
  return createHash('sha256').update(`saml-pending:${secret}`).digest('base64url');
}

export class PendingSignIns {
  readonly #records: JsonRecords<PendingSignIn>;
  readonly #ttlMs: number;

  constructor(store: Store, ttlMs: number) {
    this.#records = new JsonRecords(store, keys.samlPending, /^[A-Za-z0-9_-]{16,64}$/);
    this.#ttlMs = ttlMs;
  }

  async create(init: Omit<PendingSignIn, 'id'>): Promise<PendingSignIn> {
    const pending: PendingSignIn = { id: newId(), ...init };
    await this.#records.put(pending, this.#ttlMs);
    return pending;
  }

  /** The pending sign-in; 'used' once its Response was sent; null when unknown or expired. */
  async get(id: string): Promise<PendingSignIn | 'used' | null> {
    const raw = await this.#records.raw(id);
    if (raw === USED) return USED;
    return raw ? (JSON.parse(raw) as PendingSignIn) : null;
  }

  /** Binds an unclaimed pending sign-in to the browser that opens it first. */
  async claim(pending: PendingSignIn, binding: string): Promise<PendingSignIn | null> {
    const claimed = { ...pending, binding };
    return (await this.#records.replace(pending, claimed)) ? claimed : null;
  }

  /** Removes it; resolves false when it was already used (a second tab, a replay). */
  async take(pending: PendingSignIn): Promise<boolean> {
    return this.#records.replace(pending, USED);
  }
}
