// Interoperability with a real Shibboleth SP 3: Debian's shibd and mod_shib in Apache
// (test/support/shibboleth.ts: stock attribute map and policy, stock shibboleth2.xml but
// for entityID, the IdP's metadata and handlerSSL), registered with `cli add-rp` from the
// metadata the SP itself generates, attribute profile uri. In Chromium: a protected page
// sends the browser to the IdP, the user signs in, the SP takes the Response and the page
// shows what mod_shib gives the application (REMOTE_USER and the attributes the stock map
// decodes). Then an administrator's reset from the CLI ends the session: the IdP tells the
// SP over SOAP, and counts it as signed out only if the SP's LogoutResponse passes its
// checks — which a default Shibboleth SP's does only because it honours the algorithms the
// IdP's metadata advertises. The control: a second, identical SP given the same metadata
// without that extension signs with RSA-SHA1, and the same reset reports it as not confirmed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { scopedUnique } from '../../src/protocols/saml/attributes.ts';
import { RedisStore } from '../../src/store/index.ts';
import { launchChromium } from '../support/chromium.ts';
import { runCli } from '../support/cli.ts';
import { DEMO, FIXTURE_RPS, startTestIdp, type TestIdp } from '../support/idp.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { startShibbolethSp, type ShibbolethSp } from '../support/shibboleth.ts';

const SCOPE = 'rivervale.example.edu';

/** The protected page's environment (the CGI script prints `env`), as name → value. */
async function environment(page: Page): Promise<Record<string, string>> {
  const text = await page.locator('body').innerText();
  return Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Serves the IdP's metadata without its algsupport extension (the entity-level md:Extensions). */
async function metadataWithoutAlgorithms(idpUrl: string): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    void fetch(`${idpUrl}/saml/metadata`).then((r) => r.text()).then((xml) => {
      const stripped = xml.replace(/ {2}<md:Extensions>\n(?: {4}<alg:[^\n]*\n)+ {2}<\/md:Extensions>\n/, '');
      res.statusCode = stripped === xml ? 500 : 200;
      res.setHeader('content-type', 'application/samlmetadata+xml');
      res.end(stripped === xml ? 'no algsupport extension found' : stripped);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

describe('A stock Shibboleth SP 3 (Debian\'s shibd and mod_shib)', function () {
  this.timeout(90_000);
  let t: TestIdp;
  let sp: ShibbolethSp;
  /** The control: the same SP, given the IdP's metadata without alg:SigningMethod and alg:DigestMethod. */
  let spSha1: ShibbolethSp;
  let withoutAlgorithms: Awaited<ReturnType<typeof metadataWithoutAlgorithms>>;
  let chromium: Chromium;
  let context: BrowserContext;
  let page: Page;
  let env: NodeJS.ProcessEnv;
  let work: string;

  before(async () => {
    const redisUrl = await testRedisUrl();
    const prefix = uniquePrefix();
    const store = new RedisStore({ url: redisUrl, keyPrefix: prefix });
    await store.ready();
    t = await startTestIdp({ store, overrides: { saml: { scope: SCOPE } } });
    env = {
      ...process.env, ...t.databaseEnv, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, IDP_RP_DIR: FIXTURE_RPS, IDP_PUBLIC_URL: t.url,
      IDP_KEYS_DIR: t.keysDir, IDP_SAML_SCOPE: SCOPE, IDP_SIMS: 'false', IDP_DEMO_SEED: 'false',
    };
    // The SP fetches the IdP's metadata from /saml/metadata itself; the control from a server that strips it.
    withoutAlgorithms = await metadataWithoutAlgorithms(t.url);
    [sp, spSha1] = await Promise.all([startShibbolethSp(`${t.url}/saml/metadata`), startShibbolethSp(`${withoutAlgorithms.url}/saml/metadata`)]);
    // Registered from the metadata each SP generates (Shibboleth.sso/Metadata), as an operator would.
    work = mkdtempSync(path.join(tmpdir(), 'idp-shib-rp-'));
    for (const [id, name, s] of [['shib-sp', 'Shibboleth SP', sp], ['shib-sha1', 'Shibboleth SP without algsupport', spSha1]] as const) {
      const file = path.join(work, `${id}.json`);
      writeFileSync(file, JSON.stringify({ protocol: 'saml', id, display_name: name, metadata: s.metadataUrl, attribute_profile: 'uri' }));
      const added = await runCli(env, 'add-rp', file);
      assert.equal(added.code, 0, `${added.stderr}${added.stdout}`);
    }
    chromium = await launchChromium();
    context = await chromium.newContext();
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
  });
  after(async () => {
    await context?.close();
    await chromium?.close();
    await sp?.close();
    await spSha1?.close();
    withoutAlgorithms?.server.close();
    await t?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('signs a user in: REMOTE_USER is the eduPersonPrincipalName, and the stock map decodes eppn, subject-id and affiliation', async () => {
    await page.goto(sp.protectedUrl);
    assert.ok(page.url().startsWith(`${t.url}/`), `the SP sent the browser to the IdP (at ${page.url()})`);
    await page.getByLabel('Username').fill(DEMO.student.loginId);
    await page.getByLabel('Password').fill(DEMO.student.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(sp.protectedUrl, { timeout: 15_000 }).catch(async () => {
      assert.fail(`not back at the protected page: ${page.url()}\n${(await page.locator('body').innerText().catch(() => '')).slice(0, 1000)}\n${sp.logs()}`);
    });
    const shown = await environment(page);
    const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const scoped = `${scopedUnique(account)}@${SCOPE}`;
    assert.equal(shown.REMOTE_USER, scoped, `REMOTE_USER (stock: eppn subject-id pairwise-id persistent-id)\n${JSON.stringify(shown, null, 1)}`);
    assert.equal(shown.AUTH_TYPE, 'shibboleth');
    // Apache hands CGI scripts the variables with '-' as '_' (Shib-Identity-Provider, subject-id).
    assert.equal(shown.Shib_Identity_Provider, `${t.url}/saml/metadata`);
    assert.equal(shown.Shib_Authentication_Method, 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport');
    assert.equal(shown.eppn, scoped);
    assert.equal(shown.subject_id, scoped);
    // eduPersonScopedAffiliation, as the stock map names it; Shibboleth joins values with ';'.
    assert.deepEqual(shown.affiliation?.split(';').sort(), [`member@${SCOPE}`, `student@${SCOPE}`]);
    // What the stock map leaves commented out does not reach the application.
    for (const name of ['mail', 'givenName', 'sn', 'displayName', 'unscoped_affiliation', 'pairwise_id', 'persistent_id']) assert.equal(shown[name], undefined, name);
  });

  it('an administrator\'s reset signs the user out of it over SOAP: the SP confirms, and its session is gone; without algsupport it signs SHA-1 and is refused', async () => {
    // The same browser signs in at the control SP too (single sign-on: no password).
    await page.goto(spSha1.protectedUrl);
    await page.waitForURL(spSha1.protectedUrl).catch(() => assert.fail(`not signed in at the control SP: ${page.url()}\n${spSha1.logs()}`));
    assert.match((await environment(page)).REMOTE_USER ?? '', /@/);

    const reset = await runCli(env, 'reset-password', DEMO.student.loginId);
    assert.equal(reset.code, 0, reset.stderr);
    const account = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const told = async (client: string) => (await t.idp.audit.recent(10, (e) => e.type === 'logout.backchannel' && e.accountId === account.id && e.client === client))[0]?.reason ?? '(none)';
    assert.equal(await told('shib-sp'), 'saml told', `the IdP's record of telling the SP\n${reset.stdout}\n${sp.logs()}`);
    assert.match(reset.stdout, /^apps told to sign the user out: Shibboleth SP$/m, reset.stdout);
    // The control: its LogoutResponse comes signed with Shibboleth's default, RSA-SHA1.
    assert.equal(await told('shib-sha1'), 'saml failed: LogoutResponse refused: signature algorithm not allowed: http://www.w3.org/2000/09/xmldsig#rsa-sha1');
    assert.match(reset.stdout, /^apps NOT told \(the user may stay signed in there\): Shibboleth SP without algsupport \(did not confirm\)$/m, reset.stdout);

    // The SP's own view of the browser's session, then the protected page: back to the IdP.
    await page.goto(`${sp.url}/Shibboleth.sso/Session`);
    assert.match(await page.locator('body').innerText(), /Your session is not available in the session store/);
    await page.goto(sp.protectedUrl);
    assert.ok(page.url().startsWith(`${t.url}/`), `the protected page sends the browser to the IdP again (at ${page.url()})`);
    assert.equal(await page.getByLabel('Password').count(), 1, 'and the IdP asks for the password: its session ended too');
  });

  it('asked for pairwise-id (subject-id:req in its metadata), it gets that as REMOTE_USER and neither eppn nor subject-id; staff affiliations', async () => {
    // Registered again, its metadata carrying the entity attribute a federation would publish.
    const removed = await runCli(env, 'remove-rp', 'shib-sp');
    assert.equal(removed.code, 0, removed.stderr);
    const generated = await (await fetch(sp.metadataUrl)).text();
    const opening = /<md:EntityDescriptor\b[^>]*>/.exec(generated);
    assert.ok(opening, generated.slice(0, 500));
    const metadata = generated.replace(opening[0], `${opening[0]}<md:Extensions><mdattr:EntityAttributes xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute">` +
      '<saml:Attribute xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Name="urn:oasis:names:tc:SAML:profiles:subject-id:req" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">' +
      '<saml:AttributeValue>pairwise-id</saml:AttributeValue></saml:Attribute></mdattr:EntityAttributes></md:Extensions>');
    const file = path.join(work, 'shibboleth-pairwise.json');
    writeFileSync(file, JSON.stringify({ protocol: 'saml', id: 'shib-sp', display_name: 'Shibboleth SP', metadata, attribute_profile: 'uri' }));
    const added = await runCli(env, 'add-rp', file);
    assert.equal(added.code, 0, added.stderr);
    // Every IdP process reads registered SPs again within 2 s (README, "Registering a SAML service provider").
    await new Promise((r) => setTimeout(r, 2_100));

    const fresh = await chromium.newContext();
    fresh.setDefaultTimeout(15_000);
    try {
      const p = await fresh.newPage();
      await p.goto(sp.protectedUrl);
      await p.getByLabel('Username').fill(DEMO.staff.loginId);
      await p.getByLabel('Password').fill(DEMO.staff.password);
      await p.getByRole('button', { name: 'Sign in', exact: true }).click();
      await p.waitForURL(sp.protectedUrl).catch(() => assert.fail(`not back at the protected page: ${p.url()}\n${sp.logs()}`));
      const shown = await environment(p);
      const account = (await t.idp.directory.findByLoginId(DEMO.staff.loginId))!;
      assert.match(shown.REMOTE_USER ?? '', new RegExp(`^[0-9a-f]{32}@${SCOPE.replace(/\./g, '\\.')}$`), JSON.stringify(shown, null, 1));
      assert.equal(shown.pairwise_id, shown.REMOTE_USER, 'REMOTE_USER is the pairwise-id (stock: eppn subject-id pairwise-id persistent-id)');
      assert.notEqual(shown.REMOTE_USER, `${scopedUnique(account)}@${SCOPE}`, 'not the identifier every SP gets');
      assert.equal(shown.eppn, undefined);
      assert.equal(shown.subject_id, undefined);
      assert.deepEqual(shown.affiliation?.split(';').sort(), [`employee@${SCOPE}`, `member@${SCOPE}`, `staff@${SCOPE}`]);
    } finally {
      await fresh.close();
    }
  });
});
