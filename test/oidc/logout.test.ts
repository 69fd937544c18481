// RP-Initiated Logout 1.0 against logout CSRF. Any valid ID token lets a page anywhere
// ask for a logout, so the IdP signs out without asking only when the hint names the
// account signed in here and was issued to a client of this very session; otherwise the
// user is asked, and a page of another site cannot answer for them. Checked in Chromium
// with the attacker on another site (IdP and application on 127.0.0.1, attacker on
// localhost), then over HTTP for what the specification requires of the parameters.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import * as oidc from 'openid-client';
import type { Browser as Chromium, BrowserContext } from 'playwright-core';
import { launchChromium } from '../support/chromium.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { freePort } from '../support/redis.ts';
import { authRequest, client, discover, redeem, signInThrough, WEB } from '../support/rp.ts';

const SECRET = 'logout-app-secret-0123456789abcdef0123456';

/** A server answering every path with a small page (the application, or the attacker's site). */
async function site(host: string, page: (path: string) => string): Promise<{ url: string; server: Server }> {
  const port = await freePort();
  const server = createServer((req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(page(req.url ?? '/'));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://${host}:${port}`, server };
}

describe('OIDC logout: no logout CSRF', () => {
  let t: TestIdp;
  let app: { url: string; server: Server };
  let attacker: { url: string; server: Server };
  let chromium: Chromium;
  let config: oidc.Configuration;
  /** What the attacker's page submits: method and fields of a form to the end-session endpoint. */
  let attack = { method: 'get', fields: {} as Record<string, string> };

  before(async () => {
    app = await site('127.0.0.1', (path) => `<!doctype html><title>App</title><h1>App ${path.split('?')[0]}</h1>`);
    attacker = await site('localhost', () => {
      const inputs = Object.entries(attack.fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`).join('');
      return `<!doctype html><title>Win a prize</title><form method="${attack.method}" action="${t.url}/oidc/session/end">${inputs}</form><script>document.forms[0].submit()</script>`;
    });
    t = await startTestIdp({
      clients: [client({ client_id: 'logout-app', client_secret: SECRET, redirect_uris: [`${app.url}/callback`], post_logout_redirect_uris: [`${app.url}/signed-out`], grant_types: ['authorization_code'] })],
    });
    config = await discover(t, 'logout-app', SECRET);
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    for (const s of [app, attacker]) {
      s?.server.closeAllConnections();
      s?.server.close();
    }
    await t?.close();
  });

  /** Allen signed in at the application in Chromium; resolves to his ID token. */
  async function victim(context: BrowserContext): Promise<string> {
    const page = await context.newPage();
    const req = await authRequest(config, `${app.url}/callback`);
    await page.goto(req.url.toString());
    await page.getByLabel('Username').fill(DEMO.student.loginId);
    await page.getByLabel('Password').fill(DEMO.student.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${app.url}/callback**`);
    const tokens = await redeem(config, req, page.url());
    await page.close();
    return tokens.id_token!;
  }

  /** Someone else's valid ID token for the same application (Bella, in her own browser). */
  async function someoneElsesToken(): Promise<string> {
    const req = await authRequest(config, `${app.url}/callback`);
    return (await redeem(config, req, await signInThrough(new Browser(t.url), req, DEMO.student2))).id_token!;
  }

  async function signedInAsAllen(context: BrowserContext): Promise<boolean> {
    const page = await context.newPage();
    await page.goto(`${t.url}/portal`);
    const text = await page.locator('main').innerText();
    await page.close();
    return text.includes('Allen Tan');
  }

  for (const method of ['get', 'post']) {
    it(`another site sending the victim to end_session (${method.toUpperCase()}) with someone else's ID token gets a question, and the session survives`, async () => {
      const context = await chromium.newContext();
      try {
        await victim(context);
        attack = { method, fields: { id_token_hint: await someoneElsesToken(), post_logout_redirect_uri: `${app.url}/signed-out`, state: 'gotcha' } };
        const page = await context.newPage();
        await page.goto(attacker.url);
        await page.waitForURL(`${t.url}/oidc/session/end**`);
        await page.waitForLoadState('load');
        assert.equal((await page.locator('h1').innerText()).trim(), 'Sign out');
        assert.equal(await page.locator('form[data-autosubmit]').count(), 0, 'the question is not answered for the user');
        await page.waitForTimeout(500);
        assert.ok(page.url().startsWith(`${t.url}/oidc/session/end`), `still asking, at ${page.url()}`);
        assert.ok(await signedInAsAllen(context), 'the victim is still signed in');
      } finally {
        await context.close();
      }
    });
  }

  it('the victim\'s own ID token, from a client of this session, signs out without a question and returns with state', async () => {
    const context = await chromium.newContext();
    try {
      const own = await victim(context);
      attack = { method: 'get', fields: { id_token_hint: own, post_logout_redirect_uri: `${app.url}/signed-out`, state: 'st-42' } };
      const page = await context.newPage();
      await page.goto(attacker.url);
      await page.waitForURL(`${app.url}/signed-out**`);
      assert.equal(new URL(page.url()).searchParams.get('state'), 'st-42');
      assert.equal(await signedInAsAllen(context), false, 'signed out');
    } finally {
      await context.close();
    }
  });

  it('the account\'s own ID token from another session (its client is not in this one) still gets a question', async () => {
    const elsewhere = new Browser(t.url);
    const req = await authRequest(config, `${app.url}/callback`);
    const hint = (await redeem(config, req, await signInThrough(elsewhere, req, DEMO.student))).id_token!;
    const browser = new Browser(t.url);
    const web = await discover(t, WEB.id, WEB.secret);
    const own = await authRequest(web, WEB.redirect);
    await redeem(web, own, await signInThrough(browser, own, DEMO.student));
    const asked = await browser.open(oidc.buildEndSessionUrl(config, { id_token_hint: hint }).toString());
    assert.equal(asked.res.status, 200);
    assert.match(asked.res.text, /<h1>Sign out<\/h1>/);
    assert.doesNotMatch(asked.res.text, /data-autosubmit/);
    assert.match((await browser.open('/portal')).res.text, /Allen Tan/);
  });

  it('signed in at the portal only: an end-session request signs nothing out without asking', async () => {
    const elsewhere = new Browser(t.url);
    const req = await authRequest(config, `${app.url}/callback`);
    const hint = (await redeem(config, req, await signInThrough(elsewhere, req, DEMO.student))).id_token!;
    const browser = new Browser(t.url);
    await browser.signIn((await browser.open('/portal')).res, DEMO.student.loginId, DEMO.student.password);
    for (const params of [{ id_token_hint: hint }, {}] as Array<Record<string, string>>) {
      const asked = await browser.open(oidc.buildEndSessionUrl(config, params).toString());
      // oidc-provider has nothing to ask about here; the IdP asks about its own session.
      const page = asked.res.text.includes('Submitting Callback') ? await browser.follow(await browser.submit(asked.res, '/oidc/session/end/confirm', {})) : asked;
      assert.match(page.res.text, /<h1>Sign out<\/h1>/);
      assert.doesNotMatch(page.res.text, /data-autosubmit/);
      assert.match((await browser.open('/portal')).res.text, /Allen Tan/, 'still signed in');
    }
    // Answering the question signs out.
    const asked = await browser.open(oidc.buildEndSessionUrl(config, {}).toString());
    const page = await browser.follow(await browser.submit(asked.res, '/oidc/session/end/confirm', {}));
    await browser.follow(await browser.submit(page.res, '/portal/sign-out', {}));
    assert.match((await browser.open('/portal')).res.text, /name="password"/);
  });

  it('refuses a post_logout_redirect_uri the client did not register, and signs no one out', async () => {
    const browser = new Browser(t.url);
    const req = await authRequest(config, `${app.url}/callback`);
    const hint = (await redeem(config, req, await signInThrough(browser, req, DEMO.student))).id_token!;
    const refused = await browser.open(oidc.buildEndSessionUrl(config, { id_token_hint: hint, post_logout_redirect_uri: 'https://evil.example/landing', state: 's' }).toString());
    assert.equal(refused.res.status, 400);
    assert.equal(refused.external, undefined);
    assert.match(refused.res.text, /post_logout_redirect_uri not registered/);
    assert.match((await browser.open('/portal')).res.text, /Allen Tan/, 'still signed in');
  });

  it('returns to the registered post_logout_redirect_uri with the state (test-web)', async () => {
    const web = await discover(t, WEB.id, WEB.secret);
    const browser = new Browser(t.url);
    const req = await authRequest(web, WEB.redirect);
    const hint = (await redeem(web, req, await signInThrough(browser, req, DEMO.student))).id_token!;
    const confirm = await browser.open(oidc.buildEndSessionUrl(web, { id_token_hint: hint, post_logout_redirect_uri: WEB.postLogout, state: 'round-trip-1' }).toString());
    assert.match(confirm.res.text, /data-autosubmit="now"/);
    const handOff = await browser.follow(await browser.submit(confirm.res, '/logout/confirm', {}));
    const done = await browser.follow(await browser.submit(handOff.res, '/oidc/session/end/confirm', {}));
    assert.equal(done.external, `${WEB.postLogout}?state=round-trip-1`);
  });
});
