// The store through Redis Sentinel: the harness starts a master, a replica and three
// sentinels (test/support/sentinel.ts), and the store finds the master by asking the
// sentinels, as REDIS_SENTINELS / REDIS_SENTINEL_NAME configure it. By default nothing waits
// for the replica (Redis holds only what may be lost); with REDIS_WAIT_REPLICAS=1 a lock's
// write resolves once the replica holds it, and /readyz-style checks want the replica online.
import assert from 'node:assert/strict';
import { keys, openStore } from '../../src/store/index.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import { uniquePrefix } from '../support/redis.ts';
import { OwnedSentinel, redisCli, SENTINEL_NAME } from '../support/sentinel.ts';

describe('store through Redis Sentinel', function () {
  this.timeout(60_000);
  let topology: OwnedSentinel;

  before(async () => {
    topology = await OwnedSentinel.start(1);
  });
  after(async () => {
    await topology?.stop();
  });

  it('finds the master through the sentinels; a write to a lock is on the replica when it resolves', async () => {
    const prefix = uniquePrefix();
    const { store, description } = await openStore({ sentinels: topology.sentinelAddresses, sentinelName: SENTINEL_NAME, keyPrefix: prefix, waitReplicas: 'auto' });
    try {
      assert.match(description, /Redis Sentinel idp-master/);
      assert.equal((store as RedisStore).waitReplicas, 0, 'nothing waits for a replica by default: Redis holds only what may be lost');
      await store.writable();
      assert.equal(await store.increment(keys.signInFailures('sentinel_check@students.edu.sg'), 60_000), 1);
    } finally {
      await store.close();
    }
    // Asked for (REDIS_WAIT_REPLICAS=1), a lock's write resolves once the replica holds it.
    const waiting = new RedisStore({ sentinels: topology.sentinelAddresses, sentinelName: SENTINEL_NAME, keyPrefix: prefix, waitReplicas: 1 });
    try {
      await waiting.ready();
      await waiting.set(keys.lock('sentinel_check@students.edu.sg'), JSON.stringify({ v: 2, since: 1 }));
      // Read straight from the replica, at once: WAIT made sure it has the lock.
      const replica = topology.data.find((n) => n.port !== topology.masterPort())!;
      assert.match(redisCli(replica.port, 'get', `${prefix}${keys.lock('sentinel_check@students.edu.sg')}`), /since/);
    } finally {
      await waiting.close();
    }
  });

  it('with REDIS_WAIT_REPLICAS=1: refuses lock writes it cannot confirm, and says it is not writable, when the replica is gone', async () => {
    const store = new RedisStore({ sentinels: topology.sentinelAddresses, sentinelName: SENTINEL_NAME, keyPrefix: uniquePrefix(), waitReplicas: 1, waitTimeoutMs: 300 });
    await store.ready();
    const replica = topology.data.find((n) => n.port !== topology.masterPort())!;
    try {
      await replica.kill('SIGKILL');
      await assert.rejects(store.set(keys.lock('x@students.edu.sg'), '{}'), { name: 'StoreUnavailableError', message: /0 of 1 replicas acknowledged/ });
      await assert.rejects(store.writable(), { name: 'StoreUnavailableError', message: /0 of 1 replicas online/ });
      // Ephemeral state is not held up.
      assert.equal(await store.set(keys.flow('f1'), '{}', { ttlMs: 10_000 }), true);
    } finally {
      await topology.healthy();
      await store.close();
    }
  });
});
