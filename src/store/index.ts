// Chooses the store from configuration: Redis when a URL, cluster or sentinels are
// configured, otherwise the embedded in-process store.
import { MemoryStore } from './memory-store.ts';
import { RedisStore, describeConnection, type RedisConnection } from './redis-store.ts';
import type { Store } from './store.ts';

export type { Store, SetOptions, StreamEntry, IndexedRecord } from './store.ts';
export { StoreUnavailableError } from './store.ts';
export { keys, isDurableKey } from './keys.ts';
export { MemoryStore } from './memory-store.ts';
export { RedisStore } from './redis-store.ts';

export interface OpenedStore {
  store: Store;
  description: string;
}

export function usesRedis(c: RedisConnection): boolean {
  return Boolean(c.url || c.clusterNodes?.length || c.sentinels?.length);
}

/** The store, connecting in the background: commands fail with StoreUnavailableError until Redis answers. */
export function createStore(c: RedisConnection): OpenedStore {
  if (!usesRedis(c)) {
    return { store: new MemoryStore(), description: 'embedded in-process store (no REDIS_URL): state is lost at exit, for trying the product only' };
  }
  return { store: new RedisStore(c), description: describeConnection(c) };
}

/** The store once connected; rejects with StoreUnavailableError after readyTimeoutMs. */
export async function openStore(c: RedisConnection, readyTimeoutMs = 10_000): Promise<OpenedStore> {
  const opened = createStore(c);
  const { store } = opened;
  if (!(store instanceof RedisStore)) return opened;
  try {
    await store.ready(readyTimeoutMs);
  } catch (err) {
    await store.close();
    throw err;
  }
  return opened;
}
