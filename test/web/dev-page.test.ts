// The developer page (/dev) in Chromium: it lists the clients and SPs with settings made of
// this IdP's real values, and its decoder verifies a real ID token (from a code flow) and a
// real SAML Response in the browser, flags tampered ones, and sends nothing while doing it.
// Off (404) when demo mode is off.
import assert from 'node:assert/strict';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import type { Browser as Chromium } from 'playwright-core';
import * as oidc from 'openid-client';
import { registerSp } from '../../src/protocols/saml/registered-sps.ts';
import { Browser } from '../support/browser.ts';
import { Journey, launchChromium } from '../support/chromium.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, client, discover, redeem, signInThrough, WEB } from '../support/rp.ts';
import { autoForm, testSp } from '../support/saml.ts';

describe('developer page /dev', () => {
  let t: TestIdp;
  let chromium: Chromium;
  let journey: Journey;
  const ES_CLIENT = { client_id: 'es256-web', client_secret: 'es256-web-secret-0123456789abcdef01234567', redirect_uris: ['http://127.0.0.1:9/es/cb'], id_token_signed_response_alg: 'ES256' };
  const sp = testSp({ id: 'dev-sp', entityId: 'https://dev-sp.example/sp', acs: ['https://dev-sp.example/acs'] });
  const uriSp = testSp({ id: 'dev-uri-sp', entityId: 'https://dev-uri-sp.example/sp', acs: ['https://dev-uri-sp.example/acs'], options: { attribute_profile: 'uri' } });

  before(async () => {
    t = await startTestIdp({ serviceProviders: [sp.file, uriSp.file], clients: [client(ES_CLIENT)] });
    assert.equal(t.settings.seed.demo, true, 'the test IdP runs in demo mode');
    chromium = await launchChromium();
    journey = await Journey.start(chromium, 'dev-page');
  });
  after(async () => {
    await journey?.close();
    await chromium?.close();
    await t?.close();
  });

  async function idToken(c: { id: string; secret: string; redirect: string } = WEB): Promise<string> {
    const config = await discover(t, c.id, c.secret);
    const req = await authRequest(config, c.redirect);
    const tokens = await redeem(config, req, await signInThrough(new Browser(t.url), req, DEMO.student));
    return tokens.id_token!;
  }

  async function samlResponse(): Promise<string> {
    const idpCert = (await new Browser(t.url).get('/saml/certificate.pem')).text;
    const saml = new SAML({
      callbackUrl: 'https://dev-sp.example/acs', entryPoint: `${t.url}/saml/sso`, issuer: sp.entityId, audience: sp.entityId, idpCert, idpIssuer: `${t.url}/saml/metadata`,
      validateInResponseTo: ValidateInResponseTo.never, wantAssertionsSigned: true, wantAuthnResponseSigned: true, disableRequestedAuthnContext: true,
    });
    const url = new URL(await saml.getAuthorizeUrlAsync('', undefined, {}));
    const b = new Browser(t.url);
    const page = await b.signIn((await b.follow(await b.get(`${url.pathname}${url.search}`))).res, DEMO.student.loginId, DEMO.student.password);
    return autoForm(page.res.text).fields.SAMLResponse!;
  }

  /** Pastes into the decoder and resolves to the verdicts it shows; counts requests meanwhile. */
  async function decode(text: string): Promise<{ verdicts: string[]; requests: number; result: string }> {
    const { page } = journey;
    let requests = 0;
    const count = () => requests++;
    page.on('request', count);
    await page.fill('#dev-input', text);
    await page.click('#dev-decode');
    await page.waitForSelector('#dev-result [data-verdict]');
    page.off('request', count);
    const verdicts = await page.locator('#dev-result [data-verdict]').allTextContents();
    return { verdicts, requests, result: (await page.locator('#dev-result').textContent()) ?? '' };
  }

  it('lists the clients and SPs with settings of this IdP, its certificates and JWKS', async () => {
    // One client registered over HTTP (open in demo mode) and one SP registered in the store.
    const registered = await oidc.dynamicClientRegistration(new URL(t.url), { client_name: 'Registered app', redirect_uris: ['http://127.0.0.1:9/registered/cb'] }, undefined, { execute: [oidc.allowInsecureRequests] });
    const storeSp = testSp({ id: 'store-sp', entityId: 'https://store-sp.example/sp', acs: ['https://store-sp.example/acs'] });
    await registerSp(t.database, { entityId: storeSp.entityId, rp: { protocol: 'saml', id: 'store-sp', display_name: 'Store SP', metadata: storeSp.metadata }, source: '(test)', addedAt: new Date().toISOString(), addedBy: 'test' }, 'store-sp');
    await journey.page.goto(`${t.url}/dev`);
    await journey.screen('dev', 'Developer page');
    const { page } = journey;
    assert.equal(await page.locator(`article.client[data-client-id="${registered.clientMetadata().client_id}"]`).count(), 1, 'registered client listed');
    assert.match((await page.locator(`article.sp[data-entity-id="${storeSp.entityId}"]`).textContent())!, /registered in the store/);
    assert.equal(await page.locator(`article.client[data-client-id="${WEB.id}"]`).count(), 1);
    const client = (await page.locator(`article.client[data-client-id="${WEB.id}"]`).textContent())!;
    assert.ok(client.includes(WEB.redirect));
    assert.ok(client.includes(`client.discovery(new URL("${t.url}"), "${WEB.id}"`), 'openid-client');
    assert.ok(client.includes(`issuer-uri: "${t.url}"`), 'Spring Security');
    assert.ok(client.includes(`server_metadata_url="${t.url}/.well-known/openid-configuration"`), 'authlib');
    assert.ok(!client.includes(WEB.secret), 'never the secret');
    // The openid-client lines run as pasted (with the secret in the environment).
    const line = /const config = await client\.discovery\(.*\);/.exec(client)![0];
    const AsyncFunction = (async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<oidc.Configuration>;
    const config = await new AsyncFunction('client', 'process', `${line}\nreturn config;`)(oidc, { env: { CLIENT_SECRET: WEB.secret } });
    assert.equal(config.serverMetadata().issuer, t.url);
    assert.equal(config.clientMetadata().client_secret, WEB.secret);
    const spText = (await page.locator(`article.sp[data-entity-id="${sp.entityId}"]`).textContent())!;
    const cert = (await new Browser(t.url).get('/saml/certificate.pem')).text;
    assert.ok(spText.includes(`entryPoint: "${t.url}/saml/sso"`), 'node-saml');
    assert.ok(spText.includes(`idpCert: ${JSON.stringify(cert.trim())}`), 'node-saml has the real certificate');
    assert.ok(spText.includes(`<SSO entityID="${t.url}/saml/metadata">SAML2</SSO>`), 'Shibboleth SP');
    assert.ok(spText.includes(`<ApplicationDefaults entityID="${sp.entityId}" REMOTE_USER="mail">`), 'basic profile: mail, once mapped');
    // The uri profile: Shibboleth's stock REMOTE_USER, which the stock attribute map fills (test/saml/shibboleth-sp.test.ts).
    const uriText = (await page.locator(`article.sp[data-entity-id="${uriSp.entityId}"]`).textContent())!;
    assert.ok(uriText.includes(`<ApplicationDefaults entityID="${uriSp.entityId}" REMOTE_USER="eppn subject-id pairwise-id persistent-id">`), uriText);
    const jwks = JSON.parse((await page.locator('#jwks').textContent())!) as { keys: Array<Record<string, unknown>> };
    const published = JSON.parse((await new Browser(t.url).get('/oidc/jwks')).text) as { keys: Array<{ kid: string }> };
    assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), published.keys.map((k) => k.kid).sort());
    assert.ok(jwks.keys.every((k) => k.d === undefined && k.p === undefined), 'no private members');
  });

  it('verifies a real ID token in the browser and flags a tampered one, sending nothing', async () => {
    const token = await idToken();
    const good = await decode(token);
    assert.deepEqual(good.verdicts.map((v) => v.replace(/ \(.*$/, '')), ['signature valid']);
    assert.match(good.result, /ID token/);
    assert.match(good.result, new RegExp(`${DEMO.student.loginId.replace('.', '\\.')}|"sub"`));
    assert.equal(good.requests, 0, 'nothing sent');
    await journey.screen('id-token-decoded', 'Developer page');
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${signature}`;
    const bad = await decode(forged);
    assert.match(bad.verdicts[0]!, /^signature INVALID/);
    assert.equal(bad.requests, 0);
  });

  it('verifies an ES256 ID token too', async () => {
    const token = await idToken({ id: ES_CLIENT.client_id, secret: ES_CLIENT.client_secret, redirect: ES_CLIENT.redirect_uris[0]! });
    assert.equal(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).alg, 'ES256');
    const good = await decode(token);
    assert.match(good.verdicts[0]!, /^signature valid \(ES256/);
    const [header, payload, signature] = token.split('.');
    const flipped = Buffer.from(signature!, 'base64url');
    flipped[10]! ^= 1;
    const bad = await decode(`${header}.${payload}.${flipped.toString('base64url')}`);
    assert.match(bad.verdicts[0]!, /^signature INVALID/);
  });

  it('decodes a real SAML Response and verifies its signatures; a changed one is invalid', async () => {
    const response = await samlResponse();
    const good = await decode(response);
    assert.deepEqual(good.verdicts.map((v) => v.replace(/ \(.*$/, '')), ['Response signature valid', 'Assertion signature valid']);
    assert.ok(good.result.includes(`${t.url}/saml/metadata (this IdP)`), 'issuer');
    assert.ok(good.result.includes(sp.entityId), 'audience');
    assert.match(good.result, /NotOnOrAfter/);
    assert.equal(good.requests, 0, 'nothing sent');
    await journey.screen('saml-decoded', 'Developer page');
    const xml = Buffer.from(response, 'base64').toString('utf8');
    const changed = Buffer.from(xml.replace(DEMO.student.loginId, DEMO.student2.loginId)).toString('base64');
    const bad = await decode(changed);
    assert.ok(bad.verdicts.length === 2 && bad.verdicts.every((v) => /INVALID/.test(v)), bad.verdicts.join(' | '));
  });

  it('is 404 when demo mode is off', async () => {
    const off = await startTestIdp({ overrides: { seed: { demo: false } }, seed: false });
    try {
      const res = await new Browser(off.url).get('/dev');
      assert.equal(res.status, 404);
    } finally {
      await off.close();
    }
  });
});
