// The IdP process (`npm start` runs it through main.ts): loads configuration, serves the IdP at once, then connects to the store,
// seeds accounts and warms the SAML schema validator; /readyz answers 200 only after that
// (and while both stores answer). Without Redis or the database the IdP stays up, alive but
// not ready, showing SSPR 5019, and carries on by itself when they come back.
// Two stores: the directory in a database (DATABASE_URL, else embedded in the data folder;
// its migrations run first), and what may be lost in Redis (REDIS_URL, else in process).
// The first log lines say which are in use.
// With server.workers > 1 (IDP_WORKERS), this process is the primary of Node's cluster: it
// makes the keys, runs the simulated apps, and keeps that many IdP worker processes on one
// port (a worker that dies is replaced); each worker serves the IdP over the shared Redis.
// Start-up writes (seeding, migrations) are done by the first worker only.
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server, type ServerOptions } from 'node:http';
import { availableParallelism } from 'node:os';
import { expiringCertificates, loadKeyMaterial, watchKeyMaterial, type KeyMaterial } from './config/key-material.ts';
import { loadRelyingParties } from './config/relying-parties.ts';
import { ConfigError, loadSettings, projectRoot } from './config/settings.ts';
import { withMemoryFlags } from './config/node-flags.ts';
import { loadSeed, readSeedFile, SeedError } from './domain/accounts/seed.ts';
import { systemClock } from './domain/clock.ts';
import { createLogger } from './observability/logger.ts';
import { createStore, keys, RedisStore, StoreUnavailableError, type Store } from './store/index.ts';
import { createServices, type Services } from './services.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, migrate, NewerDatabaseError, type Database } from './store/database/index.ts';
import path from 'node:path';
import { withSimulatedApps } from './sims/clients.ts';

type Settings = ReturnType<typeof loadSettings>;
type Logger = ReturnType<typeof createLogger>;

/** Seed files, read (and checked) now: a bad file stops start-up with its message, before listening. */
function readSeeds(settings: Settings) {
  return [
    ...(settings.seed.demo ? [{ what: 'demo accounts loaded (see README "Demo accounts")', file: path.join(projectRoot, 'config/demo-accounts.json') }] : []),
    ...(settings.seed.file ? [{ what: 'seed file loaded', file: settings.seed.file }] : []),
  ].map((s) => ({ ...s, accounts: readSeedFile(s.file) }));
}

/**
 * Start-up writes once the store answers (retried until it does, never fatal): the seed
 * files; then data migrations in the background (README "Upgrading": this release reads
 * records of the previous version meanwhile).
 */
async function startupWrites(store: Store, services: Services, settings: Settings, seeds: ReturnType<typeof readSeeds>, logger: Logger): Promise<void> {
  let warned = false;
  let migrated = false;
  for (;;) {
    try {
      if (!migrated) {
        const report = await migrate(services.database, settings.database.schema);
        if (report.applied.length) logger.info({ applied: report.applied.map((m) => `${m.version} ${m.name}`), version: report.version }, 'database schema migrated');
        migrated = true;
      }
      if (store instanceof RedisStore) await store.ready(5_000);
      for (const seed of seeds) {
        const r = await loadSeed(seed.accounts, { directory: services.directory, hasher: services.hasher, audit: services.audit, lockout: services.lockout, mfa: services.mfa, now: systemClock() });
        logger.info({ ...r, file: seed.file }, seed.what);
      }
      break;
    } catch (err) {
      if (err instanceof NewerDatabaseError || !(err instanceof StoreUnavailableError)) throw err;
      if (!warned) logger.error({ errorCode: 'SSPR 5019', detail: err.message }, 'store or database unreachable at start-up: serving SSPR 5019 and retrying until it answers');
      warned = true;
      await sleep(1_000);
    }
  }
}

/** What the primary tells its workers: the start-up writes are done (they may say ready). */
const STARTUP_DONE = 'idp:startup-done';
/**
 * What a worker asks once it listens for the answer (a message sent before a process has a
 * listener is lost, so the primary's announcement alone could be missed by a slow worker).
 */
const STARTUP_QUERY = 'idp:startup-query';

async function main(): Promise<void> {
  const settings = loadSettings();
  const workers = settings.server.workers === 'auto' ? availableParallelism() : settings.server.workers ?? 1;
  if (workers > 1 && cluster.isPrimary) return primary(settings, workers);
  return serve(settings, cluster.isWorker ? cluster.worker!.id : 0);
}

/** A worker's exit code when the IdP's port cannot be opened (EX_CONFIG): the primary stops rather than restart it. */
const PORT_REFUSED = 78;

/** The cluster's primary: keys and simulated apps here, the IdP in `count` workers. */
async function primary(settings: Settings, count: number): Promise<void> {
  // The simulated apps' ports first, and the IdP's tried once here: a busy one stops start-up
  // with one line, before any worker starts (workers listen through this process later).
  const simServers = await listenAll(settings.server.host, simPorts(settings));
  const probe = await listenAll(settings.server.host, { idp: { what: 'the IdP', port: settings.server.port, change: 'set PORT (--port), or IDP_HOST' } });
  await new Promise<void>((resolve) => probe.idp!.close(() => resolve()));
  // The banner once the IdP's port is open (a worker listens through the primary).
  cluster.once('listening', () => process.stderr.write(banner(settings, 'redis', count)));
  const logger = createLogger(settings.log.level).child({ role: 'primary' });
  // Made once here (key files, the simulated apps' registrations), so every worker reads the same.
  const keyMaterial = loadKeyMaterial(settings.keysDir);
  const relyingParties = loadRelyingParties(settings.relyingPartyDirs);
  const seeds = readSeeds(settings);
  const sims = Object.values(simServers);
  simulatedApps(settings, withSimulatedApps(settings, relyingParties), logger, simServers).catch((err: unknown) => logger.error({ err }, 'the simulated apps could not start'));
  // The start-up writes are the primary's, once for all workers; each worker is told when they are done.
  const { store, description } = createStore(settings.redis);
  logger.info({ store: store.kind }, `store: ${description}`);
  const database = createDatabase(settings.database);
  logger.info({ database: database.kind }, `directory: ${database.description}`);
  let written = false;
  const tell = (worker: Worker | undefined) => void worker?.send(STARTUP_DONE);
  cluster.on('message', (worker, m) => m === STARTUP_QUERY && written && tell(worker));
  startupWrites(store, createServices(settings, store, database, systemClock, { sealSecret: keyMaterial.decoyKey }), settings, seeds, logger).then(() => {
    written = true;
    for (const worker of Object.values(cluster.workers ?? {})) tell(worker);
  }, (err: unknown) => {
    logger.fatal({ err }, 'start-up failed');
    process.exit(1);
  });
  let stopping = false;
  let refused = false;
  // Each worker with V8's memory sized for a server (config/node-flags.ts).
  cluster.setupPrimary({ execArgv: withMemoryFlags(process.execArgv) });
  const fork = () => cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        for (const server of sims) server.close();
        void Promise.allSettled([store.close(), database.close()]).finally(() => {
          logger.info('stopped');
          process.exit(refused ? 1 : 0);
        });
      }
      return;
    }
    if (code === PORT_REFUSED) {
      // Its one line is on stderr already; another worker would meet the same.
      stopping = true;
      refused = true;
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
      setTimeout(() => process.exit(1), 5_000).unref();
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(1);
      return;
    }
    logger.error({ worker: worker.id, code, signal }, 'IdP worker exited: starting another');
    setTimeout(fork, 1_000).unref();
  });
  for (let i = 0; i < count; i++) fork();
  logger.info({ workers: count }, 'IdP workers started');
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down the workers');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    setTimeout(() => process.exit(1), 12_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  stopWithNpm(() => stop('SIGTERM'));
}

interface Port {
  what: string;
  port: number;
  /** How to move it (or do without it). */
  change: string;
  options?: ServerOptions;
}

/** The simulated apps' ports, when they run. */
function simPorts(settings: Settings): Record<string, Port> {
  if (!settings.sims.enabled) return {};
  const off = 'or run without the simulated apps (IDP_SIMS=false, --no-sims)';
  return {
    workspace: { what: 'workspace-sim', port: settings.sims.workspace.port, change: `set WORKSPACE_SIM_PORT (--workspace-sim-port) ${off}` },
    sls: { what: 'sls-sim', port: settings.sims.sls.port, change: `set SLS_SIM_PORT (--sls-sim-port) ${off}` },
  };
}

/**
 * Opens every port before anything is served or announced; a port that cannot be opened
 * stops start-up with one line naming it and how to move it. Requests are handled once
 * their app is attached (`server.on('request', ...)`), a moment later.
 */
async function listenAll(host: string, ports: Record<string, Port>): Promise<Record<string, Server>> {
  const servers: Record<string, Server> = {};
  for (const [name, p] of Object.entries(ports)) {
    const server = createServer(p.options ?? {});
    await new Promise<void>((resolve) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'is in use' : err.code === 'EACCES' ? 'is not allowed to this user' : `cannot be opened (${err.code ?? err.message})`;
        process.stderr.write(`start-up failed: port ${p.port} on ${host} (${p.what}) ${why}: ${p.change}\n`);
        process.exit(1);
      });
      server.listen(p.port, host, () => resolve());
    });
    servers[name] = server;
  }
  return servers;
}

/**
 * Starts the simulated relying parties on their servers (already listening), beside the
 * IdP or in the primary. Their code (and node-saml's) is loaded only when they run.
 */
async function simulatedApps(settings: Settings, { sls, workspace }: ReturnType<typeof withSimulatedApps>, logger: ReturnType<typeof createLogger>, servers: Record<string, Server>): Promise<void> {
  if (sls && servers.sls) {
    const { createSlsSim } = await import('./sims/sls/app.ts');
    const sim = createSlsSim({ publicUrl: settings.sims.sls.publicUrl, issuer: settings.server.publicUrl, clientId: sls.client_id, clientSecret: sls.client_secret!, viewsDir: path.join(projectRoot, 'views/sims/sls') });
    servers.sls.on('request', sim.app.callback());
    logger.info({ url: settings.sims.sls.publicUrl }, 'sls-sim (simulated OIDC relying party) ready');
  }
  if (workspace && servers.workspace) {
    const { createWorkspaceSim } = await import('./sims/workspace/app.ts');
    const sim = createWorkspaceSim({ publicUrl: settings.sims.workspace.publicUrl, idpMetadataUrl: `${settings.server.publicUrl}/saml/metadata`, keys: workspace.keys, viewsDir: path.join(projectRoot, 'views/sims/workspace') });
    servers.workspace.on('request', sim.app.callback());
    logger.info({ url: settings.sims.workspace.publicUrl }, 'workspace-sim (simulated Google Workspace, SAML service provider) ready');
  }
}

/** The IdP in this process: alone (`worker` 0), or as one worker of the cluster. */
async function serve(settings: Settings, worker: number): Promise<void> {
  // The IdP's code is loaded here, not by the cluster's primary, which only keeps workers;
  // before any port opens (a request meeting a server without its handler would hang).
  const { createIdp } = await import('./web/app.ts');
  // Every port first (the IdP's, and the simulated apps' beside a lone IdP): the banner
  // says "listening" only once all are open, and a busy port is one line naming it.
  const options: ServerOptions = {
    headersTimeout: settings.server.headersTimeoutMs,
    requestTimeout: settings.server.requestTimeoutMs,
    keepAliveTimeout: settings.server.keepAliveTimeoutMs,
    // How often the two limits above are enforced (Node checks every 30 s by default).
    connectionsCheckingInterval: Math.min(1_000, settings.server.headersTimeoutMs),
  };
  const idpPort: Port = { what: 'the IdP', port: settings.server.port, change: 'set PORT (--port), or IDP_HOST', options };
  const listening: Record<string, Server> = worker ? {} : await listenAll(settings.server.host, { idp: idpPort, ...simPorts(settings) });
  const redis = settings.redis;
  if (!worker) process.stderr.write(banner(settings, redis.url || redis.clusterNodes.length || redis.sentinels.length ? 'redis' : 'memory', 1));
  const { store, description } = createStore(settings.redis);
  const base = createLogger(settings.log.level);
  const logger = worker ? base.child({ worker }) : base;
  logger.info({ store: store.kind }, `store: ${description}`);
  const database: Database = createDatabase(settings.database);
  logger.info({ database: database.kind }, `directory: ${database.description}`);

  const keyMaterial = loadKeyMaterial(settings.keysDir);
  const relyingParties = loadRelyingParties(settings.relyingPartyDirs);
  const simulated = withSimulatedApps(settings, relyingParties);
  // Start-up writes (seeding, migrations) are this process's when it runs alone, else the
  // primary's: a worker is ready once the primary says they are done.
  let started = false;
  let primaryDone = worker === 0;
  if (worker) {
    process.on('message', (m) => void (m === STARTUP_DONE && (primaryDone = true)));
    process.send!(STARTUP_QUERY);
  }
  const idp = createIdp({ settings, store, database, logger, clock: systemClock, keyMaterial, relyingParties, started: () => started, worker });
  // Said by the server only (the CLI builds the same IdP to tell apps, and prints one line).
  if (!idp.mail.available) logger.warn('no SMTP_URL (and not in demo mode): no mail can be sent, so no recovery email is offered');
  // A photo of a badge is a badge: said once at start where nothing limits where one works.
  if (settings.badges.levels.length > 0 && settings.badges.networks.length === 0 && !settings.seed.demo) {
    logger.warn({ levels: settings.badges.levels }, 'sign-in badges work from any network: set badges.networks to the schools\' addresses (README "Sign-in badges")');
  }
  // Key rotation (README "Key rotation"): rotated keys are used without restart; a SAML
  // certificate expiring within 30 days is warned about at start, on change and daily.
  let keysInUse = keyMaterial;
  const warnExpiry = (k: KeyMaterial) => {
    for (const cert of expiringCertificates(k, Date.now())) {
      logger.warn({ certificate: cert.id, state: cert.life.state, expires: new Date(cert.expires!).toISOString() }, 'SAML signing certificate expires within 30 days: rotate it (README "Key rotation")');
    }
  };
  warnExpiry(keyMaterial);
  const keyWatcher = watchKeyMaterial(settings.keysDir, (k) => {
    keysInUse = k;
    idp.applyKeys(k);
    warnExpiry(k);
  }, (err) => logger.error({ err }, 'key files changed but could not be loaded: the keys in use stay'));
  setInterval(() => warnExpiry(keysInUse), 86_400_000).unref();
  const seeds = worker ? [] : readSeeds(settings);

  let server: Server;
  if (worker) {
    // A worker listens through the primary (Node's cluster), which owns the port; it does
    // so once it is ready (below), so that the primary hands no connection to a worker
    // still starting (it would answer SSPR 5019, and /readyz 503 beside ready workers).
    server = createServer(options);
    server.on('error', (err: NodeJS.ErrnoException) => {
      process.stderr.write(`start-up failed: port ${settings.server.port} on ${settings.server.host} (the IdP) cannot be opened (${err.code ?? err.message}): set PORT (--port), or IDP_HOST\n`);
      // The primary stops instead of starting another worker into the same refusal.
      process.exit(PORT_REFUSED);
    });
  } else {
    server = listening.idp!;
  }
  server.on('request', idp.app.callback());
  const listeningSaid = () => {
    const { port } = server.address() as { port: number };
    logger.info({ url: settings.server.publicUrl, port }, worker ? 'IdP worker ready and taking connections' : 'IdP listening; /healthz answers, /readyz once the store is reachable and start-up is done');
  };
  if (!worker) listeningSaid();

  // Start-up work that needs the store: retried until it succeeds, never fatal.
  const startup = async () => {
    if (!worker) await startupWrites(store, idp, settings, seeds, logger);
    // Ready means ready: the SAML schema validator is compiled before /readyz says so.
    await idp.warm();
    while (!primaryDone) await sleep(50);
    started = true;
    if (worker) {
      await new Promise<void>((resolve) => server.listen(settings.server.port, settings.server.host, resolve));
      listeningSaid();
    }
    logger.info({ url: settings.server.publicUrl, clients: relyingParties.oidc.map((c) => c.client_id), serviceProviders: relyingParties.saml.map((sp) => sp.id) }, 'IdP ready');
  };
  startup().catch((err: unknown) => {
    logger.fatal({ err }, 'start-up failed');
    process.exit(1);
  });

  // The simulated apps run beside a lone IdP; with workers, in the primary.
  const { idp: _idp, ...simServers } = listening;
  const servers = [server, ...Object.values(simServers)];
  if (!worker) simulatedApps(settings, simulated, logger, simServers).catch((err: unknown) => logger.error({ err }, 'the simulated apps could not start'));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing requests');
    for (const extra of servers.slice(1)) {
      extra.close();
      extra.closeIdleConnections();
    }
    server.close(async () => {
      keyWatcher.close();
      await idp.close();
      await Promise.allSettled([store.close(), database.close()]);
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => {
      logger.warn('requests still open after 10 s; exiting');
      process.exit(1);
    }, 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (!worker) stopWithNpm(() => stop('SIGTERM'));

  // The roster's scheduled steps (README "Provisioning"): moves and leaves at their date,
  // leavers deleted after retention, dormant accounts disabled. One process of many per
  // period: the one that takes the lease in the store (a run is idempotent all the same).
  const everyMs = settings.lifecycle.runEveryMinutes * 60_000;
  if (everyMs > 0) {
    const runLifecycle = async () => {
      if (!started || stopping) return;
      if (!(await store.set(keys.lifecycleLease(), `${process.pid}:${worker}`, { ttlMs: everyMs, onlyIfAbsent: true }))) return;
      const report = await idp.lifecycle.run();
      if (report.moved + report.left + report.deleted + report.dormant + report.failed > 0) logger.info({ ...report }, 'lifecycle run');
    };
    setInterval(() => void runLifecycle().catch((err: unknown) => logger.error({ err }, 'lifecycle run failed: retried at the next period')), everyMs).unref();
  }
}

/**
 * Started by npm (`npm start`, `npx`): npm runs this process under a shell and does not pass
 * its own SIGTERM on, so stopping npm by its PID left the IdP running, adopted by init. When
 * the process that started this one is gone, stop as on SIGTERM.
 */
function stopWithNpm(stop: () => void): void {
  if (!process.env.npm_lifecycle_event) return;
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 500).unref();
}

/** The first lines of `npm start`, for a person: what to open, and with which accounts. */
function banner(settings: Settings, storeKind: 'redis' | 'memory', workers: number): string {
  const lines = [`School IdP: ${settings.server.publicUrl}  (listening on ${settings.server.host}:${settings.server.port}${workers > 1 ? `, ${workers} worker processes` : ''})`];
  if (settings.sims.enabled) {
    lines.push(`  Student iCON (workspace-sim, SAML): ${settings.sims.workspace.publicUrl}`);
    lines.push(`  Student Learning Space (sls-sim, OIDC): ${settings.sims.sls.publicUrl}`);
  }
  if (settings.seed.demo) lines.push('  Demo accounts and their passwords: README.md, "Demo accounts" (public: keep this on loopback)', `  Developer page (clients, settings, token decoder): ${settings.server.publicUrl}/dev`);
  if (settings.mail.smtpUrl) lines.push('  Mail: SMTP (SMTP_URL)');
  else if (settings.seed.demo) lines.push(`  Mail: kept in this process, not sent (no SMTP_URL): ${settings.server.publicUrl}/dev/mail`);
  else lines.push('  Mail: none (no SMTP_URL): no recovery email is offered');
  lines.push(settings.database.url ? '  Directory: PostgreSQL (DATABASE_URL)' : `  Directory: embedded, kept in ${settings.database.dataDir}`);
  lines.push(storeKind === 'memory' ? '  Sessions: in this process (signed-in users sign in again after a restart)' : '  Sessions: Redis');
  lines.push('Logs follow as JSON lines on standard output.', '');
  return lines.join('\n');
}

main().catch((err: unknown) => {
  // Known start-up failures (configuration, seed files, key material) are one line for a
  // person; anything else is a bug of ours and keeps its stack.
  const known = err instanceof ConfigError || err instanceof SeedError || (err as NodeJS.ErrnoException)?.code !== undefined;
  process.stderr.write(known ? `start-up failed: ${(err as Error).message}\n` : `start-up failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
