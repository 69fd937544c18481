// Does a wrong answer reveal whether an account exists? Measures, in one run with the
// configured argon2 parameters, the latency of
//   - a sign-in with a wrong password for a known login ID vs an unknown one,
//   - a forgot-password answer set for a known login ID vs an unknown one (decoys),
// and prints each ratio unknown/known (1.00 = indistinguishable by timing).
// Run: node bench/timing-parity.ts   (results also in bench/results/timing-parity.json)
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Browser } from '../test/support/browser.ts';
import { startTestIdp } from '../test/support/idp.ts';
import { MemoryStore } from '../src/store/index.ts';
import { loadSettings, projectRoot } from '../src/config/settings.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 30);
const argon2 = loadSettings({ env: {} }).argon2;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  // High per-IP limits: the benchmark itself must not be throttled.
  const t = await startTestIdp({
    store: new MemoryStore(),
    overrides: { argon2, lockout: { maxFailures: 100, maxFailuresPerIp: 1000000 }, forgotPassword: { maxFailuresPerAccountPerIp: 100000, maxFailuresPerAccount: 100000, maxFailuresPerIp: 1000000 } },
  });
  const results: Record<string, { p50: number; p99: number }> = {};
  async function measure(name: string, run: () => Promise<void>) {
    const times: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const started = process.hrtime.bigint();
      await run();
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    results[name] = { p50: percentile(times, 50), p99: percentile(times, 99) };
  }
  const b = new Browser(t.url);
  const signInPage = (await b.open('/portal')).res;
  const signIn = (username: string) => async () => {
    await b.submit(signInPage, '/sign-in', { username, password: 'Wrong-Password-00' });
  };
  await measure('signin.known', signIn('allen_tan@students.edu.sg')); // 30 < 100: never locks
  await measure('signin.unknown', signIn('nobody_at_all@students.edu.sg'));

  async function answersPage(loginId: string) {
    const f = new Browser(t.url);
    const search = await f.open('/flow/forgot-password');
    const page = (await f.follow(await f.submit(search.res, '/forgot/search', { username: loginId }))).res;
    return async () => {
      await f.submit(page, '/forgot/answers', { a0: 'x1', a1: 'x2', a2: 'x3' });
    };
  }
  await measure('answers.known', await answersPage('bella_lim@students.edu.sg'));
  await measure('answers.unknown', await answersPage('nobody_at_all@students.edu.sg'));
  await t.close();

  const ratio = (a: string, b: string) => Number((results[a]!.p50 / results[b]!.p50).toFixed(2));
  const out = {
    argon2,
    rounds: ROUNDS,
    results,
    ratios: { signinUnknownOverKnown: ratio('signin.unknown', 'signin.known'), answersUnknownOverKnown: ratio('answers.unknown', 'answers.known') },
    node: process.version,
    at: new Date().toISOString(),
  };
  console.log(JSON.stringify(out, null, 2));
  writeFileSync(path.join(projectRoot, 'bench/results/timing-parity.json'), `${JSON.stringify(out, null, 2)}\n`);
}

await main();
