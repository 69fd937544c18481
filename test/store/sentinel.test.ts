// The store through Redis Sentinel: the harness starts a master, a replica and three
// sentinels (test/support/sentinel.ts), and the store finds the master by asking the
// sentinels, as REDIS_SENTINELS / REDIS_SENTINEL_NAME configure it. Durable writes resolve
// only once the replica holds them; /readyz-style checks see a master with its replica.
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
      assert.equal((store as RedisStore).waitReplicas, 1, 'Sentinel waits for one replica by default');
      await store.writable();
      await store.set(keys.lock('sentinel_check@students.edu.sg'), JSON.stringify({ v: 2, since: 1 }));
      // Read straight from the replica, at once: WAIT made sure it has the lock.
      const replica = topology.data.find((n) => n.port !== topology.masterPort())!;
      assert.match(redisCli(replica.port, 'get', `${prefix}${keys.lock('sentinel_check@students.edu.sg')}`), /since/);
      assert.equal(await store.increment(keys.signInFailures('sentinel_check@students.edu.sg'), 60_000), 1);
    } finally {
      await store.close();
    }
  });

  it('refuses durable writes it cannot confirm, and says it is not writable, when the replica is gone', async () => {
    const store = new RedisStore({ sentinels: topology.sentinelAddresses, sentinelName: SENTINEL_NAME, keyPrefix: uniquePrefix(), waitTimeoutMs: 300 });
    await store.ready();
    const replica = topology.data.find((n) => n.port !== topology.masterPort())!;
    try {
      await replica.kill('SIGKILL');
      await assert.rejects(store.set(keys.account('x'), '{}'), { name: 'StoreUnavailableError', message: /0 of 1 replicas acknowledged/ });
      await assert.rejects(store.writable(), { name: 'StoreUnavailableError', message: /0 of 1 replicas online/ });
      // Ephemeral state is not held up.
      assert.equal(await store.set(keys.flow('f1'), '{}', { ttlMs: 10_000 }), true);
    } finally {
      await topology.healthy();
      await store.close();
    }
  });
});
