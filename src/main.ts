// `npm start`: loads configuration, serves the IdP at once, then connects to the store,
// seeds accounts and warms the SAML schema validator; /readyz answers 200 only after that
// (and while the store can take writes). Without Redis the IdP stays up, alive but not
// ready, showing SSPR 5019, and carries on by itself when Redis comes back.
// The first log line says which store is in use.
import { createServer } from 'node:http';
import { expiringCertificates, loadKeyMaterial, watchKeyMaterial, type KeyMaterial } from './config/key-material.ts';
import { loadRelyingParties } from './config/relying-parties.ts';
import { ConfigError, loadSettings, projectRoot } from './config/settings.ts';
import { loadSeed, readSeedFile, SeedError } from './domain/accounts/seed.ts';
import { systemClock } from './domain/clock.ts';
import { createLogger } from './observability/logger.ts';
import { createStore, RedisStore, StoreUnavailableError } from './store/index.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { createIdp } from './web/app.ts';
import { runMigrations } from './domain/migrations/migrate.ts';
import path from 'node:path';
import { withSimulatedApps } from './sims/clients.ts';
import { createSlsSim } from './sims/sls/app.ts';
import { createWorkspaceSim } from './sims/workspace/app.ts';

async function main(): Promise<void> {
  const settings = loadSettings();
  const { store, description } = createStore(settings.redis);
  process.stderr.write(banner(settings, store.kind));
  const logger = createLogger(settings.log.level);
  logger.info({ store: store.kind }, `store: ${description}`);

  const keyMaterial = loadKeyMaterial(settings.keysDir);
  const relyingParties = loadRelyingParties(settings.relyingPartyDirs);
  const { sls, workspace } = withSimulatedApps(settings, relyingParties);
  let started = false;
  const idp = createIdp({ settings, store, logger, clock: systemClock, keyMaterial, relyingParties, started: () => started });
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
  // Seed files are read now: a bad file stops start-up with its message, before listening.
  const seeds = [
    ...(settings.seed.demo ? [{ what: 'demo accounts loaded (see README "Demo accounts")', file: path.join(projectRoot, 'config/demo-accounts.json') }] : []),
    ...(settings.seed.file ? [{ what: 'seed file loaded', file: settings.seed.file }] : []),
  ].map((s) => ({ ...s, accounts: readSeedFile(s.file) }));

  const server = createServer({
    headersTimeout: settings.server.headersTimeoutMs,
    requestTimeout: settings.server.requestTimeoutMs,
    keepAliveTimeout: settings.server.keepAliveTimeoutMs,
    // How often the two limits above are enforced (Node checks every 30 s by default).
    connectionsCheckingInterval: Math.min(1_000, settings.server.headersTimeoutMs),
  }, idp.app.callback());
  server.on('error', (err: NodeJS.ErrnoException) => {
    process.stderr.write(`start-up failed: cannot listen on ${settings.server.host}:${settings.server.port} (${err.code ?? err.message}); set PORT or IDP_HOST\n`);
    process.exit(1);
  });
  server.listen(settings.server.port, settings.server.host, () => {
    const { port } = server.address() as { port: number };
    logger.info({ url: settings.server.publicUrl, port }, 'IdP listening; /healthz answers, /readyz once the store is reachable and start-up is done');
  });

  // Start-up work that needs the store: retried until it succeeds, never fatal.
  const startup = async () => {
    let warned = false;
    for (;;) {
      try {
        if (store instanceof RedisStore) await store.ready(5_000);
        for (const seed of seeds) {
          const r = await loadSeed(seed.accounts, { directory: idp.directory, hasher: idp.hasher, audit: idp.audit, lockout: idp.lockout, now: systemClock() });
          logger.info({ ...r, file: seed.file }, seed.what);
        }
        break;
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        if (!warned) logger.error({ errorCode: 'SSPR 5019', detail: err.message }, 'store unreachable at start-up: serving SSPR 5019 and retrying until it answers');
        warned = true;
        await sleep(1_000);
      }
    }
    // Ready means ready: the SAML schema validator is compiled before /readyz says so.
    await idp.warm();
    started = true;
    // Data migrations (README "Upgrading"): in the background, since this release reads records of the previous version.
    runMigrations(store, idp.directory).then((reports) => {
      for (const r of reports) logger.info({ migration: r.name, ...r.counts, skipped: r.skipped, resumed: r.resumed }, r.skipped ? 'data migration already done' : 'data migration finished');
    }, (err: unknown) => logger.error({ err }, 'data migration stopped: it resumes at the next start or with npm run cli -- migrate'));
    // The name-part index (administrators' search by surname) for accounts written before it existed: once, in the background.
    idp.directory.buildNamePartIndex().then((indexed) => {
      if (indexed > 0) logger.info({ indexed }, 'name-part search index built');
    }, (err: unknown) => logger.error({ err }, 'name-part search index not built: it is tried again at the next start'));
    logger.info({ url: settings.server.publicUrl, clients: relyingParties.oidc.map((c) => c.client_id), serviceProviders: relyingParties.saml.map((sp) => sp.id) }, 'IdP ready');
  };
  startup().catch((err: unknown) => {
    logger.fatal({ err }, 'start-up failed');
    process.exit(1);
  });

  const servers = [server];
  if (sls) {
    const sim = createSlsSim({ publicUrl: settings.sims.sls.publicUrl, issuer: settings.server.publicUrl, clientId: sls.client_id, clientSecret: sls.client_secret!, viewsDir: path.join(projectRoot, 'views/sims/sls') });
    const simServer = createServer(sim.app.callback());
    simServer.listen(settings.sims.sls.port, settings.server.host, () => {
      logger.info({ url: settings.sims.sls.publicUrl }, 'sls-sim (simulated OIDC relying party) ready');
    });
    servers.push(simServer);
  }
  if (workspace) {
    const sim = createWorkspaceSim({ publicUrl: settings.sims.workspace.publicUrl, idpMetadataUrl: `${settings.server.publicUrl}/saml/metadata`, keys: workspace.keys, viewsDir: path.join(projectRoot, 'views/sims/workspace') });
    const simServer = createServer(sim.app.callback());
    simServer.listen(settings.sims.workspace.port, settings.server.host, () => {
      logger.info({ url: settings.sims.workspace.publicUrl }, 'workspace-sim (simulated Google Workspace, SAML service provider) ready');
    });
    servers.push(simServer);
  }

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
      await store.close();
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
}

/** The first lines of `npm start`, for a person: what to open, and with which accounts. */
function banner(settings: ReturnType<typeof loadSettings>, storeKind: 'redis' | 'memory'): string {
  const lines = [`School IdP: ${settings.server.publicUrl}  (listening on ${settings.server.host}:${settings.server.port})`];
  if (settings.sims.enabled) {
    lines.push(`  Student iCON (workspace-sim, SAML): ${settings.sims.workspace.publicUrl}`);
    lines.push(`  Student Learning Space (sls-sim, OIDC): ${settings.sims.sls.publicUrl}`);
  }
  if (settings.seed.demo) lines.push('  Demo accounts and their passwords: README.md, "Demo accounts" (public: keep this on loopback)');
  lines.push(storeKind === 'memory' ? '  Store: embedded, in this process (everything is lost when it stops)' : '  Store: Redis');
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
