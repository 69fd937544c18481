// This checkout against an earlier commit, on one journey. Both IdPs run as production would
// (NODE_ENV=production, no sims, a redis-server each, a schema each on the machine's
// PostgreSQL) and the same load generator (this process) drives them in alternating slices,
// A B B A A B ..., so that what else the machine does meanwhile falls on both alike: on this
// shared 2-core machine a run alone moves by 10-20 % from one minute to the next, more than
// most changes this is meant to measure.
// Per slice: the IdP's CPU per journey (all its processes, /proc), its redis-server's, and
// journeys per second. Reported: each arm's medians over its slices, and the geometric means
// of the back-to-back pairs' ratios (this checkout / the commit).
// Run: node bench/ab.ts <commit> [journey]   (journeys: bench/lib/journeys.ts; oidc-sso by default)
//   SLICES=12 (made even) SECONDS=4 CONCURRENCY=4 WARM_SECONDS=8 IDP_WORKERS=1 (2 = the cluster's default here)
// Both arms run from temporary git worktrees (the commit, and this checkout with its
// uncommitted changes), removed afterwards; they share this checkout's node_modules when
// both package-lock.json files are this one, else each gets its own (npm ci).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/config/settings.ts';
import { manyAddressesConfig, startBenchIdp, type BenchIdp } from './lib/idp.ts';
import { journey, JOURNEYS, type Journey } from './lib/journeys.ts';
import { drive } from './lib/load.ts';
import { cpuSeconds, redisServerPid } from './lib/cpu.ts';
import { percentile, report, round } from './lib/stats.ts';

const SLICES = 2 * Math.ceil(Number(process.env.SLICES ?? 12) / 2);
const SECONDS = Number(process.env.SECONDS ?? 4);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const WARM_SECONDS = Number(process.env.WARM_SECONDS ?? 8);
const WORKERS = process.env.IDP_WORKERS ?? '1';
const median = (values: number[]) => percentile(values, 50);
/** Of ratios: the slice that runs second in a pair is dearer on this machine (by up to 10 %), and pairs alternate which arm goes first; a geometric mean over an even number of pairs cancels that. */
const geometricMean = (values: number[]) => Math.exp(values.reduce((t, v) => t + Math.log(v), 0) / values.length);

/** CPU ms a process has used so far; 0 once it has ended. */
function cpuMs(pid: number): number {
  try {
    return cpuSeconds(pid) * 1000;
  } catch {
    return 0;
  }
}

/** A process and all its descendants (the cluster's workers). */
function tree(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parentOf.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out = [root];
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parentOf) if (out.includes(ppid) && !out.includes(pid)) { out.push(pid); grew = true; }
  }
  return out;
}

interface Arm { name: string; bench: BenchIdp; redisPid: number; run: Journey; idpMs: number[]; redisMs: number[]; perSecond: number[] }

async function arm(name: string, root: string, journeyName: string): Promise<Arm> {
  const bench = await startBenchIdp({ NODE_ENV: 'production', IDP_SIMS: 'false', IDP_WORKERS: WORKERS, IDP_CONFIG_FILE: manyAddressesConfig() }, [], root);
  const redisPid = redisServerPid(bench.redis.port);
  return { name, bench, redisPid, run: await journey(journeyName, bench.url, CONCURRENCY), idpMs: [], redisMs: [], perSecond: [] };
}

async function slice(a: Arm): Promise<void> {
  const pids = tree(a.bench.idp.child.pid!);
  const sum = () => pids.reduce((t, p) => t + cpuMs(p), 0);
  const idp0 = sum();
  const redis0 = cpuMs(a.redisPid);
  const d = await drive({ concurrency: CONCURRENCY, seconds: SECONDS }, a.run);
  if (d.errors) throw new Error(`${a.name}: ${d.errors} errors, e.g. ${d.errorSamples[0]}`);
  a.idpMs.push((sum() - idp0) / d.ops);
  a.redisMs.push((cpuMs(a.redisPid) - redis0) / d.ops);
  a.perSecond.push(d.perSecond);
}

async function main() {
  const [rev, journeyName = 'oidc-sso'] = process.argv.slice(2);
  if (!rev || !(JOURNEYS as readonly string[]).includes(journeyName)) {
    console.error(`usage: node bench/ab.ts <commit> [${JOURNEYS.join(' | ')}]`);
    process.exit(2);
  }
  const git = (...args: string[]) => execFileSync('git', args, { cwd: projectRoot, encoding: 'utf8' }).trim();
  const commit = git('rev-parse', '--verify', `${rev}^{commit}`);
  const head = `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? ' (with uncommitted changes)' : ''}`;
  // Both arms run from checkouts of their own, their node_modules installed the same way,
  // so that nothing but the two commits differs between them (an A/A run with one arm on
  // this checkout and the other on a fresh install of the same lock came out 1.08 x on
  // client_credentials; the cause was not found). This checkout's uncommitted changes are
  // taken along (git stash create).
  const snapshot = git('stash', 'create') || git('rev-parse', 'HEAD');
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-ab-'));
  const checkouts = [path.join(dir, 'before'), path.join(dir, 'now')] as const;
  git('worktree', 'add', '--detach', checkouts[0], commit);
  git('worktree', 'add', '--detach', checkouts[1], snapshot);
  const arms: Arm[] = [];
  try {
    const lock = (root: string) => readFileSync(path.join(root, 'package-lock.json'), 'utf8');
    const sameLocks = lock(checkouts[0]) === lock(projectRoot) && lock(checkouts[1]) === lock(projectRoot);
    for (const root of checkouts) {
      if (sameLocks) symlinkSync(path.join(projectRoot, 'node_modules'), path.join(root, 'node_modules'));
      else execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
    }
    if (!existsSync(path.join(checkouts[0], 'src/main.ts'))) throw new Error(`${rev} has no src/main.ts`);
    arms.push(await arm(`commit ${commit.slice(0, 7)}`, checkouts[0], journeyName), await arm(`this checkout (${head})`, checkouts[1], journeyName));
    for (const a of arms) await drive({ concurrency: CONCURRENCY, seconds: WARM_SECONDS }, a.run); // JIT warm-up, and proof the journey works
    const [before, now] = arms as [Arm, Arm];
    for (let i = 0; i < SLICES; i++) {
      for (const a of i % 2 === 0 ? [before, now] : [now, before]) await slice(a);
    }
    const pairs = (of: (a: Arm) => number[]) => of(now).map((v, i) => v / of(before)[i]!);
    const total = (a: Arm) => a.idpMs.map((v, i) => v + a.redisMs[i]!);
    const summary = (a: Arm) => ({
      idpCpuMsPerJourney: round(median(a.idpMs), 3), redisCpuMsPerJourney: round(median(a.redisMs), 3),
      perSecond: round(median(a.perSecond), 1), slices: { idpCpuMs: a.idpMs.map((v) => round(v, 3)), perSecond: a.perSecond.map((v) => round(v, 1)) },
    });
    const ratios = {
      idpCpu: round(geometricMean(pairs((a) => a.idpMs)), 3),
      idpAndRedisCpu: round(geometricMean(pairs(total)), 3),
      perSecond: round(geometricMean(pairs((a) => a.perSecond)), 3),
      idpCpuPerPair: pairs((a) => a.idpMs).map((v) => round(v, 2)),
    };
    report('ab', `${journeyName}: IdP CPU ${summary(before).idpCpuMsPerJourney} -> ${summary(now).idpCpuMsPerJourney} ms a journey (pairs: ${ratios.idpCpu} x; with its redis-server ${ratios.idpAndRedisCpu} x), ${summary(before).perSecond} -> ${summary(now).perSecond}/s (${ratios.perSecond} x)`, {
      journey: journeyName, commit, head, workers: WORKERS, slices: SLICES, seconds: SECONDS, concurrency: CONCURRENCY,
      [before.name]: summary(before), [now.name]: summary(now), ratios,
    });
  } finally {
    for (const a of arms) await a.bench.stop();
    for (const root of checkouts) git('worktree', 'remove', '--force', root);
  }
}

await main();
