// The IdP under test, as its own process (`node src/main.ts`) on a fresh redis-server and a
// schema of its own on the machine's PostgreSQL (as in production), with
// the demo accounts and the test fixtures' relying parties (an OIDC web app, a service
// client, a SAML SP), and the demo users benchmarks sign in as.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config/settings.ts';
import { Agent, form } from './http.ts';
import { startIdpProcess, type IdpProcess } from '../../test/support/process.ts';
import { OwnedRedis } from '../../test/support/redis.ts';
import { newSchema } from '../../test/support/database.ts';
import type { Directory } from '../../src/domain/accounts/directory.ts';

export const USERS = [
  ['allen_tan@students.edu.sg', 'Sunflower-Kite-42'],
  ['bella_lim@students.edu.sg', 'Harbour#Lantern7'],
  ['chandra_kumar@students.edu.sg', 'Meadow-Violet-93'],
  ['daniel_wong@schools.gov.sg', 'Granite%River31'],
] as const;

export interface BenchIdp {
  url: string;
  idp: IdpProcess;
  redis: OwnedRedis;
  /** DATABASE_URL and DATABASE_SCHEMA of its directory. */
  databaseEnv: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A settings file (for IDP_CONFIG_FILE) that lifts the per-address budget of strangers
 * (strangers.perIp, test/abuse/flood.test.ts) for a benchmark whose load all comes from
 * 127.0.0.1, standing for the many addresses of real users: a run above 5 sign-ins a
 * second for 10 minutes would otherwise meet it and measure the refusals instead.
 */
export function manyAddressesConfig(): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'bench-config-')), 'many-addresses.json');
  writeFileSync(file, JSON.stringify({ strangers: { perIp: 1_000_000, windowMinutes: 10 } }));
  return file;
}

/**
 * `env` adds to (or, with '', unsets) the defaults; IDP_ARGON2_* '' = the configured parameters.
 * `root`: the checkout whose IdP runs (bench:ab runs an earlier commit's beside this one).
 */
export async function startBenchIdp(env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = [], root = projectRoot): Promise<BenchIdp> {
  const redis = await OwnedRedis.start();
  const schema = await newSchema();
  const idp = await startIdpProcess({
    REDIS_URL: redis.url, ...schema.env, IDP_DEMO_SEED: 'true', LOG_LEVEL: 'warn',
    IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'bench-keys-')), IDP_RP_DIR: path.join(projectRoot, 'test/fixtures/relying-parties'),
    ...env,
  }, undefined, nodeArgs, 'ready', root);
  return {
    url: `http://127.0.0.1:${idp.port}`,
    idp,
    redis,
    databaseEnv: schema.env,
    async stop() {
      await idp.kill('SIGTERM');
      await redis.destroy();
      await schema.drop();
    },
  };
}

/**
 * `count` browsers signed in at the portal as `user`, one after the other: parallel sign-ins
 * of one login ID beyond lockout.maxFailures are refused by design (attempts are counted
 * before the check), which would leave some browsers without a session.
 */
export async function signedInBrowsers(idpUrl: string, count: number, user: readonly [string, string] = USERS[0]): Promise<Agent[]> {
  const agents: Agent[] = [];
  for (let i = 0; i < count; i++) {
    const agent = new Agent();
    const page = await agent.follow(await agent.request(`${idpUrl}/portal`), idpUrl);
    const f = form(page.text, '/sign-in');
    const done = await agent.follow(await agent.request(new URL(f.action, idpUrl).toString(), { form: { ...f.fields, username: user[0], password: user[1] } }), idpUrl);
    if (!/Sign out/i.test(done.text)) throw new Error(`browser ${i} did not sign in: ${done.status} ${done.url}`);
    agents.push(agent);
  }
  return agents;
}

/**
 * Accounts filler_<from>…filler_<to - 1>@students.edu.sg in `directory`, all with the same
 * password hash and answers (questions set, permanent password: nothing stands between them
 * and a sign-in), 300 schools.
 */
export async function fillAccounts(directory: Directory, from: number, to: number, passwordHash: string): Promise<void> {
  let next = from;
  await Promise.all(Array.from({ length: 256 }, async () => {
    while (next < to) {
      const i = next++;
      await directory.create({
        loginId: `filler_${i}@students.edu.sg`, displayName: `Filler ${i}`, givenName: 'Filler', familyName: String(i),
        school: { code: `S${i % 300}`, name: `School ${i % 300}` }, level: 'S2', roles: ['student'], status: 'active',
        passwordHash, mustChangePassword: false, passwordChangedAt: Date.now(), passwordHistory: [],
        questions: ['What is your favourite food?', 'What is your favourite animal?', 'What is your favourite colour?'].map((question) => ({ question, answerHash: passwordHash })),
      });
    }
  }));
}
