// The embedded store: everything in this process's memory, gone when it stops.
// For trying the product without Redis; it honours the same contract as RedisStore.
import type { IndexedRecord, SetOptions, Store, StreamEntry } from './store.ts';

type Value =
  | { type: 'string'; value: string }
  | { type: 'hash'; value: Map<string, string> }
  | { type: 'set'; value: Set<string> }
  | { type: 'index'; value: Set<string> }
  | { type: 'stream'; value: StreamEntry[]; seq: number };

interface Entry {
  data: Value;
  expiresAt?: number;
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#sweeper = setInterval(() => this.#sweep(), 30_000);
    this.#sweeper.unref();
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) this.#entries.delete(key);
    }
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #typed<T extends Value['type']>(key: string, type: T): Extract<Value, { type: T }> | undefined {
    const entry = this.#live(key);
    if (!entry) return undefined;
    if (entry.data.type !== type) throw new Error(`WRONGTYPE: ${key} holds a ${entry.data.type}`);
    return entry.data as Extract<Value, { type: T }>;
  }

  #expiry(ttlMs?: number): number | undefined {
    return ttlMs === undefined ? undefined : this.#now() + ttlMs;
  }

  async get(key: string): Promise<string | null> {
    return this.#typed(key, 'string')?.value ?? null;
  }

  async set(key: string, value: string, options: SetOptions = {}): Promise<boolean> {
    const current = this.#live(key);
    if (options.onlyIfAbsent && current) return false;
    const expiresAt = options.keepTtl ? current?.expiresAt : this.#expiry(options.ttlMs);
    this.#entries.set(key, { data: { type: 'string', value }, expiresAt });
    return true;
  }

  async compareAndSet(key: string, expected: string, next: string): Promise<boolean> {
    const current = this.#live(key);
    if (current?.data.type !== 'string' || current.data.value !== expected) return false;
    current.data = { type: 'string', value: next };
    return true;
  }

  async del(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async ttl(key: string): Promise<number> {
    const entry = this.#live(key);
    if (!entry) return -2;
    return entry.expiresAt === undefined ? -1 : entry.expiresAt - this.#now();
  }

  async expire(key: string, ttlMs: number): Promise<void> {
    const entry = this.#live(key);
    if (entry) entry.expiresAt = this.#expiry(ttlMs);
  }

  async increment(key: string, ttlMs: number, by = 1): Promise<number> {
    const current = this.#typed(key, 'string');
    if (!current) {
      this.#entries.set(key, { data: { type: 'string', value: String(by) }, expiresAt: this.#expiry(ttlMs) });
      return by;
    }
    const next = Number(current.value) + by;
    if (!Number.isInteger(next)) throw new Error(`ERR value at ${key} is not an integer`);
    current.value = String(next);
    return next;
  }

  async hashSet(key: string, fields: Record<string, string>, ttlMs?: number): Promise<void> {
    let hash = this.#typed(key, 'hash');
    if (!hash) {
      hash = { type: 'hash', value: new Map() };
      this.#entries.set(key, { data: hash });
    }
    for (const [k, v] of Object.entries(fields)) hash.value.set(k, v);
    if (ttlMs !== undefined) await this.expire(key, ttlMs);
  }

  async hashUpdate(key: string, fields: Record<string, string>): Promise<boolean> {
    const hash = this.#typed(key, 'hash');
    if (!hash) return false;
    for (const [k, v] of Object.entries(fields)) hash.value.set(k, v);
    return true;
  }

  async hashGetAll(key: string): Promise<Record<string, string> | null> {
    const hash = this.#typed(key, 'hash');
    return hash ? Object.fromEntries(hash.value) : null;
  }

  async putIndexed(record: IndexedRecord, ttlMs: number, indexes: ReadonlyArray<{ key: string; member: string }>): Promise<void> {
    for (const index of indexes) await this.setAdd(index.key, index.member, ttlMs);
    if ('fields' in record) await this.hashSet(record.key, record.fields, ttlMs);
    else await this.set(record.key, record.value, { ttlMs });
  }

  async setAdd(key: string, member: string, ttlMs?: number): Promise<void> {
    let set = this.#typed(key, 'set');
    if (!set) {
      set = { type: 'set', value: new Set() };
      this.#entries.set(key, { data: set });
    }
    set.value.add(member);
    if (ttlMs !== undefined) {
      const entry = this.#entries.get(key)!;
      const wanted = this.#now() + ttlMs;
      if (entry.expiresAt === undefined || entry.expiresAt < wanted) entry.expiresAt = wanted;
    }
  }

  async setMembers(key: string): Promise<string[]> {
    return [...(this.#typed(key, 'set')?.value ?? [])];
  }

  async setRemove(key: string, member: string): Promise<void> {
    this.#typed(key, 'set')?.value.delete(member);
  }

  async indexAdd(key: string, member: string): Promise<void> {
    let index = this.#typed(key, 'index');
    if (!index) {
      index = { type: 'index', value: new Set() };
      this.#entries.set(key, { data: index });
    }
    index.value.add(member);
  }

  async indexRemove(key: string, member: string): Promise<void> {
    this.#typed(key, 'index')?.value.delete(member);
  }

  async indexRange(key: string, prefix: string, limit: number, after?: string): Promise<string[]> {
    const members = [...(this.#typed(key, 'index')?.value ?? [])].sort(byteOrder);
    return members
      .filter((m) => m.startsWith(prefix) && (after === undefined || byteOrder(m, after) > 0))
      .slice(0, limit);
  }

  async streamAdd(key: string, fields: Record<string, string>, maxLen: number): Promise<string> {
    let stream = this.#typed(key, 'stream');
    if (!stream) {
      stream = { type: 'stream', value: [], seq: 0 };
      this.#entries.set(key, { data: stream });
    }
    const id = `${this.#now()}-${stream.seq++}`;
    stream.value.push({ id, fields: { ...fields } });
    if (stream.value.length > maxLen) stream.value.splice(0, stream.value.length - maxLen);
    return id;
  }

  async streamRange(key: string, count: number, before?: string): Promise<StreamEntry[]> {
    const entries = this.#typed(key, 'stream')?.value ?? [];
    const out: StreamEntry[] = [];
    for (let i = entries.length - 1; i >= 0 && out.length < count; i--) {
      const entry = entries[i]!;
      if (before !== undefined && compareStreamIds(entry.id, before) >= 0) continue;
      out.push(entry);
    }
    return out;
  }

  async ping(): Promise<void> {}

  async writable(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
  }
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
