// oidc-provider's session of a browser: it ends at the SSO session's maximum age counted from
// the sign-in it carries, and an authorization that changes nothing in it does not write it
// again (its lifetime does not move with each request, so nothing needs writing).
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { digest } from '../../src/protocols/oidc/adapter.ts';
import { keys, type Store } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, makeStore, startTestIdp, type TestIdp } from '../support/idp.ts';

const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };

describe('OIDC: the provider session lives from its sign-in, and is not rewritten unchanged', () => {
  let t: TestIdp;
  let config: oidc.Configuration;
  /** The keys the IdP wrote, in order (the real store underneath; this only watches). */
  const written: string[] = [];
  before(async () => {
    const store = await makeStore('redis');
    const watched = new Proxy(store, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== 'function') return value;
        if (name === 'set' || name === 'putIndexed' || name === 'hashSet') {
          return (...args: unknown[]) => {
            const key = args[0] as string | { key: string };
            written.push(typeof key === 'string' ? key : key.key);
            return value.apply(target, args);
          };
        }
        return value.bind(target);
      },
    }) as Store;
    t = await startTestIdp({ store: watched });
    config = await oidc.discovery(new URL(t.url), WEB.id, WEB.secret, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests] });
  });
  after(async () => {
    await t.close();
  });

  /** One authorization to the code; signs in when the IdP shows its sign-in page. */
  async function authorize(browser: Browser, extra: Record<string, string> = {}): Promise<{ signedIn: boolean }> {
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: WEB.redirect, scope: 'openid email', state: oidc.randomState(), ...extra });
    let step = await browser.open(url.toString());
    const signedIn = !step.external;
    if (signedIn) step = await browser.signIn(step.res, DEMO.student.loginId, DEMO.student.password);
    assert.ok(step.external?.startsWith(`${WEB.redirect}?code=`), `expected a code, got ${step.res.status} ${step.external ?? step.res.text.slice(0, 300)}`);
    return { signedIn };
  }

  async function stored(browser: Browser): Promise<{ key: string; raw: string; payload: { exp: number; loginTs: number; accountId: string } }> {
    const [cookie] = browser.cookies('_session');
    assert.ok(cookie, 'the browser has an OIDC session cookie');
    const key = keys.oidc('Session', digest(cookie.slice('_session='.length)));
    const raw = await t.store.get(key);
    assert.ok(raw, 'the session is stored');
    return { key, raw, payload: JSON.parse(raw) };
  }

  it('expires at sign-in + the SSO maximum age; a later authorization leaves the record and its TTL as they were', async () => {
    const browser = new Browser(t.url);
    assert.equal((await authorize(browser)).signedIn, true);
    // The sign-in's interaction writes the record with its fields in another order; the
    // next save writes it as every later one would.
    assert.equal((await authorize(browser)).signedIn, false);
    const first = await stored(browser);
    const absolute = Math.round(t.settings.sso.absoluteHours * 3600);
    assert.equal(first.payload.exp, first.payload.loginTs + absolute, 'exp is counted from the sign-in');
    const ttlBefore = await t.store.ttl(first.key);

    await sleep(1_100);
    written.length = 0;
    assert.equal((await authorize(browser)).signedIn, false, 'single sign-on: no page');
    assert.ok(written.some((key) => key.startsWith('oidc:AuthorizationCode:')), `the code was written (${written.join(', ')})`);
    assert.ok(!written.includes(first.key), 'the session was not written again');
    const second = await stored(browser);
    assert.equal(second.key, first.key, 'the same session');
    assert.equal(second.raw, first.raw, 'the same record');
    const ttlAfter = await t.store.ttl(first.key);
    assert.ok(ttlAfter <= ttlBefore - 1_000, `not written again: its TTL ran down (${ttlBefore} -> ${ttlAfter} ms)`);
  });

  it('a new sign-in in the same browser (prompt=login) moves the end with it', async () => {
    const browser = new Browser(t.url);
    await authorize(browser);
    const first = await stored(browser);
    await sleep(1_100);
    assert.equal((await authorize(browser, { prompt: 'login' })).signedIn, true, 'prompt=login asks for the password');
    const second = await stored(browser);
    assert.ok(second.payload.loginTs > first.payload.loginTs, 'the new sign-in is recorded');
    assert.equal(second.payload.exp, second.payload.loginTs + Math.round(t.settings.sso.absoluteHours * 3600));
    assert.ok((await t.store.ttl(second.key)) > (await t.store.ttl(first.key).then((ttl) => (ttl < 0 ? 0 : ttl))), 'and its TTL with it');
  });
});
