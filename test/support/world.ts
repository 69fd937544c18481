// The IdP with both simulated apps, as `npm start` runs them but on free ports: the
// workspace-sim (SAML) and sls-sim (OIDC), registered with the IdP the way main.ts does.
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config/settings.ts';
import { slsSimClient } from '../../src/sims/clients.ts';
import { createSlsSim } from '../../src/sims/sls/app.ts';
import { startTestIdp, type TestIdp, type TestIdpOptions } from './idp.ts';
import { freePort } from './redis.ts';
import { workspaceSim, type RunningWorkspaceSim } from './saml.ts';

export interface World {
  t: TestIdp;
  ws: RunningWorkspaceSim;
  slsUrl: string;
  slsSessions: Map<string, { claims?: unknown }>;
  close(): Promise<void>;
}

export async function startWorld(options: TestIdpOptions = {}): Promise<World> {
  const ws = await workspaceSim();
  const port = await freePort();
  const slsUrl = `http://127.0.0.1:${port}`;
  const client = slsSimClient(mkdtempSync(path.join(tmpdir(), 'idp-sls-keys-')), slsUrl);
  const t = await startTestIdp({
    ...options,
    // The portal's tiles lead to these sims.
    overrides: { ...options.overrides, sims: { enabled: true, sls: { port, publicUrl: slsUrl }, workspace: { port: Number(new URL(ws.url).port), publicUrl: ws.url } } },
    clients: [client, ...(options.clients ?? [])],
    serviceProviders: [ws.sp, ...(options.serviceProviders ?? [])],
  });
  await ws.start(t.url);
  const sls = createSlsSim({ publicUrl: slsUrl, issuer: t.url, clientId: client.client_id, clientSecret: client.client_secret!, viewsDir: path.join(projectRoot, 'views/sims/sls') });
  const slsServer: Server = createServer(sls.app.callback());
  await new Promise<void>((resolve) => slsServer.listen(port, '127.0.0.1', resolve));
  return {
    t,
    ws,
    slsUrl,
    slsSessions: sls.sessions,
    async close() {
      slsServer.closeAllConnections();
      await new Promise<void>((resolve) => slsServer.close(() => resolve()));
      await ws.close();
      await t.close();
    },
  };
}
