// Issue 29, item 4 (part): pairwise subject identifiers (OIDC Core 8.1). An app whose file (or
// registration) says subject_type "pairwise" knows each child by a sub of its own sector (the
// host of its redirect URIs): two apps of different sectors cannot link a child, while the
// app's sub stays the same at every sign-in and in userinfo. Where the IdP reads a sub back
// (an id_token_hint at RP-initiated logout and at prompt=login), the pairwise one names the
// same child. Tested with openid-client.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { parseOidcClient } from '../../src/config/relying-parties.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, client, discover, redeem, WEB } from '../support/rp.ts';

const SECRET = 'pairwise-client-secret-0123456789abcdef01';
const A = { id: 'reading-a', redirect: 'http://127.0.0.1:9/a/callback', postLogout: 'http://127.0.0.1:9/a/signed-out' };
const A2 = { id: 'reading-a2', redirect: 'http://127.0.0.1:9/a2/callback' };
const B = { id: 'maths-b', redirect: 'http://127.0.0.2:9/b/callback' };

function pairwise(c: { id: string; redirect: string; postLogout?: string }) {
  return client({ client_id: c.id, client_secret: SECRET, redirect_uris: [c.redirect], ...(c.postLogout ? { post_logout_redirect_uris: [c.postLogout] } : {}), subject_type: 'pairwise', display_name: c.id });
}

describe('pairwise subject identifiers (issue 29, item 4)', () => {
  let t: TestIdp;
  let allen: string;
  before(async () => {
    t = await startTestIdp({ clients: [pairwise(A), pairwise(A2), pairwise(B)] });
    allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!.id;
  });
  after(async () => {
    await t.close();
  });

  /** One sign-in (or SSO) of `browser` at an app; its tokens. */
  async function at(browser: Browser, app: { id: string; redirect: string }, secret: string, params: Record<string, string> = {}) {
    const config = await discover(t, app.id, secret);
    const req = await authRequest(config, app.redirect, { scope: 'openid', ...params });
    const first = await browser.open(req.url.toString());
    const back = first.external ?? (await browser.signIn(first.res, DEMO.student.loginId, DEMO.student.password)).external;
    return { config, tokens: await redeem(config, req, back) };
  }

  it('two apps of different sectors get different subs for one child, neither the account id; a public app gets the account id; each app\'s sub is stable and its userinfo agrees', async () => {
    const b = new Browser(t.url);
    const a = await at(b, A, SECRET);
    const subA = a.tokens.claims()!.sub;
    const subB = (await at(b, B, SECRET)).tokens.claims()!.sub;
    const subWeb = (await at(b, WEB, WEB.secret)).tokens.claims()!.sub;
    assert.match(subA, /^[0-9a-f]{32}$/);
    assert.notEqual(subA, allen);
    assert.notEqual(subB, allen);
    assert.notEqual(subA, subB, 'apps of two sectors cannot link the child');
    assert.equal(subWeb, allen, 'a public app: the account id');
    assert.equal((await at(b, A2, SECRET)).tokens.claims()!.sub, subA, 'the same sector (host): the same sub');
    assert.equal((await oidc.fetchUserInfo(a.config, a.tokens.access_token, subA)).sub, subA);
    // Another browser, another day: the same sub at A.
    assert.equal((await at(new Browser(t.url), A, SECRET)).tokens.claims()!.sub, subA);
    // Introspection tells the app its own sub.
    const introspected = await oidc.tokenIntrospection(a.config, a.tokens.access_token);
    assert.equal(introspected.sub, subA);
  });

  it('the pairwise id_token_hint names the child: RP-initiated logout asks nothing, prompt=login re-authenticates the same child', async () => {
    const b = new Browser(t.url);
    const a = await at(b, A, SECRET);
    const hint = a.tokens.id_token!;
    // prompt=login with the hint: the sign-in page for the same child (not "another account").
    const config = await discover(t, A.id, SECRET);
    const again = await authRequest(config, A.redirect, { scope: 'openid', prompt: 'login', id_token_hint: hint });
    const page = await b.open(again.url.toString());
    assert.equal(page.res.status, 200, page.res.text.slice(0, 300));
    assert.match(page.res.text, new RegExp(`value="${DEMO.student.loginId.replace(/[.]/g, '\\.')}"[^>]*readonly|readonly[^>]*value="${DEMO.student.loginId.replace(/[.]/g, '\\.')}"`), 'the same child is asked again');
    // RP-initiated logout with the hint: confirmed without asking (the app asked, for this child).
    const end = oidc.buildEndSessionUrl(config, { id_token_hint: hint, post_logout_redirect_uri: A.postLogout });
    const confirm = await b.open(end.toString());
    assert.match(confirm.res.text, /data-autosubmit="now"/, confirm.res.text.slice(0, 400));
  });

  it('a pairwise app whose redirect URIs are on two hosts is refused, naming subject_type; an app may register as pairwise', async () => {
    assert.throws(() => parseOidcClient({ protocol: 'oidc', client_id: 'two-hosts', client_secret: SECRET, client_name: 'Two hosts', redirect_uris: ['http://127.0.0.1:9/x', 'http://localhost:9/y'], subject_type: 'pairwise' }, 'two-hosts.json'), /subject_type: a pairwise app's redirect_uris must share one host/);
    // A host and port, one: the sector oidc-provider takes is the first URI's host with its port.
    assert.throws(() => parseOidcClient({ protocol: 'oidc', client_id: 'two-ports', client_secret: SECRET, client_name: 'Two ports', redirect_uris: ['http://127.0.0.1:3000/x', 'http://127.0.0.1:4000/y'], subject_type: 'pairwise' }, 'two-ports.json'), /subject_type: a pairwise app's redirect_uris must share one host and port/);
    // A native app's custom scheme has no host: every such app would share the sector "" (an outside review linked two vendors' apps so).
    assert.throws(() => parseOidcClient({ protocol: 'oidc', client_id: 'native-a', client_name: 'Reader', token_endpoint_auth_method: 'none', application_type: 'native', redirect_uris: ['com.vendora.reader:/cb'], subject_type: 'pairwise' }, 'native-a.json'), /subject_type: a pairwise app's redirect_uris need a host/);
    const reg = await fetch(`${t.url}/oidc/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'Spelling Bee', redirect_uris: ['http://127.0.0.3:9/cb'], subject_type: 'pairwise' }) });
    const body = (await reg.json()) as { client_id: string; client_secret: string; subject_type: string };
    assert.equal(reg.status, 201, JSON.stringify(body));
    assert.equal(body.subject_type, 'pairwise');
    const sub = (await at(new Browser(t.url), { id: body.client_id, redirect: 'http://127.0.0.3:9/cb' }, body.client_secret)).tokens.claims()!.sub;
    assert.notEqual(sub, allen);
    const discovery = (await (await fetch(`${t.url}/.well-known/openid-configuration`)).json()) as { subject_types_supported: string[] };
    assert.deepEqual(discovery.subject_types_supported, ['public', 'pairwise']);
  });
});

