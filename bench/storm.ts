// The 8 a.m. storm: more pupils signing in at once than the IdP can hash.
//   baseline: the IdP's own capacity, measured first in the same run (closed loop, 8 at a
//             time, every pupil a different account: full OIDC sign-ins to the code);
//   storm:    new pupils arrive open-loop at MULTIPLE × that capacity for STORM_SECONDS,
//             each a browser doing what the page does: GET /oidc/auth, the sign-in page,
//             POST Username/Password; on "Please wait" (503 + Retry-After) it waits that
//             long and posts the waiting page's form again, until it gets its code.
//   meanwhile: pupils with a live session go through SSO (no password) and an app refreshes
//             its tokens, each at a steady pace: their latency is what admission protects.
// Every pupil comes from 127.0.0.1 here, where a district's come from its schools' many
// addresses: the budget of protocol requests strangers may start from one address
// (strangers.perIp, tested in test/abuse/flood.test.ts) is raised for the run, so that what
// is measured is admission control.
// Reports admitted sign-ins' p50/p99 (first POST to code, when it was admitted at once), how
// many waited and then succeeded, any error that is not a 503 with Retry-After (none is
// expected), goodput against the capacity, and SSO and refresh p50/p99 during the storm.
// Run: node bench/storm.ts   (MULTIPLE=2 STORM_SECONDS=60 CAPACITY_SECONDS=15 ACCOUNTS=20000)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as argon2 from '@node-rs/argon2';
import { loadSettings } from '../src/config/settings.ts';
import { Directory } from '../src/domain/accounts/directory.ts';
import { sameDatabase } from '../test/support/database.ts';
import { Agent, form } from './lib/http.ts';
import { fillAccounts, signedInBrowsers, startBenchIdp, USERS } from './lib/idp.ts';
import { drive } from './lib/load.ts';
import { mintIdpTokens } from './token.ts';
import { percentile, report, round } from './lib/stats.ts';

const MULTIPLE = Number(process.env.MULTIPLE ?? 2);
const STORM_SECONDS = Number(process.env.STORM_SECONDS ?? 60);
const CAPACITY_SECONDS = Number(process.env.CAPACITY_SECONDS ?? 15);
const ACCOUNTS = Number(process.env.ACCOUNTS ?? 20_000);
/** After the arrivals stop, how long the pupils still waiting may take to finish. */
const DRAIN_SECONDS = Number(process.env.DRAIN_SECONDS ?? 90);
const PASSWORD = 'Storm-Morning-Pass-8';
/** One address standing for a district's many (see above). */
const STRANGERS = { perIp: 1_000_000, windowMinutes: 10 };
const CLIENT = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outcome {
  /** First POST to code, ms. */
  ms: number;
  /** Times it was told to wait. */
  waits: number;
  waitedSeconds: number;
}

/** One pupil's sign-in as the pages make it, waiting as the waiting page does. */
async function pupil(idpUrl: string, loginId: string, prompt?: 'login'): Promise<Outcome> {
  const agent = new Agent();
  const auth = `${idpUrl}/oidc/auth?${new URLSearchParams({ client_id: CLIENT.id, redirect_uri: CLIENT.redirect, response_type: 'code', scope: 'openid', state: 's', ...(prompt ? { prompt } : {}) })}`;
  const page = await agent.follow(await agent.request(auth), idpUrl);
  let f = form(page.text, '/sign-in');
  let fields: Record<string, string> = { ...f.fields, username: loginId, password: PASSWORD };
  const t0 = performance.now();
  let waits = 0;
  let waitedSeconds = 0;
  for (;;) {
    const posted = await agent.request(new URL(f.action, idpUrl).toString(), { form: fields });
    if (posted.status === 503 || posted.status === 429) {
      const seconds = Number(posted.retryAfter);
      if (!(seconds > 0)) throw new Error(`${posted.status} without Retry-After`);
      waits++;
      waitedSeconds += seconds;
      await sleep(seconds * 1000);
      // The waiting page's own form: the same fields, sent again.
      f = form(posted.text, '/sign-in');
      fields = f.fields;
      continue;
    }
    const last = await agent.follow(posted, idpUrl);
    if (!last.location?.startsWith(`${CLIENT.redirect}?code=`)) throw new Error(`no code: ${last.status} ${last.location ?? last.text.slice(0, 200)}`);
    return { ms: performance.now() - t0, waits, waitedSeconds };
  }
}

/** A pupil with a live session going through SSO to the app (no password): GET /oidc/auth to the code. */
async function sso(idpUrl: string, agent: Agent): Promise<void> {
  const auth = `${idpUrl}/oidc/auth?${new URLSearchParams({ client_id: CLIENT.id, redirect_uri: CLIENT.redirect, response_type: 'code', scope: 'openid', state: 's' })}`;
  const last = await agent.follow(await agent.request(auth), idpUrl);
  if (!last.location?.startsWith(`${CLIENT.redirect}?code=`)) throw new Error(`SSO gave no code: ${last.status}`);
}

function basic(): string {
  return `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`;
}

async function main() {
  const settings = loadSettings({ env: {} });
  // The configured argon2 parameters and admission settings: the storm meets what a deployment has.
  const config = path.join(mkdtempSync(path.join(tmpdir(), 'bench-storm-')), 'storm.json');
  writeFileSync(config, JSON.stringify({ strangers: STRANGERS }));
  const bench = await startBenchIdp({ IDP_ARGON2_MEMORY_KIB: '', IDP_ARGON2_TIME_COST: '', IDP_CONFIG_FILE: config });
  const idpUrl = bench.url;
  const db = sameDatabase(bench.databaseEnv);
  try {
    const hash = await argon2.hash(PASSWORD, { ...settings.argon2, algorithm: 2 as argon2.Algorithm });
    await fillAccounts(new Directory(db.database, Date.now), 0, ACCOUNTS, hash);
    let nextAccount = 0;
    const account = () => `filler_${nextAccount++ % ACCOUNTS}@students.edu.sg`;

    // Capacity, closed loop (8 at a time stays inside the queue: nobody is told to wait).
    await pupil(idpUrl, account());
    const capacity = await drive({ concurrency: 8, seconds: CAPACITY_SECONDS }, async () => {
      const o = await pupil(idpUrl, account());
      if (o.waits) throw new Error('told to wait while measuring capacity');
    });
    const rate = capacity.perSecond * MULTIPLE;

    // Background: live sessions and refresh chains, each at a steady pace.
    const signedIn = await signedInBrowsers(idpUrl, 8, USERS[1]);
    const chains = await mintIdpTokens(idpUrl, 4);
    const ssoMs: number[] = [];
    const refreshMs: number[] = [];
    const background: string[] = [];
    let storming = true;
    const steady = async (everyMs: number, op: () => Promise<void>, into: number[]) => {
      while (storming) {
        const t0 = performance.now();
        try {
          await op();
          into.push(performance.now() - t0);
        } catch (err) {
          background.push((err as Error).message.slice(0, 200));
        }
        await sleep(Math.max(0, everyMs - (performance.now() - t0)));
      }
    };
    const ssoLoops = signedIn.map((agent) => steady(800, () => sso(idpUrl, agent), ssoMs));
    const refreshLoops = chains.map((_, i) => steady(800, async () => {
      const res = await fetch(`${idpUrl}/oidc/token`, { method: 'POST', headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: chains[i]! }) });
      const body = (await res.json()) as { refresh_token?: string; error?: string };
      if (!res.ok || !body.refresh_token) throw new Error(`refresh: ${res.status} ${body.error ?? ''}`);
      chains[i] = body.refresh_token;
    }, refreshMs));

    // The storm: open-loop arrivals at `rate` a second.
    const outcomes: Outcome[] = [];
    const errors: string[] = [];
    const pending = new Set<Promise<void>>();
    const began = performance.now();
    let arrivals = 0;
    while (performance.now() - began < STORM_SECONDS * 1000) {
      const due = began + (arrivals / rate) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      arrivals++;
      const p = pupil(idpUrl, account()).then((o) => { outcomes.push(o); }, (err: Error) => { errors.push(err.message.slice(0, 200)); });
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    const arrivalsEnded = performance.now();
    const doneInStorm = outcomes.length;
    await Promise.race([Promise.all(pending), sleep(DRAIN_SECONDS * 1000)]);
    storming = false;
    await Promise.all([...ssoLoops, ...refreshLoops]);
    const drained = (performance.now() - arrivalsEnded) / 1000;

    const atOnce = outcomes.filter((o) => o.waits === 0).map((o) => o.ms);
    const waited = outcomes.filter((o) => o.waits > 0);
    const p = (values: number[], q: number) => round(percentile(values, q));
    const goodput = round(doneInStorm / STORM_SECONDS, 1);
    report('storm', `capacity ${capacity.perSecond}/s; offered ${round(rate, 1)}/s (${MULTIPLE} ×) for ${STORM_SECONDS} s: ${arrivals} pupils, ${outcomes.length} signed in (${goodput}/s during the storm = ${round(goodput / capacity.perSecond)} × capacity), admitted at once p50 ${p(atOnce, 50)} ms p99 ${p(atOnce, 99)} ms, ${waited.length} told to wait then signed in (median ${p(waited.map((o) => o.waitedSeconds), 50)} s waited), ${errors.length} errors, ${pending.size} still waiting after ${round(drained, 0)} s; during it SSO p50 ${p(ssoMs, 50)} ms p99 ${p(ssoMs, 99)} ms, refresh p50 ${p(refreshMs, 50)} ms p99 ${p(refreshMs, 99)} ms`, {
      argon2: settings.argon2,
      admission: settings.admission,
      strangers: STRANGERS,
      capacity: { perSecond: capacity.perSecond, p50ms: capacity.p50ms, p99ms: capacity.p99ms, seconds: CAPACITY_SECONDS },
      storm: { multiple: MULTIPLE, offeredPerSecond: round(rate, 1), seconds: STORM_SECONDS, arrivals, signedIn: outcomes.length, signedInDuringStorm: doneInStorm, goodputPerSecond: goodput, goodputOverCapacity: round(goodput / capacity.perSecond), stillWaiting: pending.size, drainSeconds: round(drained, 1) },
      admittedAtOnce: { count: atOnce.length, p50ms: p(atOnce, 50), p99ms: p(atOnce, 99) },
      waitedThenSignedIn: { count: waited.length, waitsMedian: p(waited.map((o) => o.waits), 50), waitsMax: Math.max(0, ...waited.map((o) => o.waits)), secondsWaitedMedian: p(waited.map((o) => o.waitedSeconds), 50), totalMsP50: p(waited.map((o) => o.ms), 50), totalMsP99: p(waited.map((o) => o.ms), 99) },
      errors: { count: errors.length, samples: errors.slice(0, 5) },
      duringStorm: { sso: { count: ssoMs.length, p50ms: p(ssoMs, 50), p99ms: p(ssoMs, 99) }, refresh: { count: refreshMs.length, p50ms: p(refreshMs, 50), p99ms: p(refreshMs, 99) }, errors: background.length, errorSamples: background.slice(0, 5) },
    });
  } finally {
    await db.close();
    await bench.stop();
  }
}

if (import.meta.main) await main();
