// Starts a real IdP on a free port for a test: real store (the harness's Redis by
// default), real keys in a temporary directory, logs captured in memory.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadKeyMaterial, watchKeyMaterial } from '../../src/config/key-material.ts';
import { loadRelyingParties, type OidcClientFile, type SamlSpFile } from '../../src/config/relying-parties.ts';
import { loadSettings, projectRoot, type Settings } from '../../src/config/settings.ts';
import { loadSeed, readSeedFile } from '../../src/domain/accounts/seed.ts';
import type { Clock } from '../../src/domain/clock.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { MemoryStore, RedisStore, type Store } from '../../src/store/index.ts';
import { createIdp, type Idp } from '../../src/web/app.ts';
import { testClusterNodes, testRedisUrl, uniquePrefix } from './redis.ts';
import { makeDatabase, type TestDatabase } from './database.ts';
import type { Database } from '../../src/store/database/index.ts';

export const FIXTURE_RPS = path.join(projectRoot, 'test/fixtures/relying-parties');
export const DEMO_SEED = path.join(projectRoot, 'config/demo-accounts.json');
/** Cheap argon2 parameters so that HTTP tests are not dominated by hashing. */
export const FAST_ARGON2 = { memoryCost: 8192, timeCost: 1, parallelism: 1 };

export interface TestIdp {
  url: string;
  idp: Idp;
  settings: Settings;
  store: Store;
  database: Database;
  /** DATABASE_URL and DATABASE_SCHEMA of this IdP's directory, for a CLI or process beside it. */
  databaseEnv: Record<string, string>;
  logs: string[];
  server: Server;
  keysDir: string;
  /** Applies changed key files now (the watcher does within 200 ms anyway). */
  reloadKeys(): void;
  close(): Promise<void>;
}

export async function makeStore(kind: 'redis' | 'memory', clock?: Clock): Promise<Store> {
  if (kind === 'memory') return new MemoryStore(clock);
  const clusterNodes = await testClusterNodes();
  const store = clusterNodes
    ? new RedisStore({ clusterNodes, keyPrefix: uniquePrefix() })
    : new RedisStore({ url: await testRedisUrl(), keyPrefix: uniquePrefix() });
  await store.ready();
  return store;
}

export interface TestIdpOptions {
  store?: Store;
  /** The directory's database (default: a schema of its own on the test server); closed with the IdP. */
  database?: TestDatabase;
  overrides?: Record<string, unknown>;
  clock?: Clock;
  seed?: boolean;
  /** Extra OIDC clients (built in code, as for the simulated relying parties). */
  clients?: OidcClientFile[];
  /** Extra SAML service providers. */
  serviceProviders?: SamlSpFile[];
  /** Host name in the IdP's public URL (default 127.0.0.1; "localhost" makes it another site than the sims). */
  host?: string;
  /** A keys directory (shared with another IdP, or rotated by the test); kept at close. Default: a new temporary one. */
  keysDir?: string;
}

export async function startTestIdp(options: TestIdpOptions = {}): Promise<TestIdp> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://${options.host ?? '127.0.0.1'}:${(server.address() as { port: number }).port}`;
  const keysDir = options.keysDir ?? mkdtempSync(path.join(tmpdir(), 'idp-keys-'));
  const settings = loadSettings({
    env: {},
    overrides: {
      server: { publicUrl: url },
      keysDir,
      relyingPartyDirs: [FIXTURE_RPS],
      argon2: FAST_ARGON2,
      log: { level: 'info' },
      // The product requires two-step sign-in for administrators (config/default.json); suites
      // about other features sign the demo administrators in with a password alone. The MFA
      // suites (test/mfa/) set the policy they test.
      mfa: { requiredForRoles: [], offeredToRoles: ['staff', 'school-admin', 'ministry-admin'], maxFailures: 5, windowMinutes: 15 },
      // The product offers a recovery email at first sign-in (config/default.json); suites about
      // other features go through first sign-in without the offer. The recovery-email suites
      // (test/mail/) turn it on.
      recoveryEmail: { offer: { students: false, staff: false } },
      ...options.overrides,
    },
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger(settings.log.level, sink);
  const store = options.store ?? (await makeStore('redis'));
  const db = options.database ?? (await makeDatabase());
  const clock = options.clock ?? Date.now;
  const idp = createIdp({
    settings,
    store,
    database: db.database,
    logger,
    clock,
    keyMaterial: loadKeyMaterial(keysDir),
    relyingParties: (() => {
      const rps = loadRelyingParties(settings.relyingPartyDirs);
      rps.oidc.push(...(options.clients ?? []));
      rps.saml.push(...(options.serviceProviders ?? []));
      return rps;
    })(),
  });
  if (options.seed !== false) {
    await loadSeed(readSeedFile(DEMO_SEED), { directory: idp.directory, hasher: idp.hasher, audit: idp.audit, now: clock() });
  }
  server.on('request', idp.app.callback());
  // As npm start does: rotated keys are applied without restart.
  const keyWatcher = watchKeyMaterial(keysDir, (k) => idp.applyKeys(k), (err) => logger.error({ err }, 'key reload failed'), 200);
  return {
    url,
    idp,
    settings,
    store,
    database: db.database,
    databaseEnv: db.env,
    logs,
    server,
    keysDir,
    reloadKeys: () => keyWatcher.check(),
    async close() {
      keyWatcher.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await idp.close();
      await store.close();
      await db.close();
      if (!options.keysDir) rmSync(keysDir, { recursive: true, force: true });
    },
  };
}

export const DEMO = {
  student: { loginId: 'allen_tan@students.edu.sg', password: 'Sunflower-Kite-42' },
  student2: { loginId: 'bella_lim@students.edu.sg', password: 'Harbour#Lantern7' },
  staff: { loginId: 'daniel_wong@schools.gov.sg', password: 'Granite%River31' },
};
