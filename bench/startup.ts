// Process start-up to ready, and resident memory at rest and under load.
//   baseline: a bare Node.js HTTP server (`node -e`), spawned the same way;
//   product:  `node src/main.ts` on Redis and PostgreSQL (a schema of its own on the
//             machine's server), ready when /readyz answers 200; its RSS at rest, then while
//             sign-ins, SAML sign-ins and token requests run against it;
//   packed:   the same from dist/ (`npm run prepack`: JavaScript, as the npm package and the
//             container image run it), RSS at rest;
//   embedded: `npm start`'s default (no DATABASE_URL, no REDIS_URL): a first start (the
//             database created in its data folder) and a restart on it.
// Run: node bench/startup.ts   (RUNS=5 SECONDS=15)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/config/settings.ts';
import { V8_MEMORY_FLAGS } from '../src/config/node-flags.ts';
import { startIdpProcess } from '../test/support/process.ts';
import { freePort, OwnedRedis } from '../test/support/redis.ts';
import { newSchema } from '../test/support/database.ts';
import { authnRequestXml, redirectQuery } from '../test/support/saml-messages.ts';
import { Agent } from './lib/http.ts';
import { drive } from './lib/load.ts';
import { percentile, report, round } from './lib/stats.ts';
import { signInOnce } from './sign-in.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 15);

export function rssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return round(Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024, 1);
}

async function bareStart(): Promise<{ ms: number; rss: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`], { stdio: 'ignore' });
  while (!(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false))) await new Promise((r) => setTimeout(r, 5));
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 1000));
  const rss = rssMB(child.pid!);
  child.kill();
  return { ms, rss };
}

async function main() {
  const bare: Array<{ ms: number; rss: number }> = [];
  for (let i = 0; i < RUNS; i++) bare.push(await bareStart());

  // The embedded default: two starts on one data folder (the first creates the database).
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-data-'));
  const embedded: Array<{ ms: number; rss: number; peak: number }> = [];
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const p = await startIdpProcess({ REDIS_URL: '', DATABASE_URL: '', IDP_DATA_DIR: dataDir, LOG_LEVEL: 'warn', IDP_DEMO_SEED: 'true', IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'bench-keys-')) });
    const ms = performance.now() - t0;
    // At rest: 3 s after ready (the WebAssembly start-up's garbage is collected by then).
    await new Promise((r) => setTimeout(r, 3000));
    embedded.push({ ms: round(ms, 0), rss: rssMB(p.child.pid!), peak: round(Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))![1]) / 1024, 0) });
    await p.kill('SIGTERM');
  }

  const redis = await OwnedRedis.start();
  const schema = await newSchema();
  const env = {
    REDIS_URL: redis.url, ...schema.env, LOG_LEVEL: 'warn', IDP_DEMO_SEED: 'false',
    IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'bench-keys-')), IDP_RP_DIR: path.join(projectRoot, 'test/fixtures/relying-parties'),
  };
  // Keys are generated at the very first start only: make them once, outside the measure.
  await (await startIdpProcess({ ...env, IDP_DEMO_SEED: 'true' })).kill('SIGTERM');
  const starts: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const idp = await startIdpProcess(env);
    starts.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 1000));
    rest.push(rssMB(idp.child.pid!));
    await idp.kill('SIGTERM');
  }

  // The packed IdP (dist/, JavaScript: the npm package and the container image run it), at rest.
  const packed: number[] = [];
  const built = spawnSync('npm', ['run', 'prepack'], { cwd: projectRoot, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`npm run prepack failed:\n${built.stderr}`);
  for (let i = 0; i < RUNS; i++) {
    const port = await freePort();
    const child = spawn(process.execPath, [...V8_MEMORY_FLAGS, 'dist/main.js'], { cwd: projectRoot, stdio: 'ignore', env: { ...process.env, ...env, IDP_SIMS: 'false', IDP_WORKERS: '1', PORT: String(port), IDP_PUBLIC_URL: `http://127.0.0.1:${port}` } });
    const deadline = Date.now() + 20_000;
    while (!(await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error('the packed IdP was not ready within 20 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1000));
    packed.push(rssMB(child.pid!));
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }

  const idp = await startIdpProcess(env);
  const idpUrl = `http://127.0.0.1:${idp.port}`;
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssMB(idp.child.pid!)), 500);
  const agents = Array.from({ length: 4 }, () => new Agent());
  const load = await drive({ concurrency: 4, seconds: SECONDS }, async (worker, i) => {
    if (i % 3 === 0) {
      await signInOnce(idpUrl, ['allen_tan@students.edu.sg', 'Sunflower-Kite-42']);
    } else {
      const agent = agents[worker]!;
      const xml = authnRequestXml({ issuer: 'https://sp.test/fixture-sp', destination: `${idpUrl}/saml/sso` });
      const res = await agent.follow(await agent.request(`${idpUrl}/saml/sso?${redirectQuery('SAMLRequest', xml, { sign: false })}`), idpUrl);
      if (res.status === 200 && res.text.includes('name="password"')) {
        // First time for this browser: sign in once; the SSO session serves the rest.
        const action = /action="([^"]*sign-in)"/.exec(res.text)![1]!;
        const csrf = /name="_csrf" value="([^"]+)"/.exec(res.text)![1]!;
        await agent.follow(await agent.request(new URL(action, idpUrl).toString(), { form: { _csrf: csrf, username: 'bella_lim@students.edu.sg', password: 'Harbour#Lantern7' } }), idpUrl);
      }
    }
  });
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 3000));
  const afterLoad = rssMB(idp.child.pid!);
  await idp.kill('SIGTERM');
  await redis.destroy();
  await schema.drop();

  const bareMs = percentile(bare.map((b) => b.ms), 50);
  const bareRss = percentile(bare.map((b) => b.rss), 50);
  const startMs = percentile(starts, 50);
  const restRss = percentile(rest, 50);
  report('startup', `start-up to ready ${round(startMs, 0)} ms = ${round(startMs / bareMs, 1)} × a bare Node HTTP server (${round(bareMs, 0)} ms); RSS at rest ${restRss} MB (${round(restRss / bareRss, 1)} × bare ${bareRss} MB; packed, dist/: ${percentile(packed, 50)} MB), under load peak ${Math.max(...samples)} MB, ${afterLoad} MB after; embedded default: first start ${embedded[0]!.ms} ms at ${embedded[0]!.rss} MB, restart ${embedded[1]!.ms} ms at ${embedded[1]!.rss} MB`, {
    runs: RUNS,
    bareNode: { startMsP50: round(bareMs), rssMB: bareRss },
    idp: { startMsP50: round(startMs), startMsAll: starts.map((s) => round(s, 0)), rssAtRestMB: restRss, packedRssAtRestMB: percentile(packed, 50), rssUnderLoadMB: { p50: percentile(samples, 50), max: Math.max(...samples) }, rssAfterLoadMB: afterLoad },
    load,
    embeddedDefault: { firstStart: embedded[0], restart: embedded[1], note: 'no DATABASE_URL or REDIS_URL: the directory in PGlite in a data folder (created at the first start), sessions in process; ms to ready, RSS at rest and peak in MB' },
    note: 'the IdP loads TypeScript through Node type stripping, oidc-provider, samlify, the schema-validation worker (WebAssembly compiled once), and connects to Redis and PostgreSQL',
  });
}

if (import.meta.main) await main();
