// A Redis failover costs sign-ins, never an account change. Under password changes (HTTP,
// as a browser), CLI resets and CLI imports, the Redis the IdP stands on fails over (the
// directory is in PostgreSQL: test/faults/postgres-failover.test.ts fails that over):
//   - Sentinel (1 master, 1 replica, 3 sentinels): SENTINEL FAILOVER, and SIGKILL of the master;
//   - Cluster (3 masters with a replica each): CLUSTER FAILOVER on a replica, and SIGKILL of a master.
// After recovery, every password a user or operator was told about is the one in force
// (or a later one whose outcome they were told was unknown), every acknowledged import
// row exists with its password, the CLI failed with one line and no stack trace, and
// /readyz is 200 again.
import assert from 'node:assert/strict';
import { RedisStore } from '../../src/store/index.ts';
import { OwnedCluster } from '../support/cluster.ts';
import { OVERRIDES, scenario } from '../support/failover-scenario.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { uniquePrefix } from '../support/redis.ts';
import { OwnedSentinel, SENTINEL_NAME } from '../support/sentinel.ts';

describe('failover under load: acknowledged writes survive', function () {
  this.timeout(180_000);

  describe('Redis Sentinel (1 master, 1 replica, 3 sentinels)', () => {
    let topology: OwnedSentinel;
    let t: TestIdp;
    let cliEnv: NodeJS.ProcessEnv;
    before(async () => {
      topology = await OwnedSentinel.start(1);
      const prefix = uniquePrefix();
      const store = new RedisStore({ sentinels: topology.sentinelAddresses, sentinelName: SENTINEL_NAME, keyPrefix: prefix });
      await store.ready();
      t = await startTestIdp({ store, seed: false, overrides: OVERRIDES });
      cliEnv = { ...t.databaseEnv, REDIS_SENTINELS: topology.sentinelAddresses.join(','), REDIS_SENTINEL_NAME: SENTINEL_NAME, REDIS_KEY_PREFIX: prefix, IDP_ARGON2_MEMORY_KIB: '8192', IDP_ARGON2_TIME_COST: '1' };
    });
    after(async () => {
      await t?.close();
      await topology?.stop();
    });

    it('SENTINEL FAILOVER (planned switch-over): nothing acknowledged is lost', async () => {
      await scenario('sentinel failover', t, cliEnv, async () => {
        await topology.failover();
      }, () => topology.healthy());
    });

    it('SIGKILL of the master: nothing acknowledged is lost, and /readyz says so while it cannot write', async () => {
      const { notReady } = await scenario('sentinel kill', t, cliEnv, async () => {
        await topology.killMaster();
        // A supervisor starts the killed node again; the sentinels make it a replica.
        await topology.healthy();
      }, () => topology.healthy());
      assert.ok(notReady, '/readyz answered 503 while the master was gone');
    });
  });

  describe('Redis Cluster (3 masters, a replica each)', () => {
    let cluster: OwnedCluster;
    let t: TestIdp;
    let cliEnv: NodeJS.ProcessEnv;
    before(async () => {
      cluster = await OwnedCluster.start(3, 1);
      const prefix = uniquePrefix();
      const store = new RedisStore({ clusterNodes: cluster.nodes, keyPrefix: prefix });
      await store.ready();
      t = await startTestIdp({ store, seed: false, overrides: OVERRIDES });
      cliEnv = { ...t.databaseEnv, REDIS_CLUSTER_NODES: cluster.nodes.join(','), REDIS_KEY_PREFIX: prefix, IDP_ARGON2_MEMORY_KIB: '8192', IDP_ARGON2_TIME_COST: '1' };
    });
    after(async () => {
      await t?.close();
      await cluster?.stop();
    });

    it('CLUSTER FAILOVER on a replica: nothing acknowledged is lost', async () => {
      await scenario('cluster failover', t, cliEnv, async () => {
        // Fail over every shard in turn, so the directory's keys all move.
        for (const shard of await cluster.shards()) await cluster.failover(shard.replicas[0]!);
      }, () => cluster.healthy());
    });

    it('SIGKILL of a master: nothing acknowledged is lost', async () => {
      const [shard] = await cluster.shards();
      await scenario('cluster kill', t, cliEnv, async () => {
        await cluster.kill(shard!.master);
        await cluster.healthy(); // started again by its supervisor, it rejoins as a replica
      }, () => cluster.healthy());
    });
  });
});
