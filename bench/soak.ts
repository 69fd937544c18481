// Load held: mixed traffic at 70 % of measured capacity for a few minutes, with error rate 0
// and memory that stays level.
//   mix (per 10 ops): 2 password sign-ins to an OIDC code, 5 refresh-token grants,
//   3 SAML SP-initiated sign-ins on a live SSO session (HTTP-Redirect);
//   capacity: that mix as fast as it goes (closed loop, CAPACITY_SECONDS);
//   soak:     the same mix paced at 70 % of that rate for SOAK_SECONDS, the IdP's RSS
//             and V8's used heap sampled every 5 s, and the live heap after every full
//             collection (--trace-gc); "stable" = for RSS and for the live heap, the last
//             third's mean within 10 % of the second third's (the first third is warm-up).
// The IdP runs as its own process on a fresh redis-server, with the configured argon2.
// Run: node bench/soak.ts   (SOAK_SECONDS=180 CAPACITY_SECONDS=20 CONCURRENCY=8)
import { authnRequestXml, redirectQuery } from '../test/support/saml-messages.ts';
import { Agent, form } from './lib/http.ts';
import { manyAddressesConfig, startBenchIdp, USERS } from './lib/idp.ts';
import { drive } from './lib/load.ts';
import { report, round } from './lib/stats.ts';
import { signInOnce } from './sign-in.ts';
import { rssMB } from './startup.ts';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const CAPACITY_SECONDS = Number(process.env.CAPACITY_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };
const basic = `Basic ${Buffer.from(`${WEB.id}:${WEB.secret}`).toString('base64')}`;

/** A worker's browser: signed in (SSO session) and holding a refresh token it rotates. */
interface Worker {
  agent: Agent;
  refreshToken: string;
}

async function newWorker(idpUrl: string, user: readonly [string, string]): Promise<Worker> {
  const agent = new Agent();
  const auth = `${idpUrl}/oidc/auth?${new URLSearchParams({ client_id: WEB.id, redirect_uri: WEB.redirect, response_type: 'code', scope: 'openid offline_access', prompt: 'consent', state: 's' })}`;
  const page = await agent.follow(await agent.request(auth), idpUrl);
  const f = form(page.text, '/sign-in');
  const done = await agent.follow(await agent.request(new URL(f.action, idpUrl).toString(), { form: { ...f.fields, username: user[0], password: user[1] } }), idpUrl);
  const code = new URL(done.location!).searchParams.get('code')!;
  const tokens = (await (await fetch(`${idpUrl}/oidc/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: WEB.redirect }) })).json()) as { refresh_token: string };
  return { agent, refreshToken: tokens.refresh_token };
}

function mixedOp(idpUrl: string, workers: Worker[]) {
  return async (w: number, i: number) => {
    const worker = workers[w]!;
    const slot = i % 10;
    if (slot < 2) {
      await signInOnce(idpUrl, USERS[(w + i) % USERS.length]!);
    } else if (slot < 7) {
      const res = await fetch(`${idpUrl}/oidc/token`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: worker.refreshToken }) });
      const body = (await res.json()) as { refresh_token?: string; error?: string };
      if (!res.ok || !body.refresh_token) throw new Error(`refresh: ${res.status} ${body.error}`);
      worker.refreshToken = body.refresh_token;
    } else {
      const xml = authnRequestXml({ issuer: 'https://sp.test/fixture-sp', destination: `${idpUrl}/saml/sso` });
      const res = await worker.agent.follow(await worker.agent.request(`${idpUrl}/saml/sso?${redirectQuery('SAMLRequest', xml, { sign: false })}`), idpUrl);
      if (!res.text.includes('name="SAMLResponse"')) throw new Error(`saml: ${res.status} ${res.text.slice(0, 120)}`);
    }
  };
}

async function main() {
  // The configured argon2 parameters (not the tests' fast ones).
  // --trace-gc: V8 logs the heap left after every full collection (the live heap).
  // All from 127.0.0.1, which stands for a school system's many addresses.
  const bench = await startBenchIdp({ IDP_ARGON2_MEMORY_KIB: '', IDP_ARGON2_TIME_COST: '', IDP_CONFIG_FILE: manyAddressesConfig() }, ['--trace-gc']);
  const { idp, url: idpUrl } = bench;
  try {
    // Twice as many browsers as the capacity run uses: the paced soak keeps more in flight.
    const workers = await Promise.all(Array.from({ length: CONCURRENCY * 2 }, (_, i) => newWorker(idpUrl, USERS[i % USERS.length]!)));
    const op = mixedOp(idpUrl, workers);
    const capacity = await drive({ concurrency: CONCURRENCY, seconds: CAPACITY_SECONDS }, op);
    const rate = round(capacity.perSecond * 0.7, 1);

    // RSS from /proc, and V8's own figures from /metrics: a leak shows as used heap that
    // keeps rising; RSS alone also rises while V8 and the allocator keep memory for reuse.
    const samples: Array<{ s: number; rssMB: number; heapUsedMB: number; externalMB: number }> = [];
    const t0 = performance.now();
    const metric = (text: string, name: string) => round(Number(new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN) / 1e6, 1);
    const sampler = setInterval(() => {
      const s = round((performance.now() - t0) / 1000, 0);
      const rss = rssMB(idp.child.pid!);
      void fetch(`${idpUrl}/metrics`).then((r) => r.text()).then((m) => samples.push({ s, rssMB: rss, heapUsedMB: metric(m, 'idp_nodejs_heap_size_used_bytes'), externalMB: metric(m, 'idp_nodejs_external_memory_bytes') }));
    }, 5000);
    const soak = await drive({ concurrency: CONCURRENCY * 2, seconds: SOAK_SECONDS, ratePerSecond: rate }, op);
    clearInterval(sampler);

    samples.sort((a, b) => a.s - b.s);
    const third = Math.floor(samples.length / 3);
    const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length), 1);
    const middle = mean(samples.slice(third, 2 * third).map((x) => x.rssMB));
    const last = mean(samples.slice(2 * third).map((x) => x.rssMB));
    const drift = round((last - middle) / middle, 3);
    // The live heap: what is left after each full (Mark-Compact) collection, by time.
    // Each isolate logs its own (the main thread's, the schema worker's): take the main one,
    // the largest.
    const byIsolate = new Map<string, Array<{ ms: number; mb: number }>>();
    for (const m of idp.output().matchAll(/\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: Mark-Compact[^\n]*?-> ([\d.]+) \(/g)) {
      const list = byIsolate.get(m[1]!) ?? [];
      list.push({ ms: Number(m[2]), mb: Number(m[3]) });
      byIsolate.set(m[1]!, list);
    }
    const afterGc = [...byIsolate.values()].sort((a, b) => Math.max(...b.map((g) => g.mb)) - Math.max(...a.map((g) => g.mb)))[0] ?? [];
    const soakStart = afterGc.length ? afterGc[afterGc.length - 1]!.ms - SOAK_SECONDS * 1000 : 0;
    const inSoak = afterGc.filter((g) => g.ms >= soakStart);
    const span = SOAK_SECONDS * 1000 / 3;
    const heapMiddle = mean(inSoak.filter((g) => g.ms >= soakStart + span && g.ms < soakStart + 2 * span).map((g) => g.mb));
    const heapLast = mean(inSoak.filter((g) => g.ms >= soakStart + 2 * span).map((g) => g.mb));
    const heapDrift = round((heapLast - heapMiddle) / heapMiddle, 3);
    const stable = Math.abs(drift) <= 0.1 && Math.abs(heapDrift) <= 0.1;
    report('soak', `${SOAK_SECONDS} s of mixed traffic at ${rate} ops/s (70 % of ${capacity.perSecond}): ${soak.errors} errors in ${soak.ops} ops, p50 ${soak.p50ms} ms, p99 ${soak.p99ms} ms; RSS ${middle} MB → ${last} MB (${round(drift * 100, 1)} %), live heap after full GCs ${heapMiddle} MB → ${heapLast} MB (${round(heapDrift * 100, 1)} %): ${stable ? 'stable' : 'NOT stable'}`, {
      mix: '2 sign-ins to an OIDC code : 5 refresh_token grants : 3 SAML SP-initiated sign-ins, per 10 ops',
      capacity,
      targetRate: rate,
      soak,
      errorRate: soak.ops + soak.errors > 0 ? soak.errors / (soak.ops + soak.errors) : 0,
      memory: { samples, rss: { middleThirdMeanMB: middle, lastThirdMeanMB: last, drift }, liveHeapAfterFullGc: { middleThirdMeanMB: heapMiddle, lastThirdMeanMB: heapLast, drift: heapDrift, collections: inSoak.length }, stable },
    });
    if (soak.errors > 0 || !stable) process.exitCode = 1;
  } finally {
    await bench.stop();
  }
}

await main();
