// Relying parties that join while the IdP runs finish a sign-in in a real browser, as those
// of files do: an OIDC client registered by RFC 7591 (with an initial access token, as
// without the demo accounts) and a SAML SP added with `cli add-rp`. Chromium enforces the
// sign-in page's CSP form-action on the redirects after "Sign in", so the page must allow
// the destination of the very request it serves (issue 26, item 1).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import * as oidc from 'openid-client';
import type { Browser as Chromium, Page } from 'playwright-core';
import { createInitialAccessToken } from '../../src/cli/clients.ts';
import { RedisStore } from '../../src/store/index.ts';
import { launchChromium } from '../support/chromium.ts';
import { runCli } from '../support/cli.ts';
import { DEMO, FIXTURE_RPS, startTestIdp, type TestIdp } from '../support/idp.ts';
import { freePort, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { Browser } from '../support/browser.ts';
import { authRequest, redeem, signInThrough } from '../support/rp.ts';
import { testSp } from '../support/saml.ts';

interface Received {
  method: string;
  url: string;
  body: string;
}

/** An application on an origin no relying-party file names; it records what reaches it. */
async function app(): Promise<{ url: string; server: Server; received: Received[] }> {
  const port = await freePort();
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', body });
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end('<!doctype html><title>App</title><h1>Back at the app</h1>');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, server, received };
}

async function signIn(page: Page): Promise<void> {
  await page.getByLabel('Username').fill(DEMO.student.loginId);
  await page.getByLabel('Password').fill(DEMO.student.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

describe('Relying parties added at run time, in Chromium', function () {
  this.timeout(60_000);
  let t: TestIdp;
  let rp: Awaited<ReturnType<typeof app>>;
  let chromium: Chromium;
  let env: NodeJS.ProcessEnv;
  let work: string;

  before(async () => {
    rp = await app();
    const url = await testRedisUrl();
    const prefix = uniquePrefix();
    const store = new RedisStore({ url, keyPrefix: prefix });
    await store.ready();
    // Without the demo seed setting, registration needs an initial access token (the harness still seeds the accounts).
    t = await startTestIdp({ store, overrides: { seed: { demo: false } } });
    env = { ...process.env, REDIS_URL: url, REDIS_KEY_PREFIX: prefix, ...t.databaseEnv, IDP_RP_DIR: FIXTURE_RPS, IDP_DEMO_SEED: 'false' };
    work = mkdtempSync(path.join(tmpdir(), 'idp-late-rp-'));
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    rp?.server.closeAllConnections();
    rp?.server.close();
    await t?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A client registered by RFC 7591 with an initial access token, redirecting to the app. */
  async function registered(extra: Partial<oidc.ClientMetadata> = {}): Promise<oidc.Configuration> {
    const initialAccessToken = await createInitialAccessToken(t.settings, t.store, t.database, 1);
    return oidc.dynamicClientRegistration(new URL(t.url), {
      client_name: 'Registered in the browser', redirect_uris: [`${rp.url}/callback`], post_logout_redirect_uris: [`${rp.url}/signed-out`], token_endpoint_auth_method: 'client_secret_basic', ...extra,
    }, undefined, { execute: [oidc.allowInsecureRequests], initialAccessToken });
  }

  /** In a fresh browser context: opens `url`, signs in, waits until the app's callback is reached, then runs `then`. */
  async function signedInAtApp(url: string, then: (page: Page) => Promise<void>): Promise<void> {
    const context = await chromium.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    try {
      await page.goto(url);
      await signIn(page);
      await page.waitForURL(`${rp.url}/callback**`);
      await then(page);
    } finally {
      await context.close();
    }
  }

  it('signing out at the portal tells a registered client by back channel and names it on the signed-out page', async () => {
    const config = await registered({ client_name: 'Registered with back channel', backchannel_logout_uri: `${rp.url}/backchannel` });
    const b = new Browser(t.url);
    const req = await authRequest(config, `${rp.url}/callback`);
    await redeem(config, req, await signInThrough(b, req, DEMO.student));
    const before = rp.received.filter((r) => r.url === '/backchannel').length;
    let page = await b.follow(await b.submit((await b.open('/portal')).res, '/portal/sign-out', {}));
    // oidc-provider's own confirmation (its session ends, the logout tokens go), then our page.
    for (let i = 0; i < 3 && page.res.text.includes('/oidc/session/end/confirm'); i++) page = await b.follow(await b.submit(page.res, '/oidc/session/end/confirm', {}));
    assert.match(page.res.text, /Registered with back channel/, page.res.text.slice(0, 1500));
    assert.equal(rp.received.filter((r) => r.url === '/backchannel').length, before + 1, 'a logout token was posted to it');
  });

  it('an OIDC client registered by RFC 7591: Sign in leads back to its redirect_uri with a code that redeems', async () => {
    const config = await registered();
    const req = await authRequest(config, `${rp.url}/callback`);
    const context = await chromium.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const blocked: string[] = [];
    page.on('console', (m) => { if (/Content Security Policy|form-action/.test(m.text())) blocked.push(m.text()); });
    try {
      await page.goto(req.url.toString());
      const csp = (await page.request.get(page.url())).headers()['content-security-policy'] ?? '';
      assert.match(csp, new RegExp(`form-action [^;]*${rp.url.replace(/[.:/]/g, '\\$&')}`), 'the sign-in page allows the registered redirect_uri');
      // The page names the app by its registered client_name, as it does an app of a file.
      assert.equal((await page.locator('#app-asking').innerText()).trim(), 'Registered in the browser wants you to sign in.');
      await signIn(page);
      await page.waitForURL(`${rp.url}/callback**`);
      assert.deepEqual(blocked, []);
      const tokens = await redeem(config, req, page.url());
      assert.equal(tokens.claims()!.aud, config.clientMetadata().client_id);
    } finally {
      await context.close();
    }
  });

  it('the same client\'s RP-initiated logout: Sign out leads back to its post_logout_redirect_uri', async () => {
    const config = await registered();
    const req = await authRequest(config, `${rp.url}/callback`);
    await signedInAtApp(req.url.toString(), async (page) => {
      const tokens = await redeem(config, req, page.url());
      await page.goto(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${rp.url}/signed-out`, state: 'bye-1' }).toString(), { waitUntil: 'commit' });
      // The ID token is this session's own client's: no question, the browser goes on by itself.
      await page.waitForURL(`${rp.url}/signed-out**`);
      assert.equal(new URL(page.url()).searchParams.get('state'), 'bye-1');
      await page.goto(`${t.url}/portal`);
      assert.match(page.url(), /\/flow\//, 'signed out at the IdP too');
    });
  });

  it('the same client with response_mode=form_post: the code arrives by POST', async () => {
    const config = await registered();
    const req = await authRequest(config, `${rp.url}/callback`, { response_mode: 'form_post' });
    await signedInAtApp(req.url.toString(), async () => {
      const post = rp.received.findLast((r) => r.method === 'POST' && r.url.startsWith('/callback'));
      assert.ok(post, 'the form was posted to the app');
      assert.match(post.body, /(^|&)code=/);
      assert.equal(new URLSearchParams(post.body).get('state'), req.state);
    });
  });

  it('a SAML SP added by cli add-rp while the IdP runs: Sign in posts the Response to its ACS', async () => {
    const acs = `${rp.url}/saml/acs`;
    const late = testSp({ id: 'browser-late-sp', entityId: 'https://browser-late.example/sp', acs: [acs] });
    writeFileSync(path.join(work, 'late.xml'), late.metadata);
    writeFileSync(path.join(work, 'late.json'), JSON.stringify({ protocol: 'saml', id: 'browser-late-sp', display_name: 'Late SP', metadata: 'late.xml' }));
    const added = await runCli(env, 'add-rp', path.join(work, 'late.json'));
    assert.equal(added.code, 0, added.stderr);
    const idpCert = (await (await fetch(`${t.url}/saml/certificate.pem`)).text());
    const sp = new SAML({
      callbackUrl: acs, entryPoint: `${t.url}/saml/sso`, issuer: late.entityId, audience: late.entityId, idpCert, idpIssuer: `${t.url}/saml/metadata`,
      identifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', validateInResponseTo: ValidateInResponseTo.never,
      wantAssertionsSigned: true, wantAuthnResponseSigned: true, disableRequestedAuthnContext: true,
    });
    const context = await chromium.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    try {
      await page.goto(await sp.getAuthorizeUrlAsync('relay-1', undefined, {}));
      await signIn(page);
      await page.waitForURL(acs);
      const post = rp.received.findLast((r) => r.method === 'POST' && r.url === '/saml/acs');
      assert.ok(post, 'the Response was posted to the ACS');
      const form = new URLSearchParams(post.body);
      assert.equal(form.get('RelayState'), 'relay-1');
      const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: form.get('SAMLResponse')! });
      assert.equal(profile!.nameID, DEMO.student.loginId);
    } finally {
      await context.close();
    }
  });
});
