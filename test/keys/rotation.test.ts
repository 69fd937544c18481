// Key rotation as an operator runs it (`npm run cli -- keys ...` on the keys directory the
// IdP uses) and as relying parties see it: openid-client and jose against the JWKS, node-saml
// and xmlsec1 against the metadata, a browser's cookies; every IdP sharing the keys
// directory switches without restart.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { DECOY_KEY_FILE, KEY_FILES, KEY_KINDS, newSamlKeyPair } from '../../src/config/key-material.ts';
import { projectRoot } from '../../src/config/settings.ts';
import { Browser } from '../support/browser.ts';
import { newSchema } from '../support/database.ts';
import { DEMO, FIXTURE_RPS, startTestIdp, type TestIdp } from '../support/idp.ts';
import { startIdpProcess, type IdpProcess } from '../support/process.ts';
import { freePort, testRedisUrl, uniquePrefix } from '../support/redis.ts';
import { autoForm, testSp } from '../support/saml.ts';

const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };

function cli(keysDir: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['src/cli/main.ts', 'keys', ...args], { cwd: projectRoot, env: { ...process.env, IDP_KEYS_DIR: keysDir } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(keysDir: string, ...args: string[]): Promise<string> {
  const r = await cli(keysDir, ...args);
  assert.equal(r.code, 0, `keys ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Waits until the condition holds (the IdPs' watchers pick file changes up within seconds). */
async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(100);
  }
}

async function jwks(url: string): Promise<JSONWebKeySet> {
  return (await new Browser(url).get('/oidc/jwks')).body as JSONWebKeySet;
}

function metadataCerts(xml: string): string[] {
  return [...xml.matchAll(/<md:KeyDescriptor use="signing">\s*<ds:KeyInfo><ds:X509Data><ds:X509Certificate>([^<]+)</g)].map((m) => m[1]!);
}

function pem(body: string): string {
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function xmlsecVerify(xml: string, certPem: string, idAttr: string): boolean {
  const dir = mkdtempSync(path.join(tmpdir(), 'xmlsec-'));
  writeFileSync(path.join(dir, 'm.xml'), xml);
  writeFileSync(path.join(dir, 'cert.pem'), certPem);
  const r = spawnSync('xmlsec1', ['--verify', '--pubkey-cert-pem', path.join(dir, 'cert.pem'), '--id-attr:ID', idAttr, path.join(dir, 'm.xml')], { encoding: 'utf8' });
  if (r.error) throw new Error('xmlsec1 is not installed');
  return r.status === 0;
}

describe('key rotation', function () {
  this.timeout(60_000);

  describe('OIDC signing keys, with openid-client', () => {
    let t: TestIdp;
    before(async () => {
      t = await startTestIdp();
    });
    after(async () => {
      await t.close();
    });

    async function signIn(browser: Browser, config: oidc.Configuration) {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: WEB.redirect, scope: 'openid email offline_access', prompt: 'consent', state: 's',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      let step = await browser.open(url.toString());
      if (/name="password"/.test(step.res.text)) step = await browser.signIn(step.res, DEMO.student.loginId, DEMO.student.password);
      assert.ok(step.external?.startsWith(WEB.redirect), `redirected to the app: ${step.res.status}`);
      return oidc.authorizationCodeGrant(config, new URL(step.external!), { pkceCodeVerifier: verifier, expectedState: 's' });
    }

    /** Verifies an ID token as a relying party does: against the JWKS published now. */
    async function verify(idToken: string) {
      return jwtVerify(idToken, createLocalJWKSet(await jwks(t.url)), { issuer: t.url, audience: WEB.id });
    }

    it('publishes the next key before it signs, signs with it after activation, keeps the old one published until retired', async () => {
      const config = await oidc.discovery(new URL(t.url), WEB.id, WEB.secret, oidc.ClientSecretBasic(WEB.secret), { execute: [oidc.allowInsecureRequests] });
      const browser = new Browser(t.url);
      const before = await signIn(browser, config);
      const kidA = decodeProtectedHeader(before.id_token!).kid!;
      const published = (await jwks(t.url)).keys.map((k) => k.kid);
      assert.ok(published.includes(kidA));

      // rotate: B is published at once, A still signs.
      const rotated = await ok(t.keysDir, 'rotate', 'oidc');
      assert.match(rotated, /added oidc .* RS256 .* next/);
      await until('JWKS carries the next keys', async () => (await jwks(t.url)).keys.length === published.length * 2);
      const during = await signIn(browser, config);
      assert.equal(decodeProtectedHeader(during.id_token!).kid, kidA, 'the next key signs nothing before activation');

      // activate too early: refused (every process must have the next key first).
      const early = await cli(t.keysDir, 'activate', 'oidc');
      assert.equal(early.code, 2);
      assert.match(early.stderr, /published for \d+ s only/);

      // activate: B signs; A stays in the JWKS, tokens it signed still verify.
      await ok(t.keysDir, 'activate', 'oidc', '--now');
      let kidB = '';
      await until('B signs', async () => {
        kidB = decodeProtectedHeader((await signIn(browser, config)).id_token!).kid!;
        return kidB !== kidA;
      });
      const after = await signIn(browser, config);
      assert.equal(decodeProtectedHeader(after.id_token!).kid, kidB);
      assert.ok((await jwks(t.url)).keys.some((k) => k.kid === kidA), 'A still published');
      assert.equal((await verify(before.id_token!)).protectedHeader.kid, kidA, 'a token A signed before the switch verifies');
      assert.equal((await verify(after.id_token!)).protectedHeader.kid, kidB, 'a token B signed verifies');
      // A refresh token issued before the switch still works, and its new ID token is B's.
      const refreshed = await oidc.refreshTokenGrant(config, before.refresh_token!);
      assert.equal(decodeProtectedHeader(refreshed.id_token!).kid, kidB);
      assert.equal((await oidc.tokenIntrospection(config, before.access_token)).active, true);

      // status: ages, uses, states.
      const status = await ok(t.keysDir, 'status');
      assert.match(status, new RegExp(`oidc\\s+${kidA}\\s+RS256\\s+retiring\\s+age \\d+ s\\s+retire after \\S+ \\(in \\d+ d\\)`));
      assert.match(status, new RegExp(`oidc\\s+${kidB}\\s+RS256\\s+current\\s+age \\d+ s\\s+signs since`));

      // retire: not before every token A signed has expired; --force drops it.
      assert.match(await ok(t.keysDir, 'retire', 'oidc'), new RegExp(`kept oidc\\s+${kidA}`));
      assert.match(await ok(t.keysDir, 'retire', 'oidc', '--force'), new RegExp(`removed oidc\\s+${kidA}`));
      await until('A no longer published', async () => !(await jwks(t.url)).keys.some((k) => k.kid === kidA));
      await assert.rejects(verify(before.id_token!));
      assert.equal((await verify((await signIn(browser, config)).id_token!)).protectedHeader.kid, kidB);
    });

    it('writes every key file with mode 600', async () => {
      for (const file of [...KEY_KINDS.map((k) => KEY_FILES[k]), DECOY_KEY_FILE]) {
        assert.equal(statSync(path.join(t.keysDir, file)).mode & 0o777, 0o600, file);
      }
    });
  });

  describe('SAML signing certificate, with node-saml', () => {
    let t: TestIdp;
    const sp = testSp({ id: 'rotation-sp', acs: ['http://127.0.0.1:9/rotation-sp/acs'] });
    const acs = 'http://127.0.0.1:9/rotation-sp/acs';
    before(async () => {
      t = await startTestIdp({ serviceProviders: [sp.file] });
    });
    after(async () => {
      await t.close();
    });

    function nodeSaml(idpCert: string | string[]): SAML {
      return new SAML({
        callbackUrl: acs, entryPoint: `${t.url}/saml/sso`, issuer: sp.entityId, audience: sp.entityId, idpCert, idpIssuer: `${t.url}/saml/metadata`,
        identifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', validateInResponseTo: ValidateInResponseTo.never,
        wantAssertionsSigned: true, wantAuthnResponseSigned: true, disableRequestedAuthnContext: true,
      });
    }

    /** A signed Response for this SP, through a browser that signs in on the way. */
    async function response(b: Browser): Promise<string> {
      const url = new URL(await nodeSaml([]).getAuthorizeUrlAsync('', undefined, {}));
      let page = await b.follow(await b.get(`${url.pathname}${url.search}`));
      if (/name="password"/.test(page.res.text)) page = await b.signIn(page.res, DEMO.student.loginId, DEMO.student.password);
      return autoForm(page.res.text).fields.SAMLResponse!;
    }

    it('lists the next certificate in metadata beside the current one, then signs with it; an SP that refreshed its metadata during the overlap accepts both', async () => {
      const b = new Browser(t.url);
      const old = metadataCerts((await b.get('/saml/metadata')).text);
      assert.equal(old.length, 1);
      const oldSp = nodeSaml(old.map(pem));
      const signedBefore = await response(b);
      assert.equal((await oldSp.validatePostResponseAsync({ SAMLResponse: signedBefore })).profile!.nameID, DEMO.student.loginId);
      assert.equal((await b.get('/saml/certificate-next.pem')).status, 404);

      // rotate: the next certificate is in metadata, current first; responses are still signed by the current one.
      await ok(t.keysDir, 'rotate', 'saml');
      let overlap: string[] = [];
      await until('metadata lists both certificates', async () => (overlap = metadataCerts((await b.get('/saml/metadata')).text)).length === 2);
      assert.equal(overlap[0], old[0], 'current first');
      const next = pem(overlap[1]!);
      assert.equal((await b.get('/saml/certificate-next.pem')).text.replace(/\s/g, ''), next.replace(/\s/g, ''));
      const early = await cli(t.keysDir, 'activate', 'saml');
      assert.equal(early.code, 2, 'refused before the configured overlap has passed');
      assert.match(early.stderr, /activate it at/);
      // The SP refreshes its metadata during the overlap.
      const refreshedSp = nodeSaml(overlap.map(pem));
      const duringOverlap = await response(b);
      assert.ok((await refreshedSp.validatePostResponseAsync({ SAMLResponse: duringOverlap })).profile);
      assert.ok((await oldSp.validatePostResponseAsync({ SAMLResponse: duringOverlap })).profile, 'not yet signed by the next certificate');

      // activate: the next certificate signs.
      await ok(t.keysDir, 'activate', 'saml', '--now');
      await until('the certificate URL serves the new certificate', async () => (await b.get('/saml/certificate.pem')).text.replace(/\s/g, '') === next.replace(/\s/g, ''));
      const signedAfter = await response(b);
      assert.equal((await refreshedSp.validatePostResponseAsync({ SAMLResponse: signedAfter })).profile!.nameID, DEMO.student.loginId);
      assert.ok((await refreshedSp.validatePostResponseAsync({ SAMLResponse: signedBefore })).profile, 'a response signed before still verifies');
      await assert.rejects(oldSp.validatePostResponseAsync({ SAMLResponse: signedAfter }), 'an SP that never refreshed refuses it: the new certificate really signs');
      const xml = Buffer.from(signedAfter, 'base64').toString('utf8');
      assert.ok(xmlsecVerify(xml, next, 'urn:oasis:names:tc:SAML:2.0:protocol:Response'), 'xmlsec1 verifies with the new certificate');
      assert.ok(!xmlsecVerify(xml, pem(old[0]!), 'urn:oasis:names:tc:SAML:2.0:protocol:Response'));
      // Metadata: the new one first, the old one still listed until retired.
      assert.deepEqual(metadataCerts((await b.get('/saml/metadata')).text), [overlap[1], overlap[0]]);

      const status = await ok(t.keysDir, 'status');
      assert.match(status, /saml\s+\S+\s+RSA certificate\s+current\s+age \d+ s\s+signs since \S+\s+expires \S+ \(in \d+ d\)/);
      assert.match(status, /saml\s+\S+\s+RSA certificate\s+retiring\s+.*retire after/);

      await ok(t.keysDir, 'retire', 'saml', '--force');
      await until('the old certificate leaves the metadata', async () => metadataCerts((await b.get('/saml/metadata')).text).length === 1);

      const metrics = (await b.get('/metrics')).text;
      assert.match(metrics, /idp_saml_certificate_expiry_seconds\{state="current",id="[0-9a-f]+"\} \d+/);
    });
  });

  describe('cookie keys', () => {
    let t: TestIdp;
    before(async () => {
      t = await startTestIdp();
    });
    after(async () => {
      await t.close();
    });

    it('keeps a browser signed in, and a form rendered before the switch still posts', async () => {
      const b = new Browser(t.url);
      const signedIn = await b.signIn((await b.open('/portal')).res, DEMO.student.loginId, DEMO.student.password);
      assert.match(signedIn.res.text, /Allen Tan/);
      const other = new Browser(t.url);
      const form = await other.open('/portal');
      assert.match(form.res.text, /name="password"/);
      const before = JSON.parse(readFileSync(path.join(t.keysDir, 'cookie-keys.json'), 'utf8')) as { keys: unknown[] };

      await ok(t.keysDir, 'rotate', 'cookie');
      await ok(t.keysDir, 'activate', 'cookie', '--now');
      t.reloadKeys();
      const after = JSON.parse(readFileSync(path.join(t.keysDir, 'cookie-keys.json'), 'utf8')) as { keys: Array<{ state: string }> };
      assert.equal(after.keys.length, before.keys.length + 1);
      assert.deepEqual(after.keys.map((k) => k.state), ['current', 'retiring']);

      assert.match((await b.open('/portal')).res.text, /Allen Tan/, 'still signed in after the switch');
      // The sign-in form rendered before the switch (CSRF token and browser cookie made with the old key).
      const done = await other.signIn(form.res, DEMO.student2.loginId, DEMO.student2.password);
      assert.match(done.res.text, /Bella Lim/);
      // Once the old key is retired, the cookies it signed no longer count.
      await ok(t.keysDir, 'retire', 'cookie', '--force');
      t.reloadKeys();
      assert.match((await b.open('/portal')).res.text, /Allen Tan/, 'cookies re-signed with the new key on the way');
    });

    it('shows an unknown login ID the same decoy questions after a cookie key rotation and a restart', async () => {
      const decoy = async (url: string) => {
        const browser = new Browser(url);
        const link = /href="(\/flow\/forgot-password\?from=[^"]+)"/.exec((await browser.open('/portal')).res.text)![1]!;
        const search = await browser.open(link);
        const page = (await browser.follow(await browser.submit(search.res, '/forgot/search', { username: 'no_such_student@students.edu.sg' }))).res;
        return [...page.text.matchAll(/<label for="a\d+">([^<]+)<\/label>/g)].map((m) => m[1]!);
      };
      const before = await decoy(t.url);
      assert.equal(before.length, 3);
      await ok(t.keysDir, 'rotate', 'cookie');
      await ok(t.keysDir, 'activate', 'cookie', '--now');
      t.reloadKeys();
      assert.deepEqual(await decoy(t.url), before);
      const restarted = await startTestIdp({ keysDir: t.keysDir, seed: false });
      try {
        assert.deepEqual(await decoy(restarted.url), before, 'after a restart on the rotated keys');
      } finally {
        await restarted.close();
      }
    });

    it('keeps the keys in use when a changed file does not load', async () => {
      const b = new Browser(t.url);
      assert.match((await b.signIn((await b.open('/portal')).res, DEMO.student.loginId, DEMO.student.password)).res.text, /Allen Tan/);
      const file = path.join(t.keysDir, 'cookie-keys.json');
      const good = readFileSync(file, 'utf8');
      writeFileSync(`${file}.new`, '{"keys": [', { mode: 0o600 });
      renameSync(`${file}.new`, file);
      t.reloadKeys();
      assert.ok(t.logs.some((l) => /key reload failed/.test(l) && /not valid JSON/.test(l)), 'logged');
      assert.match((await b.open('/portal')).res.text, /Allen Tan/, 'still signed in');
      assert.equal((await cli(t.keysDir, 'rotate', 'cookie')).code, 1, 'the CLI refuses to work on it');
      writeFileSync(`${file}.new`, good, { mode: 0o600 });
      renameSync(`${file}.new`, file);
    });
  });

  describe('two IdP processes sharing the keys directory', () => {
    let a: IdpProcess;
    let b: IdpProcess;
    let keysDir: string;
    before(async () => {
      keysDir = mkdtempSync(path.join(tmpdir(), 'idp-keys-'));
      const env = { REDIS_URL: await testRedisUrl(), REDIS_KEY_PREFIX: uniquePrefix(), ...(await newSchema()).env, IDP_KEYS_DIR: keysDir, IDP_PUBLIC_URL: `http://127.0.0.1:${await freePort()}`, IDP_RP_DIR: FIXTURE_RPS, LOG_LEVEL: 'warn', IDP_DEMO_SEED: 'false' };
      a = await startIdpProcess(env);
      b = await startIdpProcess(env);
    });
    after(async () => {
      await a?.kill('SIGTERM');
      await b?.kill('SIGTERM');
    });

    it('both publish the next keys and both switch after activation, without restart', async () => {
      const urls = [a, b].map((p) => `http://127.0.0.1:${p.port}`);
      const certOf = async (url: string) => (await new Browser(url).get('/saml/certificate.pem')).text;
      const [oldA, oldB] = await Promise.all(urls.map(certOf));
      assert.equal(oldA, oldB);
      const kids = (await jwks(urls[0]!)).keys.map((k) => k.kid);

      await ok(keysDir, 'rotate', 'oidc');
      await ok(keysDir, 'rotate', 'saml');
      for (const url of urls) {
        await until(`${url} publishes the next keys`, async () => (await jwks(url)).keys.length === kids.length * 2 && metadataCerts((await new Browser(url).get('/saml/metadata')).text).length === 2);
      }
      const next = metadataCerts((await new Browser(urls[0]!).get('/saml/metadata')).text)[1]!;
      await ok(keysDir, 'activate', 'saml', '--now');
      for (const url of urls) {
        await until(`${url} signs with the new certificate`, async () => (await certOf(url)).replace(/\s/g, '').includes(next));
        assert.deepEqual(metadataCerts((await new Browser(url).get('/saml/metadata')).text)[0], next);
      }
      // OIDC: the JWKS lists the keys in use first (the order oidc-provider picks signing keys in).
      await ok(keysDir, 'activate', 'oidc', '--now');
      for (const url of urls) {
        await until(`${url} puts the new OIDC keys first`, async () => !kids.includes((await jwks(url)).keys[0]!.kid));
        assert.deepEqual((await jwks(url)).keys.slice(kids.length).map((k) => k.kid), kids, 'the old keys stay published');
      }
      assert.equal(a.child.exitCode, null, 'no restart');
      assert.equal(b.child.exitCode, null, 'no restart');
    });
  });

  describe('key files written before rotation existed', () => {
    let p: IdpProcess;
    let keysDir: string;
    const kid = randomBytes(8).toString('hex');
    const saml = newSamlKeyPair('School IdP SAML signing', 20);
    before(async () => {
      // The formats of the first releases: a bare private JWKS, an array of cookie keys, one SAML key pair.
      keysDir = mkdtempSync(path.join(tmpdir(), 'idp-keys-'));
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
      writeFileSync(path.join(keysDir, 'oidc-jwks.json'), JSON.stringify({ keys: [{ ...rsa, kid, use: 'sig', alg: 'RS256' }] }), { mode: 0o600 });
      writeFileSync(path.join(keysDir, 'cookie-keys.json'), JSON.stringify([randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')]), { mode: 0o600 });
      writeFileSync(path.join(keysDir, 'saml-signing.json'), JSON.stringify(saml), { mode: 0o600 });
      p = await startIdpProcess({ REDIS_URL: await testRedisUrl(), REDIS_KEY_PREFIX: uniquePrefix(), IDP_KEYS_DIR: keysDir, IDP_RP_DIR: FIXTURE_RPS, LOG_LEVEL: 'warn', IDP_DEMO_SEED: 'false' });
    });
    after(async () => {
      await p?.kill('SIGTERM');
    });

    it('uses them as current keys, rotates them, and warns of a certificate expiring within 30 days', async () => {
      const url = `http://127.0.0.1:${p.port}`;
      assert.deepEqual((await jwks(url)).keys.map((k) => k.kid), [kid]);
      assert.equal((await new Browser(url).get('/saml/certificate.pem')).text, saml.certificatePem.replace(/\r\n?/g, '\n'));
      assert.match(p.output(), /SAML signing certificate expires within 30 days/);
      const status = await ok(keysDir, 'status');
      assert.match(status, new RegExp(`oidc\\s+${kid}\\s+RS256\\s+current`));
      assert.match(status, /saml .* current .* expires \S+ \(in (19|20) d, rotate now\)/);
      assert.match(status, /cookie .* retiring .* retire at any time/);
      await ok(keysDir, 'rotate', 'saml');
      await until('the next certificate is published', async () => metadataCerts((await new Browser(url).get('/saml/metadata')).text).length === 2);
      for (const kind of KEY_KINDS) assert.equal(statSync(path.join(keysDir, KEY_FILES[kind])).mode & 0o777, 0o600, KEY_FILES[kind]);
    });
  });
});
