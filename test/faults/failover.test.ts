// Acknowledged means kept. Under password changes (HTTP, as a browser), CLI resets and
// CLI imports, the Redis the IdP stands on fails over:
//   - Sentinel (1 master, 1 replica, 3 sentinels): SENTINEL FAILOVER, and SIGKILL of the master;
//   - Cluster (3 masters with a replica each): CLUSTER FAILOVER on a replica, and SIGKILL of a master.
// After recovery, every password a user or operator was told about is the one in force
// (or a later one whose outcome they were told was unknown), every acknowledged import
// row exists with its password, the CLI failed with one line and no stack trace, and
// /readyz is 200 again.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisStore } from '../../src/store/index.ts';
import { OwnedCluster } from '../support/cluster.ts';
import { DurabilityLoad } from '../support/durability-load.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { uniquePrefix } from '../support/redis.ts';
import { OwnedSentinel, SENTINEL_NAME } from '../support/sentinel.ts';

/** Users may retry wrong passwords while their outcome is unknown: no lockout in the way. */
const OVERRIDES = { lockout: { maxFailures: 100, maxFailuresPerIp: 100_000 } };

async function readyz(t: TestIdp): Promise<number> {
  return (await fetch(`${t.url}/readyz`)).status;
}

/**
 * Runs the load, applies `fault` after a warm-up, keeps the load on for `afterMs`, then
 * waits for the topology to heal and compares the ledger with the store.
 */
async function scenario(name: string, t: TestIdp, cliEnv: NodeJS.ProcessEnv, fault: () => Promise<void>, heal: () => Promise<void>, afterMs = 6_000) {
  const load = new DurabilityLoad(t, cliEnv, name.replace(/\W+/g, '_'));
  await load.seed();
  const running = load.run();
  try {
    for (let i = 0; i < 200 && load.result.ackedChanges < 4; i++) await sleep(100);
    assert.ok(load.result.ackedChanges > 0, 'password changes go through before the fault');
    load.faultBegins();
    const faultStarted = Date.now();
    let notReady = false;
    const probe = (async () => {
      while (Date.now() - faultStarted < afterMs) {
        if ((await readyz(t).catch(() => 503)) !== 200) notReady = true;
        await sleep(100);
      }
    })();
    await fault();
    await sleep(Math.max(0, afterMs - (Date.now() - faultStarted)));
    await probe;
    await heal();
    // Let the load see the healed topology for a moment, then stop it.
    await sleep(2_000);
    await running.stop();
    const until = Date.now() + 15_000;
    while ((await readyz(t)) !== 200 && Date.now() < until) await sleep(100);
    assert.equal(await readyz(t), 200, '/readyz is 200 once the topology has healed');
    const verdict = await load.verify();
    const r = load.result;
    console.log(`      ${name}: password changes ${r.ackedChanges} acknowledged / ${r.failedChanges} refused, CLI resets ${r.ackedResets}/${r.failedResets}, CLI imports ${r.ackedImports}/${r.failedImports} (${load.imported.size} rows), ${r.ackedAfterFault} acknowledged after the fault, longest time without an acknowledged password change ${load.longestGapMs()} ms; /readyz not ready during it: ${notReady}; lost: ${verdict.lost.length} of ${verdict.checked}`);
    assert.deepEqual(verdict.lost, [], 'no acknowledged write is lost');
    assert.ok(r.ackedAfterFault > 0, 'writes were acknowledged after the fault began (the window was exercised)');
    for (const line of load.cliErrors) {
      assert.equal(line.trim().split('\n').length, 1, `CLI errors are one line: ${line}`);
      assert.doesNotMatch(line, /^\s+at /m, 'no stack trace');
    }
    return { load, notReady };
  } finally {
    await running.stop();
    load.close();
  }
}

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
      cliEnv = { REDIS_SENTINELS: topology.sentinelAddresses.join(','), REDIS_SENTINEL_NAME: SENTINEL_NAME, REDIS_KEY_PREFIX: prefix, IDP_ARGON2_MEMORY_KIB: '8192', IDP_ARGON2_TIME_COST: '1' };
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
      cliEnv = { REDIS_CLUSTER_NODES: cluster.nodes.join(','), REDIS_KEY_PREFIX: prefix, IDP_ARGON2_MEMORY_KIB: '8192', IDP_ARGON2_TIME_COST: '1' };
    });
    after(async () => {
      await t?.close();
      await cluster?.stop();
    });

    it('CLUSTER FAILOVER on a replica: nothing acknowledged is lost', async () => {
      await scenario('cluster failover', t, cliEnv, async () => {
        // Fail over every shard in turn, so the directory's keys all move.
        for (const shard of cluster.topology()) await cluster.failover(shard.replicas[0]!);
      }, () => cluster.healthy());
    });

    it('SIGKILL of a master: nothing acknowledged is lost', async () => {
      const [shard] = cluster.topology();
      await scenario('cluster kill', t, cliEnv, async () => {
        await cluster.kill(shard!.master);
        await cluster.healthy(); // started again by its supervisor, it rejoins as a replica
      }, () => cluster.healthy());
    });
  });
});
