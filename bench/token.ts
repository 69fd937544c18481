// The token endpoint under load, against bare oidc-provider (in-memory adapter) in the
// same run: what the IdP's Redis adapter and everything around oidc-provider cost. Then
// against bare oidc-provider with the IdP's own Redis adapter (on a redis-server of its
// own): what everything around oidc-provider costs, the shared store left out.
//   client_credentials: autocannon, POST /token with Basic authentication;
//   refresh_token:      `CONCURRENCY` chains, each refreshing its own token again and
//                       again (rotation: every answer carries the next refresh token).
// Both servers run as their own processes; the IdP on a fresh redis-server.
// The two servers alternate in SLICES slices of SECONDS each; ratios are medians of
// back-to-back pairs (bench/lib/load.ts alternate()).
// Run: node bench/token.ts   (SLICES=6 SECONDS=4 CONCURRENCY=16)
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { projectRoot } from '../src/config/settings.ts';
import { Agent, form } from './lib/http.ts';
import { startBenchIdp, USERS } from './lib/idp.ts';
import { OwnedRedis } from '../test/support/redis.ts';
import { alternate, drive, mergeDriven } from './lib/load.ts';
import { report, round } from './lib/stats.ts';

const SECONDS = Number(process.env.SECONDS ?? 4);
const SLICES = Number(process.env.SLICES ?? 6);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);

interface Target {
  name: string;
  url: string;
  tokenPath: string;
  service: { id: string; secret: string };
  web: { id: string; secret: string };
  tokens: string[];
}

const basic = (c: { id: string; secret: string }) => `Basic ${Buffer.from(`${encodeURIComponent(c.id)}:${encodeURIComponent(c.secret)}`).toString('base64')}`;

async function clientCredentials(t: Target) {
  const result = await autocannon({
    url: `${t.url}${t.tokenPath}`,
    method: 'POST',
    connections: CONCURRENCY,
    duration: SECONDS,
    headers: { authorization: basic(t.service), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  return { perSecond: round(result.requests.average, 1), p50ms: result.latency.p50, p99ms: result.latency.p99, requests: result.requests.total, non2xx: result.non2xx, errors: result.errors };
}
type Cannon = Awaited<ReturnType<typeof clientCredentials>>;
/** Slices of autocannon as one: requests and errors summed, the rate over all of them, the worst p99. */
function mergeCannon(parts: Cannon[]): Cannon {
  const requests = parts.reduce((a, x) => a + x.requests, 0);
  return {
    perSecond: round(parts.reduce((a, x) => a + x.perSecond, 0) / parts.length, 1),
    p50ms: [...parts.map((x) => x.p50ms)].sort((a, b) => a - b)[parts.length >> 1]!,
    p99ms: Math.max(...parts.map((x) => x.p99ms)),
    requests,
    non2xx: parts.reduce((a, x) => a + x.non2xx, 0),
    errors: parts.reduce((a, x) => a + x.errors, 0),
  };
}

async function refreshChains(t: Target) {
  const current = t.tokens; // each chain carries on from where the last slice left it
  return drive({ concurrency: CONCURRENCY, seconds: SECONDS }, async (worker) => {
    const res = await fetch(`${t.url}${t.tokenPath}`, {
      method: 'POST',
      headers: { authorization: basic(t.web), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: current[worker]! }),
    });
    const body = (await res.json()) as { refresh_token?: string; error?: string };
    if (!res.ok || !body.refresh_token) throw new Error(`refresh failed: ${res.status} ${body.error ?? ''}`);
    current[worker] = body.refresh_token;
  });
}

/** Refresh tokens from the IdP the way a relying party gets them: sign in, then code for tokens. */
export async function mintIdpTokens(idpUrl: string, count: number): Promise<string[]> {
  const web = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };
  const agent = new Agent();
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const auth = `${idpUrl}/oidc/auth?${new URLSearchParams({ client_id: web.id, redirect_uri: web.redirect, response_type: 'code', scope: 'openid offline_access', prompt: 'consent', state: 's' })}`;
    let res = await agent.follow(await agent.request(auth), idpUrl);
    if (res.status === 200) {
      const f = form(res.text, '/sign-in');
      res = await agent.follow(await agent.request(new URL(f.action, idpUrl).toString(), { form: { ...f.fields, username: USERS[0][0], password: USERS[0][1] } }), idpUrl);
    }
    const code = new URL(res.location!).searchParams.get('code');
    const token = await fetch(`${idpUrl}/oidc/token`, {
      method: 'POST',
      headers: { authorization: basic(web), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, redirect_uri: web.redirect }),
    }).then((r) => r.json() as Promise<{ refresh_token?: string }>);
    if (!token.refresh_token) throw new Error('no refresh token');
    tokens.push(token.refresh_token);
  }
  return tokens;
}

/** bench/servers/bare-oidc.ts as its own process: with the in-memory adapter, or with the IdP's on `redisUrl`. */
async function startBare(name: string, redisUrl?: string) {
  const child = spawn(process.execPath, ['bench/servers/bare-oidc.ts', String(CONCURRENCY), ...(redisUrl ? [redisUrl] : [])], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l.startsWith('{') && resolve(l));
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready`)));
  });
  const info = JSON.parse(line) as { url: string; tokenPath: string; tokens: string[] };
  const target: Target = {
    name, ...info,
    service: { id: 'bench-service', secret: 'bench-service-secret-0123456789abcdef0123' },
    web: { id: 'bench-web', secret: 'bench-web-secret-0123456789abcdef012345678' },
  };
  return { target, child };
}

async function main() {
  const bare = await startBare('bare oidc-provider (in-memory adapter)');
  const baseline = bare.target;
  const bareRedisServer = await OwnedRedis.start();
  const bareRedis = await startBare("bare oidc-provider with the IdP's Redis adapter", bareRedisServer.url);
  const bench = await startBenchIdp();
  const idpUrl = bench.url;
  try {
    const product: Target = {
      name: 'the IdP (Redis adapter)', url: idpUrl, tokenPath: '/oidc/token', tokens: await mintIdpTokens(idpUrl, CONCURRENCY),
      service: { id: 'test-service', secret: 'test-service-secret-0123456789abcdef012345' },
      web: { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789' },
    };
    // Refresh first: oidc-provider's in-memory adapter is an LRU of 1,000 entries, which
    // the client_credentials runs would fill with access tokens, evicting grants.
    const refresh = await alternate(SLICES, () => refreshChains(baseline), () => refreshChains(product), mergeDriven);
    const cc = await alternate(SLICES, () => clientCredentials(baseline), () => clientCredentials(product), mergeCannon);
    // The same product against oidc-provider with the product's own adapter: the rest of the gap.
    const refreshStore = await alternate(SLICES, () => refreshChains(bareRedis.target), () => refreshChains(product), mergeDriven);
    const ccStore = await alternate(SLICES, () => clientCredentials(bareRedis.target), () => clientCredentials(product), mergeCannon);
    const results = {
      [baseline.name]: { refreshToken: refresh.baseline, clientCredentials: cc.baseline },
      [bareRedis.target.name]: { refreshToken: refreshStore.baseline, clientCredentials: ccStore.baseline },
      [product.name]: { refreshToken: refresh.product, clientCredentials: cc.product },
      [`${product.name}, beside the bare Redis one`]: { refreshToken: refreshStore.product, clientCredentials: ccStore.product },
    };
    const p = { clientCredentials: cc.product, refreshToken: refresh.product };
    const ratios = {
      clientCredentials: cc.ratio, refreshToken: refresh.ratio, clientCredentialsPerSlice: cc.ratios, refreshTokenPerSlice: refresh.ratios,
      // product / bare oidc-provider on the product's Redis adapter: everything but the store
      clientCredentialsVsBareOnRedis: ccStore.ratio, refreshTokenVsBareOnRedis: refreshStore.ratio,
      clientCredentialsVsBareOnRedisPerSlice: ccStore.ratios, refreshTokenVsBareOnRedisPerSlice: refreshStore.ratios,
    };
    report('token', `client_credentials ${p.clientCredentials.perSecond}/s = ${ratios.clientCredentials} × bare oidc-provider (p50 ${p.clientCredentials.p50ms} ms, p99 ${p.clientCredentials.p99ms} ms); refresh_token ${p.refreshToken.perSecond}/s = ${ratios.refreshToken} × bare (p50 ${p.refreshToken.p50ms} ms, p99 ${p.refreshToken.p99ms} ms). Against bare oidc-provider on the IdP's Redis adapter: client_credentials ${ratios.clientCredentialsVsBareOnRedis} ×, refresh_token ${ratios.refreshTokenVsBareOnRedis} ×`, {
      concurrency: CONCURRENCY, seconds: SECONDS, slices: SLICES, results, ratios,
    });
  } finally {
    bare.child.kill('SIGTERM');
    bareRedis.child.kill('SIGTERM');
    await bareRedisServer.destroy();
    await bench.stop();
  }
}

if (import.meta.main) await main();
