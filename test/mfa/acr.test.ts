// Assurance levels over the protocols, as relying parties ask for them:
//   OIDC (openid-client): acr_values=urn:school-idp:acr:mfa steps a password session up to
//   the second factor, and the ID token's acr/amr say what happened (RFC 8176); an account
//   without a second factor gets the lower class for a voluntary request, and
//   unmet_authentication_requirements for an essential one (claims parameter).
//   SAML (node-saml): RequestedAuthnContext with the REFEDS MFA class steps up the same way
//   and the assertion's AuthnContextClassRef names it; an account without a second factor,
//   and a class this IdP does not know, get Requester/NoAuthnContext.
import assert from 'node:assert/strict';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { DOMParser } from '@xmldom/xmldom';
import { generate } from 'otplib';
import * as oidc from 'openid-client';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, discover, redeem, WEB } from '../support/rp.ts';
import { autoForm, testSp } from '../support/saml.ts';

const ACR_MFA = 'urn:school-idp:acr:mfa';
const ACR_PWD = 'urn:school-idp:acr:pwd';
const ACR_BADGE = 'urn:school-idp:acr:badge';
const REFEDS_MFA = 'https://refeds.org/profile/mfa';

describe('assurance levels: OIDC acr and SAML AuthnContext', () => {
  let t: TestIdp;
  let offset = 0;
  const sp = testSp({ id: 'mfa-sp', acs: ['http://127.0.0.1:9/mfa-sp/acs'] });
  let idpCert: string;

  before(async () => {
    t = await startTestIdp({ clock: () => Date.now() + offset, serviceProviders: [sp.file] });
    idpCert = (await new Browser(t.url).get('/saml/certificate.pem')).text;
  });
  after(async () => {
    await t.close();
  });

  /** Gives Daniel (staff) an authenticator app; resolves to its secret. */
  async function enrolDaniel(): Promise<string> {
    const daniel = (await t.idp.directory.findByLoginId(DEMO.staff.loginId))!;
    const secret = t.idp.mfa.newTotpSecret();
    assert.equal(await t.idp.mfa.enrolTotp(daniel, secret, await code(secret), {}), 'ok');
    offset += 30_000; // the enrolment code is used; the next one belongs to the next step
    return secret;
  }

  async function code(secret: string): Promise<string> {
    return generate({ secret, epoch: Math.floor((Date.now() + offset) / 1000) });
  }

  it('OIDC: acr_values asks a password session for the second factor; acr and amr say so', async () => {
    const config = await discover(t, WEB.id, WEB.secret);
    assert.deepEqual(config.serverMetadata().acr_values_supported, [ACR_PWD, ACR_MFA, ACR_BADGE]);
    const browser = new Browser(t.url);
    // Signed in with a password only (no second factor yet).
    const first = await authRequest(config, WEB.redirect, { max_age: '3600' });
    const page = await browser.open(first.url.toString());
    const plain = (await redeem(config, first, (await browser.signIn(page.res, DEMO.staff.loginId, DEMO.staff.password)).external)).claims()!;
    assert.equal(plain.acr, ACR_PWD);
    assert.deepEqual(plain.amr, ['pwd']);

    const secret = await enrolDaniel();
    const asked = await authRequest(config, WEB.redirect, { acr_values: ACR_MFA, max_age: '3600' });
    const stepUp = await browser.open(asked.url.toString());
    assert.equal(stepUp.external, undefined, 'no code before the second factor');
    assert.match(stepUp.res.text, /This needs two-step sign-in/);
    assert.doesNotMatch(stepUp.res.text, /name="password"/, 'the password is not asked again');
    const wrong = await browser.follow(await browser.submit(stepUp.res, '/mfa/code', { code: '000000' }));
    assert.match(wrong.res.text, /That code is not right/);
    const done = await browser.follow(await browser.submit(wrong.res, '/mfa/code', { code: await code(secret) }));
    const claims = (await redeem(config, asked, done.external)).claims()!;
    assert.equal(claims.acr, ACR_MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.ok(Number(claims.auth_time) > Number(plain.auth_time), 'auth_time is the step-up\'s');

    // The session has it now: asked again, no prompt at all.
    const again = await authRequest(config, WEB.redirect, { acr_values: ACR_MFA });
    const silent = await browser.open(again.url.toString());
    assert.equal((await redeem(config, again, silent.external)).claims()!.acr, ACR_MFA);
  });

  it('OIDC: an account without a second factor gets the lower class when asked, and an error when it is essential', async () => {
    const config = await discover(t, WEB.id, WEB.secret);
    const browser = new Browser(t.url);
    const voluntary = await authRequest(config, WEB.redirect, { acr_values: `${ACR_MFA} ${ACR_PWD}` });
    const page = await browser.open(voluntary.url.toString());
    const claims = (await redeem(config, voluntary, (await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password)).external)).claims()!;
    assert.equal(claims.acr, ACR_PWD, 'what happened, not what was asked');

    const essential = await authRequest(config, WEB.redirect, { claims: JSON.stringify({ id_token: { acr: { essential: true, values: [ACR_MFA] } } }) });
    const refused = await browser.open(essential.url.toString());
    assert.ok(refused.external, `sent back to the application, not ${refused.res.status} ${refused.res.text.slice(0, 300)}`);
    const back = new URL(refused.external);
    assert.equal(back.searchParams.get('error'), 'unmet_authentication_requirements');
    assert.equal(back.searchParams.get('state'), essential.state);
  });

  it('OIDC: a later password-only sign-in is not reported with an earlier sign-in\'s acr/amr', async () => {
    const config = await discover(t, WEB.id, WEB.secret);
    const daniel = (await t.idp.directory.findByLoginId(DEMO.staff.loginId))!;
    const secret = await enrolDaniel();
    const browser = new Browser(t.url);
    const first = await authRequest(config, WEB.redirect);
    const page = await browser.open(first.url.toString());
    const second = await browser.signIn(page.res, DEMO.staff.loginId, DEMO.staff.password);
    const done = await browser.follow(await browser.submit(second.res, '/mfa/code', { code: await code(secret) }));
    assert.equal((await redeem(config, first, done.external)).claims()!.acr, ACR_MFA);
    // The factor goes; the same browser signs in again at the portal with its password alone.
    await t.idp.mfa.removeTotp((await t.idp.directory.get(daniel.id))!, {});
    offset += 60_000;
    const portal = await browser.open('/flow/start?return=/portal');
    await browser.signIn(portal.res, DEMO.staff.loginId, DEMO.staff.password);
    for (const params of [{}, { prompt: 'none' }, { acr_values: ACR_MFA }] as Array<Record<string, string>>) {
      const again = await authRequest(config, WEB.redirect, params);
      const silent = await browser.open(again.url.toString());
      const claims = (await redeem(config, again, silent.external)).claims()!;
      assert.equal(claims.acr, ACR_PWD, JSON.stringify(params));
      assert.deepEqual(claims.amr, ['pwd']);
    }
    const essential = await authRequest(config, WEB.redirect, { claims: JSON.stringify({ id_token: { acr: { essential: true, value: ACR_MFA } } }) });
    const refused = await browser.open(essential.url.toString());
    assert.equal(new URL(refused.external!).searchParams.get('error'), 'unmet_authentication_requirements');
  });

  it('OIDC: a malformed claims parameter is the client\'s error, not ours', async () => {
    const config = await discover(t, WEB.id, WEB.secret);
    const req = await authRequest(config, WEB.redirect, { claims: JSON.stringify({ id_token: { acr: { values: { length: 1 } } } }) });
    const res = await new Browser(t.url).open(req.url.toString());
    assert.ok(res.res.status < 500, `${res.res.status}`);
  });

  /** node-saml as the test SP, asking for `classes`. */
  function nodeSaml(classes: string[], comparison = 'exact'): SAML {
    return new SAML({
      callbackUrl: 'http://127.0.0.1:9/mfa-sp/acs', entryPoint: `${t.url}/saml/sso`, issuer: sp.entityId, audience: sp.entityId, idpCert, idpIssuer: `${t.url}/saml/metadata`,
      identifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', validateInResponseTo: ValidateInResponseTo.never,
      wantAssertionsSigned: true, wantAuthnResponseSigned: true, authnContext: classes, racComparison: comparison as 'exact',
      // The IdP's clock runs ahead in this suite (TOTP time steps): allow for it.
      acceptedClockSkewMs: 30 * 60_000,
    });
  }

  function classRef(samlResponse: string): string | undefined {
    const doc = new DOMParser().parseFromString(Buffer.from(samlResponse, 'base64').toString('utf8'), 'text/xml');
    return doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'AuthnContextClassRef')[0]?.textContent ?? undefined;
  }

  function status(samlResponse: string): string[] {
    const doc = new DOMParser().parseFromString(Buffer.from(samlResponse, 'base64').toString('utf8'), 'text/xml');
    return Array.from(doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:protocol', 'StatusCode')).map((e) => e.getAttribute('Value') ?? '');
  }

  it('SAML: RequestedAuthnContext REFEDS MFA steps up, and the assertion names the class', async () => {
    const secret = await enrolDaniel();
    const browser = new Browser(t.url);
    // A password session first (PasswordProtectedTransport asked, and met, without a second factor? No: Daniel has one, so sign-in asks it).
    const saml = nodeSaml([REFEDS_MFA]);
    const page = await browser.open(await saml.getAuthorizeUrlAsync('', undefined, {}));
    const second = await browser.signIn(page.res, DEMO.staff.loginId, DEMO.staff.password);
    assert.match(second.res.text, /Two-Step Sign-in/);
    const done = await browser.follow(await browser.submit(second.res, '/mfa/code', { code: await code(secret) }));
    const form = autoForm(done.res.text);
    assert.equal(classRef(form.fields.SAMLResponse!), REFEDS_MFA);
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse! });
    assert.equal(profile?.nameID, DEMO.staff.loginId);

    // PasswordProtectedTransport, exact: what the SP named, which is true of this session too.
    const ppt = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
    const plain = await browser.open(await nodeSaml([ppt]).getAuthorizeUrlAsync('', undefined, {}));
    assert.equal(classRef(autoForm(plain.res.text).fields.SAMLResponse!), ppt);
  });

  it('SAML: NoAuthnContext when the account has no second factor, and for a class this IdP does not issue', async () => {
    const browser = new Browser(t.url);
    const page = await browser.open(await nodeSaml([REFEDS_MFA], 'minimum').getAuthorizeUrlAsync('', undefined, {}));
    const after = await browser.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
    const refused = autoForm(after.res.text).fields.SAMLResponse!;
    assert.deepEqual(status(refused), ['urn:oasis:names:tc:SAML:2.0:status:Requester', 'urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext']);
    assert.equal(classRef(refused), undefined, 'no assertion');

    const unknown = await browser.open(await nodeSaml(['urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard']).getAuthorizeUrlAsync('', undefined, {}));
    assert.deepEqual(status(autoForm(unknown.res.text).fields.SAMLResponse!), ['urn:oasis:names:tc:SAML:2.0:status:Requester', 'urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext']);
  });
});
