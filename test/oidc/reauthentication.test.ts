// OIDC Core 3.1.2.1 as a relying party sees it (openid-client): prompt=login and max_age
// get a real password entry and a real auth_time, prompt=none never shows a page and says
// why, and id_token_hint is honoured. A re-authentication keeps the SSO session's account
// and participants under a new session id.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import type { SsoSession } from '../../src/domain/sessions/sso-sessions.ts';
import { keys } from '../../src/store/index.ts';
import { Browser, formOf } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, discover, redeem, signInThrough, WEB } from '../support/rp.ts';

const BELLA = DEMO.student2;

describe('OIDC: prompt=login, max_age, prompt=none, id_token_hint', () => {
  let t: TestIdp;
  let config: oidc.Configuration;
  before(async () => {
    t = await startTestIdp();
    config = await discover(t, WEB.id, WEB.secret);
  });
  after(async () => {
    await t.close();
  });

  async function accountId(loginId: string): Promise<string> {
    return (await t.idp.directory.findByLoginId(loginId))!.id;
  }

  async function liveSessions(loginId: string): Promise<SsoSession[]> {
    const ids = await t.store.setMembers(keys.accountSsoSessions(await accountId(loginId)));
    return (await Promise.all(ids.map((id) => t.idp.sso.get(id)))).filter((s): s is SsoSession => s !== null);
  }

  /** The session of `browser`: the one that appeared since `known` (other tests' browsers have theirs). */
  async function newSessions(loginId: string, known: SsoSession[]): Promise<SsoSession[]> {
    return (await liveSessions(loginId)).filter((s) => !known.some((k) => k.id === s.id));
  }

  /** A browser signed in at the app with max_age (so the ID token carries auth_time). */
  async function signedIn(who = DEMO.student) {
    const browser = new Browser(t.url);
    const req = await authRequest(config, WEB.redirect, { max_age: '15000' });
    const first = await redeem(config, req, await signInThrough(browser, req, who), { maxAge: 15000 });
    const claims = first.claims()!;
    assert.equal(typeof claims.auth_time, 'number', 'auth_time is included when max_age was requested');
    return { browser, first: claims, idToken: first.id_token! };
  }

  /** Follows an authorization request; resolves to the page shown or the callback. */
  async function open(browser: Browser, params: Record<string, string>) {
    const req = await authRequest(config, WEB.redirect, params);
    return { req, ...(await browser.open(req.url.toString())) };
  }

  it('oidcc-prompt-login: prompt=login asks for the password again and moves auth_time on; the session keeps its participants', async () => {
    const others = await liveSessions(DEMO.student.loginId);
    const { browser, first } = await signedIn();
    const [before, ...more] = await newSessions(DEMO.student.loginId, others);
    assert.equal(more.length, 0);
    assert.deepEqual((await t.idp.sso.participants(before!.id)).oidc, [WEB.id]);
    await sleep(1100);

    const asked = await open(browser, { prompt: 'login' });
    assert.equal(asked.external, undefined, 'no code without a password');
    assert.match(asked.res.text, /asks you to sign in again/);
    assert.match(asked.res.text, /name="username"[^>]*value="allen_tan@students\.edu\.sg"[^>]*readonly/);
    const wrong = await browser.signIn(asked.res, DEMO.student.loginId, 'Not-The-Password-1');
    assert.equal(wrong.res.status, 401);
    assert.equal(wrong.external, undefined);
    const back = await browser.signIn(wrong.res, DEMO.student.loginId, DEMO.student.password);
    const again = (await redeem(config, asked.req, back.external)).claims()!;
    assert.equal(again.sub, first.sub);
    assert.ok(again.auth_time! > first.auth_time!, `auth_time ${again.auth_time} after ${first.auth_time}`);
    assert.deepEqual(again.amr, ['pwd']);

    // The same account's session goes on under a new id, with its participants.
    const after = await newSessions(DEMO.student.loginId, others);
    assert.equal(after.length, 1);
    assert.notEqual(after[0]!.id, before!.id, 'a new session id after the password was entered again');
    assert.equal(await t.idp.sso.get(before!.id), null, 'the earlier id is worth nothing now');
    assert.equal(after[0]!.createdAt >= before!.createdAt, true);
    assert.equal(Math.floor(after[0]!.authTime / 1000), again.auth_time);
    assert.deepEqual((await t.idp.sso.participants(after[0]!.id)).oidc, [WEB.id]);

    // Without prompt=login the next request rides on the session, with that auth_time.
    const silent = await open(browser, { max_age: '15000' });
    assert.equal((await redeem(config, silent.req, silent.external, { maxAge: 15000 })).claims()!.auth_time, again.auth_time);
  });

  it('the re-authentication page is for the signed-in account only: another account typed there is ignored', async () => {
    const others = await liveSessions(DEMO.student.loginId);
    const { browser } = await signedIn();
    const [before] = await newSessions(DEMO.student.loginId, others);
    const asked = await open(browser, { prompt: 'login' });
    assert.match(asked.res.text, /Not allen_tan@students\.edu\.sg\? Sign out/);
    assert.ok(formOf(asked.res.text, '/portal/sign-out'));
    // A hand-made post with Bella's login ID and password is checked as Allen's password.
    const form = formOf(asked.res.text, '/sign-in');
    const refused = await browser.follow(await browser.post(form.action, { ...form.hidden, username: BELLA.loginId, password: BELLA.password }));
    assert.equal(refused.res.status, 401);
    assert.match(refused.res.text, /Login failed/);
    assert.equal(refused.external, undefined);
    assert.deepEqual((await newSessions(DEMO.student.loginId, others)).map((s) => s.id), [before!.id], 'Allen\'s session is untouched');
    assert.deepEqual(await liveSessions(BELLA.loginId), [], 'no session for Bella');
  });

  it('oidcc-max-age-10000, oidcc-max-age-1: max_age within the age rides on the session; past it, and max_age=0 always, asks again', async () => {
    const { browser, first } = await signedIn();
    const within = await open(browser, { max_age: '10000' });
    assert.ok(within.external, 'no page within max_age');
    const same = (await redeem(config, within.req, within.external, { maxAge: 10000 })).claims()!;
    assert.equal(same.auth_time, first.auth_time);
    assert.equal(same.sub, first.sub);

    await sleep(2100);
    const past = await open(browser, { max_age: '1' });
    assert.equal(past.external, undefined, 'the sign-in page after max_age');
    assert.match(past.res.text, /asks you to sign in again/);
    const fresh = (await redeem(config, past.req, (await browser.signIn(past.res, DEMO.student.loginId, DEMO.student.password)).external, { maxAge: 1 })).claims()!;
    assert.ok(fresh.auth_time! > first.auth_time!);

    for (let i = 0; i < 2; i++) {
      const zero = await open(browser, { max_age: '0' });
      assert.equal(zero.external, undefined, `max_age=0 asks every time (${i})`);
      const done = await browser.signIn(zero.res, DEMO.student.loginId, DEMO.student.password);
      assert.ok((await redeem(config, zero.req, done.external)).claims()!.auth_time! >= fresh.auth_time!);
    }
  });

  it('oidcc-prompt-none-not-logged-in, oidcc-prompt-none-logged-in: prompt=none answers at once, login_required without a session', async () => {
    const stranger = new Browser(t.url);
    const none = await open(stranger, { prompt: 'none' });
    assert.ok(none.external?.startsWith(WEB.redirect), 'an error redirect, no page');
    const params = new URL(none.external!).searchParams;
    assert.equal(params.get('error'), 'login_required');
    assert.equal(params.get('state'), none.req.state);
    assert.equal(params.get('iss'), t.url);
    await assert.rejects(redeem(config, none.req, none.external), (err: oidc.AuthorizationResponseError) => err.error === 'login_required');

    const { browser, first } = await signedIn();
    const silent = await open(browser, { prompt: 'none' });
    const claims = (await redeem(config, silent.req, silent.external)).claims()!;
    assert.equal(claims.sub, first.sub);
  });

  it('prompt=none while a required action is pending answers interaction_required', async () => {
    const { browser } = await signedIn(BELLA);
    const bella = await t.idp.directory.findByLoginId(BELLA.loginId);
    await t.idp.directory.update(bella!.id, (a) => ({ ...a, questions: [] }));
    try {
      const none = await open(browser, { prompt: 'none' });
      assert.ok(none.external?.startsWith(WEB.redirect));
      assert.equal(new URL(none.external!).searchParams.get('error'), 'interaction_required');
      // Without prompt=none the questions come first, and no code.
      const asked = await open(browser, {});
      assert.equal(asked.external, undefined);
      assert.match(asked.res.text, /Setup Security Questions/);
    } finally {
      await t.idp.directory.update(bella!.id, (a) => ({ ...a, questions: bella!.questions }));
    }
  });

  it('oidcc-id-token-hint: a hint of the signed-in account gets a code at once; of another account, login_required', async () => {
    const { browser, first, idToken } = await signedIn();
    const hinted = await open(browser, { prompt: 'none', id_token_hint: idToken });
    const claims = (await redeem(config, hinted.req, hinted.external)).claims()!;
    assert.equal(claims.sub, first.sub);
    if (claims.auth_time !== undefined) assert.equal(claims.auth_time, first.auth_time);

    const bella = await signedIn(BELLA);
    for (const params of [{ id_token_hint: bella.idToken }, { id_token_hint: bella.idToken, prompt: 'none' }] as Array<Record<string, string>>) {
      const other = await open(browser, params);
      assert.ok(other.external?.startsWith(WEB.redirect), JSON.stringify(Object.keys(params)));
      assert.equal(new URL(other.external!).searchParams.get('error'), 'login_required');
    }
    assert.equal((await liveSessions(DEMO.student.loginId)).length >= 1, true, 'Allen is still signed in');
  });

  it('after the SSO session ended and another account signed in at the portal, the app gets that account, which stays signed in', async () => {
    const others = await liveSessions(DEMO.student.loginId);
    const { browser, first } = await signedIn();
    const [allens] = await newSessions(DEMO.student.loginId, others);
    await t.idp.sso.end(allens!.id); // as after the idle timeout
    await browser.signIn((await browser.open('/portal')).res, BELLA.loginId, BELLA.password);
    const req = await authRequest(config, WEB.redirect);
    let step = await browser.open(req.url.toString());
    // oidc-provider ends its own session of the earlier account first (back-channel logout), by a form post.
    if (step.res.text.includes('/oidc/session/end/confirm')) step = await browser.follow(await browser.submit(step.res, '/oidc/session/end/confirm', {}));
    const claims = (await redeem(config, req, step.external)).claims()!;
    assert.equal(claims.sub, await accountId(BELLA.loginId));
    assert.notEqual(claims.sub, first.sub);
    assert.match((await browser.open('/portal')).res.text, /Bella Lim/, 'Bella is still signed in');
  });
});
