// The flows' state tables, run without HTTP: the machine (src/flows/machine.ts) with the
// real domain services over the embedded store and a clock the test moves. Every action a
// step does not allow is refused and changes nothing; every transition a table declares is
// taken at least once (checked at the end against what was observed); expiry follows the
// clock; a finished step cannot be replayed; each kind finishes the way its table says.
import assert from 'node:assert/strict';
import { loadSettings, type Settings } from '../../src/config/settings.ts';
import { loadSeed, readSeedFile } from '../../src/domain/accounts/seed.ts';
import { AppError, type ErrorCode } from '../../src/domain/errors.ts';
import type { Refusal } from '../../src/domain/sessions/gate.ts';
import { bindingOf, Flows, type Flow, type FlowKind, type Resume, type Step } from '../../src/flows/flow.ts';
import { FLOW_KINDS } from '../../src/flows/kinds.ts';
import { FlowMachine, tableOf, type Outcome, type StepInput, type Target } from '../../src/flows/machine.ts';
import { flowStarts } from '../../src/flows/start.ts';
import { generate } from 'otplib';
import type { Account } from '../../src/domain/accounts/account.ts';
import { text } from '../../src/messages/catalogue.ts';
import { createServices, type Services } from '../../src/services.ts';
import { keys, MemoryStore } from '../../src/store/index.ts';
import { DEMO, DEMO_SEED, FAST_ARGON2 } from '../support/idp.ts';
import { makeDatabase, type TestDatabase } from '../support/database.ts';

const BROWSER = 'browser-secret-of-the-test-0123456789';
const OTHER_BROWSER = 'another-browser-secret-9876543210';
const APP: Resume = { kind: 'oidc', uid: 'interaction-uid-1', clientId: 'test-web' };
const ANSWERS = { q0: '3', a0: 'Laksa', q1: '0', a1: 'Tiger', q2: '1', a2: 'Violet' };
const NEW_PASSWORD = 'Harbour-Comet-1990';

/** One observed step of a flow: where it was, what was asked, where it went. */
type Seen = { kind: FlowKind; from: Step; action: string; to: Target };

describe('flow state tables (no HTTP)', () => {
  let now: number;
  let settings: Settings;
  let store: MemoryStore;
  let db: TestDatabase;
  let services: Services;
  let machine: FlowMachine;
  const seen: Seen[] = [];
  /** What the recovery email sent (the mail itself is tested over SMTP in test/mail/). */
  let sent: Array<{ to: string; kind: string; params: Record<string, string | number> }> = [];

  beforeEach(async () => {
    now = Date.UTC(2026, 10, 30, 8, 0, 0);
    const clock = () => now;
    // The recovery email's offer is off but in its own test (it would come after every first sign-in's questions).
    settings = loadSettings({ env: {}, overrides: { argon2: FAST_ARGON2, recoveryEmail: { offer: { students: false, staff: false } } } });
    store = new MemoryStore(clock);
    db = await makeDatabase();
    sent = [];
    services = createServices(settings, store, db.database, clock, { sealSecret: 'seal-secret-of-the-test-0123456789abcdef', sendRecoveryMail: (to, kind, _lang, params) => sent.push({ to, kind, params }) });
    await loadSeed(readSeedFile(DEMO_SEED), { directory: services.directory, hasher: services.hasher, audit: services.audit, now });
    machine = new FlowMachine({
      ...services,
      flows: new Flows(store, clock, settings.flow.idleSeconds * 1000, settings.flow.maxMinutes * 60_000, 'state-tables test secret'),
      challenge: settings.challenge,
      forgotPassword: { ...settings.forgotPassword },
      decoyKey: 'decoy-key-of-the-test',
      clock,
      resumeAlive: async (resume) => !(resume.kind === 'oidc' && resume.uid === 'gone-uid'),
    }, FLOW_KINDS);
  });

  afterEach(async () => {
    await db.close();
  });

  // A flow that is only a sealed reference moves to a new reference with each step (its URL
  // changes, flow.ts): the latest URL of each flow a test began, by the URL it began at.
  const latest = new Map<string, string>();
  const refOf = (url: string) => (latest.get(url) ?? url).replace('/flow/', '');

  async function flowOf(url: string): Promise<Flow> {
    const id = refOf(url);
    const found = await machine.services.flows.lookup(id);
    assert.equal(found.state, 'live', `${url} is a live flow`);
    return (found as { flow: Flow }).flow;
  }

  /** Acts on the flow at `url` and records what the table was asked and where it led. */
  async function act(url: string, action: string, fields: Record<string, string> = {}, extra: Partial<StepInput> = {}): Promise<Outcome & { flow: Flow | null }> {
    const before = await flowOf(url);
    const outcome = await machine.act(refOf(url), action, { fields, browserSecret: BROWSER, ip: '192.0.2.7', ...extra });
    // The same flow where it went (stored, or still only a sealed reference: a new one in its URL).
    const after = outcome.redirect.startsWith('/flow/') ? await machine.services.flows.lookup(outcome.redirect.slice('/flow/'.length)) : { state: 'missing' as const };
    const flow = after.state === 'live' && after.flow.id === before.id ? after.flow : null;
    if (flow) latest.set(url, outcome.redirect);
    const declared = tableOf(FLOW_KINDS[before.kind])[before.step]![action]!.to;
    // Ended (finished), or moved to a step its table does not name (the next required action): 'next'.
    const to: Target = !flow ? 'next' : flow.step === before.step ? before.step : declared.includes(flow.step) ? flow.step : 'next';
    seen.push({ kind: before.kind, from: before.step, action, to });
    return { ...outcome, flow };
  }

  async function refused(promise: Promise<unknown>, code: ErrorCode): Promise<AppError> {
    try {
      await promise;
    } catch (err) {
      assert.ok(err instanceof AppError, `an AppError, not ${String(err)}`);
      assert.equal(err.code, code);
      return err;
    }
    assert.fail(`expected ${code}`);
  }

  async function signInUrl(resume: Resume = APP): Promise<string> {
    return flowStarts(machine).signIn(resume, BROWSER);
  }

  it('every table is closed: each target is a step of the same kind, `next` or `end`, and each step has a page', () => {
    for (const spec of Object.values(FLOW_KINDS)) {
      const table = tableOf(spec);
      for (const [step, actions] of Object.entries(table)) {
        for (const [action, t] of Object.entries(actions!)) {
          for (const target of t.to) {
            assert.ok(target === 'next' || target === 'end' || Object.hasOwn(table, target), `${spec.kind}: ${step} --${action}--> ${target}`);
          }
        }
        assert.ok(spec.pages[step as Step] ?? spec.actions.some((a) => a.pages[step as Step]), `${spec.kind}: a page for ${step}`);
      }
    }
  });

  it('refuses, at every step of every kind, each action its table does not allow, and changes nothing', async () => {
    const allen = (await services.directory.findByLoginId(DEMO.student.loginId))!;
    const all = [...machine.actions()].filter((a) => a !== 'cancel');
    let checked = 0;
    for (const spec of Object.values(FLOW_KINDS)) {
      for (const [step, allowed] of Object.entries(tableOf(spec))) {
        const flow = await machine.services.flows.create({ kind: spec.kind, step: step as Step, resume: APP, accountId: allen.id, pending: ['change-password'] }, BROWSER);
        await machine.services.flows.save(flow);
        const stored = await store.get(keys.flow(flow.id));
        assert.ok(stored, `${spec.kind}/${step} with a pending action is stored`);
        for (const action of all.filter((a) => !Object.hasOwn(allowed!, a))) {
          await refused(machine.act(flow.id, action, { fields: {}, browserSecret: BROWSER }), 'SSPR 5102');
          assert.equal(await store.get(keys.flow(flow.id)), stored, `${spec.kind}/${step}: ${action} changed the flow`);
          checked++;
        }
      }
    }
    assert.ok(checked > 100, `${checked} refused transitions`);
  });

  it('sign-in: a wrong password stays, a right one finishes with a new SSO session at the time the password was verified', async () => {
    const url = await signInUrl();
    const empty = await act(url, 'sign-in', { username: DEMO.student.loginId });
    assert.deepEqual(empty.flow!.error, { id: 'signin.missing_fields' });
    const wrong = await act(url, 'sign-in', { username: DEMO.student.loginId, password: 'not-it' });
    assert.equal(wrong.flow!.step, 'credentials');
    assert.equal(text(wrong.flow!.error!), 'Login failed. The username or password you entered is incorrect. Please try again.');
    now += 5_000;
    const done = await act(url, 'sign-in', { username: DEMO.student.loginId, password: DEMO.student.password });
    assert.equal(done.flow, null, 'the flow is over');
    assert.equal(done.redirect, `/interaction/${APP.kind === 'oidc' ? APP.uid : ''}`);
    assert.ok(done.session);
    assert.equal(done.session.authTime, now);
    assert.deepEqual(done.session.amr, ['pwd']);
    await refused(machine.act(refOf(url), 'sign-in', { fields: {}, browserSecret: BROWSER }), 'SSPR 5101');
  });

  it('sign-in by badge: an unknown one stays, a valid one finishes (amr badge); with a PIN: wrong stays, five lock, Go Back, right finishes', async () => {
    const allen = (await services.directory.findByLoginId(DEMO.student.loginId))!;
    const by = { actor: 'test', actorName: 'Test' };
    const url = await signInUrl();
    assert.deepEqual((await act(url, 'badge', { badge: 'MIMS-BADGE:1:nothing' })).flow!.error, { id: 'badge.unknown' });
    const [plain] = await services.badges.issue([allen], by, {});
    const done = await act(url, 'badge', { badge: plain!.secret });
    assert.equal(done.flow, null);
    assert.deepEqual(done.session!.amr, ['badge']);

    settings.badges.pinDigits = 4;
    const [withPin] = await services.badges.issue([allen], by, {});
    const wrong = withPin!.pin === '0000' ? '1111' : '0000';
    const locking = await signInUrl();
    assert.equal((await act(locking, 'badge', { badge: withPin!.secret })).flow!.step, 'badge-pin');
    for (let i = 1; i < 5; i++) assert.deepEqual((await act(locking, 'pin', { pin: wrong })).flow!.error, { id: 'badge.pin_wrong' });
    const locked = await act(locking, 'pin', { pin: wrong });
    assert.equal(locked.flow!.step, 'credentials');
    assert.deepEqual(locked.flow!.error, { id: 'signin.locked' });
    await services.lockout.unlock(allen.loginId);
    const url2 = await signInUrl();
    assert.equal((await act(url2, 'badge', { badge: withPin!.secret })).flow!.step, 'badge-pin');
    assert.equal((await act(url2, 'badge-back')).flow!.step, 'credentials');
    assert.equal((await act(url2, 'badge', { badge: withPin!.secret })).flow!.step, 'badge-pin');
    const pinned = await act(url2, 'pin', { pin: withPin!.pin! });
    assert.equal(pinned.flow, null);
    assert.deepEqual(pinned.session!.amr, ['badge', 'pin']);
  });

  it('app-notice: Continue records the app on the account and keeps the session', async () => {
    const allen = (await services.directory.findByLoginId(DEMO.student.loginId))!;
    const session = await services.sso.create(allen.id, ['pwd'], now - 60_000);
    const url = await machine.start('app-notice', { step: 'app-notice', resume: APP, accountId: allen.id, app: { key: 'oidc:test-web', name: 'Test web app', receives: ['name'] } }, BROWSER);
    const page = await machine.page(refOf(url), BROWSER);
    assert.equal(page.view, 'app-notice');
    assert.deepEqual(page.data.lines, ['notice.receives.id', 'notice.receives.name']);
    const done = await act(url, 'app-notice/continue', {}, { ssoSessionId: session.id });
    assert.equal(done.flow, null);
    assert.equal(done.session, undefined, 'the session goes on as it was');
    assert.deepEqual((await services.directory.get(allen.id))!.appsNoticed, ['oidc:test-web']);
  });

  it('sign-in with every required action: questions (with Go Back) then password, then the session', async () => {
    const farah = (await services.directory.findByLoginId('farah_aziz@students.edu.sg'))!;
    await services.directory.update(farah.id, (a) => ({ ...a, mustChangePassword: true }));
    const url = await signInUrl();
    const signedIn = await act(url, 'sign-in', { username: farah.loginId, password: 'Rivervale#Start24' });
    assert.equal(signedIn.flow!.step, 'questions');
    assert.deepEqual(signedIn.flow!.pending, ['setup-questions', 'change-password']);
    assert.equal(signedIn.session, undefined, 'no session while an action is pending');

    const bad = await act(url, 'questions', { ...ANSWERS, a2: 'Tiger' });
    assert.equal(bad.flow!.step, 'questions');
    assert.equal(text(bad.flow!.fieldErrors!.a2!), 'Each answer must be different.');
    assert.equal((await act(url, 'questions', ANSWERS)).flow!.step, 'questions-confirm');
    assert.equal((await act(url, 'questions/back')).flow!.step, 'questions');
    assert.equal((await act(url, 'questions', ANSWERS)).flow!.step, 'questions-confirm');
    const other = await refused(machine.act(refOf(url), 'questions/confirm', { fields: {}, browserSecret: OTHER_BROWSER }), 'SSPR 5102');
    assert.match(other.detail!, /another browser/);
    assert.equal((await act(url, 'questions/confirm')).flow!.step, 'questions-done');
    assert.equal((await services.directory.get(farah.id))!.questions.length, 3);
    // Replaying a finished step: the flow has moved on.
    await refused(machine.act(refOf(url), 'questions/confirm', { fields: {}, browserSecret: BROWSER }), 'SSPR 5102');

    assert.equal((await act(url, 'continue')).flow!.step, 'password');
    assert.deepEqual((await act(url, 'password', { newPassword: '' })).flow!.error, { id: 'password.missing' });
    assert.deepEqual((await act(url, 'password', { newPassword: NEW_PASSWORD, confirmPassword: 'other' })).flow!.error, { id: 'password.mismatch' });
    const weak = await act(url, 'password', { newPassword: 'short', confirmPassword: 'short' });
    assert.deepEqual(weak.flow!.problems!.map((m) => m.id), ['password.violation.PWD_MIN_LENGTH', 'password.violation.PWD_CHAR_TYPES']);
    assert.equal(text(weak.flow!.problems![0]!), 'Must be at least 12 characters long.');
    assert.equal((await act(url, 'password', { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD })).flow!.step, 'password-wait');
    assert.equal((await act(url, 'password/commit')).flow!.step, 'password-done');
    await refused(machine.act(refOf(url), 'password/commit', { fields: {}, browserSecret: BROWSER }), 'SSPR 5102');
    const done = await act(url, 'continue');
    assert.equal(done.flow, null);
    assert.ok(done.session, 'a password was verified in this flow: a session');
    assert.equal((await services.authenticator.signIn(farah.loginId, NEW_PASSWORD, {})).ok, true);
  });

  it('required actions for a live session keep that session: same id, authentication time; no new session', async () => {
    const allen = (await services.directory.findByLoginId(DEMO.student.loginId))!;
    const session = await services.sso.create(allen.id, ['pwd'], now - 60_000);
    await services.directory.update(allen.id, (a) => ({ ...a, questions: [] }));
    const verdict = await services.gate(session);
    assert.equal(verdict.reason, 'required_actions');
    const url = await flowStarts(machine).runFirst(verdict as Refusal, APP, BROWSER);
    const flow = await flowOf(url);
    assert.equal(flow.kind, 'required-actions');
    assert.equal(flow.step, 'questions');
    await act(url, 'questions', ANSWERS);
    await act(url, 'questions/confirm');
    const done = await act(url, 'continue', {}, { ssoSessionId: session.id });
    assert.equal(done.flow, null);
    assert.equal(done.session, undefined, 'no new session');
    assert.equal(done.redirect, '/interaction/interaction-uid-1');
    const kept = await services.sso.get(session.id);
    assert.equal(kept?.authTime, now - 60_000);
    assert.equal((await services.gate(kept)).proceed, true);
  });

  it('the gate: no session or another account or a stale one, each runs what it must', async () => {
    const allen = (await services.directory.findByLoginId(DEMO.student.loginId))!;
    const starts = flowStarts(machine);
    const none = await services.gate(null);
    assert.equal((await flowOf(await starts.runFirst(none as Refusal, APP, BROWSER))).kind, 'sign-in');
    const session = await services.sso.create(allen.id, ['pwd'], now - 60_000);
    const stale = await services.gate(session, { authenticatedSince: now - 1_000 });
    assert.equal(stale.reason, 'not_fresh');
    const reauth = await flowOf(await starts.runFirst(stale as Refusal, APP, BROWSER));
    assert.equal(reauth.accountId, allen.id, 're-authentication of the session\'s account');
    const other = await services.gate(session, { accountId: 'someone-else' });
    assert.equal(other.run, 'refuse');
    await assert.rejects(starts.runFirst(other as Refusal, APP, BROWSER), /answered by the caller/);
    await services.directory.update(allen.id, (a) => ({ ...a, status: 'disabled' }));
    const inactive = await services.gate(session);
    assert.equal(inactive.reason, 'account_inactive');
    await starts.runFirst(inactive as Refusal, APP, BROWSER);
    assert.equal(await services.sso.get(session.id), null, 'the inactive account\'s session is over');
  });

  it('forgot password: decoy for an unknown ID, wrong answers, a locked account unlocked, then a new sign-in', async () => {
    const starts = flowStarts(machine);
    const unknown = await starts.forgotPassword(APP, BROWSER);
    assert.deepEqual((await act(unknown, 'forgot/search', { username: ' ' })).flow!.error, { id: 'forgot.missing_login_id' });
    const decoy = await act(unknown, 'forgot/search', { username: 'nobody@students.edu.sg' });
    assert.equal(decoy.flow!.step, 'fp-answers');
    assert.equal(decoy.flow!.candidate!.decoy, true);
    assert.equal((await act(unknown, 'forgot/answers', { a0: 'x', a1: 'y', a2: 'z' })).flow!.step, 'fp-answers');

    const allen = (await services.directory.findByLoginId(DEMO.student.loginId))!;
    await services.lockout.lock(allen.loginId);
    const url = await starts.forgotPassword(APP, BROWSER);
    await act(url, 'forgot/search', { username: allen.loginId });
    const wrong = await act(url, 'forgot/answers', { a0: 'Ramen', a1: 'Shark', a2: 'wrong' });
    assert.equal(text(wrong.flow!.error!), 'One or more responses are not correct. Please try again.');
    assert.equal((await act(url, 'forgot/answers', { a0: 'ramen', a1: ' SHARK ', a2: 'Turquoise' })).flow!.step, 'fp-locked');
    assert.equal((await act(url, 'forgot/unlock')).flow!.step, 'fp-unlocked');
    assert.equal(await services.credentials.lockedSince(allen), null);
    const done = await act(url, 'continue');
    assert.equal(done.flow, null);
    const next = await flowOf(done.redirect);
    assert.equal(next.kind, 'sign-in', 'then sign in, for the same destination');
    assert.deepEqual(next.resume, APP);

    // Locked, and "Change Password" instead of unlocking; then answers of an unlocked account go to the password at once.
    await services.lockout.lock(allen.loginId);
    const change = await starts.forgotPassword(APP, BROWSER);
    await act(change, 'forgot/search', { username: allen.loginId });
    await act(change, 'forgot/answers', { a0: 'Ramen', a1: 'Shark', a2: 'Turquoise' });
    assert.equal((await act(change, 'forgot/change')).flow!.step, 'password');
    // Not locked: right answers lead straight to Change Password.
    await services.lockout.unlock(allen.loginId);
    const direct = await starts.forgotPassword(APP, BROWSER);
    await act(direct, 'forgot/search', { username: allen.loginId });
    assert.equal((await act(direct, 'forgot/answers', { a0: 'Ramen', a1: 'Shark', a2: 'Turquoise' })).flow!.step, 'password');
  });

  it('forgot password ends with its error page: no questions (when revealed), too many wrong answers', async () => {
    const starts = flowStarts(machine);
    machine.services.forgotPassword.revealNoQuestions = true;
    const farah = await starts.forgotPassword(APP, BROWSER);
    await refused(machine.act(refOf(farah), 'forgot/search', { fields: { username: 'farah_aziz@students.edu.sg' }, browserSecret: BROWSER }), 'SSPR 5006');
    seen.push({ kind: 'forgot-password', from: 'fp-username', action: 'forgot/search', to: 'end' });
    // A flow that was only a reference leaves nothing behind (it was never stored).
    assert.equal(await store.get(keys.flow((await flowOf(farah)).id)), null, 'nothing stored for it');

    let ended = false;
    for (let i = 0; i < 20 && !ended; i++) {
      const url = await starts.forgotPassword(APP, BROWSER);
      await act(url, 'forgot/search', { username: DEMO.staff.loginId });
      try {
        await act(url, 'forgot/answers', { a0: 'a', a1: 'b', a2: 'c' });
      } catch (err) {
        assert.ok(err instanceof AppError && err.code === 'SSPR 5112', String(err));
        // Only a reference (nothing stored): posting it again meets the same limit.
        assert.equal(await store.get(keys.flow((await flowOf(url)).id)), null);
        await refused(machine.act(refOf(url), 'forgot/answers', { fields: { a0: 'a', a1: 'b', a2: 'c' }, browserSecret: BROWSER, ip: '192.0.2.7' }), 'SSPR 5112');
        seen.push({ kind: 'forgot-password', from: 'fp-answers', action: 'forgot/answers', to: 'end' });
        ended = true;
      }
    }
    assert.ok(ended, 'the answer limit ends the flow');
  });

  it('SSPR: the current password first; cancel goes back to the SSPR app; finishing keeps the session', async () => {
    const allen = (await services.directory.findByLoginId(DEMO.student.loginId))!;
    const session = await services.sso.create(allen.id, ['pwd'], now - 60_000);
    const starts = flowStarts(machine);
    const cancelled = await starts.sspr(allen.id, 'password', BROWSER);
    const out = await machine.act(refOf(cancelled), 'cancel', { fields: {}, browserSecret: BROWSER });
    assert.equal(out.redirect, '/portal/sspr');

    const url = await starts.sspr(allen.id, 'password', BROWSER);
    assert.deepEqual((await act(url, 'reauth', {})).flow!.error, { id: 'reauth.missing_password' });
    // Only the password was asked: the message says password, not "username or password" (issue 15, item 9).
    assert.deepEqual((await act(url, 'reauth', { password: 'nope' })).flow!.error, { id: 'reauth.failed' });
    assert.equal((await act(url, 'reauth', { password: DEMO.student.password })).flow!.step, 'password');
    await act(url, 'password', { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
    await act(url, 'password/commit', {}, { ssoSessionId: session.id });
    const done = await act(url, 'continue', {}, { ssoSessionId: session.id });
    assert.equal(done.redirect, '/portal/sspr');
    assert.equal(done.session, undefined);
    assert.ok(await services.sso.get(session.id), 'the browser\'s own session goes on');

    // Moments later in the same browser the app's other task does not ask again (issue 15, item 9)...
    assert.equal((await flowOf(await starts.sspr(allen.id, 'questions', BROWSER))).step, 'questions');
    // ...another browser is asked.
    const questions = await starts.sspr(allen.id, 'questions', OTHER_BROWSER);
    const other = { browserSecret: OTHER_BROWSER };
    assert.equal((await act(questions, 'reauth', { password: DEMO.student.password }, other)).flow!.step, 'reauth', 'the old password no longer');
    assert.equal((await act(questions, 'reauth', { password: NEW_PASSWORD }, other)).flow!.step, 'questions');
  });

  it('recovery email: offered after the questions, confirmed by a code; Forgotten Password by a code; the SSPR app changes or removes it', async () => {
    services.recoveryEmails.settings.offer.students = true;
    services.recoveryEmails.settings.maxSendsPerAccount = 100;
    const codeTo = (address: string) => String([...sent].reverse().find((m) => m.to === address && /code/.test(m.kind))!.params.code);
    const farah = (await services.directory.findByLoginId('farah_aziz@students.edu.sg'))!;
    const url = await signInUrl();
    await act(url, 'sign-in', { username: farah.loginId, password: 'Rivervale#Start24' });
    await act(url, 'questions', ANSWERS);
    await act(url, 'questions/confirm');
    const offer = await act(url, 'continue');
    assert.equal(offer.flow!.step, 're-offer');
    assert.deepEqual(offer.flow!.pending, ['recovery-email', 'change-password'], 'offered right after the questions');
    assert.deepEqual((await act(url, 'recovery-email/send', { email: 'not an address' })).flow!.fieldErrors, { email: { id: 'recovery.invalid_address' } });
    assert.equal((await act(url, 'recovery-email/send', { email: 'Farah.Home@Example.org' })).flow!.step, 're-confirm');
    const first = codeTo('farah.home@example.org');
    assert.deepEqual((await act(url, 'recovery-email/confirm', { code: first === '000000' ? '111111' : '000000' })).flow!.error, { id: 'recovery.code_wrong' });
    assert.deepEqual((await act(url, 'recovery-email/resend')).flow!.notice, { id: 'recovery.code_resent' });
    assert.equal((await act(url, 'recovery-email/confirm', { code: first === codeTo('farah.home@example.org') ? '999999' : first })).flow!.step, 're-confirm', 'the first code stopped working');
    assert.equal((await act(url, 'recovery-email/back')).flow!.step, 're-offer');
    await act(url, 'recovery-email/send', { email: 'farah.home@example.org' });
    assert.equal((await act(url, 'recovery-email/confirm', { code: codeTo('farah.home@example.org') })).flow!.step, 're-done');
    assert.equal((await services.directory.get(farah.id))!.recoveryEmail?.address, 'farah.home@example.org');
    assert.equal((await act(url, 'continue')).flow!.step, 'password', 'then the temporary password is changed');
    await act(url, 'password', { newPassword: NEW_PASSWORD, confirmPassword: NEW_PASSWORD });
    await act(url, 'password/commit');
    const done = await act(url, 'continue');
    assert.equal(done.flow, null);
    assert.ok(done.session, 'then the sign-in finishes');

    // Forgotten Password: a code instead of the answers (wrong, again, back to the questions, right).
    const starts = flowStarts(machine);
    const fp = await starts.forgotPassword(APP, BROWSER);
    await act(fp, 'forgot/search', { username: farah.loginId });
    assert.equal((await act(fp, 'forgot/send-code')).flow!.step, 'fp-code');
    assert.equal((await act(fp, 'forgot/code', { code: 'x' })).flow!.step, 'fp-code');
    assert.equal((await act(fp, 'forgot/send-code')).flow!.step, 'fp-code');
    assert.equal((await act(fp, 'forgot/questions')).flow!.step, 'fp-answers');
    await act(fp, 'forgot/send-code');
    assert.equal((await act(fp, 'forgot/code', { code: codeTo('farah.home@example.org') })).flow!.step, 'password');
    // Locked: a right code leads to Unlock, as right answers do.
    await services.lockout.lock(farah.loginId);
    const locked = await starts.forgotPassword(APP, BROWSER);
    await act(locked, 'forgot/search', { username: farah.loginId });
    await act(locked, 'forgot/send-code');
    assert.equal((await act(locked, 'forgot/code', { code: codeTo('farah.home@example.org') })).flow!.step, 'fp-locked');
    // Too many codes asked for: said on the page, nothing sent.
    services.recoveryEmails.settings.maxSendsPerAccount = 1;
    const many = await starts.forgotPassword(APP, BROWSER);
    await act(many, 'forgot/search', { username: farah.loginId });
    const count = sent.length;
    assert.deepEqual((await act(many, 'forgot/send-code')).flow!.error, { id: 'recovery.send_throttled' });
    assert.equal(sent.length, count);
    // Reset codes asked for by anyone never use up the owner's confirmations (separate budgets).
    assert.equal(await services.recoveryCodes.maySend('reset', 'pupil.x@students.edu.sg', '192.0.2.8'), true);
    assert.equal(await services.recoveryCodes.maySend('reset', 'pupil.x@students.edu.sg', '192.0.2.8'), false);
    assert.equal(await services.recoveryCodes.maySend('confirm', 'pupil.x@students.edu.sg', '192.0.2.9'), true);
    services.recoveryEmails.settings.maxSendsPerAccount = 100;
    // An unknown login ID: the same steps, nothing sent, and the answer limit ends it.
    let ended = false;
    const nobody = await starts.forgotPassword(APP, BROWSER);
    await act(nobody, 'forgot/search', { username: 'nobody.at.all@students.edu.sg' });
    await act(nobody, 'forgot/send-code');
    for (let i = 0; i < 10 && !ended; i++) {
      try {
        await act(nobody, 'forgot/code', { code: '123456' });
      } catch (err) {
        assert.ok(err instanceof AppError && err.code === 'SSPR 5112', String(err));
        seen.push({ kind: 'forgot-password', from: 'fp-code', action: 'forgot/code', to: 'end' });
        ended = true;
      }
    }
    assert.ok(ended, 'the answer limit counts codes');
    assert.equal(sent.filter((m) => m.to.includes('nobody')).length, 0);
    // While answers are refused, no code is sent (it could not be used): the flow ends, from either step.
    const endsAtSend = async (flowUrl: string, from: Step) => {
      try {
        await act(flowUrl, 'forgot/send-code');
        assert.fail('a code was sent while answers are refused');
      } catch (err) {
        assert.ok(err instanceof AppError && err.code === 'SSPR 5112', String(err));
        seen.push({ kind: 'forgot-password', from, action: 'forgot/send-code', to: 'end' });
      }
    };
    const again = await starts.forgotPassword(APP, BROWSER);
    await act(again, 'forgot/search', { username: 'nobody.at.all@students.edu.sg' });
    await endsAtSend(again, 'fp-answers');
    const other = await starts.forgotPassword(APP, BROWSER);
    await act(other, 'forgot/search', { username: 'nobody.else@students.edu.sg' });
    await act(other, 'forgot/send-code');
    for (let i = 0; i < 20; i++) await services.answerLimiter.begin('nobody.else@students.edu.sg', '192.0.2.99');
    await endsAtSend(other, 'fp-code');

    // The SSPR app: the password first; skip; send then skip; change (the old address told); remove.
    const allen = (await services.directory.findByLoginId(DEMO.student.loginId))!;
    const sspr = await starts.sspr(allen.id, 'email', BROWSER);
    assert.deepEqual((await act(sspr, 'reauth', { password: 'nope' })).flow!.error, { id: 'reauth.failed' });
    assert.equal((await act(sspr, 'reauth', { password: DEMO.student.password })).flow!.step, 're-offer');
    assert.equal((await act(sspr, 'recovery-email/skip')).redirect, '/portal/sspr');
    const half = await starts.sspr(allen.id, 'email', BROWSER);
    await act(half, 'recovery-email/send', { email: 'allen.first@example.org' });
    assert.equal((await act(half, 'recovery-email/skip')).redirect, '/portal/sspr');
    assert.equal((await services.directory.get(allen.id))!.recoveryEmail ?? null, null, 'skipped: nothing saved');
    await services.recoveryEmails.set(allen.id, 'allen.first@example.org', { lang: 'en' });
    const change = await starts.sspr(allen.id, 'email', BROWSER);
    await act(change, 'recovery-email/send', { email: 'allen.second@example.org' });
    await act(change, 'recovery-email/confirm', { code: codeTo('allen.second@example.org') });
    assert.ok(sent.some((m) => m.to === 'allen.first@example.org' && m.kind === 'email-changed' && m.params.masked === 'a***@example.org'));
    const remove = await starts.sspr(allen.id, 'email', BROWSER);
    assert.equal((await act(remove, 'recovery-email/remove')).flow!.step, 're-done');
    assert.ok(sent.some((m) => m.to === 'allen.second@example.org' && m.kind === 'email-removed'));
    assert.equal((await services.directory.get(allen.id))!.recoveryEmail, null);
    // Questions cleared by an administrator, the session still live: the offer follows them there too, and the session goes on.
    const bella = (await services.directory.findByLoginId(DEMO.student2.loginId))!;
    const session = await services.sso.create(bella.id, ['pwd'], now - 60_000);
    await services.directory.update(bella.id, (a) => ({ ...a, questions: [] }));
    const ra = await flowStarts(machine).runFirst((await services.gate(session)) as Refusal, APP, BROWSER);
    await act(ra, 'questions', ANSWERS);
    await act(ra, 'questions/confirm');
    const raOffer = await act(ra, 'continue', {}, { ssoSessionId: session.id });
    assert.equal(raOffer.flow!.kind, 'required-actions');
    assert.equal(raOffer.flow!.step, 're-offer');
    const raDone = await act(ra, 'recovery-email/skip', {}, { ssoSessionId: session.id });
    assert.equal(raDone.session, undefined, 'skipped: the session goes on, no new one');
    assert.ok(await services.sso.get(session.id));
    // Removing is the SSPR app's only: at first sign-in it is refused.
    await services.directory.update(allen.id, (a) => ({ ...a, questions: [] }));
    const first2 = await signInUrl();
    await act(first2, 'sign-in', { username: allen.loginId, password: DEMO.student.password });
    await act(first2, 'questions', ANSWERS);
    await act(first2, 'questions/confirm');
    await act(first2, 'continue');
    await refused(machine.act(refOf(first2), 'recovery-email/remove', { fields: {}, browserSecret: BROWSER }), 'SSPR 5102');
  });

  it('cancel: an application waiting is told; forgot password goes back to signing in', async () => {
    const starts = flowStarts(machine);
    const signIn = await signInUrl({ kind: 'saml', pendingId: 'pending-1', spId: 'fixture-sp' });
    assert.equal((await machine.act(refOf(signIn), 'cancel', { fields: {}, browserSecret: BROWSER })).redirect, '/saml/resume/pending-1/abort');
    const portal = await signInUrl({ kind: 'portal', path: '/portal' });
    assert.equal((await machine.act(refOf(portal), 'cancel', { fields: {}, browserSecret: BROWSER })).redirect, '/flow/cancelled');
    const forgot = await starts.forgotPassword(APP, BROWSER);
    const back = await machine.act(refOf(forgot), 'cancel', { fields: {}, browserSecret: BROWSER });
    assert.equal((await flowOf(back.redirect)).kind, 'sign-in');
  });

  it('expiry follows the clock: idle, and absolute however active; the page offers the original destination', async () => {
    const url = await signInUrl();
    now += settings.flow.idleSeconds * 1000 - 1;
    await act(url, 'sign-in', { username: 'x@students.edu.sg' }); // activity re-arms the idle timer
    now += settings.flow.idleSeconds * 1000 + 1;
    // A passkey answer to an expired page is refused (its challenge is gone); so is the page.
    const idle = await refused(machine.act(refOf(url), 'passkey', { fields: {}, browserSecret: BROWSER }), 'SSPR 5101');
    assert.equal(idle.continueTo, '/interaction/interaction-uid-1');
    await refused(machine.page(refOf(url), BROWSER), 'SSPR 5101');
    // The login form of an expired page: a fresh flow for the same request takes the post.
    const late = await signInUrl();
    now += settings.flow.idleSeconds * 1000 + 1;
    const fresh = await machine.act(refOf(late), 'sign-in', { fields: { username: DEMO.student.loginId }, browserSecret: BROWSER });
    const freshFlow = await flowOf(fresh.redirect);
    assert.notEqual(fresh.redirect, late);
    assert.deepEqual(freshFlow.resume, APP);
    assert.deepEqual(freshFlow.error, { id: 'signin.missing_fields' }, 'the post was processed in the fresh flow');
    await refused(machine.page(refOf(late), BROWSER), 'SSPR 5101');
    // ...and when the application's request is gone: the portal's login prompt, the username kept, the password not checked.
    const gone = await signInUrl({ kind: 'oidc', uid: 'gone-uid', clientId: 'test-web' });
    now += settings.flow.idleSeconds * 1000 + 1;
    const retype = await machine.act(refOf(gone), 'sign-in', { fields: { username: DEMO.student.loginId, password: DEMO.student.password }, browserSecret: BROWSER });
    const retypeFlow = await flowOf(retype.redirect);
    assert.equal(retype.session, undefined);
    assert.deepEqual(retypeFlow.resume, { kind: 'portal', path: '/portal' });
    assert.deepEqual(retypeFlow.notice, { id: 'signin.page_expired' });
    assert.deepEqual(retypeFlow.form, { username: DEMO.student.loginId });
    assert.equal(retypeFlow.error, undefined);

    const busy = await signInUrl();
    const deadline = now + settings.flow.maxMinutes * 60_000;
    while (now + settings.flow.idleSeconds * 500 < deadline) {
      await act(busy, 'sign-in', { username: 'x@students.edu.sg' });
      now += settings.flow.idleSeconds * 500;
    }
    now = deadline;
    await refused(machine.act(refOf(busy), 'passkey', { fields: {}, browserSecret: BROWSER }), 'SSPR 5101');

    const sspr = await flowStarts(machine).sspr('some-account', 'password', BROWSER);
    now += settings.flow.idleSeconds * 1000;
    assert.equal((await refused(machine.page(refOf(sspr), BROWSER), 'SSPR 5101')).continueTo, '/portal/sspr');
  });

  it('a flow is bound to the browser that began it', async () => {
    const url = await signInUrl();
    const flow = await flowOf(url);
    assert.equal(flow.binding, bindingOf(BROWSER));
    const ref = refOf(url);
    await refused(machine.page(ref, OTHER_BROWSER), 'SSPR 5102');
    await refused(machine.act(ref, 'sign-in', { fields: { username: DEMO.student.loginId, password: DEMO.student.password }, browserSecret: OTHER_BROWSER }), 'SSPR 5102');
    await refused(machine.act('not-a-flow-id-at-all', 'passkey', { fields: {}, browserSecret: BROWSER }), 'SSPR 5101');
    // An expired flow of another browser is still refused as another browser's, not restarted.
    now += settings.flow.idleSeconds * 1000 + 1;
    await refused(machine.act(ref, 'sign-in', { fields: { username: DEMO.student.loginId, password: DEMO.student.password }, browserSecret: OTHER_BROWSER }), 'SSPR 5102');
    // The login form posted to a flow no longer known: a fresh login prompt for the portal.
    const unknown = await machine.act('not-a-flow-id-at-all', 'sign-in', { fields: { username: DEMO.student.loginId }, browserSecret: BROWSER });
    assert.deepEqual((await flowOf(unknown.redirect)).notice, { id: 'signin.page_expired' });
  });

  describe('two-step sign-in (an administrator: required by the default policy)', () => {
    const GRACE = { loginId: 'grace_lee@hq.moe.gov.sg', password: 'Summit=Harbour84' };

    async function totpCode(secret: string): Promise<string> {
      return generate({ secret, epoch: Math.floor(now / 1000) });
    }

    /** Signs Grace in with her password and sets up an authenticator app; resolves to its secret and her recovery codes. */
    async function enrolGrace(): Promise<{ secret: string; codes: string[] }> {
      const url = await signInUrl();
      const signedIn = await act(url, 'sign-in', { username: GRACE.loginId, password: GRACE.password });
      assert.equal(signedIn.flow!.step, 'mfa-choose', 'an administrator without a second factor sets one up first');
      assert.deepEqual(signedIn.flow!.pending, ['setup-mfa']);
      assert.equal((await act(url, 'mfa-setup/passkey')).flow!.step, 'mfa-passkey');
      const page = await machine.page(refOf(url), BROWSER);
      assert.equal(page.view, 'mfa-passkey');
      assert.deepEqual((await act(url, 'mfa-setup/passkey-confirm', { credential: '' })).flow!.error, { id: 'mfa.passkey_cancelled' });
      assert.equal((await act(url, 'mfa-setup/back')).flow!.step, 'mfa-choose');
      assert.equal((await act(url, 'mfa-setup/totp')).flow!.step, 'mfa-totp');
      assert.equal((await act(url, 'mfa-setup/back')).flow!.step, 'mfa-choose');
      await act(url, 'mfa-setup/totp');
      const secret = String((await machine.page(refOf(url), BROWSER)).data.secret).replace(/ /g, '');
      assert.deepEqual((await act(url, 'mfa-setup/totp-confirm', { code: ' ' })).flow!.error, { id: 'mfa.code_missing' });
      assert.deepEqual((await act(url, 'mfa-setup/totp-confirm', { code: '000000' })).flow!.error, { id: 'mfa.code_wrong' });
      const enrolled = await act(url, 'mfa-setup/totp-confirm', { code: await totpCode(secret) });
      assert.equal(enrolled.flow!.step, 'mfa-recovery');
      const codes = (await machine.page(refOf(url), BROWSER)).data.codes as string[];
      assert.equal(codes.length, 10);
      const grace = (await services.directory.findByLoginId(GRACE.loginId))! as Account & { mfa?: { totp: { sealedSecret: string }; recoveryCodes: string[] } };
      assert.ok(!JSON.stringify(grace.mfa).includes(secret), 'the secret is sealed in the store');
      assert.ok(!grace.mfa!.recoveryCodes.includes(codes[0]!), 'recovery codes are kept hashed');
      const done = await act(url, 'continue');
      assert.deepEqual(done.session!.amr, ['pwd', 'otp', 'mfa'], 'setting up the app proved it');
      return { secret, codes };
    }

    it('setting up a factor is a required action; then every sign-in asks for it; a code is accepted once', async () => {
      const { secret } = await enrolGrace();
      const url = await signInUrl();
      // A sign-in page that is only a reference has its challenge derived from it, shown or not.
      assert.deepEqual((await act(url, 'passkey', { credential: '{"id":"unknown","response":{}}' })).flow!.error, { id: 'mfa.passkey_unknown' });
      await machine.page(refOf(url), BROWSER); // the sign-in page offers a passkey (a challenge)
      assert.deepEqual((await act(url, 'passkey', { credential: '{"id":"unknown","rawId":"unknown","type":"public-key","response":{}}' })).flow!.error, { id: 'mfa.passkey_unknown' });
      const pwd = await act(url, 'sign-in', { username: GRACE.loginId, password: GRACE.password });
      assert.equal(pwd.flow!.step, 'second-factor');
      assert.equal(pwd.session, undefined, 'no session on the password alone');
      assert.deepEqual((await act(url, 'mfa/passkey', { credential: '' })).flow!.error, { id: 'mfa.passkey_cancelled' });
      assert.deepEqual((await act(url, 'mfa/code', { code: '123456' })).flow!.error, { id: 'mfa.code_wrong' });
      assert.deepEqual((await act(url, 'mfa/code', { code: await totpCode(secret) })).flow!.error, { id: 'mfa.code_wrong' }, 'the enrolment code, replayed');
      now += 30_000;
      const done = await act(url, 'mfa/code', { code: await totpCode(secret) });
      assert.equal(done.flow, null);
      assert.deepEqual(done.session!.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(done.session!.mfaAt, now);
    });

    it('recovery codes work once each; wrong codes are limited per account', async () => {
      const { codes } = await enrolGrace();
      const url = await signInUrl();
      await act(url, 'sign-in', { username: GRACE.loginId, password: GRACE.password });
      assert.deepEqual((await act(url, 'mfa/recovery', { recoveryCode: 'aaaa-bbbb-cccc' })).flow!.error, { id: 'mfa.recovery_wrong' });
      const done = await act(url, 'mfa/recovery', { recoveryCode: codes[3]!.toUpperCase().replace(/-/g, ' ') });
      assert.ok(done.session, 'a recovery code, typed loosely');
      const again = await signInUrl();
      await act(again, 'sign-in', { username: GRACE.loginId, password: GRACE.password });
      assert.deepEqual((await act(again, 'mfa/recovery', { recoveryCode: codes[3]! })).flow!.error, { id: 'mfa.recovery_wrong' }, 'used up');
      let throttled = false;
      for (let i = 0; i < 6 && !throttled; i++) throttled = (await act(again, 'mfa/code', { code: '000000' })).flow!.error?.id === 'mfa.throttled';
      assert.ok(throttled, 'guessing is limited');
      assert.equal(text((await flowOf(again)).error!), 'Too many wrong codes. Please wait 15 minutes and try again, or use a passkey.');
      assert.deepEqual((await act(again, 'mfa/recovery', { recoveryCode: codes[4]! })).flow!.error!.id, 'mfa.throttled', 'even a right code, until the window passes');
    });

    it('step-up: a password session asked for two-step sign-in gives the second factor only, and the session is renewed with it', async () => {
      const { secret } = await enrolGrace();
      const grace = (await services.directory.findByLoginId(GRACE.loginId))!;
      const session = await services.sso.create(grace.id, ['pwd'], now - 60_000);
      const verdict = await services.gate(session, { mfa: {} });
      assert.equal(verdict.reason, 'mfa_required');
      const url = await flowStarts(machine).runFirst(verdict as Refusal, { kind: 'portal', path: '/admin' }, BROWSER);
      assert.equal((await flowOf(url)).kind, 'step-up');
      now += 30_000;
      const done = await act(url, 'mfa/code', { code: await totpCode(secret) }, { ssoSessionId: session.id });
      assert.equal(done.redirect, '/admin');
      assert.deepEqual(done.session!.amr, ['pwd', 'otp', 'mfa']);
      assert.notEqual(done.session!.id, session.id, 'a new session id after authenticating');
      assert.equal(await services.sso.get(session.id), null);
      assert.equal((await services.gate(done.session!, { mfa: { since: now - 1 } })).proceed, true);
      // Without a second factor, nothing can be stepped up: the caller answers.
      const allen = (await services.directory.findByLoginId(DEMO.student.loginId))!;
      assert.equal((await services.gate(await services.sso.create(allen.id, ['pwd']), { mfa: {} })).reason, 'mfa_unavailable');
    });

    it('the SSPR app adds another factor after the password; the account keeps its recovery codes', async () => {
      const { codes } = await enrolGrace();
      const grace = (await services.directory.findByLoginId(GRACE.loginId))!;
      const url = await flowStarts(machine).sspr(grace.id, 'mfa', BROWSER);
      assert.equal((await act(url, 'reauth', { password: 'not-it' })).flow!.step, 'reauth');
      await act(url, 'reauth', { password: GRACE.password });
      await act(url, 'mfa-setup/totp');
      const secret = String((await machine.page(refOf(url), BROWSER)).data.secret).replace(/ /g, '');
      now += 60_000;
      const done = await act(url, 'mfa-setup/totp-confirm', { code: await totpCode(secret) });
      assert.equal(done.redirect, '/portal/sspr', 'no new recovery codes: straight back');
      const m = ((await services.directory.get(grace.id)) as Account & { mfa: { recoveryCodes: string[] } }).mfa;
      assert.equal(m.recoveryCodes.length, codes.length);
    });
  });

  describe('coverage', () => {
  it('took every transition every table declares (in the tests above)', () => {
    const declared: string[] = [];
    for (const spec of Object.values(FLOW_KINDS)) {
      for (const [step, actions] of Object.entries(spec.table)) for (const [action, t] of Object.entries(actions!)) for (const to of t.to) declared.push(`${spec.kind}: ${step} --${action}--> ${to}`);
      for (const a of spec.actions) for (const [step, actions] of Object.entries(a.table)) for (const [action, t] of Object.entries(actions!)) for (const to of t.to) declared.push(`${a.action}: ${step} --${action}--> ${to}`);
    }
    const observed = new Set(seen.flatMap((s) => {
      const owner = FLOW_KINDS[s.kind].table[s.from]?.[s.action] ? s.kind : FLOW_KINDS[s.kind].actions.find((a) => a.table[s.from]?.[s.action])?.action;
      return [`${owner}: ${s.from} --${s.action}--> ${s.to}`];
    }));
    // Taken with a real passkey in Chromium (test/mfa/passkeys.test.ts: a CDP virtual authenticator).
    const inBrowser = new Set([
      'sign-in: credentials --passkey--> next',
      'second-factor: second-factor --mfa/passkey--> next',
      'setup-mfa: mfa-passkey --mfa-setup/passkey-confirm--> mfa-recovery',
      'setup-mfa: mfa-passkey --mfa-setup/passkey-confirm--> next',
    ]);
    const missing = [...new Set(declared)].filter((d) => !observed.has(d) && !inBrowser.has(d));
    assert.deepEqual(missing, [], 'declared transitions no test took');
  });
  });
});
