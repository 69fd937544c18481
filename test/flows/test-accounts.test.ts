// Accounts in any state for integration testers: set up by a seed file and by the CLI,
// then met on the sign-in screens.
import { runCli } from '../support/cli.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadSeed, parseSeed, type SeedAccount } from '../../src/domain/accounts/seed.ts';
import { RedisStore } from '../../src/store/index.ts';
import { generate } from 'otplib';
import { Browser } from '../support/browser.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { startIdpProcess } from '../support/process.ts';
import { testRedisUrl, uniquePrefix } from '../support/redis.ts';

const PASSWORD = 'Tester-Lagoon-58';
const base = (loginId: string, extra: Partial<SeedAccount> = {}): SeedAccount => ({
  loginId, password: PASSWORD, temporary: false, givenName: 'Test', familyName: 'Account',
  school: { code: 'T01', name: 'Test School' }, level: 'S1', roles: ['student'],
  questions: [{ question: 'What is your favourite colour?', answer: 'blue' }, { question: 'What was the name of your first pet?', answer: 'rex' }, { question: 'In which city were you born?', answer: 'ipoh' }],
  ...extra,
});

const SCREENS = {
  locked: /Your account has been locked due to excessive incorrect login attempts/,
  disabled: /Your account is disabled/,
  changePassword: /<h1>Change Password<\/h1>/,
  setupQuestions: /Setup Security Questions/,
  portal: /Sign out/i,
};

async function signIn(t: TestIdp, loginId: string, password = PASSWORD): Promise<string> {
  const b = new Browser(t.url);
  return (await b.signIn((await b.open('/portal')).res, loginId, password)).res.text;
}

describe('accounts in any state for testers', () => {
  let t: TestIdp;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    const url = await testRedisUrl();
    const prefix = uniquePrefix();
    const store = new RedisStore({ url, keyPrefix: prefix });
    await store.ready();
    t = await startTestIdp({ store, overrides: { passwordPolicy: { default: { maxAgeDays: 90 } } } });
    env = { ...process.env, REDIS_URL: url, REDIS_KEY_PREFIX: prefix, ...t.databaseEnv, IDP_KEYS_DIR: t.keysDir, IDP_ARGON2_MEMORY_KIB: '8192', IDP_ARGON2_TIME_COST: '1', IDP_CONFIG_FILE: path.join(mkdtempSync(path.join(tmpdir(), 'idp-cfg-')), 'c.json') };
    writeFileSync(env.IDP_CONFIG_FILE!, JSON.stringify({ passwordPolicy: { default: { maxAgeDays: 90 } } }));
  });
  after(async () => {
    await t.close();
  });

  const cli = (...args: string[]) => runCli(env, ...args);

  const seed = (accounts: SeedAccount[]) =>
    loadSeed(parseSeed(accounts, 'test'), { directory: t.idp.directory, hasher: t.idp.hasher, audit: t.idp.audit, lockout: t.idp.lockout, mfa: t.idp.mfa, now: Date.now() });

  /** Signs in with the password and a code of the authenticator `secret`; resolves to the page reached. */
  async function signInWithCode(loginId: string, secret: string): Promise<{ second: string; after: string }> {
    const b = new Browser(t.url);
    const second = await b.signIn((await b.open('/portal')).res, loginId, PASSWORD);
    const after = await b.follow(await b.submit(second.res, '/mfa/code', { code: await generate({ secret }) }));
    return { second: second.res.text, after: after.res.text };
  }
  const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

  describe('by seed file', () => {
    const accounts = [
      base('seed-locked@students.edu.sg', { locked: true }),
      base('seed-disabled@students.edu.sg', { status: 'disabled' }),
      base('seed-temporary@students.edu.sg', { temporary: true }),
      base('seed-no-questions@students.edu.sg', { questions: [] }),
      base('seed-expired@students.edu.sg', { passwordExpired: true }),
      base('seed-old@students.edu.sg', { passwordChangedAt: '2020-01-01' }),
      base('seed-ready@students.edu.sg'),
      base('seed-mfa@schools.gov.sg', { roles: ['staff'], totpSecret: SECRET }),
    ];
    before(async () => {
      assert.deepEqual(await seed(accounts), { created: accounts.length, updated: 0 });
      // Idempotent: seeding again changes nothing that a sign-in meets.
      assert.deepEqual(await seed(accounts), { created: 0, updated: accounts.length });
    });

    it('locked: the locked page', async () => assert.match(await signIn(t, 'seed-locked@students.edu.sg'), SCREENS.locked));
    it('disabled: refused', async () => {
      const text = await signIn(t, 'seed-disabled@students.edu.sg');
      assert.match(text, SCREENS.disabled);
      assert.doesNotMatch(text, SCREENS.portal);
    });
    it('temporary password: Change Password', async () => assert.match(await signIn(t, 'seed-temporary@students.edu.sg'), SCREENS.changePassword));
    it('no questions: Setup Security Questions', async () => assert.match(await signIn(t, 'seed-no-questions@students.edu.sg'), SCREENS.setupQuestions));
    it('expired password: Change Password', async () => {
      assert.match(await signIn(t, 'seed-expired@students.edu.sg'), SCREENS.changePassword);
      assert.match(await signIn(t, 'seed-old@students.edu.sg'), SCREENS.changePassword);
    });
    it('ready: straight to the portal', async () => {
      const text = await signIn(t, 'seed-ready@students.edu.sg');
      assert.doesNotMatch(text, SCREENS.changePassword);
      assert.doesNotMatch(text, SCREENS.setupQuestions);
    });
    it('two-step sign-in with a known authenticator secret: the code is asked, then the portal', async () => {
      const { second, after } = await signInWithCode('seed-mfa@schools.gov.sg', SECRET);
      assert.match(second, /Two-Step Sign-in/);
      assert.match(after, SCREENS.portal);
    });
    it('refuses unknown fields and bad dates, naming them', () => {
      assert.throws(() => parseSeed([base('x@students.edu.sg', { passwordChangedAt: 'yesterday' })], 'f.json'), /\[0\]\.passwordChangedAt/);
      assert.throws(() => parseSeed([{ ...base('x@students.edu.sg'), lockd: true }], 'f.json'), /lockd/);
    });
  });

  it('npm start with IDP_SEED_FILE applies the states (locked, disabled, no questions)', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'idp-seed-')), 'accounts.json');
    writeFileSync(file, JSON.stringify([base('file-locked@students.edu.sg', { locked: true }), base('file-disabled@students.edu.sg', { status: 'disabled' }), base('file-new@students.edu.sg', { questions: [] })]));
    const p = await startIdpProcess({ IDP_SEED_FILE: file, IDP_DEMO_SEED: 'false', IDP_HOST: '127.0.0.1', IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')) });
    try {
      const at = { url: `http://127.0.0.1:${p.port}` } as TestIdp;
      assert.match(await signIn(at, 'file-locked@students.edu.sg'), SCREENS.locked);
      assert.match(await signIn(at, 'file-disabled@students.edu.sg'), SCREENS.disabled);
      assert.match(await signIn(at, 'file-new@students.edu.sg'), SCREENS.setupQuestions);
    } finally {
      await p.kill('SIGTERM');
    }
  });

  describe('by CLI', () => {
    let file: string;
    before(async () => {
      file = path.join(mkdtempSync(path.join(tmpdir(), 'idp-acct-')), 'a.json');
      writeFileSync(file, JSON.stringify(['cli-a', 'cli-b', 'cli-c', 'cli-d', 'cli-e'].map((n) => base(`${n}@students.edu.sg`))));
      const r = await cli('account', 'create', file);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /created 5, updated 0/);
    });

    it('account show prints the state as JSON, without hashes', async () => {
      const r = await cli('account', 'show', 'cli-a@students.edu.sg');
      assert.equal(r.code, 0, r.stderr);
      const state = JSON.parse(r.stdout);
      assert.equal(state.status, 'active');
      assert.equal(state.locked, false);
      assert.equal(state.password.set, true);
      assert.equal(state.password.temporary, false);
      assert.equal(state.password.policyMaxAgeDays, 90);
      assert.equal(state.questions.length, 3);
      assert.deepEqual(state.requiredActions, []);
      assert.doesNotMatch(r.stdout, /\$argon2/);
    });

    it('--locked: the locked page; --unlocked: signs in', async () => {
      const r = await cli('account', 'set', 'cli-a@students.edu.sg', '--locked');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).locked, true);
      assert.match(await signIn(t, 'cli-a@students.edu.sg'), SCREENS.locked);
      assert.equal((await cli('account', 'set', 'cli-a@students.edu.sg', '--unlocked')).code, 0);
      assert.doesNotMatch(await signIn(t, 'cli-a@students.edu.sg'), SCREENS.locked);
    });
    it('--disabled: refused', async () => {
      const r = await cli('account', 'set', 'cli-b@students.edu.sg', '--disabled');
      assert.equal(JSON.parse(r.stdout).status, 'disabled', r.stderr);
      assert.match(await signIn(t, 'cli-b@students.edu.sg'), SCREENS.disabled);
    });
    it('--temporary: Change Password', async () => {
      const r = await cli('account', 'set', 'cli-c@students.edu.sg', '--temporary');
      assert.deepEqual(JSON.parse(r.stdout).requiredActions, ['change-password'], r.stderr);
      assert.match(await signIn(t, 'cli-c@students.edu.sg'), SCREENS.changePassword);
    });
    it('--no-questions: Setup Security Questions', async () => {
      const r = await cli('account', 'set', 'cli-d@students.edu.sg', '--no-questions');
      assert.deepEqual(JSON.parse(r.stdout).requiredActions, ['setup-questions'], r.stderr);
      assert.match(await signIn(t, 'cli-d@students.edu.sg'), SCREENS.setupQuestions);
    });
    it('--password-expired (with --password): Change Password', async () => {
      const r = await cli('account', 'set', 'cli-e@students.edu.sg', '--password', 'Another-Harbour-77', '--password-expired');
      const state = JSON.parse(r.stdout);
      assert.equal(state.password.expired, true, r.stderr);
      assert.match(await signIn(t, 'cli-e@students.edu.sg', 'Another-Harbour-77'), SCREENS.changePassword);
    });
    it('--totp-secret: the code is asked at sign-in; show says so; --no-mfa removes it', async () => {
      const r = await cli('account', 'set', 'cli-a@students.edu.sg', '--totp-secret', SECRET);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).mfa.authenticatorApp, true);
      assert.doesNotMatch(r.stdout, new RegExp(SECRET), 'the secret is not printed');
      const { second, after } = await signInWithCode('cli-a@students.edu.sg', SECRET);
      assert.match(second, /Two-Step Sign-in/);
      assert.match(after, SCREENS.portal);
      const off = await cli('account', 'set', 'cli-a@students.edu.sg', '--no-mfa');
      assert.equal(JSON.parse(off.stdout).mfa.authenticatorApp, false);
    });

    it('refuses an unknown login ID and contradictory options', async () => {
      assert.equal((await cli('account', 'show', 'nobody@students.edu.sg')).code, 2);
      assert.equal((await cli('account', 'set', 'cli-a@students.edu.sg', '--locked', '--unlocked')).code, 2);
    });
  });
});
