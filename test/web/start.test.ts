// `npm start` as a newcomer runs it: embedded store, demo accounts, graceful SIGTERM.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
}
