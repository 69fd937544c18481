// Load held: mixed traffic at 70 % of measured capacity for a few minutes, with error rate 0
// and memory that stays level.
//   mix (per 10 ops): 2 password sign-ins to an OIDC code, 5 refresh-token grants,
//   3 SAML SP-initiated sign-ins on a live SSO session (HTTP-Redirect);
//   capacity: that mix as fast as it goes (closed loop, CAPACITY_SECONDS);
//   soak:     the same mix paced at 70 % of that rate for SOAK_SECONDS, the IdP's RSS
//             sampled every 5 s; "stable" = the last third's mean within 10 % of the
//             second third's (the first third is warm-up).
// The IdP runs as its own process on a fresh redis-server, with the configured argon2.
// Run: node bench/soak.ts   (SOAK_SECONDS=180 CAPACITY_SECONDS=20 CONCURRENCY=8)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/config/settings.ts';
import { startIdpProcess } from '../test/support/process.ts';
import { OwnedRedis } from '../test/support/redis.ts';
import { authnRequestXml, redirectQuery } from '../test/support/saml-messages.ts';
import { Agent, form } from './lib/http.ts';
import { drive } from './lib/load.ts';
import { report, round } from './lib/stats.ts';
import { signInOnce } from './sign-in.ts';
import { rssMB } from './startup.ts';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const CAPACITY_SECONDS = Number(process.env.CAPACITY_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };
const USERS = [
  ['allen_tan@students.edu.sg', 'Sunflower-Kite-42'],
  ['bella_lim@students.edu.sg', 'Harbour#Lantern7'],
  ['chandra_kumar@students.edu.sg', 'Meadow-Violet-93'],
  ['daniel_wong@schools.gov.sg', 'Granite%River31'],
] as const;
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
  const redis = await OwnedRedis.start();
  const idp = await startIdpProcess({
    REDIS_URL: redis.url, IDP_DEMO_SEED: 'true', LOG_LEVEL: 'warn',
    IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'bench-keys-')), IDP_RP_DIR: path.join(projectRoot, 'test/fixtures/relying-parties'),
    // The configured argon2 parameters (not the tests' fast ones).
    IDP_ARGON2_MEMORY_KIB: '', IDP_ARGON2_TIME_COST: '',
  });
  const idpUrl = `http://127.0.0.1:${idp.port}`;
  try {
    // Twice as many browsers as the capacity run uses: the paced soak keeps more in flight.
    const workers = await Promise.all(Array.from({ length: CONCURRENCY * 2 }, (_, i) => newWorker(idpUrl, USERS[i % USERS.length]!)));
    const op = mixedOp(idpUrl, workers);
    const capacity = await drive({ concurrency: CONCURRENCY, seconds: CAPACITY_SECONDS }, op);
    const rate = round(capacity.perSecond * 0.7, 1);

    const samples: Array<{ s: number; rssMB: number }> = [];
    const t0 = performance.now();
    const sampler = setInterval(() => samples.push({ s: round((performance.now() - t0) / 1000, 0), rssMB: rssMB(idp.child.pid!) }), 5000);
    const soak = await drive({ concurrency: CONCURRENCY * 2, seconds: SOAK_SECONDS, ratePerSecond: rate }, op);
    clearInterval(sampler);

    const third = Math.floor(samples.length / 3);
    const mean = (xs: Array<{ rssMB: number }>) => round(xs.reduce((a, b) => a + b.rssMB, 0) / Math.max(1, xs.length), 1);
    const middle = mean(samples.slice(third, 2 * third));
    const last = mean(samples.slice(2 * third));
    const drift = round((last - middle) / middle, 3);
    const stable = Math.abs(drift) <= 0.1;
    report('soak', `${SOAK_SECONDS} s of mixed traffic at ${rate} ops/s (70 % of ${capacity.perSecond}): ${soak.errors} errors in ${soak.ops} ops, p50 ${soak.p50ms} ms, p99 ${soak.p99ms} ms; RSS ${middle} MB → ${last} MB (${round(drift * 100, 1)} %): ${stable ? 'stable' : 'NOT stable'}`, {
      mix: '2 sign-ins to an OIDC code : 5 refresh_token grants : 3 SAML SP-initiated sign-ins, per 10 ops',
      capacity,
      targetRate: rate,
      soak,
      errorRate: soak.ops + soak.errors > 0 ? soak.errors / (soak.ops + soak.errors) : 0,
      memory: { samples, middleThirdMeanMB: middle, lastThirdMeanMB: last, drift, stable },
    });
    if (soak.errors > 0 || !stable) process.exitCode = 1;
  } finally {
    await idp.kill('SIGTERM');
    await redis.destroy();
  }
}

await main();
