// OIDC Core 3.1.2.1 and RP-Initiated Logout 1.0 section 2: the authorization and
// end-session endpoints accept POST with form-encoded parameters, as relying parties send
// them (an auto-submitted form).
import assert from 'node:assert/strict';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, discover, redeem, WEB } from '../support/rp.ts';

describe('OIDC: POST at the authorization and end-session endpoints', () => {
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp();
  });
  after(async () => {
    await t.close();
  });

  it('authorization request as a form POST: sign-in, then a code; with a session, a code at once', async () => {
    const config = await discover(t, WEB.id, WEB.secret);
    const browser = new Browser(t.url);
    const req = await authRequest(config, WEB.redirect);
    const posted = await browser.post('/oidc/auth', Object.fromEntries(req.url.searchParams));
    assert.equal(posted.status, 303);
    const page = await browser.follow(posted);
    assert.match(page.res.text, /name="password"/);
    const signedIn = await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
    assert.ok((await redeem(config, req, signedIn.external)).claims()!.sub);

    const again = await authRequest(config, WEB.redirect);
    const direct = await browser.follow(await browser.post('/oidc/auth', Object.fromEntries(again.url.searchParams)));
    assert.ok((await redeem(config, again, direct.external)).access_token);
  });

  it('keeps the parameters as sent: a repeated one is refused as oidc-provider refuses it in a query', async () => {
    const browser = new Browser(t.url);
    const res = await browser.agent.post('/oidc/auth').type('form').send(`client_id=${WEB.id}&response_type=code&scope=openid&scope=email&redirect_uri=${encodeURIComponent(WEB.redirect)}`).redirects(0);
    const step = await browser.follow(res);
    const error = new URL(step.external!).searchParams;
    assert.equal(error.get('error'), 'invalid_request');
    assert.match(error.get('error_description') ?? '', /'scope' parameter must not be provided twice/);
  });

  it('a POST that is not a form gets a clear 400, never 404 or a stack trace', async () => {
    for (const path of ['/oidc/auth', '/oidc/session/end']) {
      const res = await new Browser(t.url).agent.post(path).set('Accept', 'application/json').send({ client_id: WEB.id }).redirects(0);
      assert.equal(res.status, 400, path);
      assert.equal(res.body.error, 'SSPR 5120');
      assert.doesNotMatch(res.text, /\n\s+at /);
    }
  });

  it('end-session request as a form POST: the same confirmation, then back with the state', async () => {
    const config = await discover(t, WEB.id, WEB.secret);
    const browser = new Browser(t.url);
    const req = await authRequest(config, WEB.redirect);
    const page = await browser.open(req.url.toString());
    const hint = (await redeem(config, req, (await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password)).external)).id_token!;
    const posted = await browser.post('/oidc/session/end', { id_token_hint: hint, post_logout_redirect_uri: WEB.postLogout, state: 'posted-state' });
    assert.equal(posted.status, 303);
    const confirm = await browser.follow(posted);
    assert.match(confirm.res.text, /<h1>Sign out<\/h1>/);
    const handOff = await browser.follow(await browser.submit(confirm.res, '/logout/confirm', {}));
    const done = await browser.follow(await browser.submit(handOff.res, '/oidc/session/end/confirm', {}));
    assert.equal(done.external, `${WEB.postLogout}?state=posted-state`);
  });
});
