// Where the time goes, per journey: a CPU profile of the IdP process alone (the load
// generator is this process, so its CPU is not charged to the IdP), the Redis commands one
// journey sends (MONITOR, counted by command), and the bytes each kind of key holds for
// one active SSO session (MEMORY USAGE, by key type).
//   journeys: those of bench/lib/journeys.ts.
// Run: node bench/profile.ts [journey ... | keys]   (SECONDS=10 CONCURRENCY=4; IDP_ARGON2_* to try others)
// Writes bench/results/profile.json and the raw profiles to bench/results/profiles/ (not committed).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/config/settings.ts';
import { freePort } from '../test/support/redis.ts';
import * as argon2 from '@node-rs/argon2';
import * as samlify from 'samlify';
import { newSamlKeyPair } from '../src/config/key-material.ts';
import { loadSettings } from '../src/config/settings.ts';
import { idpEndpoints, idpMetadata } from '../src/protocols/saml/metadata.ts';
import { authnRequestXml, redirectQuery } from '../test/support/saml-messages.ts';
import { Agent } from './lib/http.ts';
import { startBenchIdp, USERS, type BenchIdp } from './lib/idp.ts';
import { drive } from './lib/load.ts';
import { report, round } from './lib/stats.ts';
import { journey, SP, tokens } from './lib/journeys.ts';
import { cpuSeconds, redisServerPid } from './lib/cpu.ts';

const SECONDS = Number(process.env.SECONDS ?? 10);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
/**
 * What the journey's benchmark compares against, in CPU per operation in this process:
 * argon2id verifies (sign-in) and samlify's own signed responses (saml-sso). With all of a
 * journey's CPU known, the best ratio these 2 cores allow is baseline / (idp + redis + load
 * generator): the benchmarks run all three on the same cores.
 */
async function baselineCpuMsPerOp(name: string): Promise<number | undefined> {
  let op: (() => Promise<unknown>) | undefined;
  if (name === 'sign-in' || name === 'saml-sign-in') {
    const settings = loadSettings({ env: {} });
    const hash = await argon2.hash(USERS[0][1], { ...settings.argon2, algorithm: 2 as argon2.Algorithm });
    op = () => argon2.verify(hash, USERS[0][1]);
  } else if (name === 'saml-sso') {
    const keys = newSamlKeyPair('bench idp');
    const idp = samlify.IdentityProvider({ metadata: idpMetadata(idpEndpoints('http://127.0.0.1:1'), keys.certificatePem, { name: 'bench', url: 'http://127.0.0.1:1' }), privateKey: keys.privateKeyPem });
    const sp = samlify.ServiceProvider({ entityID: SP.entityId, assertionConsumerService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', Location: 'http://127.0.0.1:9/acs' }], wantAssertionsSigned: true, wantMessageSigned: true });
    op = () => idp.createLoginResponse(sp, { extract: { request: { id: '_request' } } }, 'post', { email: USERS[0][0] });
  }
  if (!op) return undefined;
  for (let i = 0; i < 5; i++) await op();
  const t0 = process.cpuUsage();
  const r = await drive({ concurrency: name.endsWith('sign-in') ? CONCURRENCY : 1, seconds: 3 }, () => op!().then(() => undefined));
  const used = process.cpuUsage(t0);
  return round((used.user + used.system) / 1000 / r.ops, 2);
}

/** Redis commands one run of `op` sends, by command name (MONITOR on the IdP's redis-server). */
async function commandsOf(port: number, op: () => Promise<void>): Promise<Record<string, number>> {
  const monitor = spawn('redis-cli', ['-p', String(port), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  monitor.stdout.on('data', (d) => (out += d));
  await new Promise((r) => setTimeout(r, 300));
  out = '';
  await op();
  await new Promise((r) => setTimeout(r, 300));
  monitor.kill();
  if (process.env.MONITOR_OUT) writeFileSync(process.env.MONITOR_OUT, out);
  const counts: Record<string, number> = {};
  for (const line of out.split('\n')) {
    const m = /^\d+\.\d+ \[(?!0 lua)[^\]]+\] "([^"]+)"/.exec(line); // sent by the IdP (not from inside its scripts)
    if (m) counts[m[1]!.toUpperCase()] = (counts[m[1]!.toUpperCase()] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]));
}

/** CPU seconds of every postgres process on this machine (the server the IdP's directory is on). */
function postgresCpuSeconds(): number {
  const pids = spawnSync('pgrep', ['-x', 'postgres'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuSeconds(pid);
    } catch {
      // A connection that ended between the listing and the read.
    }
  }
  return total;
}

/** The V8 profiler of the IdP process over its inspector port: only the measured load is profiled, not start-up. */
async function inspector(port: number) {
  const [target] = (await fetch(`http://127.0.0.1:${port}/json/list`).then((r) => r.json())) as Array<{ webSocketDebuggerUrl: string }>;
  const ws = new WebSocket(target!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let next = 1;
  const waiting = new Map<number, (result: unknown) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data)) as { id?: number; result?: unknown };
    if (m.id !== undefined) waiting.get(m.id)?.(m.result);
  };
  const send = (method: string, params: Record<string, unknown> = {}) => new Promise<unknown>((resolve) => {
    const id = next++;
    waiting.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
  return { send, close: () => ws.close() };
}

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** Where a function lives: a package, a folder of src/, a Node internal, or V8's own. */
function owner(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 14).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const src = url.indexOf('/src/');
  if (src >= 0) return `src/${url.slice(src + 5).split('/').slice(0, -1).join('/') || '.'}`;
  return url;
}

/** Self time by owner and by function, as shares of the busy (non-idle) time. */
function summariseProfile(file: string) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') { idle += us; continue; }
    busy += us;
    const o = owner(n.callFrame.url, n.callFrame.functionName);
    byOwner.set(o, (byOwner.get(o) ?? 0) + us);
    const f = `${n.callFrame.functionName || '(anonymous)'} ${o}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    byFunction.set(f, (byFunction.get(f) ?? 0) + us);
  }
  const top = (m: Map<string, number>, k: number) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => [name, `${round((100 * us) / busy, 1)} %`]));
  return { busySeconds: round(busy / 1e6, 1), mainThreadBusyShare: round(busy / (busy + idle), 2), byOwner: top(byOwner, 18), byFunction: top(byFunction, 20) };
}

async function profileJourney(name: string): Promise<Record<string, unknown>> {
  const dir = path.join(projectRoot, 'bench/results/profiles', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const inspectPort = await freePort();
  const bench: BenchIdp = await startBenchIdp({ IDP_ARGON2_MEMORY_KIB: '', IDP_ARGON2_TIME_COST: '' }, [`--inspect=127.0.0.1:${inspectPort}`]);
  try {
    const run = await journey(name, bench.url, CONCURRENCY);
    for (let i = 0; i < 20; i++) await run(0, i); // warm-up, and proof the journey works
    const commands = await commandsOf(bench.redis.port, () => run(0, 1));
    // First unprofiled: the rate, and CPU per journey by process.
    const redisPid = redisServerPid(bench.redis.port);
    const cpu0 = { idp: cpuSeconds(bench.idp.child.pid!), redis: cpuSeconds(redisPid), postgres: postgresCpuSeconds(), load: process.cpuUsage() };
    const load = await drive({ concurrency: CONCURRENCY, seconds: SECONDS }, run);
    const loadCpu = process.cpuUsage(cpu0.load);
    const cpu = cpuSeconds(bench.idp.child.pid!) - cpu0.idp;
    const redisCpu = cpuSeconds(redisPid) - cpu0.redis;
    const postgresCpu = postgresCpuSeconds() - cpu0.postgres;
    const perOp = (seconds: number) => round((seconds * 1000) / Math.max(1, load.ops), 2);
    // Then the same load again under the V8 profiler (which slows it).
    const v8 = await inspector(inspectPort);
    await v8.send('Profiler.enable');
    await v8.send('Profiler.setSamplingInterval', { interval: 500 });
    await v8.send('Profiler.start');
    const profiled = await drive({ concurrency: CONCURRENCY, seconds: SECONDS }, run);
    const { profile } = (await v8.send('Profiler.stop')) as { profile: unknown };
    v8.close();
    const file = path.join(dir, `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    const perSecond = load.perSecond;
    const baseline = await baselineCpuMsPerOp(name);
    const total = perOp(cpu) + perOp(redisCpu) + perOp(postgresCpu) + perOp((loadCpu.user + loadCpu.system) / 1e6);
    const prof = summariseProfile(file);
    return {
      load: { perSecond, p50ms: load.p50ms, errors: load.errors },
      mainThreadMsPerOp: round((prof.busySeconds * 1000) / Math.max(1, profiled.ops), 2),
      // CPU per journey by process (user + system, every thread): the IdP (argon2's and the
      // schema validator's threads included), its redis-server, and this
      // load generator, which shares the machine's cores with them in every benchmark; and the
      // machine's PostgreSQL server (every postgres process: the IdP's connections, its WAL
      // writer and checkpointer; other users of the server count too, so run it alone)
      cpuMsPerOp: { idp: perOp(cpu), redis: perOp(redisCpu), postgres: perOp(postgresCpu), loadGenerator: perOp((loadCpu.user + loadCpu.system) / 1e6), total: round(total, 2) },
      ...(baseline === undefined ? {} : { baselineCpuMsPerOp: baseline, bestRatioOnTheseCores: round(baseline / total, 2) }),
      redisCommandsPerOp: Object.values(commands).reduce((a, b) => a + b, 0),
      redisCommands: commands,
      profile: prof,
      profileFile: path.relative(projectRoot, file),
    };
  } finally {
    await bench.stop();
  }
}

/**
 * The Redis keys one active SSO session leaves (an OIDC sign-in with its code exchanged
 * for tokens, then SAML to the fixture SP), by key type: MEMORY USAGE, length, TTL.
 */
async function sessionKeys(): Promise<Record<string, unknown>> {
  const bench = await startBenchIdp({ REDIS_KEY_PREFIX: 'idp:' });
  const cli = (...args: string[]) => spawnSync('redis-cli', ['-p', String(bench.redis.port), ...args], { encoding: 'utf8' }).stdout.trim();
  try {
    const before = new Set(cli('--scan').split('\n'));
    const agent = new Agent();
    await tokens(bench.url, agent);
    const xml = authnRequestXml({ issuer: SP.entityId, destination: `${bench.url}/saml/sso` });
    const saml = await agent.follow(await agent.request(`${bench.url}/saml/sso?${redirectQuery('SAMLRequest', xml, { sign: false })}`), bench.url);
    if (!saml.text.includes('name="SAMLResponse"')) throw new Error('no SAML response');
    const rows = cli('--scan').split('\n').filter((k) => k && !before.has(k)).map((key) => {
      const ttlMs = Number(cli('pttl', key));
      return { type: key.replace(/[A-Za-z0-9_-]{21,}/g, '<id>').replace(/^idp:/, ''), bytes: Number(cli('memory', 'usage', key, 'samples', '0')), redisType: cli('type', key), ttl: ttlMs < 0 ? 'none' : ttlMs > 3_600_000 ? `${round(ttlMs / 3_600_000, 1)} h` : `${round(ttlMs / 60_000, 1)} min` };
    }).sort((a, b) => b.bytes - a.bytes);
    const total = rows.reduce((a, r) => a + r.bytes, 0);
    // What stays for the session's life: not the consumed code (60 s), the replay guard of
    // the SAML request, or the markers of a finished flow and SAML request (1 h).
    const lasting = rows.filter((r) => !/AuthorizationCode|saml:seen|flow:<id>}:done|samlreq/.test(r.type)).reduce((a, r) => a + r.bytes, 0);
    return { keys: rows.length, bytes: total, bytesThatLastTheSession: lasting, byKey: rows };
  } finally {
    await bench.stop();
  }
}

async function main() {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : ['sign-in', 'saml-sso', 'oidc-sso', 'refresh', 'client-credentials', 'keys'];
  const results: Record<string, unknown> = {};
  for (const name of names) {
    results[name] = name === 'keys' ? await sessionKeys() : await profileJourney(name);
    console.error(name, JSON.stringify(results[name], null, 1));
  }
  report('profile', names.filter((n) => n !== 'keys').map((n) => `${n}: ${(results[n] as { mainThreadMsPerOp: number }).mainThreadMsPerOp} ms of the IdP's main thread and ${(results[n] as { redisCommandsPerOp: number }).redisCommandsPerOp} Redis commands per journey`).join('; '), { seconds: SECONDS, concurrency: CONCURRENCY, journeys: results });
}

await main();
