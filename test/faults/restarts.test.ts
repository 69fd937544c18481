// Restarts in the middle of a journey. A student with a temporary password is half-way
// through the first sign-in (questions, then a new password) when
//   - Redis (with AOF, as production runs it) is stopped and started again: the account,
//     its questions and the new password survive, and so do the flow and the SSO session;
//   - the IdP process is killed with SIGKILL and started again: the user repeats the step
//     they were on and carries on; nothing is left half-written.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RedisStore } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { newSchema } from '../support/database.ts';
import { startTestIdp } from '../support/idp.ts';
import { startIdpProcess, type IdpProcess } from '../support/process.ts';
import { freePort, OwnedRedis, testRedisUrl, uniquePrefix } from '../support/redis.ts';

const FARAH = { loginId: 'farah_aziz@students.edu.sg', password: 'Rivervale#Start24' };
const NEW_PASSWORD = 'Orchard-Lamp-2077';
const ANSWERS = { q0: '3', a0: 'Ramen', q1: '0', a1: 'Shark', q2: '1', a2: 'Turquoise' };

async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('restarts mid-journey', function () {
  this.timeout(60_000);

  it('Redis restarted with AOF: account, questions, new password, flow and SSO session survive', async () => {
    const redis = await OwnedRedis.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    assert.ok(existsSync(path.join(redis.dir, 'appendonlydir')), 'Redis writes an append-only file');
    const store = new RedisStore({ url: redis.url, keyPrefix: 'idp:' });
    await store.ready();
    const t = await startTestIdp({ store });
    const restartRedis = async () => {
      await redis.stop();
      // While it is down, pages say SSPR 5019 and nothing changes.
      const down = await new Browser(t.url).get('/readyz');
      assert.equal(down.status, 503);
      await redis.resume();
      await until(async () => (await new Browser(t.url).get('/readyz')).status === 200, 'the store to come back');
    };
    try {
      const b = new Browser(t.url);
      const questions = await b.signIn((await b.open('/portal')).res, FARAH.loginId, FARAH.password);
      assert.match(questions.res.text, /Setup Security Questions/);
      const confirm = await b.follow(await b.submit(questions.res, '/questions', ANSWERS));
      assert.match(confirm.res.text, /Confirm Security Questions/);

      await restartRedis(); // the flow survives: the user just carries on
      const saved = await b.follow(await b.submit(confirm.res, '/questions/confirm', {}));
      assert.match(saved.res.text, /successfully saved/);
      const change = await b.follow(await b.submit(saved.res, '/continue', {}));
      const wait = await b.follow(await b.submit(change.res, '/password', { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }));
      const done = await b.follow(await b.submit(wait.res, '/password/commit', {}));
      assert.match(done.res.text, /The password has been changed successfully/);
      const portal = await b.follow(await b.submit(done.res, '/continue', {}));
      assert.match(portal.res.text, /Farah Aziz/);

      await restartRedis();
      // The SSO session survived: no password.
      assert.match((await b.open('/portal')).res.text, /Farah Aziz/);
      // The directory survived: questions set, password changed, not temporary.
      const account = (await t.idp.directory.findByLoginId(FARAH.loginId))!;
      assert.equal(account.questions.length, 3);
      assert.equal(account.mustChangePassword, false);
      const fresh = new Browser(t.url);
      const old = await fresh.signIn((await fresh.open('/portal')).res, FARAH.loginId, FARAH.password);
      assert.match(old.res.text, /Login failed/);
      const ok = await fresh.signIn(old.res, FARAH.loginId, NEW_PASSWORD);
      assert.match(ok.res.text, /Farah Aziz/);
    } finally {
      await t.close();
      await redis.destroy();
    }
  });

  it('IdP killed with SIGKILL mid-flow: the user repeats the step and carries on, nothing corrupted', async () => {
    const port = await freePort();
    const env = {
      REDIS_URL: await testRedisUrl(),
      REDIS_KEY_PREFIX: uniquePrefix(),
      ...(await newSchema()).env,
      IDP_KEYS_DIR: mkdtempSync(path.join(tmpdir(), 'idp-keys-')),
      IDP_PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
    };
    let idp: IdpProcess = await startIdpProcess({ ...env, IDP_DEMO_SEED: 'true' }, port);
    const killAndRestart = async () => {
      assert.equal(await idp.kill('SIGKILL'), null, 'killed, not exited');
      idp = await startIdpProcess({ ...env, IDP_DEMO_SEED: 'false' }, port);
    };
    try {
      const b = new Browser(`http://127.0.0.1:${port}`);
      const questions = await b.signIn((await b.open('/portal')).res, FARAH.loginId, FARAH.password);
      const confirm = await b.follow(await b.submit(questions.res, '/questions', ANSWERS));
      assert.match(confirm.res.text, /Confirm Security Questions/);

      await killAndRestart();
      // Same browser, same page: "Confirm Security Answers" works on the new process.
      const saved = await b.follow(await b.submit(confirm.res, '/questions/confirm', {}));
      assert.match(saved.res.text, /successfully saved/);
      const change = await b.follow(await b.submit(saved.res, '/continue', {}));
      const wait = await b.follow(await b.submit(change.res, '/password', { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }));
      assert.match(wait.res.text, /Please Wait/);

      await killAndRestart(); // between "Change Password" and its commit
      const done = await b.follow(await b.submit(wait.res, '/password/commit', {}));
      assert.match(done.res.text, /The password has been changed successfully/);
      const portal = await b.follow(await b.submit(done.res, '/continue', {}));
      assert.match(portal.res.text, /Farah Aziz/);

      await killAndRestart();
      const fresh = new Browser(`http://127.0.0.1:${port}`);
      const signedIn = await fresh.signIn((await fresh.open('/portal')).res, FARAH.loginId, NEW_PASSWORD);
      assert.match(signedIn.res.text, /Farah Aziz/, 'exactly one password change happened, and it holds');
      assert.match((await b.open('/portal')).res.text, /Farah Aziz/, 'the SSO session outlived the process');
    } finally {
      await idp.kill('SIGTERM');
    }
  });
});
