// The store on a three-master Redis Cluster, a replica each, that the harness starts itself
// (redis-server --cluster-enabled yes on free ports, joined with redis-cli --cluster create).
// `npm test` runs the core suites a second time with IDP_TEST_STORE=cluster, where every
// Redis-backed test gets this cluster; this file makes sure that run is really on it.
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { keys, RedisStore } from '../../src/store/index.ts';
import { makeStore } from '../support/idp.ts';
import { sharedClusterNodes, uniquePrefix } from '../support/redis.ts';

describe('store on a Redis Cluster', () => {
  it('is a three-master cluster, and keys used together share a slot', async () => {
    const store = new RedisStore({ clusterNodes: await sharedClusterNodes(), keyPrefix: uniquePrefix() });
    await store.ready();
    try {
      const client = store.client as Cluster;
      assert.ok(client instanceof Cluster);
      assert.equal(client.nodes('master').length, 3);
      // What one operation touches together lives in one slot (the cluster itself says).
      const slot = async (k: string) => Number(await client.call('CLUSTER', 'KEYSLOT', `${store.prefix}${k}`));
      const together = [
        [keys.account('x'), keys.accountSsoSessions('x'), keys.accountGrants('x')],
        [keys.loginId('l'), keys.signInFailures('l'), keys.lock('l'), keys.answerFailures('l'), keys.answerFailures('l', '10.0.0.1')],
        [keys.ssoSession('s'), keys.ssoParticipants('s')],
        [keys.logoutChain('c')],
      ];
      for (const group of together) {
        const slots = new Set(await Promise.all(group.map(slot)));
        assert.equal(slots.size, 1, `${group.join(', ')} share a slot`);
      }
      // ... and different accounts spread over the masters.
      const spread = new Set(await Promise.all(Array.from({ length: 30 }, (_, i) => slot(keys.account(`a${i}`)))));
      assert.ok(spread.size > 20);
      assert.equal(await store.increment(keys.signInFailures('cluster-check'), 10_000), 1);
    } finally {
      await store.close();
    }
  });

  it('serves the suite in cluster mode when IDP_TEST_STORE=cluster', async function () {
    const store = await makeStore('redis');
    try {
      const isCluster = (store as RedisStore).client instanceof Cluster;
      assert.equal(isCluster, process.env.IDP_TEST_STORE === 'cluster');
    } finally {
      await store.close();
    }
  });
});
