// A SAML SP registered with the CLI (cli add-rp) while the IdP runs: node-saml signs a
// user in through it with no restart, and after cli remove-rp the IdP refuses it. The
// registration is checked as a file is, and cannot take a file's entityID or id.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { RedisStore } from '../../src/store/index.ts';
import { makeDatabase, sameDatabase } from '../support/database.ts';
import { registerSp, unregisterSp } from '../../src/protocols/saml/registered-sps.ts';
import { ServiceProviders } from '../../src/protocols/saml/service-providers.ts';
import { Browser } from '../support/browser.ts';
import { runCli } from '../support/cli.ts';
import { DEMO, FIXTURE_RPS, startTestIdp, type TestIdp } from '../support/idp.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { autoForm, testSp } from '../support/saml.ts';

describe('SAML SP registered by the CLI, without restart', () => {
  let t: TestIdp;
  /** A second IdP process on the same store (what a deployment with several replicas has). */
  let t2: TestIdp;
  let env: NodeJS.ProcessEnv;
  let idpCert: string;
  let work: string;
  let metadataServer: Server | undefined;
  const late = testSp({ id: 'late-sp', entityId: 'https://late.example/sp', acs: ['https://late.example/saml/acs'] });
  const fromUrl = testSp({ id: 'url-sp', entityId: 'https://url.example/sp', acs: ['https://url.example/saml/acs'] });

  before(async () => {
    const url = await testRedisUrl();
    const prefix = uniquePrefix();
    const store = new RedisStore({ url, keyPrefix: prefix });
    await store.ready();
    t = await startTestIdp({ store });
    const store2 = new RedisStore({ url, keyPrefix: prefix });
    await store2.ready();
    t2 = await startTestIdp({ store: store2, database: sameDatabase(t.databaseEnv), seed: false, keysDir: t.keysDir });
    idpCert = (await new Browser(t.url).get('/saml/certificate.pem')).text;
    work = mkdtempSync(path.join(tmpdir(), 'idp-add-sp-'));
    // The CLI sees the same relying-party files as the server (fixture-sp is one).
    env = { ...process.env, REDIS_URL: url, REDIS_KEY_PREFIX: prefix, ...t.databaseEnv, IDP_RP_DIR: FIXTURE_RPS };
  });
  after(async () => {
    metadataServer?.close();
    await t2.close();
    await t.close();
  });

  function nodeSaml(sp: { entityId: string }, acs: string, idp: TestIdp = t): SAML {
    return new SAML({
      callbackUrl: acs, entryPoint: `${idp.url}/saml/sso`, issuer: sp.entityId, audience: sp.entityId, idpCert, idpIssuer: `${idp.url}/saml/metadata`,
      identifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', validateInResponseTo: ValidateInResponseTo.always,
      wantAssertionsSigned: true, wantAuthnResponseSigned: true, disableRequestedAuthnContext: true,
    });
  }

  function rpFile(name: string, data: Record<string, unknown>): string {
    const file = path.join(work, name);
    writeFileSync(file, JSON.stringify(data));
    return file;
  }

  it('refuses an SP before it is registered', async () => {
    const sp = nodeSaml(late, 'https://late.example/saml/acs');
    const url = new URL(await sp.getAuthorizeUrlAsync('', undefined, {}));
    const res = await new Browser(t.url).get(`${url.pathname}${url.search}`);
    assert.match(res.text, /SSPR 5131/);
  });

  it('refuses a registration the file checks refuse, naming the field, and one that takes a file SP\'s entityID or id', async () => {
    writeFileSync(path.join(work, 'late-sp.xml'), late.metadata);
    const bad = await runCli(env, 'add-rp', rpFile('bad.json', { protocol: 'saml', id: 'late-sp', display_name: 'Late', metadata: 'late-sp.xml', sign_response: false, sign_assertion: false }));
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /bad\.json: invalid relying party\n\s+sign_response: at least one of sign_response and sign_assertion must be true/);
    const badMetadata = await runCli(env, 'add-rp', rpFile('bad-md.json', { protocol: 'saml', id: 'late-sp', display_name: 'Late', metadata: late.metadata.replace(/<md:AssertionConsumerService[^>]*\/>/g, '') }));
    assert.equal(badMetadata.code, 1);
    assert.match(badMetadata.stderr, /bad-md\.json: metadata: no AssertionConsumerService with the HTTP-POST binding/);
    const fixtureMetadata = path.join(FIXTURE_RPS, 'fixture-sp-metadata.xml');
    const sameEntity = await runCli(env, 'add-rp', rpFile('same.json', { protocol: 'saml', id: 'other-id', display_name: 'Copy', metadata: fixtureMetadata }));
    assert.equal(sameEntity.code, 2, sameEntity.stderr);
    assert.match(sameEntity.stderr, /entityID "[^"]+" is defined in .*fixture-sp\.json; a registered SP cannot replace a file's/);
    const sameId = await runCli(env, 'add-rp', rpFile('same-id.json', { protocol: 'saml', id: 'fixture-sp', display_name: 'Copy', metadata: 'late-sp.xml' }));
    assert.equal(sameId.code, 2);
    assert.match(sameId.stderr, /id: "fixture-sp" is already defined in .*fixture-sp\.json/);
  });

  it('signs a user in through an SP added by cli add-rp after the IdP started (node-saml), with its ACS in the CSP', async () => {
    const added = await runCli(env, 'add-rp', rpFile('late-sp.json', { protocol: 'saml', id: 'late-sp', display_name: 'Late SP', metadata: 'late-sp.xml' }));
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /registered saml service provider "late-sp" .* entityID https:\/\/late\.example\/sp/);
    assert.equal((await runCli(env, 'add-rp', path.join(work, 'late-sp.json'))).code, 2, 'not twice');

    const sp = nodeSaml(late, 'https://late.example/saml/acs');
    const url = new URL(await sp.getAuthorizeUrlAsync('relay-late', undefined, {}));
    const b = new Browser(t.url);
    let page = await b.follow(await b.get(`${url.pathname}${url.search}`));
    page = await b.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
    assert.match(page.res.headers['content-security-policy']!, /form-action 'self'[^;]* https:\/\/late\.example/);
    const form = autoForm(page.res.text);
    assert.equal(form.action, 'https://late.example/saml/acs');
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: form.fields.SAMLResponse! });
    assert.equal(profile!.nameID, DEMO.student.loginId);

    // The other process too, without restart.
    const sp2 = nodeSaml(late, 'https://late.example/saml/acs', t2);
    const url2 = new URL(await sp2.getAuthorizeUrlAsync('', undefined, {}));
    const b2 = new Browser(t2.url);
    let page2 = await b2.follow(await b2.get(`${url2.pathname}${url2.search}`));
    page2 = await b2.signIn(page2.res, DEMO.student.loginId, DEMO.student.password);
    const { profile: profile2 } = await sp2.validatePostResponseAsync({ SAMLResponse: autoForm(page2.res.text).fields.SAMLResponse! });
    assert.equal(profile2!.nameID, DEMO.student.loginId);

    const events = await t.idp.audit.recent(20, (e) => e.type === 'rp.registered');
    assert.equal(events[0]!.client, 'late-sp');
    assert.match(events[0]!.actor!, /^cli:/);
    const list = JSON.parse((await runCli(env, 'list-rps')).stdout) as { saml: Array<{ id: string; origin: string }> };
    assert.deepEqual(list.saml.filter((s) => s.id === 'late-sp' || s.id === 'fixture-sp').map((s) => `${s.id}:${s.origin}`).sort(), ['fixture-sp:file', 'late-sp:store']);
  });

  it('registers from a metadata URL (fetched once by the CLI)', async () => {
    metadataServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(fromUrl.metadata));
    await new Promise<void>((resolve) => metadataServer!.listen(0, '127.0.0.1', resolve));
    const metadataUrl = `http://127.0.0.1:${(metadataServer.address() as { port: number }).port}/metadata`;
    const added = await runCli(env, 'add-rp', rpFile('url-sp.json', { protocol: 'saml', id: 'url-sp', display_name: 'URL SP', metadata: metadataUrl }));
    assert.equal(added.code, 0, added.stderr);
    const sp = nodeSaml(fromUrl, 'https://url.example/saml/acs');
    const url = new URL(await sp.getAuthorizeUrlAsync('', undefined, {}));
    const b = new Browser(t.url);
    let page = await b.follow(await b.get(`${url.pathname}${url.search}`));
    page = await b.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: autoForm(page.res.text).fields.SAMLResponse! });
    assert.equal(profile!.nameID, DEMO.student.loginId);
  });

  it('after cli remove-rp the running IdP refuses the SP; a file SP cannot be removed', async () => {
    const fileSp = await runCli(env, 'remove-rp', 'fixture-sp');
    assert.equal(fileSp.code, 2);
    assert.match(fileSp.stderr, /fixture-sp is defined in .*fixture-sp\.json, not registered in the store/);
    const removed = await runCli(env, 'remove-rp', 'https://late.example/sp');
    assert.equal(removed.code, 0, removed.stderr);
    const events = await t.idp.audit.recent(20, (e) => e.type === 'rp.removed');
    assert.equal(events[0]!.client, 'late-sp');
    const sp = nodeSaml(late, 'https://late.example/saml/acs');
    // Each process re-reads the registered SPs at most 2 s after it last did.
    const deadline = Date.now() + 4_000;
    let text = '';
    for (;;) {
      const url = new URL(await sp.getAuthorizeUrlAsync('', undefined, {}));
      text = (await new Browser(t.url).get(`${url.pathname}${url.search}`)).text;
      if (/SSPR 5131/.test(text) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(text, /SSPR 5131/);
    const url2 = new URL(await nodeSaml(late, 'https://late.example/saml/acs', t2).getAuthorizeUrlAsync('', undefined, {}));
    assert.match((await new Browser(t2.url).get(`${url2.pathname}${url2.search}`)).text, /SSPR 5131/, 'the other process refuses it too');
    assert.equal((await runCli(env, 'remove-rp', 'https://late.example/sp')).code, 2, 'gone');
  });
});

describe('registered SAML SPs in a process (embedded database)', function () {
  this.timeout(60_000);
  it('are found on a miss at once, dropped after the copy ages, and never stand in for a file SP', async () => {
    const { database, close } = await makeDatabase('embedded');
    const fileSp = testSp({ id: 'file-sp', entityId: 'https://file.example/sp' });
    const skipped: string[] = [];
    const sps = new ServiceProviders([fileSp.file], 80, { database, cacheMs: 100, missMs: 0, onSkipped: (_m, reason) => skipped.push(reason) });
    const mem = testSp({ id: 'mem-sp', entityId: 'https://mem.example/sp' });
    assert.equal(await sps.findByEntityId(mem.entityId), undefined);
    const record = (sp: ReturnType<typeof testSp>) => ({ entityId: sp.entityId, rp: { protocol: 'saml', id: sp.file.id, display_name: sp.file.display_name, metadata: sp.metadata }, source: '(test)', addedAt: new Date().toISOString(), addedBy: 'test' });
    await registerSp(database, record(mem), 'mem-sp');
    const found = await sps.findByEntityId(mem.entityId);
    assert.equal(found?.id, 'mem-sp');
    assert.equal(found?.origin, 'store');
    assert.equal((await sps.findById('mem-sp'))?.entityId, mem.entityId);
    // Written to the store directly (not through the CLI's checks): a file's entityID is never taken over.
    const impostor = testSp({ id: 'impostor', entityId: fileSp.entityId });
    await registerSp(database, record(impostor), 'impostor');
    await new Promise((r) => setTimeout(r, 120));
    assert.equal((await sps.findByEntityId(fileSp.entityId))?.id, 'file-sp');
    assert.equal(await sps.findById('impostor'), undefined);
    assert.match(skipped.join('\n'), /collides with \(test file-sp\)/);
    await unregisterSp(database, mem.entityId);
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(await sps.findByEntityId(mem.entityId), undefined);
    await close();
  });
});
