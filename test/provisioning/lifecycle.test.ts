// The roster's scheduled steps with a moved clock: a transfer and a leaving date given by a
// SCIM client happen at their date (the leaver's apps told by back-channel logout), a
// leaver is deleted after the population's retention period with its audit trail
// anonymised, an account nobody signed in to for dormantDays is disabled (its recovery email
// told), and running again changes nothing. From the CLI too.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { parseOidcClient } from '../../src/config/relying-parties.ts';
import { URN } from '../../src/protocols/scim/schemas.ts';
import { pseudonymOf } from '../../src/domain/provisioning/roster.ts';
import { captureServer, type CaptureServer } from '../support/backchannel.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { idOf, signedIn } from '../support/people.ts';
import { formOf } from '../support/browser.ts';

type Json = Record<string, any>;
const DAY = 86_400_000;
const SECRET = 'recording-client-secret-0123456789abcdef';
const CALLBACK = 'http://127.0.0.1:9/recording/callback';

describe('the roster lifecycle, scheduled', () => {
  let t: TestIdp;
  let rp: CaptureServer;
  let token: string;
  let now = Date.now();

  async function scim(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
    const res = await fetch(`${t.url}/scim/v2${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/scim+json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : {} };
  }

  before(async () => {
    rp = await captureServer();
    const recording = parseOidcClient({
      protocol: 'oidc', display_name: 'Recording app', client_id: 'recording-app', client_secret: SECRET,
      redirect_uris: [CALLBACK], grant_types: ['authorization_code'], backchannel_logout_uri: `${rp.url}/backchannel`, backchannel_logout_session_required: true,
    }, '(test recording-app)');
    t = await startTestIdp({
      clock: () => now, clients: [recording],
      overrides: { lifecycle: { runEveryMinutes: 0, populations: [{ name: 'students', roles: ['student'], dormantDays: 30, retentionDays: 10, joinCredential: 'slip' }] } },
    });
    token = (await t.idp.provisioningClients.issue('Cluster SIS', ['DEMO01', 'DEMO02'], 'test')).token;
  });
  after(async () => {
    await t.close();
    await rp.close();
  });

  it('moves at the transfer date and leaves at the leaving date (apps told); deletes the leaver after retention with an anonymised audit trail; a second run does nothing', async () => {
    const bella = await idOf(t, DEMO.student2.loginId);
    const allen = await idOf(t, DEMO.student.loginId);
    const at = (days: number) => new Date(now + days * DAY).toISOString();
    // Bella leaves in 3 days; Allen moves to DEMO02 in 2 days.
    const leaving = await scim('PATCH', `/Users/${bella}`, { schemas: [URN.patch], Operations: [{ op: 'add', path: `${URN.school}:leavingDate`, value: at(3) }] });
    assert.equal(leaving.status, 200, JSON.stringify(leaving.json));
    assert.equal(leaving.json[URN.school].leavingDate, at(3));
    const moving = await scim('PATCH', `/Users/${allen}`, { schemas: [URN.patch], Operations: [{ op: 'replace', value: { [`${URN.school}:schoolCode`]: 'DEMO02', [`${URN.school}:transferDate`]: at(2) } }] });
    assert.equal(moving.status, 200, JSON.stringify(moving.json));
    assert.equal((await t.idp.directory.get(allen))!.school.code, 'DEMO01', 'not before the date');

    // Bella is signed in at an app.
    const browser = await signedIn(t, DEMO.student2);
    const config = await oidc.discovery(new URL(t.url), 'recording-app', SECRET, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const step = await browser.open(oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).toString());
    const sub = (await oidc.authorizationCodeGrant(config, new URL(step.external!), { pkceCodeVerifier: verifier })).claims()!.sub;

    assert.deepEqual(await t.idp.lifecycle.run(), { at: now, moved: 0, left: 0, deleted: 0, dormant: 0, failed: 0 });
    now += 2 * DAY + 60_000;
    const day2 = await t.idp.lifecycle.run();
    assert.equal(day2.moved, 1);
    assert.equal(day2.left, 0);
    const moved = (await t.idp.directory.get(allen))!;
    assert.equal(moved.school.code, 'DEMO02');
    assert.equal(moved.loginId, DEMO.student.loginId);
    assert.equal(moved.lifecycle?.move, null);

    now += DAY;
    const day3 = await t.idp.lifecycle.run();
    assert.equal(day3.left, 1);
    const left = (await t.idp.directory.get(bella))!;
    assert.equal(left.status, 'disabled');
    assert.equal(left.lifecycle?.deleteAt, left.lifecycle!.leftAt! + 10 * DAY);
    for (let i = 0; i < 80 && !rp.requests.some((r) => r.body.includes('logout_token')); i++) await new Promise((r) => setTimeout(r, 25));
    const told = rp.requests.map((r) => new URLSearchParams(r.body).get('logout_token')).filter((v): v is string => !!v).map((v) => decodeJwt(v));
    assert.ok(told.some((c) => c.sub === sub), 'the app was told by back-channel logout');
    assert.match((await browser.open('/portal')).res.text, /name="password"/, 'her portal session ended');
    assert.deepEqual({ ...(await t.idp.lifecycle.run()), at: 0 }, { at: 0, moved: 0, left: 0, deleted: 0, dormant: 0, failed: 0 }, 'idempotent');

    now += 10 * DAY + 60_000;
    // Allen signed in yesterday (not dormant); the rest of the demo pupils did not for 40 days.
    await t.idp.directory.update(allen, (a) => ({ ...a, lastSignInAt: now - DAY }));
    const day13 = await t.idp.lifecycle.run();
    assert.equal(day13.deleted, 1);
    assert.equal(await t.idp.directory.get(bella), null);
    const trail = await t.idp.audit.recent(200, (e) => e.accountId === bella || e.actor === bella);
    assert.deepEqual(trail, [], 'no event names the deleted account any more');
    const anonymised = await t.idp.audit.recent(200, (e) => e.accountId === pseudonymOf(bella));
    assert.ok(anonymised.some((e) => e.type === 'account.left'));
    assert.ok(anonymised.some((e) => e.type === 'account.deleted'));
    assert.ok(anonymised.every((e) => e.loginId === undefined && e.ip === undefined));
    assert.equal((await t.idp.directory.get(allen))!.status, 'active');
  });

  it('disables accounts nobody signed in to for dormantDays, telling their recovery email; staff outside the population are left alone', async () => {
    const farah = await idOf(t, 'farah_aziz@students.edu.sg');
    const daniel = await idOf(t, DEMO.staff.loginId);
    now += 31 * DAY; // the demo accounts were created more than dormantDays ago
    await t.idp.directory.update(farah, (a) => ({ ...a, status: 'active', lastSignInAt: now - 31 * DAY, recoveryEmail: { address: 'farah.home@example.org', confirmedAt: now - 40 * DAY }, language: 'ms' }));
    await t.idp.directory.update(daniel, (a) => ({ ...a, lastSignInAt: now - 400 * DAY }));
    const report = await t.idp.lifecycle.run();
    assert.ok(report.dormant >= 1, JSON.stringify(report));
    const account = (await t.idp.directory.get(farah))!;
    assert.equal(account.status, 'disabled');
    assert.equal(account.lifecycle?.dormantAt, now);
    assert.equal((await t.idp.directory.get(daniel))!.status, 'active', 'staff have no dormantDays here');
    await t.idp.mail.outbox!.idle();
    const mail = t.idp.mail.mailbox!.list().find((m) => m.to === 'farah.home@example.org');
    assert.ok(mail, 'the recovery email was told');
    assert.equal(mail.subject, 'Akaun MIMS anda telah dimatikan');
    assert.ok((await t.idp.audit.recent(20)).some((e) => e.type === 'account.dormant' && e.accountId === farah));
    assert.equal((await t.idp.lifecycle.run()).dormant, 0, 'idempotent');
    // An administrator switches it on again: not dormant any more until it is unused again.
    await t.idp.administration.setStatus({ kind: 'ministry' }, { id: 'test' } as never, farah, 'active', {});
    assert.equal((await t.idp.directory.get(farah))!.status, 'active');
    assert.equal((await t.idp.lifecycle.run()).dormant, 0, 'its unused time counts from being switched on');
    now += 31 * DAY;
    await t.idp.lifecycle.run();
    assert.equal((await t.idp.directory.get(farah))!.status, 'disabled', 'unused again for dormantDays');
  });
});

describe('the roster lifecycle in /admin', () => {
  let t: TestIdp;
  const GRACE = { loginId: 'grace_lee@hq.moe.gov.sg', password: 'Summit=Harbour84' };
  const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
  before(async () => {
    t = await startTestIdp({ overrides: { lifecycle: { runEveryMinutes: 60, populations: [{ name: 'students', roles: ['student'], dormantDays: 365, retentionDays: 30, joinCredential: 'badge' }] } } });
  });
  after(async () => {
    await t.close();
  });

  it('shows the rules, what is scheduled in the administrator\'s reach and the latest runs; a ministry administrator runs it now, a school administrator cannot', async () => {
    const allen = await idOf(t, DEMO.student.loginId);
    const ivan = await idOf(t, 'ivan_teo@students.edu.sg');
    await t.idp.roster.leave(allen, Date.now() + 5 * DAY, { actor: 'test' });
    await t.idp.roster.move(ivan, { school: { code: 'DEMO01', name: 'Rivervale Demo School' }, class: null }, Date.now() + 2 * DAY, { actor: 'test' });
    const siti = await signedIn(t, SITI);
    const page = await siti.get('/admin/lifecycle');
    assert.equal(page.status, 200);
    assert.match(page.text, /Scheduled steps run every 60 minutes\./);
    assert.match(page.text, /students \(student\)[\s\S]*365 days[\s\S]*30 days[\s\S]*a sign-in badge/);
    assert.match(page.text, /Allen Tan[\s\S]*Leaves on /);
    assert.doesNotMatch(page.text, /Ivan/, 'another school\'s pupil is not in a school administrator\'s list');
    assert.doesNotMatch(page.text, /action="\/admin\/lifecycle\/run"/);
    assert.doesNotMatch(page.text, /Latest runs/, 'a run\'s counts are of every school: the ministry\'s');
    const sitiCsrf = formOf((await siti.get('/admin/apps')).text, '/admin/apps/release').hidden._csrf!;
    assert.equal((await siti.agent.post('/admin/lifecycle/run').type('form').send({ _csrf: sitiCsrf }).redirects(0)).status, 403);
    const grace = await signedIn(t, GRACE);
    const all = await grace.get('/admin/lifecycle');
    assert.match(all.text, /Ivan Teo[\s\S]*Moves to Rivervale Demo School on /);
    const ran = await grace.agent.post('/admin/lifecycle/run').type('form').send({ _csrf: formOf(all.text, '/admin/lifecycle/run').hidden._csrf! }).redirects(0);
    assert.equal(ran.status, 303);
    const after = (await grace.get(ran.headers.location!)).text;
    assert.match(after, /Done: 0 moved, 0 left, 0 deleted, 0 switched off, 0 failed\./);
    assert.match(after, /moved 0, left 0, deleted 0, dormant 0, failed 0/);
    // The account page says what is scheduled.
    assert.match((await grace.get(`/admin/accounts/${allen}`)).text, /Roster<\/dt><dd>\s*Leaves on /);
  });
});
