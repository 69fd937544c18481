// The interface for state that may be lost (sessions, flows, counters, locks, OIDC
// artefacts, replay guards; the directory is in the database, store/database/). Two
// implementations: RedisStore (standalone, Sentinel or Cluster) and MemoryStore (embedded,
// one process).
// Contract (test/store/contract.test.ts runs it on both):
// - a command touches one key, or keys that share a hash tag, so it is valid on a Cluster;
// - ttlMs is in milliseconds; only a lock is written without one;
// - every method is atomic on its own key;
// - a write to a lock (isDurableKey) resolves once redis.waitReplicas replicas hold it
//   (RedisStore; none by default on standalone Redis); otherwise it rejects with StoreUnavailableError.

export interface SetOptions {
  /** Expire the key after this many milliseconds. */
  ttlMs?: number;
  /** Only set when the key does not exist; resolves false when it did. */
  onlyIfAbsent?: boolean;
  /** Keep the key's current TTL (used to update an artefact without extending it). */
  keepTtl?: boolean;
}

export type IndexedRecord = { key: string; value: string } | { key: string; fields: Record<string, string> };

export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

export interface Store {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options?: SetOptions): Promise<boolean>;
  /** Replace the value only if it still equals `expected`; resolves false otherwise. */
  compareAndSet(key: string, expected: string, next: string): Promise<boolean>;
  del(key: string): Promise<void>;
  /** Remaining time to live in ms; -1 without expiry, -2 when the key is absent. */
  ttl(key: string): Promise<number>;
  expire(key: string, ttlMs: number): Promise<void>;
  /**
   * Add `by` (default 1; negative gives back a reservation) to a counter; the TTL is set when
   * the counter is created and never extended.
   */
  increment(key: string, ttlMs: number, by?: number): Promise<number>;

  hashSet(key: string, fields: Record<string, string>, ttlMs?: number): Promise<void>;
  /** Sets fields of an existing hash (its TTL unchanged) in one step; false, and nothing written, when there is no such hash. */
  hashUpdate(key: string, fields: Record<string, string>): Promise<boolean>;
  hashGetAll(key: string): Promise<Record<string, string> | null>;

  /**
   * A record with its TTL (`fields`: a hash, as hashSet; else `value`: a string, as set) and
   * each index's member added to that index's set, whose TTL is raised to ttlMs (as setAdd):
   * in one step where the store can (one script on a single Redis or Sentinel's master; on a
   * Cluster the keys may live on different nodes, so there it is one command each, at once).
   */
  putIndexed(record: IndexedRecord, ttlMs: number, indexes: ReadonlyArray<{ key: string; member: string }>): Promise<void>;

  /** Add to a set; the set's TTL is raised to ttlMs when longer than what it has. */
  setAdd(key: string, member: string, ttlMs?: number): Promise<void>;
  setMembers(key: string): Promise<string[]>;
  setRemove(key: string, member: string): Promise<void>;

  /** Lexicographically ordered index (prefix search). */
  indexAdd(key: string, member: string): Promise<void>;
  indexRemove(key: string, member: string): Promise<void>;
  indexRange(key: string, prefix: string, limit: number, after?: string): Promise<string[]>;

  streamAdd(key: string, fields: Record<string, string>, maxLen: number): Promise<string>;
  /** Newest first. */
  streamRange(key: string, count: number, before?: string): Promise<StreamEntry[]>;

  ping(): Promise<void>;
  /** Resolves when the store can take writes now (readiness); rejects with StoreUnavailableError otherwise. */
  writable(): Promise<void>;
  close(): Promise<void>;
}

/** Thrown when the backing store cannot be reached; pages map it to SSPR 5019. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}
