// Issue 29, item 4 (part): the first-use notice. With privacy.noticeRoles ["student"], a pupil
// is told, in their language, which app is about to receive what (the claims of the scopes it
// asked and may have; an SP's attributes) before the first sign-in there, once per app; staff
// are not asked. prompt=none cannot show it: consent_required (OIDC); IsPassive: NoPassive
// (SAML). Cancel tells the app.
import assert from 'node:assert/strict';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, client, discover, redeem } from '../support/rp.ts';
import { autoForm, testSp } from '../support/saml.ts';
import { authnRequestXml, base64 } from '../support/saml-messages.ts';

const SECRET = 'notice-client-secret-0123456789abcdef0123';
const APP = { id: 'maths-garden', redirect: 'http://127.0.0.1:9/maths/callback' };
const OTHER = { id: 'spelling-bee', redirect: 'http://127.0.0.1:9/spelling/callback' };

describe('the first-use notice: what an app receives, told to a pupil once (issue 29, item 4)', () => {
  let t: TestIdp;
  const sp = testSp({ id: 'reading-corner', options: { attributes: ['displayName', 'level'], display_name: 'Reading Corner' } });
  before(async () => {
    t = await startTestIdp({
      overrides: { privacy: { noticeRoles: ['student'] } },
      clients: [
        client({ client_id: APP.id, client_secret: SECRET, redirect_uris: [APP.redirect], scope: 'openid profile school', display_name: 'Maths Garden' }),
        client({ client_id: OTHER.id, client_secret: SECRET, redirect_uris: [OTHER.redirect], scope: 'openid profile', display_name: 'Spelling Bee' }),
      ],
      serviceProviders: [sp.file],
    });
  });
  after(async () => {
    await t.close();
  });

  it('OIDC: after the password, the pupil reads what Maths Garden receives and continues; the next time it is not asked', async () => {
    const b = new Browser(t.url);
    const config = await discover(t, APP.id, SECRET);
    const req = await authRequest(config, APP.redirect, { scope: 'openid profile school email' });
    const first = await b.open(req.url.toString());
    // email is not among its scopes: refused before anything (invalid_scope); ask what it may have.
    assert.match(first.external ?? '', /invalid_scope/);
    const ok = await authRequest(config, APP.redirect, { scope: 'openid profile school' });
    const page = await b.signIn((await b.open(ok.url.toString())).res, DEMO.student.loginId, DEMO.student.password);
    assert.equal(page.res.status, 200, page.external ?? page.res.text.slice(0, 300));
    const text = page.res.text;
    assert.match(text, /<h1>Before you go on<\/h1>/);
    assert.match(text, /Maths Garden will receive:/);
    assert.deepEqual([...text.matchAll(/<li>([^<]+)<\/li>/g)].map((m) => m[1]), ['a code that tells it that it is you', 'your name', 'the language you use', 'your school and level']);
    const back = await b.follow(await b.submit(page.res, '/app-notice/continue', {}));
    assert.ok(back.external?.startsWith(APP.redirect), back.res.text.slice(0, 300));
    assert.ok((await redeem(config, ok, back.external)).access_token);
    const allen = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    assert.deepEqual(allen.appsNoticed, ['oidc:maths-garden']);
    assert.equal((await t.idp.audit.recent(5, (e) => e.type === 'privacy.notice'))[0]?.reason, 'told what Maths Garden receives: name given_name family_name locale school level');
    // Again: straight back to the app.
    const again = await authRequest(config, APP.redirect, { scope: 'openid profile school' });
    assert.ok((await b.open(again.url.toString())).external?.startsWith(APP.redirect));
  });

  it('OIDC: prompt=none for an app the pupil was not told about is consent_required; Cancel on the notice tells the app', async () => {
    const b = new Browser(t.url);
    const config = await discover(t, APP.id, SECRET);
    const req = await authRequest(config, APP.redirect, { scope: 'openid' });
    const signedIn = await b.signIn((await b.open(req.url.toString())).res, DEMO.student.loginId, DEMO.student.password);
    void signedIn;
    const other = await discover(t, OTHER.id, SECRET);
    const silent = await authRequest(other, OTHER.redirect, { scope: 'openid profile', prompt: 'none' });
    const silentAt = await b.open(silent.url.toString());
    assert.match(silentAt.external ?? '', /error=consent_required/, silentAt.external ?? silentAt.res.text.slice(0, 300));
    const asked = await authRequest(other, OTHER.redirect, { scope: 'openid profile' });
    const notice = await b.open(asked.url.toString());
    assert.match(notice.res.text, /Spelling Bee will receive:/);
    const cancelled = await b.follow(await b.submit(notice.res, '/cancel', {}));
    assert.match(cancelled.external ?? '', /error=access_denied/);
  });

  it('in the pupil\'s language; staff are not asked', async () => {
    const b = new Browser(t.url);
    await b.get('/language/zh?return=/portal');
    const config = await discover(t, OTHER.id, SECRET);
    const req = await authRequest(config, OTHER.redirect, { scope: 'openid profile' });
    const page = await b.signIn((await b.open(req.url.toString())).res, 'bella_lim@students.edu.sg', 'Harbour#Lantern7');
    assert.match(page.res.text, /Spelling Bee 会收到：/);
    const staff = new Browser(t.url);
    const staffReq = await authRequest(config, OTHER.redirect, { scope: 'openid profile' });
    const straight = await staff.signIn((await staff.open(staffReq.url.toString())).res, DEMO.staff.loginId, DEMO.staff.password);
    assert.ok(straight.external?.startsWith(OTHER.redirect), 'no notice for staff');
  });

  it('SAML: the notice names the SP\'s attributes; IsPassive cannot show it (NoPassive); after it, the Response is posted', async () => {
    const b = new Browser(t.url);
    const first = await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: sp.entityId, nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified' })) });
    const page = await b.signIn((await b.follow(first)).res, DEMO.student2.loginId, DEMO.student2.password);
    assert.match(page.res.text, /Reading Corner will receive:/);
    assert.deepEqual([...page.res.text.matchAll(/<li>([^<]+)<\/li>/g)].map((m) => m[1]), ['a code that tells it that it is you', 'your name', 'your school and level']);
    // The same browser, signed in, asking passively meanwhile: no page may be shown.
    const passive = await b.follow(await b.post('/saml/sso', { SAMLRequest: base64(authnRequestXml({ issuer: sp.entityId, isPassive: true, nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified' })) }));
    assert.match(Buffer.from(autoForm(passive.res.text).fields.SAMLResponse!, 'base64').toString('utf8'), /NoPassive/);
    const posted = await b.follow(await b.submit(page.res, '/app-notice/continue', {}));
    assert.match(Buffer.from(autoForm(posted.res.text).fields.SAMLResponse!, 'base64').toString('utf8'), /status:Success/);
    assert.ok((await t.idp.directory.findByLoginId(DEMO.student2.loginId))!.appsNoticed?.includes('saml:reading-corner'));
  });
});
