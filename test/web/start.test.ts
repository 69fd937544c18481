// `npm start` as a newcomer runs it: embedded store, demo accounts, graceful SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config/settings.ts';
import { Browser, formOf } from '../support/browser.ts';
import { MultiBrowser } from '../support/multi-browser.ts';
import { DEMO } from '../support/idp.ts';
import { freePort } from '../support/redis.ts';
import { followHandOffs } from '../support/saml.ts';

describe('npm start (src/main.ts)', () => {
  it('serves the portal on the embedded store and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const simPort = await freePort();
    const wsPort = await freePort();
    const idpUrl = `http://127.0.0.1:${port}`;
    const wsUrl = `http://127.0.0.1:${wsPort}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env, PORT: String(port), IDP_PUBLIC_URL: idpUrl, IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')),
      SLS_SIM_PORT: String(simPort), SLS_SIM_URL: `http://127.0.0.1:${simPort}`,
      WORKSPACE_SIM_PORT: String(wsPort), WORKSPACE_SIM_URL: wsUrl,
    };
    delete env.REDIS_URL;
    const child = spawn(process.execPath, ['src/main.ts'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready:\n${out}`)), 20_000);
        child.stdout.on('data', () => {
          if (out.includes('IdP ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
      });
      const first = JSON.parse(out.split('\n')[0]!) as { msg: string };
      assert.match(first.msg, /embedded in-process store/);
      const browser = new Browser(`http://127.0.0.1:${port}`);
      assert.equal((await browser.get('/readyz')).body.store, 'memory');
      const page = await browser.open('/');
      const portal = await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
      assert.match(portal.res.text, /Allen Tan/);
      // The SLS tile's simulated app signs in through the same SSO session.
      assert.ok(out.includes('sls-sim (simulated OIDC relying party) ready'));
      const multi = new MultiBrowser(`http://127.0.0.1:${port}`, `http://127.0.0.1:${simPort}`);
      const slsLogin = await multi.open(`http://127.0.0.1:${simPort}/login`);
      const f = formOf(slsLogin.res.text, "/sign-in");
      const sls = await multi.post(new URL(f.action, `http://127.0.0.1:${port}`).toString(), { ...f.hidden, username: DEMO.student2.loginId, password: DEMO.student2.password });
      assert.match(sls.res.text, /Bella Lim[\s\S]*your assignments/i);
      // The portal's tiles lead to both simulated apps.
      const tiles = (await multi.open(`${idpUrl}/portal`)).res.text;
      assert.match(tiles, new RegExp(`href="http://127.0.0.1:${simPort}/login"`));
      assert.match(tiles, /href="\/saml\/launch\/workspace-sim"/);

      // workspace-sim signs in over SAML with the same SSO session: no password.
      assert.ok(out.includes('workspace-sim (simulated Google Workspace, SAML service provider) ready'));
      const both = new MultiBrowser(idpUrl, `http://127.0.0.1:${simPort}`, wsUrl);
      const wsLogin = await both.open(`${wsUrl}/login`);
      const wf = formOf(wsLogin.res.text, '/sign-in');
      const welcome = await followHandOffs(both, await both.post(new URL(wf.action, idpUrl).toString(), { ...wf.hidden, username: DEMO.student.loginId, password: DEMO.student.password }));
      assert.match(welcome.res.text, /Welcome to your new account/);
      const dashboard = await both.post(`${wsUrl}/welcome`, {});
      assert.match(dashboard.res.text, /Allen Tan[\s\S]*id="apps"/);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
    }
    assert.match(out, /shutting down/);
  });
});
