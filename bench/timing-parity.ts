// Does a wrong answer reveal whether an account exists? The IdP as its own process on
// Redis, with the configured argon2 parameters; one client, one request at a time, known
// and unknown login IDs alternating (so drift over the run hits both alike):
//   - the POST of a sign-in with a wrong password, known login ID vs unknown;
//   - the POST of a forgot-password answer set, known login ID vs unknown (decoy questions).
// For each pair: SAMPLES latencies each, the ratio of medians (unknown / known), and a
// two-sided Mann-Whitney U test: p > 0.05 means no difference was found.
// Run: node bench/timing-parity.ts   (SAMPLES=1000)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, form } from './lib/http.ts';
import { startBenchIdp, USERS } from './lib/idp.ts';
import { percentile, report, round } from './lib/stats.ts';

const SAMPLES = Number(process.env.SAMPLES ?? 1000);
const UNKNOWN = 'nobody_at_all@students.edu.sg';

/** Two-sided Mann-Whitney U test (normal approximation with tie correction; fine for n ≥ 20 each). */
export function mannWhitney(a: number[], b: number[]): { u: number; z: number; p: number } {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = rank;
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    i = j + 1;
  }
  const n1 = a.length;
  const n2 = b.length;
  const r1 = all.reduce((sum, x, i) => sum + (x.g === 0 ? ranks[i]! : 0), 0);
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  const z = (u - (n1 * n2) / 2) / sigma;
  return { u, z, p: 2 * (1 - normalCdf(Math.abs(z))) };
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 via erf; error < 1.5e-7). */
function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (x / Math.SQRT2));
  const erf = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-((x / Math.SQRT2) ** 2));
  return 0.5 * (1 + erf);
}

/** Times the POST alone; then (not timed) reads the page it leads to, to say what the answer was. */
async function timedPost(agent: Agent, url: string, fields: Record<string, string>, base: string): Promise<{ ms: number; said: string }> {
  const t0 = process.hrtime.bigint();
  const res = await agent.request(url, { form: fields });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const page = await agent.follow(res, base);
  return { ms, said: `${res.status} → ${page.status} ${/SSPR \d+/.exec(page.text)?.[0] ?? ''}` };
}

function compare(known: number[], unknown: number[]) {
  const test = mannWhitney(unknown, known);
  return {
    known: { p50ms: round(percentile(known, 50), 3), p99ms: round(percentile(known, 99), 3) },
    unknown: { p50ms: round(percentile(unknown, 50), 3), p99ms: round(percentile(unknown, 99), 3) },
    ratioOfMedians: round(percentile(unknown, 50) / percentile(known, 50), 3),
    mannWhitney: { z: round(test.z, 2), p: round(test.p, 3) },
    indistinguishable: test.p > 0.05,
  };
}

async function main() {
  // The benchmark itself must never be locked out or throttled: failures are forgotten
  // 60 ms after the first of a window (the same for known and unknown login IDs), and the
  // per-IP, answer and spraying limits are out of reach (the spraying alarm is still asked
  // and still counts every failure, as in production).
  const configFile = path.join(mkdtempSync(path.join(tmpdir(), 'timing-')), 'limits.json');
  writeFileSync(configFile, JSON.stringify({
    lockout: { maxFailures: 100, windowMinutes: 0.001, maxFailuresPerIp: 100_000_000 },
    forgotPassword: { maxFailuresPerAccountPerIp: 100_000_000, maxFailuresPerAccount: 100_000_000, maxFailuresPerIp: 100_000_000 },
    spraying: { floorPerMinute: 100_000_000, schoolFloorPerMinute: 100_000_000, factor: 4, budgetPerMinute: 20, holdMinutes: 10 },
  }));
  const bench = await startBenchIdp({ IDP_ARGON2_MEMORY_KIB: '', IDP_ARGON2_TIME_COST: '', IDP_CONFIG_FILE: configFile });
  const url = bench.url;
  try {
    // Sign-in: one browser, its sign-in page posted again and again.
    const browser = new Agent();
    const page = await browser.follow(await browser.request(`${url}/portal`), url);
    const signIn = form(page.text, '/sign-in');
    // Every answer must be the plain "wrong" one (never locked, never throttled), the same
    // for known and unknown login IDs, or the comparison means nothing.
    const answered = new Set<string>();
    const postSignIn = (username: string) => async () => {
      const r = await timedPost(browser, new URL(signIn.action, url).toString(), { ...signIn.fields, username, password: 'Wrong-Password-00' }, url);
      answered.add(`sign-in ${r.said}`);
      return r.ms;
    };
    // Forgot password: a flow each at the answers page, answered wrongly again and again.
    const answersOf = async (loginId: string) => {
      const agent = new Agent();
      const start = await agent.follow(await agent.request(`${url}/flow/forgot-password`), url);
      const search = form(start.text, '/forgot/search');
      const answers = await agent.follow(await agent.request(new URL(search.action, url).toString(), { form: { ...search.fields, username: loginId } }), url);
      const f = form(answers.text, '/forgot/answers');
      return async () => {
        const r = await timedPost(agent, new URL(f.action, url).toString(), { ...f.fields, a0: 'wrong one', a1: 'wrong two', a2: 'wrong three' }, url);
        answered.add(`answers ${r.said}`);
        return r.ms;
      };
    };
    const knownAnswers = await answersOf(USERS[1][0]);
    const unknownAnswers = await answersOf(UNKNOWN);

    const pairs = {
      signIn: [postSignIn(USERS[0][0]), postSignIn(UNKNOWN)],
      answers: [knownAnswers, unknownAnswers],
    } as const;
    const results: Record<string, ReturnType<typeof compare>> = {};
    for (const [name, [known, unknown]] of Object.entries(pairs)) {
      for (let i = 0; i < 20; i++) { await known(); await unknown(); } // warm-up
      const k: number[] = [];
      const u: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        // Alternate which goes first, so neither always follows the other.
        if (i % 2) { k.push(await known()); u.push(await unknown()); } else { u.push(await unknown()); k.push(await known()); }
      }
      results[name] = compare(k, u);
    }
    if (answered.size !== 2) throw new Error(`not every attempt got the same "wrong" answer: ${[...answered].join('; ')}`);
    const line = (n: string) => `${n} ${results[n]!.ratioOfMedians} (p = ${results[n]!.mannWhitney.p}${results[n]!.indistinguishable ? ', no difference found' : ', DIFFERENT'})`;
    report('timing-parity', `unknown/known login ID over ${SAMPLES} samples each: wrong password ${line('signIn')}; wrong answers ${line('answers')}`, { samples: SAMPLES, answers: [...answered], results });
  } finally {
    await bench.stop();
  }
}

if (import.meta.main) await main();
