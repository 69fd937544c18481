// `npm start` as a newcomer runs it: embedded store, demo accounts, graceful SIGTERM.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { projectRoot } from '../../src/config/settings.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Browser, formOf } from '../support/browser.ts';
import { MultiBrowser } from '../support/multi-browser.ts';
import { DEMO } from '../support/idp.ts';
import { freePort } from '../support/redis.ts';
import { startIdpProcess } from '../support/process.ts';
import { followHandOffs } from '../support/saml.ts';

describe('npm start (src/main.ts)', () => {
  it('serves the portal on the embedded store and stops cleanly on SIGTERM', async () => {
    const simPort = await freePort();
    const wsPort = await freePort();
    const wsUrl = `http://127.0.0.1:${wsPort}`;
    const port = await freePort();
    const idpUrl = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {
      IDP_PUBLIC_URL: idpUrl, IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')), IDP_SIMS: 'true',
      SLS_SIM_PORT: String(simPort), SLS_SIM_URL: `http://127.0.0.1:${simPort}`,
      WORKSPACE_SIM_PORT: String(wsPort), WORKSPACE_SIM_URL: wsUrl,
      // As a newcomer runs it: no Redis, default argon2 and log level.
      REDIS_URL: '', IDP_ARGON2_MEMORY_KIB: '', IDP_ARGON2_TIME_COST: '', LOG_LEVEL: 'info',
    };
    const idp = await startIdpProcess(env, port);
    const out = idp.output;
    try {
      // First, plain text for a person: where to go, which accounts; loopback only with the demo seed.
      const [first, ...rest] = out().split('\n');
      assert.equal(first, `School IdP: ${idpUrl}  (listening on 127.0.0.1:${port})`);
      assert.match(rest.slice(0, 5).join('\n'), new RegExp(`Student iCON \\(workspace-sim, SAML\\): ${wsUrl}[\\s\\S]*Demo accounts and their passwords: README\\.md`));
      const store = rest.map((l) => (l.startsWith('{') ? (JSON.parse(l) as { msg: string }) : null)).find((l) => l?.msg.startsWith('store:'));
      assert.match(store!.msg, /embedded in-process store/);
      const browser = new Browser(idpUrl);
      assert.equal((await browser.get('/readyz')).body.store, 'memory');
      // Demo mode (the default on the embedded store): the developer page is on, and named.
      assert.match(rest.slice(0, 6).join('\n'), new RegExp(`Developer page \\(clients, settings, token decoder\\): ${idpUrl}/dev`));
      assert.equal((await browser.get('/dev')).status, 200);
      // No SMTP_URL: mail stays in the process, shown at /dev/mail (npm start needs no mail server).
      assert.match(rest.slice(0, 8).join('\n'), new RegExp(`Mail: kept in this process, not sent \\(no SMTP_URL\\): ${idpUrl}/dev/mail`));
      assert.equal((await browser.get('/dev/mail.json')).body.mailbox, true);
      const page = await browser.open('/');
      const portal = await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
      assert.match(portal.res.text, /Allen Tan/);
      // The SLS tile's simulated app signs in through the same SSO session.
      await until(() => out().includes('sls-sim (simulated OIDC relying party) ready') && out().includes('workspace-sim (simulated Google Workspace, SAML service provider) ready'));
      const multi = new MultiBrowser(idpUrl, `http://127.0.0.1:${simPort}`);
      const slsLogin = await multi.open(`http://127.0.0.1:${simPort}/login`);
      const f = formOf(slsLogin.res.text, '/sign-in');
      const sls = await multi.post(new URL(f.action, idpUrl).toString(), { ...f.hidden, username: DEMO.student2.loginId, password: DEMO.student2.password });
      assert.match(sls.res.text, /Bella Lim[\s\S]*your assignments/i);
      // The portal's tiles lead to both simulated apps.
      const tiles = (await multi.open(`${idpUrl}/portal`)).res.text;
      assert.match(tiles, new RegExp(`href="http://127.0.0.1:${simPort}/login"`));
      assert.match(tiles, /href="\/saml\/launch\/workspace-sim"/);

      // workspace-sim signs in over SAML.
      const both = new MultiBrowser(idpUrl, `http://127.0.0.1:${simPort}`, wsUrl);
      const wsLogin = await both.open(`${wsUrl}/login`);
      const wf = formOf(wsLogin.res.text, '/sign-in');
      const welcome = await followHandOffs(both, await both.post(new URL(wf.action, idpUrl).toString(), { ...wf.hidden, username: DEMO.student.loginId, password: DEMO.student.password }));
      assert.match(welcome.res.text, /Welcome to your new account/);
      const dashboard = await both.post(`${wsUrl}/welcome`, {});
      assert.match(dashboard.res.text, /Allen Tan[\s\S]*id="apps"/);
    } finally {
      assert.equal(await idp.kill('SIGTERM'), 0, out());
    }
    assert.match(out(), /shutting down/);
  });
});

describe('npm start refuses to serve the demo accounts to the network', () => {
  it('exits with one line naming the setting when IDP_HOST is not loopback', async () => {
    const r = spawnSync(process.execPath, ['src/main.ts'], { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, REDIS_URL: '', IDP_HOST: '0.0.0.0', PORT: String(await freePort()), IDP_SIMS: 'false' } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /server\.host \(env IDP_HOST\): 0\.0\.0\.0 would serve the demo accounts/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  });
});

describe('npm start: ports and processes', () => {
  /** A port with the next two free as well (the IdP's and its simulated apps' defaults). */
  async function threeFreePorts(): Promise<number> {
    for (;;) {
      const port = await freePort();
      if (port > 65000) continue;
      const free = await Promise.all([port + 1, port + 2].map((p) => isFree(p)));
      if (free.every(Boolean)) return port;
    }
  }

  it('PORT alone moves the public URL and the simulated apps (PORT+1, PORT+2), and the banner says so once they listen', async () => {
    const port = await threeFreePorts();
    const env = { REDIS_URL: '', IDP_PUBLIC_URL: '', SLS_SIM_PORT: '', SLS_SIM_URL: '', WORKSPACE_SIM_PORT: '', WORKSPACE_SIM_URL: '', IDP_SIMS: 'true', IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')) };
    const idp = await startIdpProcess(env, port);
    try {
      const lines = idp.output().split('\n');
      assert.equal(lines[0], `School IdP: http://localhost:${port}  (listening on 127.0.0.1:${port})`);
      assert.equal(lines[1], `  Student iCON (workspace-sim, SAML): http://localhost:${port + 1}`);
      assert.equal(lines[2], `  Student Learning Space (sls-sim, OIDC): http://localhost:${port + 2}`);
      const discovery = await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json() as { issuer: string };
      assert.equal(discovery.issuer, `http://localhost:${port}`);
      await until(() => idp.output().includes('sls-sim (simulated OIDC relying party) ready'));
      assert.equal((await fetch(`http://127.0.0.1:${port + 2}/`)).status, 200);
    } finally {
      assert.equal(await idp.kill('SIGTERM'), 0, idp.output());
    }
  });

  for (const [busy, what, change] of [[0, 'the IdP', 'set PORT'], [1, 'workspace-sim', 'set WORKSPACE_SIM_PORT'], [2, 'sls-sim', 'set SLS_SIM_PORT']] as const) {
    it(`a busy port (${what}) stops start-up with one line naming it, before any banner`, async () => {
      const port = await threeFreePorts();
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(port + busy, '127.0.0.1', resolve));
      try {
        const r = spawnSync(process.execPath, ['src/main.ts'], { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, REDIS_URL: '', IDP_PUBLIC_URL: '', SLS_SIM_PORT: '', SLS_SIM_URL: '', WORKSPACE_SIM_PORT: '', WORKSPACE_SIM_URL: '', IDP_SIMS: 'true', PORT: String(port), IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')) }, timeout: 20_000, killSignal: 'SIGKILL' });
        assert.equal(r.status, 1, r.stderr);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, new RegExp(`^start-up failed: port ${port + busy} on 127\\.0\\.0\\.1 \\(${what}\\) is in use: ${change}`));
        assert.doesNotMatch(r.stderr, /listening|EADDRINUSE|^\s+at /m);
      } finally {
        taken.close();
      }
    });
  }

  it('stopping npm start by its PID stops the IdP', async () => {
    const port = await freePort();
    const npm = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['start'], {
      cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDIS_URL: '', PORT: String(port), IDP_PUBLIC_URL: `http://127.0.0.1:${port}`, IDP_SIMS: 'false', IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')) },
    });
    let out = '';
    npm.stdout!.on('data', (d) => (out += d));
    npm.stderr!.on('data', (d) => (out += d));
    const answers = () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    for (let i = 0; i < 200 && !(await answers()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(await answers(), `npm start did not come up:\n${out}`);
    npm.kill('SIGTERM');
    let stopped = false;
    for (let i = 0; i < 50 && !stopped; i++) {
      await new Promise((r) => setTimeout(r, 100));
      stopped = !(await answers());
    }
    assert.ok(stopped, 'the IdP still answers 5 s after npm was stopped');
  });
});

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
}
