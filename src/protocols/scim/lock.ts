// One change of a SCIM resource at a time, across every IdP process: a PATCH reads the
// resource, applies the operations and writes the result, and If-Match compares with what
// was read; two at once would each succeed on the same version and lose each other's change
// (RFC 7644 §3.14). A short lease in the store holds the others back until it is done.
import { setTimeout as sleep } from 'node:timers/promises';
import { newId } from '../../domain/ids.ts';
import { keys, type Store } from '../../store/index.ts';
import { ScimError } from './resources.ts';

const LEASE_MS = 15_000;
const WAIT_MS = 10_000;

export type Exclusive = <T>(resource: string, fn: () => Promise<T>) => Promise<T>;

export function storeExclusive(store: Store): Exclusive {
  return async (resource, fn) => {
    const key = keys.scimLock(resource);
    const token = newId(9);
    const until = Date.now() + WAIT_MS;
    while (!(await store.set(key, token, { ttlMs: LEASE_MS, onlyIfAbsent: true }))) {
      if (Date.now() > until) throw new ScimError(503, 'the resource is being changed by another request; try again');
      await sleep(10 + Math.random() * 20);
    }
    try {
      return await fn();
    } finally {
      if ((await store.get(key).catch(() => null)) === token) await store.del(key).catch(() => {});
    }
  };
}
