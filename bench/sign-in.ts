// Password sign-in, end to end, against what it cannot avoid: one argon2id verification.
//   baseline: argon2.verify with the configured parameters, at the same concurrency;
//   product:  an OIDC relying party's sign-in as a browser does it — GET /oidc/auth, the
//             sign-in page (CSRF token), POST Username/Password, the redirects through the
//             interaction — until the authorization code reaches the redirect URI.
// The IdP runs as its own process (`node src/main.ts`) on a fresh redis-server.
// Baseline and product alternate in SLICES slices of SECONDS each (bench/lib/load.ts
// alternate()): the ratio is the median of back-to-back pairs.
// Run: node bench/sign-in.ts   (SLICES=6 SECONDS=5 CONCURRENCY=4; IDP_ARGON2_* to try other parameters)
import * as argon2 from '@node-rs/argon2';
import { loadSettings } from '../src/config/settings.ts';
import { Agent, form } from './lib/http.ts';
import { startBenchIdp, USERS } from './lib/idp.ts';
import { alternate, drive, mergeDriven } from './lib/load.ts';
import { report, round } from './lib/stats.ts';

const SECONDS = Number(process.env.SECONDS ?? 5);
const SLICES = Number(process.env.SLICES ?? 6);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const CLIENT = { id: 'test-web', redirect: 'http://127.0.0.1:9/callback' };

export async function signInOnce(idpUrl: string, user: readonly [string, string], timings?: { post: number[] }): Promise<string> {
  const agent = new Agent();
  const auth = `${idpUrl}/oidc/auth?${new URLSearchParams({ client_id: CLIENT.id, redirect_uri: CLIENT.redirect, response_type: 'code', scope: 'openid email', state: 'bench' })}`;
  const page = await agent.follow(await agent.request(auth), idpUrl);
  const f = form(page.text, '/sign-in');
  const t0 = performance.now();
  const posted = await agent.request(new URL(f.action, idpUrl).toString(), { form: { ...f.fields, username: user[0], password: user[1] } });
  timings?.post.push(performance.now() - t0);
  const last = await agent.follow(posted, idpUrl);
  if (!last.location?.startsWith(`${CLIENT.redirect}?code=`)) throw new Error(`no code: ${last.status} ${last.location ?? last.text.slice(0, 200)}`);
  return new URL(last.location).searchParams.get('code')!;
}

async function main() {
  // The configured parameters, or IDP_ARGON2_* from the environment (to see what is not argon2).
  const settings = loadSettings({ env: { IDP_ARGON2_MEMORY_KIB: process.env.IDP_ARGON2_MEMORY_KIB, IDP_ARGON2_TIME_COST: process.env.IDP_ARGON2_TIME_COST, IDP_ARGON2_PARALLELISM: process.env.IDP_ARGON2_PARALLELISM } });
  const params = { algorithm: 2 as argon2.Algorithm, memoryCost: settings.argon2.memoryCost, timeCost: settings.argon2.timeCost, parallelism: settings.argon2.parallelism };
  const hash = await argon2.hash(USERS[0][1], params);

  const verifyLoad = () => drive({ concurrency: CONCURRENCY, seconds: SECONDS }, async () => {
    if (!(await argon2.verify(hash, USERS[0][1]))) throw new Error('verify failed');
  });

  const bench = await startBenchIdp({ IDP_ARGON2_MEMORY_KIB: String(params.memoryCost), IDP_ARGON2_TIME_COST: String(params.timeCost), IDP_ARGON2_PARALLELISM: String(params.parallelism) });
  const idpUrl = bench.url;
  try {
    await signInOnce(idpUrl, USERS[0]); // warm-up (and proof the path works)
    const post: number[] = [];
    const requestsBefore = Agent.requests;
    const signIns = () => drive({ concurrency: CONCURRENCY, seconds: SECONDS }, async (worker, i) => {
      await signInOnce(idpUrl, USERS[(worker + i) % USERS.length]!, { post });
    });
    const compared = await alternate(SLICES, verifyLoad, signIns, mergeDriven);
    const baseline = compared.baseline;
    const product = compared.product;
    const sorted = [...post].sort((a, b) => a - b);
    const ratio = compared.ratio;
    report('sign-in', `${product.perSecond} sign-ins/s = ${ratio} × the raw argon2id verify rate (${baseline.perSecond}/s; median of ${SLICES} alternating slices: ${compared.ratios.join(', ')}); sign-in p50 ${product.p50ms} ms, p99 ${product.p99ms} ms`, {
      argon2: params,
      concurrency: CONCURRENCY,
      baselineArgon2Verify: baseline,
      signInToCode: product,
      signInPostOnly: { p50ms: round(sorted[Math.floor(sorted.length / 2)] ?? NaN), p99ms: round(sorted[Math.floor(sorted.length * 0.99)] ?? NaN) },
      ratioSignInsOverVerifies: ratio,
      ratiosPerSlice: compared.ratios,
      slices: SLICES,
      // GET /oidc/auth, GET /interaction/:uid, GET /flow/:id, POST sign-in, GET /interaction/:uid, GET /oidc/auth/:uid -> code
      requestsPerSignIn: round((Agent.requests - requestsBefore) / (product.ops + product.errors), 1),
    });
  } finally {
    await bench.stop();
  }
}

if (import.meta.main) await main();
