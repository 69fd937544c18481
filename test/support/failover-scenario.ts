// One failover scenario under load (test/support/durability-load.ts), for the Redis and the
// PostgreSQL failover tests: the load runs, the fault comes after a warm-up, the load stays
// on through it, the topology heals, and the ledger is compared with the directory.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DurabilityLoad } from './durability-load.ts';
import type { TestIdp } from './idp.ts';

/** Users may retry wrong passwords while their outcome is unknown: no lockout in the way. */
export const OVERRIDES = { lockout: { maxFailures: 100, maxFailuresPerIp: 100_000 } };

async function readyz(t: TestIdp): Promise<number> {
  return (await fetch(`${t.url}/readyz`)).status;
}

/**
 * Runs the load, applies `fault` after a warm-up, keeps the load on for `afterMs`, then
 * waits for the topology to heal and compares the ledger with the store.
 */
export async function scenario(name: string, t: TestIdp, cliEnv: NodeJS.ProcessEnv, fault: () => Promise<void>, heal: () => Promise<void>, afterMs = 6_000) {
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
    const last = await fetch(`${t.url}/readyz`);
    assert.equal(last.status, 200, `/readyz is 200 once the topology has healed: ${await last.text()}`);
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

