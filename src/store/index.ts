// Chooses the store from configuration: Redis when a URL, cluster or sentinels are
// configured, otherwise the embedded in-process store.
import { MemoryStore } from './memory-store.ts';
import { RedisStore, describeConnection, type RedisConnection } from './redis-store.ts';
import type { Store } from './store.ts';

export type { Store, SetOptions, StreamEntry } from './store.ts';
export { StoreUnavailableError } from './store.ts';
export { keys } from './keys.ts';
export { MemoryStore } from './memory-store.ts';
export { RedisStore } from './redis-store.ts';

export interface OpenedStore {
  store: Store;
  description: string;
}

export function usesRedis(c: RedisConnection): boolean {
  return Boolean(c.url || c.clusterNodes?.length || c.sentinels?.length);
}

export async function openStore(c: RedisConnection, readyTimeoutMs = 10_000): Promise<OpenedStore> {
  if (!usesRedis(c)) {
    return { store: new MemoryStore(), description: 'embedded in-process store (no REDIS_URL): state is lost at exit, for trying the product only' };
  }
  const store = new RedisStore(c);
  try {
    await store.ready(readyTimeoutMs);
  } catch (err) {
    await store.close();
    throw err;
  }
  return { store, description: describeConnection(c) };
}
