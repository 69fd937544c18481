// What state costs, and whether the directory's size matters.
//   1. Redis memory per active SSO session with one OIDC grant and one SAML participant:
//      N users each sign in to an OIDC client (code exchanged for tokens) and to a SAML SP;
//      used_memory and key counts before and after, on a fresh redis-server; and what the
//      same sessions wrote to PostgreSQL (the audit trail: tables and indexes, and rows).
//      The accounts' last sign-in is an update in place, counted with the directory.
//   2. Sign-in latency (the POST of the sign-in form) with 1,000 accounts in the directory
//      and again with 1,000,000 (written through the product's own Directory into the IdP's
//      PostgreSQL schema), and what an account costs there (tables and indexes).
// Run: node bench/sessions.ts   (SESSIONS=500 ACCOUNTS=1000000 SIGNINS=300)
import { spawnSync } from 'node:child_process';
import * as argon2 from '@node-rs/argon2';
import { loadSettings } from '../src/config/settings.ts';
import { Directory } from '../src/domain/accounts/directory.ts';
import { RedisStore } from '../src/store/index.ts';
import { sameDatabase } from '../test/support/database.ts';
import { authnRequestXml, redirectQuery } from '../test/support/saml-messages.ts';
import { Agent, form } from './lib/http.ts';
import { fillAccounts, startBenchIdp, USERS } from './lib/idp.ts';
import { signInOnce } from './sign-in.ts';
import { percentile, report, round } from './lib/stats.ts';

const SESSIONS = Number(process.env.SESSIONS ?? 500);
const ACCOUNTS = Number(process.env.ACCOUNTS ?? 1_000_000);
const SIGNINS = Number(process.env.SIGNINS ?? 300);
const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };
const FILLER_PASSWORD = 'Filler-Account-Pass-1';

function redisInfo(port: number, what: string): Record<string, string> {
  const out = spawnSync('redis-cli', ['-p', String(port), ...what.split(' ')], { encoding: 'utf8' }).stdout;
  return Object.fromEntries(out.split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(':') as [string, string]));
}
const usedMemory = (port: number) => Number(redisInfo(port, 'info memory').used_memory);
const dbsize = (port: number) => Number(spawnSync('redis-cli', ['-p', String(port), 'dbsize'], { encoding: 'utf8' }).stdout.trim());

/** One user: OIDC sign-in with tokens, then SAML to the fixture SP on the same SSO session. */
async function activeSession(idpUrl: string, loginId: string): Promise<void> {
  const agent = new Agent();
  const auth = `${idpUrl}/oidc/auth?${new URLSearchParams({ client_id: WEB.id, redirect_uri: WEB.redirect, response_type: 'code', scope: 'openid email offline_access', prompt: 'consent', state: 's' })}`;
  const page = await agent.follow(await agent.request(auth), idpUrl);
  const f = form(page.text, '/sign-in');
  const done = await agent.follow(await agent.request(new URL(f.action, idpUrl).toString(), { form: { ...f.fields, username: loginId, password: FILLER_PASSWORD } }), idpUrl);
  const code = new URL(done.location!).searchParams.get('code')!;
  const tokens = await fetch(`${idpUrl}/oidc/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${WEB.id}:${WEB.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: WEB.redirect }),
  }).then((r) => r.json() as Promise<{ refresh_token?: string }>);
  if (!tokens.refresh_token) throw new Error('no tokens');
  const xml = authnRequestXml({ issuer: 'https://sp.test/fixture-sp', destination: `${idpUrl}/saml/sso` });
  const saml = await agent.follow(await agent.request(`${idpUrl}/saml/sso?${redirectQuery('SAMLRequest', xml, { sign: false })}`), idpUrl);
  if (!saml.text.includes('SAMLResponse')) throw new Error('no SAML response');
}

async function signInLatencies(idpUrl: string): Promise<{ p50ms: number; p99ms: number; samples: number }> {
  // A few unmeasured sign-ins first: what ran before (creating sessions, filling the
  // directory) must not be what is measured.
  for (let i = 0; i < 20; i++) await signInOnce(idpUrl, USERS[0]);
  const post: number[] = [];
  for (let i = 0; i < SIGNINS; i++) await signInOnce(idpUrl, USERS[0], { post });
  return { p50ms: round(percentile(post, 50)), p99ms: round(percentile(post, 99)), samples: post.length };
}

async function main() {
  const settings = loadSettings({ env: {} });
  const prefix = 'idp:';
  // The configured argon2 parameters (not the tests' fast ones).
  const bench = await startBenchIdp({ REDIS_KEY_PREFIX: prefix, IDP_ARGON2_MEMORY_KIB: '', IDP_ARGON2_TIME_COST: '' });
  const { redis, url: idpUrl } = bench;
  const store = new RedisStore({ url: redis.url, keyPrefix: prefix });
  await store.ready();
  // The accounts go into the IdP's own directory (its PostgreSQL schema).
  const db = sameDatabase(bench.databaseEnv);
  const directory = new Directory(db.database, Date.now);
  try {
    const hash = await argon2.hash(FILLER_PASSWORD, { ...settings.argon2, algorithm: 2 as argon2.Algorithm });
    // 1,000 accounts in all (the demo ones included), then the session memory.
    await fillAccounts(directory, 0, 1000 - 8, hash);
    const audit = async () => (await db.database.query<{ b: string; n: string }>(`select pg_total_relation_size('audit_events')::text as b, (select count(*) from audit_events)::text as n`))[0]!;
    const auditBefore = await audit();
    const before = { memory: usedMemory(redis.port), keys: dbsize(redis.port) };
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < SESSIONS) await activeSession(idpUrl, `filler_${next++}@students.edu.sg`);
    }));
    const after = { memory: usedMemory(redis.port), keys: dbsize(redis.port) };
    const auditAfter = await audit();
    const perSession = {
      bytes: Math.round((after.memory - before.memory) / SESSIONS),
      keys: round((after.keys - before.keys) / SESSIONS, 1),
      postgresAuditBytes: Math.round((Number(auditAfter.b) - Number(auditBefore.b)) / SESSIONS),
      postgresAuditEvents: round((Number(auditAfter.n) - Number(auditBefore.n)) / SESSIONS, 1),
    };

    const small = await signInLatencies(idpUrl);
    const t0 = performance.now();
    // The directory is in PostgreSQL: its size is that of the accounts' tables and indexes.
    const directoryBytes = async () => Number((await db.database.query<{ b: string }>(`select (pg_total_relation_size('accounts') + pg_total_relation_size('account_name_parts') + pg_total_relation_size('passkeys'))::text as b`))[0]!.b);
    const bytesBeforeFill = await directoryBytes();
    const redisBeforeFill = usedMemory(redis.port);
    await fillAccounts(directory, 1000, ACCOUNTS, hash);
    const fillSeconds = (performance.now() - t0) / 1000;
    const bytesPerAccount = Math.round((await directoryBytes() - bytesBeforeFill) / (ACCOUNTS - 1000));
    const redisBytesPerAccount = Math.round((usedMemory(redis.port) - redisBeforeFill) / (ACCOUNTS - 1000));
    const large = await signInLatencies(idpUrl);
    const ratio = round(large.p99ms / small.p99ms);
    report('sessions', `${perSession.bytes} bytes of Redis per active SSO session with an OIDC grant and a SAML participant (${perSession.keys} keys) and ${perSession.postgresAuditBytes} bytes of PostgreSQL (${perSession.postgresAuditEvents} audit events); ${bytesPerAccount} bytes of PostgreSQL an account; sign-in p50/p99 ${large.p50ms}/${large.p99ms} ms with ${ACCOUNTS.toLocaleString('en')} accounts vs ${small.p50ms}/${small.p99ms} ms with 1,000 (p99 ratio ${ratio})`, {
      sessions: SESSIONS,
      perSession,
      signInPost: { accounts1000: small, [`accounts${ACCOUNTS}`]: large, ratioP99: ratio },
      directory: { accounts: ACCOUNTS, fillSeconds: round(fillSeconds, 1), accountsPerSecond: Math.round((ACCOUNTS - 1000) / fillSeconds), postgresBytesPerAccount: bytesPerAccount, redisBytesPerAccount, redisUsedMemoryMB: round(usedMemory(redis.port) / 1e6, 1) },
      argon2: settings.argon2,
    });
  } finally {
    await store.close();
    await db.close();
    await bench.stop();
  }
}

await main();
