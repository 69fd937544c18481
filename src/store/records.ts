// JSON records kept in the store under an id (flows, pending SAML sign-ins, logout chains,
// SSO sessions): one key per record, the id checked before the store is asked (a forged or
// malformed id never reaches it), the record stored as JSON, every write with its TTL.
// Like oidc-provider's BaseModel, each kind of record keeps its own rules on top.
import type { Store } from './store.ts';

export class JsonRecords<T extends { id: string }> {
  readonly #store: Store;
  readonly #key: (id: string) => string;
  readonly #id: RegExp;

  constructor(store: Store, key: (id: string) => string, idPattern: RegExp) {
    this.#store = store;
    this.#key = key;
    this.#id = idPattern;
  }

  key(id: string): string {
    return this.#key(id);
  }

  /** Whether `id` could be one of these records' ids (checked before the store is asked). */
  validId(id: string | undefined): id is string {
    return id !== undefined && id !== '' && this.#id.test(id);
  }

  /** The stored value as it is (for records that keep a marker, such as "used"); null for an invalid id. */
  async raw(id: string | undefined): Promise<string | null> {
    return this.validId(id) ? this.#store.get(this.#key(id)) : null;
  }

  /** The record, or null when the id is invalid, unknown or expired. */
  async get(id: string | undefined): Promise<T | null> {
    const raw = await this.raw(id);
    return raw ? (JSON.parse(raw) as T) : null;
  }

  async put(record: T, ttlMs: number): Promise<void> {
    await this.#store.set(this.#key(record.id), JSON.stringify(record), { ttlMs });
  }

  /** Replaces `expected` (as read) with `next`, only if unchanged meanwhile. */
  async replace(expected: T, next: T | string): Promise<boolean> {
    return this.#store.compareAndSet(this.#key(expected.id), JSON.stringify(expected), typeof next === 'string' ? next : JSON.stringify(next));
  }

  async expire(id: string, ttlMs: number): Promise<void> {
    await this.#store.expire(this.#key(id), ttlMs);
  }

  async delete(id: string): Promise<void> {
    await this.#store.del(this.#key(id));
  }
}
