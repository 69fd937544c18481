// What each second factor costs per sign-in, end to end (an OIDC relying party's sign-in as
// a browser does it, until the authorization code), against the same-run baseline of a
// password-only sign-in:
//   baseline         password                                    (staff without a second factor)
//   password + app   password, then a code from the authenticator app (each account once per 30 s step)
//   password + key   password, then a passkey (software authenticator, ES256)
//   passkey alone    "Sign in with a passkey" (discoverable, user verified)
// The IdP runs as its own process on a fresh redis-server, with the configured argon2
// parameters; accounts with an app come from a seed file (`totpSecret`), passkeys are added
// through the SSPR app as a user would. The load generator is this process.
// Run: node bench/mfa.ts   (SECONDS=5 CONCURRENCY=4 ACCOUNTS=250)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from 'otplib';
import { pageOptions, SoftAuthenticator } from '../test/support/soft-authenticator.ts';
import { Agent, form } from './lib/http.ts';
import { startBenchIdp } from './lib/idp.ts';
import { drive } from './lib/load.ts';
import { report, round } from './lib/stats.ts';

const SECONDS = Number(process.env.SECONDS ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const ACCOUNTS = Number(process.env.ACCOUNTS ?? 250);
const PASSKEY_ACCOUNTS = 8;
const CLIENT = { id: 'test-web', redirect: 'http://127.0.0.1:9/callback' };
const PASSWORD = 'Bench-Harbour-4821';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

const staff = (prefix: string, i: number, extra: Record<string, unknown> = {}) => ({
  loginId: `${prefix}${i}@schools.gov.sg`, password: PASSWORD, temporary: false, givenName: 'Bench', familyName: `Staff ${prefix}${i}`,
  school: { code: 'B01', name: 'Bench School' }, level: null, roles: ['staff'],
  // One question is enough to have none pending (and halves the seeding's hashing).
  questions: [{ question: 'What is your favourite colour?', answer: 'blue' }],
  ...extra,
});

/** GET /oidc/auth to the sign-in page; `then` continues from it to the redirect with the code. */
async function toCode(idpUrl: string, then: (agent: Agent, page: { text: string }) => Promise<Awaited<ReturnType<Agent['request']>>>): Promise<void> {
  const agent = new Agent();
  const auth = `${idpUrl}/oidc/auth?${new URLSearchParams({ client_id: CLIENT.id, redirect_uri: CLIENT.redirect, response_type: 'code', scope: 'openid', state: 'bench' })}`;
  const page = await agent.follow(await agent.request(auth), idpUrl);
  const last = await agent.follow(await then(agent, page), idpUrl);
  if (!last.location?.startsWith(`${CLIENT.redirect}?code=`)) throw new Error(`no code: ${last.status} ${last.location ?? last.text.slice(0, 300)}`);
}

const post = (agent: Agent, idpUrl: string, html: string, part: string, fields: Record<string, string>) => {
  const f = form(html, part);
  return agent.request(new URL(f.action, idpUrl).toString(), { form: { ...f.fields, ...fields } });
};

async function main() {
  const seedFile = path.join(mkdtempSync(path.join(tmpdir(), 'bench-mfa-')), 'seed.json');
  writeFileSync(seedFile, JSON.stringify([
    ...Array.from({ length: 8 }, (_, i) => staff('pwd', i)),
    ...Array.from({ length: PASSKEY_ACCOUNTS }, (_, i) => staff('key', i)),
    ...Array.from({ length: ACCOUNTS }, (_, i) => staff('app', i, { totpSecret: SECRET })),
  ]));
  const bench = await startBenchIdp({ IDP_SEED_FILE: seedFile, IDP_ARGON2_MEMORY_KIB: '', IDP_ARGON2_TIME_COST: '', IDP_ARGON2_PARALLELISM: '' });
  const idpUrl = bench.url;
  try {
    // Passkeys added through the SSPR app, as their owners would.
    const devices = Array.from({ length: PASSKEY_ACCOUNTS }, () => new SoftAuthenticator());
    for (const [i, device] of devices.entries()) {
      const agent = new Agent();
      const page = await agent.follow(await agent.request(`${idpUrl}/portal`), idpUrl);
      const portal = await agent.follow(await post(agent, idpUrl, page.text, '/sign-in', { username: `key${i}@schools.gov.sg`, password: PASSWORD }), idpUrl);
      const sspr = await agent.follow(await agent.request(`${idpUrl}/portal/sspr`), idpUrl);
      void portal;
      const reauth = await agent.follow(await post(agent, idpUrl, sspr.text, '/portal/sspr/mfa', {}), idpUrl);
      const choose = await agent.follow(await post(agent, idpUrl, reauth.text, '/reauth', { password: PASSWORD }), idpUrl);
      const keyPage = await agent.follow(await post(agent, idpUrl, choose.text, '/mfa-setup/passkey', {}), idpUrl);
      const codes = await agent.follow(await post(agent, idpUrl, keyPage.text, '/mfa-setup/passkey-confirm', { name: 'bench', credential: JSON.stringify(device.register(pageOptions(keyPage.text), idpUrl)) }), idpUrl);
      if (!/Your Recovery Codes/.test(codes.text)) throw new Error(`passkey not added: ${codes.text.slice(0, 300)}`);
    }

    const run = (op: (worker: number, i: number) => Promise<void>) => drive({ concurrency: CONCURRENCY, seconds: SECONDS }, op);
    const baseline = await run((w, i) => toCode(idpUrl, (agent, page) => post(agent, idpUrl, page.text, '/sign-in', { username: `pwd${(w + i * CONCURRENCY) % 8}@schools.gov.sg`, password: PASSWORD })));

    let next = 0;
    const withApp = await run(() => toCode(idpUrl, async (agent, page) => {
      const n = next++;
      if (n >= ACCOUNTS) throw new Error('out of accounts for this 30 s step (raise ACCOUNTS)');
      const second = await agent.follow(await post(agent, idpUrl, page.text, '/sign-in', { username: `app${n}@schools.gov.sg`, password: PASSWORD }), idpUrl);
      return post(agent, idpUrl, second.text, '/mfa/code', { code: await generate({ secret: SECRET }) });
    }));

    // One passkey account per worker (a passkey's counter must only grow).
    const withKey = await run((w, i) => toCode(idpUrl, async (agent, page) => {
      const k = (w + (i % 2) * CONCURRENCY) % PASSKEY_ACCOUNTS;
      const second = await agent.follow(await post(agent, idpUrl, page.text, '/sign-in', { username: `key${k}@schools.gov.sg`, password: PASSWORD }), idpUrl);
      return post(agent, idpUrl, second.text, '/mfa/passkey', { credential: JSON.stringify(devices[k]!.assert(pageOptions(second.text), idpUrl)) });
    }));
    const passkeyAlone = await run((w, i) => toCode(idpUrl, async (agent, page) => {
      const k = (w + (i % 2) * CONCURRENCY) % PASSKEY_ACCOUNTS;
      return post(agent, idpUrl, page.text, '/passkey', { credential: JSON.stringify(devices[k]!.assert(pageOptions(page.text), idpUrl)) });
    }));

    const cost = (m: typeof baseline) => ({ ...m, ratioToPasswordOnly: round(m.perSecond / baseline.perSecond), addedP50ms: round(m.p50ms - baseline.p50ms) });
    report('mfa', `per sign-in to a code (concurrency ${CONCURRENCY}): password ${baseline.perSecond}/s p50 ${baseline.p50ms} ms; + app code ${withApp.perSecond}/s (${round(withApp.perSecond / baseline.perSecond)} ×, +${round(withApp.p50ms - baseline.p50ms)} ms); + passkey ${withKey.perSecond}/s (${round(withKey.perSecond / baseline.perSecond)} ×, +${round(withKey.p50ms - baseline.p50ms)} ms); passkey alone ${passkeyAlone.perSecond}/s (${round(passkeyAlone.perSecond / baseline.perSecond)} ×)`, {
      concurrency: CONCURRENCY,
      passwordOnly: baseline,
      passwordAndApp: cost(withApp),
      passwordAndPasskey: cost(withKey),
      passkeyAlone: cost(passkeyAlone),
    });
  } finally {
    await bench.stop();
  }
}

if (import.meta.main) await main();
