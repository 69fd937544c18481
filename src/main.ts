// `npm start`: loads configuration, opens the store, seeds accounts, serves the IdP.
// The first log line says which store is in use.
import { createServer } from 'node:http';
import { loadKeyMaterial } from './config/key-material.ts';
import { loadRelyingParties } from './config/relying-parties.ts';
import { ConfigError, loadSettings, projectRoot } from './config/settings.ts';
import { loadSeed, readSeedFile, SeedError } from './domain/accounts/seed.ts';
import { systemClock } from './domain/clock.ts';
import { createLogger } from './observability/logger.ts';
import { openStore } from './store/index.ts';
import { createIdp } from './web/app.ts';
import path from 'node:path';
import { slsSimClient, workspaceSimSp } from './sims/clients.ts';
import { createSlsSim } from './sims/sls/app.ts';
import { createWorkspaceSim } from './sims/workspace/app.ts';

async function main(): Promise<void> {
  const settings = loadSettings();
  const logger = createLogger(settings.log.level);
  const { store, description } = await openStore(settings.redis);
  logger.info({ store: store.kind }, `store: ${description}`);

  const keyMaterial = loadKeyMaterial(settings.keysDir);
  const relyingParties = loadRelyingParties(settings.relyingPartyDirs);
  const sls = settings.sims.enabled ? slsSimClient(settings.keysDir, settings.sims.sls.publicUrl) : null;
  if (sls) relyingParties.oidc.push(sls);
  const workspace = settings.sims.enabled ? workspaceSimSp(settings.keysDir, settings.sims.workspace.publicUrl) : null;
  if (workspace) relyingParties.saml.push(workspace.sp);
  const idp = createIdp({ settings, store, logger, clock: systemClock, keyMaterial, relyingParties });

  const seedDeps = { directory: idp.directory, hasher: idp.hasher, audit: idp.audit, now: systemClock() };
  if (settings.seed.demo) {
    const r = await loadSeed(readSeedFile(path.join(projectRoot, 'config/demo-accounts.json')), seedDeps);
    logger.info(r, 'demo accounts loaded (see README "Demo accounts")');
  }
  if (settings.seed.file) {
    const r = await loadSeed(readSeedFile(settings.seed.file), seedDeps);
    logger.info({ ...r, file: settings.seed.file }, 'seed file loaded');
  }

  // Ready means ready: the SAML schema validator is compiled before the first request.
  await idp.warm();
  const server = createServer(idp.app.callback());
  server.listen(settings.server.port, settings.server.host, () => {
    const { port } = server.address() as { port: number };
    logger.info({ url: settings.server.publicUrl, port, clients: relyingParties.oidc.map((c) => c.client_id), serviceProviders: relyingParties.saml.map((sp) => sp.id) }, 'IdP ready');
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

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof SeedError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(`start-up failed: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});
