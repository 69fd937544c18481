// The sign-in screen, the portal and the protections every page has, over HTTP.
import assert from 'node:assert/strict';
import { Browser, formOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { keys } from '../../src/store/index.ts';

describe('sign-in screen and portal', () => {
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp();
  });
  after(async () => {
    await t.close();
  });

  it('shows the MIMS Portal sign-in with the labels of the guides', async () => {
    const { res } = await new Browser(t.url).open('/portal');
    assert.equal(res.status, 200);
    for (const text of ['MIMS Portal', 'Username', 'Password', 'Sign in', 'Forgot Password?', '@students.edu.sg', '@schools.gov.sg', '@hq.moe.gov.sg']) {
      assert.ok(res.text.includes(text), `missing "${text}"`);
    }
    assert.match(res.text, /name="_csrf" value="[^"]{20,}"/);
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it('signs a student in and shows the entitled apps, name and Sign out', async () => {
    const browser = new Browser(t.url);
    const page = await browser.open('/portal');
    const { res } = await browser.signIn(page.res, DEMO.student.loginId.toUpperCase(), DEMO.student.password);
    assert.equal(res.status, 200);
    assert.match(res.text, /Allen Tan/);
    assert.match(res.text, /Student iCON/);
    assert.match(res.text, /Student Learning Space – SLS/);
    assert.match(res.text, /Sign out/);
    // A second visit needs no password.
    assert.match((await browser.open('/portal')).res.text, /Allen Tan/);
  });

  it('gives a wrong password and an unknown login ID the same answer, and audits both', async () => {
    const answers: string[] = [];
    for (const [username, password] of [
      [DEMO.student2.loginId, 'Wrong-Password-1'],
      ['nobody_here@students.edu.sg', 'Wrong-Password-1'],
    ] as const) {
      const browser = new Browser(t.url);
      const page = await browser.open('/portal');
      const after = await browser.signIn(page.res, username, password);
      assert.equal(after.res.status, 401);
      // Per-page random values (flow id, CSRF token, the passkey challenge) aside, the pages are the same.
      answers.push(after.res.text.replace(/\/flow\/[A-Za-z0-9_.-]+|from=[A-Za-z0-9_.-]+/g, '/flow/ID').replace(/value="[^"]*"/g, 'value=""').replace(/&#34;challenge&#34;:&#34;[A-Za-z0-9_-]+&#34;/g, '&#34;challenge&#34;:&#34;C&#34;'));
      assert.match(after.res.text, /Login failed/);
      assert.equal((await browser.open('/portal')).res.text.includes('Applications'), false, 'not signed in');
    }
    assert.equal(answers[0], answers[1]);
    const failures = await t.idp.audit.recent(20, (e) => e.type === 'signin.failure');
    assert.ok(failures.some((e) => e.reason === 'bad_password'));
    assert.ok(failures.some((e) => e.reason === 'unknown_account' && e.loginId === 'nobody_here@students.edu.sg'));
    assert.ok(failures.every((e) => e.ip && e.requestId));
  });

  it('refuses a form without a valid CSRF token and changes nothing', async () => {
    const browser = new Browser(t.url);
    const page = await browser.open('/portal');
    const form = formOf(page.res.text, '/sign-in');
    const before = await t.idp.audit.recent(1000);
    for (const token of [undefined, 'forged-token', form.hidden._csrf + 'x']) {
      const body: Record<string, string> = { username: DEMO.student.loginId, password: DEMO.student.password };
      if (token) body._csrf = token;
      const res = await browser.post(form.action, body);
      assert.equal(res.status, 403);
      assert.match(res.text, /SSPR 5104/);
      assert.match(res.text, /Reference: <code>[A-Za-z0-9_-]+<\/code>/);
    }
    // Another browser's valid token does not work either.
    const other = new Browser(t.url);
    const otherForm = formOf((await other.open('/portal')).res.text, '/sign-in');
    assert.equal((await browser.post(form.action, { _csrf: otherForm.hidden._csrf!, username: DEMO.student.loginId, password: DEMO.student.password })).status, 403);
    assert.equal((await t.idp.audit.recent(1000)).length, before.length, 'no sign-in was attempted');
    assert.equal((await browser.open('/portal')).res.text.includes('Applications'), false);
  });

  it('continues a flow only in the browser that began it', async () => {
    const a = new Browser(t.url);
    const page = await a.open('/portal');
    const action = formOf(page.res.text, '/sign-in').action;
    const b = new Browser(t.url);
    const res = await b.get(action.replace('/sign-in', ''));
    assert.equal(res.status, 409);
    assert.match(res.text, /SSPR 5102/);
  });

  it('sends security headers and safe cookies', async () => {
    const browser = new Browser(t.url);
    const res = await browser.get('/flow/start');
    const page = await browser.get(res.headers.location!);
    const csp = page.headers['content-security-policy']!;
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.equal(page.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(page.headers['strict-transport-security'], undefined, 'no HSTS on an http public URL');
    assert.doesNotMatch(page.text, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(page.text, /https?:\/\/(?!127\.0\.0\.1|localhost)/, 'no third-party resources');
    const cookies = [res.headers['set-cookie'], page.headers['set-cookie']].flat().filter(Boolean) as string[];
    assert.ok(cookies.length > 0);
    for (const c of cookies) {
      assert.match(c, /httponly/i, c);
      assert.match(c, /samesite=lax/i, c);
    }
    const signed = await browser.signIn(page, DEMO.staff.loginId, DEMO.staff.password);
    assert.match(signed.res.text, /Daniel Wong/);
  });

  it('rejects malformed input with a clear page', async () => {
    const browser = new Browser(t.url);
    const page = await browser.open('/portal');
    const form = formOf(page.res.text, '/sign-in');
    const res = await browser.post(form.action, { ...form.hidden, username: 'x'.repeat(300), password: 'y' });
    assert.equal(res.status, 400);
    assert.match(res.text, /SSPR 5103/);
    const missing = await browser.get('/flow/AAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(missing.status, 410);
    assert.match(missing.text, /SSPR 5101/);
    const notFound = await browser.get('/no-such-page');
    assert.equal(notFound.status, 404);
    assert.match(notFound.text, /SSPR 5404/);
  });

  it('sign out ends the SSO session', async () => {
    const browser = new Browser(t.url);
    const page = await browser.open('/portal');
    const signedIn = await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
    const out = await browser.follow(await browser.submit(signedIn.res, '/portal/sign-out', {}));
    // No OIDC client took part: no hand-off through oidc-provider, straight to the page.
    assert.equal(out.res.status, 200);
    assert.match(out.res.text, /<h1>Signed out<\/h1>/);
    assert.doesNotMatch(out.res.text, /<script>/, 'no inline script');
    assert.equal((await browser.open('/portal')).res.text.includes('Applications'), false);
    const events = await t.idp.audit.recent(20, (e) => e.type === 'logout' && e.client === 'portal');
    assert.ok(events.length > 0, 'the logout is audited');
  });

  it('answers /healthz, /readyz and /metrics', async () => {
    const browser = new Browser(t.url);
    assert.deepEqual((await browser.get('/healthz')).body, { status: 'ok' });
    const ready = await browser.get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.store, 'redis');
    const metrics = await browser.get('/metrics');
    assert.match(metrics.text, /idp_http_requests_total\{route="\/portal",method="GET",status="\d+"\}/);
    assert.match(metrics.text, /idp_signin_total\{outcome="success"\}/);
    assert.match(metrics.text, /idp_signin_total\{outcome="bad_password"\}/);
    assert.match(metrics.text, /idp_http_request_duration_seconds_bucket/);
  });

  it('logs JSON lines with request ids and never a password', async () => {
    const lines = t.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.length > 20);
    for (const l of lines.filter((x) => x.msg === 'request')) assert.ok(typeof l.requestId === 'string', JSON.stringify(l));
    const all = t.logs.join('');
    for (const secret of [DEMO.student.password, DEMO.student2.password, DEMO.staff.password, 'Wrong-Password-1']) {
      assert.equal(all.includes(secret), false, 'a password reached the logs');
    }
  });

  it('keeps nothing for a sign-in page: its flow is a sealed reference, and signing in from it works', async () => {
    const browser = new Browser(t.url);
    const page = await browser.open('/portal');
    const ref = /\/flow\/([A-Za-z0-9_.-]+)\/sign-in/.exec(page.res.text)![1]!;
    assert.match(ref, /^t\./, 'the login prompt is a sealed reference');
    assert.equal(await t.store.ttl(keys.flow(ref)), -2, 'nothing stored under it');
    const done = await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
    assert.equal(done.res.status, 200);
    assert.ok(done.res.text.includes('/portal/sign-out'), 'the portal, signed in from the sealed reference');
  });
});
