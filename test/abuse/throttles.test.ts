// Guessing passwords, as an attacker does and as a school's NAT looks: every count is taken
// before the password is checked (parallel guesses cannot pass a limit), spraying from ten
// addresses is held back to what one address alone gets, and a pupil on a device that signed
// in before still signs in from an address under attack. The number of passwords checked is
// the IdP's own (idp_signin_total), not what the pages said.
import assert from 'node:assert/strict';
import { keys, type RedisStore } from '../../src/store/index.ts';
import { dumpRedis } from '../support/redis.ts';
import { Browser } from '../support/browser.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { PUPIL_PASSWORD, SignInClient, outcomes, passwordsChecked, seedPupils } from './support.ts';

const QUIET_SPRAYING = { floorPerMinute: 100_000, schoolFloorPerMinute: 100_000, factor: 4, budgetPerMinute: 20, holdMinutes: 10 };

describe('guessing passwords: counted before they are checked, held back across addresses, not against a school', function () {
  this.timeout(180_000);

  describe('one address, in parallel', () => {
    let t: TestIdp;
    let pupils: string[];
    before(async () => {
      // Admission lets all 40 wait (this is about the address's count, not overload).
      t = await startTestIdp({ overrides: { lockout: { maxFailures: 5, windowMinutes: 15, lockMinutes: null, maxFailuresPerIp: 20, ipWindowMinutes: 15 }, spraying: QUIET_SPRAYING, admission: { concurrency: 0, queue: 100, maxWaitSeconds: 20 } } });
      pupils = await seedPupils(t, 40);
    });
    after(async () => t?.close());

    it('40 parallel guesses on 40 accounts from one IP check at most the per-IP limit (20)', async () => {
      const clients = pupils.map(() => new SignInClient(t.url, '127.0.0.2'));
      await Promise.all(clients.map((c) => c.page()));
      const results = await Promise.all(clients.map((c, i) => c.attempt(pupils[i]!, 'Not-The-Password-1')));
      const checked = await passwordsChecked(t);
      assert.ok(checked <= 20, `${checked} passwords checked`);
      assert.ok(checked >= 15, `the limit is the limit, not less: ${checked}`);
      const throttled = results.filter((r) => r.text.includes('too many failed sign-in attempts from your network')).length;
      assert.equal(throttled, 40 - checked, 'the rest were refused without a check, and said why');
    });
  });

  describe('spraying from ten addresses', () => {
    let t: TestIdp;
    let pupils: string[];
    let settled: string[];
    before(async () => {
      // The defaults (config/default.json): 100 a quarter-hour per IP, alarm at 30 failed accounts a minute, then 20 a minute.
      t = await startTestIdp();
      pupils = await seedPupils(t, 300);
      settled = await seedPupils(t, 2, 'settled', true);
    });
    after(async () => t?.close());

    it('300 accounts × 3 guesses from 10 IPs in a minute: fewer passwords checked than one IP alone may try (100); audited, counted, nothing locked', async () => {
      const began = Date.now();
      const attackers = Array.from({ length: 10 }, (_, i) => new SignInClient(t.url, `127.0.0.${11 + i}`));
      await Promise.all(attackers.map((a) => a.page()));
      let held = 0;
      // Each address takes every tenth account, three guesses each, as fast as it can.
      await Promise.all(attackers.map(async (a, i) => {
        for (let guess = 0; guess < 3; guess++) {
          for (let k = i; k < pupils.length; k += 10) {
            const r = await a.attempt(pupils[k]!, `Summer2026-${guess}`);
            if (r.result === 'held') {
              held++;
              assert.ok(r.retryAfter! >= 1 && r.retryAfter! <= 106, `Retry-After ${r.retryAfter}`);
              assert.match(r.text, /held back for a moment/);
              assert.match(r.text, /data-autosubmit="after"/, 'the page sends the form again by itself');
            }
            assert.notEqual(r.result, 'in');
          }
        }
      }));
      const seconds = (Date.now() - began) / 1000;
      const checked = await passwordsChecked(t);
      assert.ok(seconds < 60, `within a minute (${seconds.toFixed(1)} s)`);
      assert.ok(checked <= 100, `${checked} of 900 passwords checked`);
      assert.ok(held >= 900 - 100 - 5, `${held} held back`);
      const alarms = await t.idp.audit.recent(5, (e) => e.type === 'security.spraying');
      assert.ok(alarms.length >= 1, 'the alarm is audited');
      assert.match(alarms.at(-1)!.reason!, /accounts failed in a minute from unknown devices/);
      const metric = await t.idp.metrics.registry.getSingleMetric('idp_spraying_alarms_total')!.get();
      assert.ok(metric.values.some((v) => v.labels.scope === 'all' && v.value >= 1), 'and counted');
      for (const loginId of pupils) assert.equal(await t.store.get(keys.lock(loginId)), null, `${loginId} is not locked`);
      console.log(`      spraying: ${checked} of 900 passwords checked, ${held} held back, ${seconds.toFixed(1)} s; outcomes ${JSON.stringify(await outcomes(t))}`);
    });

    it('while the alarm is on, a pupil on a device that signed in before is not held back', async () => {
      const pupil = new SignInClient(t.url, '127.0.0.11');
      // Signed in on this device earlier (before the attack): the alarm ends for the test, then comes back.
      for (const scope of ['all', 'school:ABUSE1', 'school:ABUSE2']) await t.store.del(keys.sprayAlarm(scope));
      assert.equal((await pupil.attempt(settled[0]!, PUPIL_PASSWORD)).result, 'in');
      await t.store.set(keys.sprayAlarm('all'), '{}', { ttlMs: 60_000 });
      await t.store.set(keys.sprayAdmitted('all', String(Math.floor(Date.now() / 60_000))), '1000', { ttlMs: 60_000 });
      const stranger = new SignInClient(t.url, '127.0.0.30');
      assert.equal((await stranger.attempt(settled[1]!, PUPIL_PASSWORD)).result, 'held', 'a new device waits, even with the right password');
      const again = new SignInClient(t.url, '127.0.0.11');
      again.browser.takeCookies(pupil.browser.cookies('idp_device'));
      assert.equal((await again.attempt(settled[0]!, PUPIL_PASSWORD)).result, 'in', 'the known device goes in');
    });
  });

  describe('the alarm cannot be turned against the pupils', () => {
    let t: TestIdp;
    let pupils: string[];
    before(async () => {
      t = await startTestIdp();
      pupils = await seedPupils(t, 60, 'target', true);
    });
    after(async () => t?.close());

    it('made-up login IDs raise an alarm of their own: a pupil on a new device still signs in', async () => {
      const attacker = new SignInClient(t.url, '127.0.0.60');
      for (let i = 0; i < 60; i++) await attacker.attempt(`nobody.${i}@students.edu.sg`, 'Guess-1234');
      const alarms = await t.idp.audit.recent(5, (e) => e.type === 'security.spraying');
      assert.equal(alarms.length, 1);
      assert.match(alarms[0]!.reason!, /login IDs that are no account's/);
      assert.equal((await new SignInClient(t.url, '127.0.0.61').attempt(pupils[0]!, PUPIL_PASSWORD)).result, 'in', 'not held back');
    });

    it('one address cannot take the whole budget: while it sprays, a pupil at another address on a new device signs in', async () => {
      const attacker = new SignInClient(t.url, '127.0.0.62');
      const before = await passwordsChecked(t);
      let held = 0;
      for (let i = 1; i < 60; i++) if ((await attacker.attempt(pupils[i]!, 'Guess-5678')).result === 'held') held++;
      const checked = (await passwordsChecked(t)) - before;
      assert.ok(held > 0, 'the alarm of all schools went on and held the attacker back');
      // Before the alarm: the floor (30); after it, one address gets a fifth of the 20 a minute (and the minute may turn once).
      assert.ok(checked <= 30 + 2 * 4 + 1, `${checked} checked for the attacker`);
      assert.equal((await new SignInClient(t.url, '127.0.0.63').attempt(pupils[59]!, PUPIL_PASSWORD)).result, 'in', 'the rest of the budget is there for others');
    });
  });

  describe('the first morning of the year', () => {
    let t: TestIdp;
    before(async () => {
      t = await startTestIdp();
    });
    after(async () => t?.close());

    it('50 pupils on new devices behind one NAT, each mistyping once, all get in and no alarm goes on', async () => {
      const morning = await seedPupils(t, 50, 'firstday', true);
      for (const loginId of morning) {
        const device = new SignInClient(t.url, '127.0.0.80');
        assert.equal((await device.attempt(loginId, 'Orchid-Lantern-85')).result, 'refused', 'a typo');
        assert.equal((await device.attempt(loginId, PUPIL_PASSWORD)).result, 'in');
      }
      // 50 accounts failed in a few seconds, above both floors (30, and 10 for their school): not a spray, they got in.
      assert.equal((await t.idp.audit.recent(10, (e) => e.type === 'security.spraying')).length, 0);
    });
  });

  describe('a school behind one NAT', () => {
    let t: TestIdp;
    let pupils: string[];
    const NAT = '127.0.0.40';
    before(async () => {
      t = await startTestIdp({ overrides: { lockout: { maxFailures: 5, windowMinutes: 15, lockMinutes: null, maxFailuresPerIp: 30, ipWindowMinutes: 15 }, spraying: QUIET_SPRAYING } });
      pupils = await seedPupils(t, 60, 'nat', true);
    });
    after(async () => t?.close());

    it('after an attack from its address: a known device signs in, an unknown one is held back, and the guides\' lock still happens at 5', async () => {
      // Yesterday: Chloe signed in on her laptop, behind the school's NAT.
      const laptop = new SignInClient(t.url, NAT);
      assert.equal((await laptop.attempt(pupils[0]!, PUPIL_PASSWORD)).result, 'in');
      const laptopCookies = laptop.browser.cookies('idp_device');
      assert.match(laptopCookies.join('; '), /idp_device=/, 'her laptop is now a known device for her login ID');

      // Today: someone on the same network guesses, one password on each of 40 accounts.
      const attacker = new SignInClient(t.url, NAT);
      for (let k = 10; k < 50; k++) await attacker.attempt(pupils[k]!, 'Password123!');
      assert.ok((await passwordsChecked(t)) <= 31, 'the address\'s budget (30) is spent');

      // A classmate on a school computer she never used: held back by the address's budget.
      const newcomer = new SignInClient(t.url, NAT);
      const refused = await newcomer.attempt(pupils[1]!, PUPIL_PASSWORD);
      assert.equal(refused.result, 'refused');
      assert.match(refused.text, /too many failed sign-in attempts from your network/);

      // Chloe on her laptop: in.
      const back = new SignInClient(t.url, NAT);
      back.browser.takeCookies(laptopCookies);
      assert.equal((await back.attempt(pupils[0]!, PUPIL_PASSWORD)).result, 'in', 'the known device is judged by its own record');

      // Guesses at Chloe's own login ID from elsewhere lock it for unknown devices at 5, with the guides' words...
      const elsewhere = new SignInClient(t.url, '127.0.0.41');
      for (let i = 0; i < 5; i++) await elsewhere.attempt(pupils[0]!, `Guess-${i}-Wrong`);
      const locked = await elsewhere.attempt(pupils[0]!, PUPIL_PASSWORD);
      assert.equal(locked.result, 'refused');
      assert.match(locked.text, /Your account has been locked due to excessive incorrect login attempts/);
      const lock = await t.idp.lockout.lockOf(pupils[0]!);
      assert.equal(lock?.scope, 'unknown-devices');
      // ...but not for her laptop (OWASP: whoever knows a login ID cannot lock its pupil out).
      const laptopAgain = () => {
        const c = new SignInClient(t.url, NAT);
        c.browser.takeCookies(laptopCookies);
        return c;
      };
      assert.equal((await laptopAgain().attempt(pupils[0]!, PUPIL_PASSWORD)).result, 'in');
      // Five wrong passwords on the laptop itself: the guides' lock, for every device.
      const typing = laptopAgain();
      for (let i = 0; i < 5; i++) assert.equal((await typing.attempt(pupils[0]!, `Typo-${i}-Wrong`)).result, 'refused');
      const everyone = await typing.attempt(pupils[0]!, PUPIL_PASSWORD);
      assert.match(everyone.text, /Your account has been locked/);
      assert.equal((await t.idp.lockout.lockOf(pupils[0]!))?.scope, 'everyone');
      // Unlock (as Forgot Password or an administrator does) clears it all.
      await t.idp.lockout.unlock(pupils[0]!);
      assert.equal((await laptopAgain().attempt(pupils[0]!, PUPIL_PASSWORD)).result, 'in');
    });

    it('a device that signed in before an administrator\'s reset is unknown again: it cannot lock the pupil out of her new password', async () => {
      const loginId = pupils[57]!;
      const friend = new SignInClient(t.url, '127.0.0.45');
      assert.equal((await friend.attempt(loginId, PUPIL_PASSWORD)).result, 'in', 'once, on a friend\'s browser');
      const stale = friend.browser.cookies('idp_device');
      const admin = (await t.idp.directory.findByLoginId('daniel_wong@schools.gov.sg'))!;
      const reset = await t.idp.administration.resetPassword({ kind: 'ministry' }, admin, (await t.idp.directory.findByLoginId(loginId))!.id, {});
      // The friend's browser guesses five times: an unknown device now, so the lock holds back unknown devices only.
      const guesser = new SignInClient(t.url, '127.0.0.45');
      guesser.browser.takeCookies(stale);
      for (let i = 0; i < 5; i++) await guesser.attempt(loginId, `Guess-${i}-Again`);
      assert.equal((await t.idp.lockout.lockOf(loginId))?.scope, 'unknown-devices', 'not the lock for everyone');
      assert.ok(reset.temporaryPassword.length > 8);
    });

    it('a disabled account answers the same for any password (no password oracle)', async () => {
      const loginId = pupils[55]!;
      const account = (await t.idp.directory.findByLoginId(loginId))!;
      await t.idp.directory.update(account.id, (a) => ({ ...a, status: 'disabled' }));
      const right = await new SignInClient(t.url, '127.0.0.42').attempt(loginId, PUPIL_PASSWORD);
      const wrong = await new SignInClient(t.url, '127.0.0.43').attempt(loginId, 'Not-Her-Password-9');
      assert.match(right.text, /disabled/i);
      const strip = (html: string) => html.replace(/\/flow\/[A-Za-z0-9_.-]+|from=[A-Za-z0-9_.-]+|value="[^"]*"|&#34;challenge&#34;:&#34;[A-Za-z0-9_-]+&#34;|<code>[^<]*<\/code>/g, '');
      assert.equal(strip(wrong.text), strip(right.text), 'the same page either way');
    });

    it('a password typed into Username is not kept: not in the store, not in the page', async () => {
      const client = new SignInClient(t.url, '127.0.0.44');
      const secret = 'Orchid-Lantern-58-typed-in-the-wrong-box';
      const r = await client.attempt(secret, 'anything');
      assert.equal(r.result, 'refused');
      assert.equal(r.text.includes(secret), false, 'not shown again');
      const ref = /\/flow\/([A-Za-z0-9_.-]+)\/sign-in/.exec(r.text)![1]!;
      assert.equal(ref.includes(secret), false);
      assert.equal(await t.store.get(keys.flow(ref)), null, 'no flow stored for it');
      assert.equal((await dumpRedis(t.store as RedisStore)).join('\n').includes(secret), false, 'nowhere in Redis');
      assert.equal(JSON.stringify(await t.idp.audit.recent(100)).includes(secret), false, 'nor in the audit trail');
      assert.equal(t.logs.join('').includes(secret), false, 'nor in the logs');
      // The same on Forgotten Password's Username page.
      const forgot = new Browser(t.url, { from: '127.0.0.44' });
      const page = (await forgot.open('/flow/forgot-password')).res;
      const shown = await forgot.follow(await forgot.submit(page, 'forgot/search', { username: secret }));
      assert.match(shown.res.text, /name="username"/, 'the Username page again, with its message');
      assert.equal(shown.res.text.includes(secret), false, 'not shown again');
    });

    it('a body that does not decompress is the sender\'s fault: 400, never a 5xx', async () => {
      for (const encoding of ['gzip', 'deflate', 'br']) {
        for (const path of ['/flow/t.x/sign-in', '/saml/sso']) {
          const res = await new Browser(t.url).agent.post(path).set('Content-Encoding', encoding).set('Content-Type', 'application/x-www-form-urlencoded').send('xx');
          assert.equal(res.status, 400, `${encoding} ${path}`);
        }
      }
    });

    it('a crafted long return path falls back to the portal instead of breaking the sign-in', async () => {
      const b = new Browser(t.url, { from: '127.0.0.46' });
      const page = await b.open(`/flow/start?return=/portal/${'a'.repeat(3500)}`);
      assert.equal(page.res.status, 200);
      assert.match((await b.signIn(page.res, pupils[58]!, PUPIL_PASSWORD)).res.text, /Sign out/);
    });
  });
});
