// OneRoster 1.2 CSV bulk import (issue 29, item 2): a zip of 10,000 users is checked line by
// line (a dry run writes nothing), committed as one job with progress, re-imported without a
// change, then a second export moves 100 pupils to another school and drops 50: their SSO
// sessions end and an OIDC app with back-channel logout gets a logout token for each.
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { strToU8, zipSync } from 'fflate';
import { parseOidcClient } from '../../src/config/relying-parties.ts';
import { levelOfGrade, OneRosterBusyError, OneRosterFileError, OneRosterImport, roleOf, type Plan, type Progress } from '../../src/domain/provisioning/oneroster.ts';
import { readZip } from '../../src/domain/provisioning/oneroster-zip.ts';
import { keys } from '../../src/store/index.ts';
import { Browser } from '../support/browser.ts';
import { captureServer, type CaptureServer } from '../support/backchannel.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { copyRoster, generateRoster, moveStudents, removeUsers, rosterFiles, rosterZip, userLine, type RosterData } from '../support/oneroster.ts';

const SECRET = 'oneroster-recording-secret-0123456789abcdef';
const REDIRECT = 'http://127.0.0.1:9/oneroster/callback';

function importerOf(t: TestIdp): OneRosterImport {
  const s = t.idp;
  return new OneRosterImport({ directory: s.directory, roster: s.roster, rows: s.provisioningRows, database: s.database, audit: s.audit, store: t.store, clock: Date.now, settings: t.settings.import });
}

function errorsOf(plan: Plan, file: string): Array<{ line: number; message: string }> {
  return plan.files.find((f) => f.file === file)?.errors ?? [];
}

describe('OneRoster CSV import', function () {
  this.timeout(180_000);
  let t: TestIdp;
  let rp: CaptureServer;
  let importer: OneRosterImport;
  let data: RosterData;
  let zip: Uint8Array;

  before(async () => {
    rp = await captureServer();
    const client = parseOidcClient({
      protocol: 'oidc', display_name: 'Roster recording app', client_id: 'roster-recording', client_secret: SECRET,
      redirect_uris: [REDIRECT], grant_types: ['authorization_code'], backchannel_logout_uri: `${rp.url}/backchannel`, backchannel_logout_session_required: true,
    }, '(test roster-recording)');
    t = await startTestIdp({ clients: [client] });
    importer = importerOf(t);
    data = generateRoster(10_000);
    zip = rosterZip(data);
  });
  after(async () => {
    await t?.close();
    await rp?.close();
  });

  it('maps roles and CEDS grades as the README says', () => {
    assert.deepEqual(['student', 'teacher', 'aide', 'administrator', 'principal', 'guardian', 'parent', 'wizard'].map(roleOf), ['student', 'staff', 'staff', 'staff', 'staff', 'guardian', 'guardian', null]);
    assert.deepEqual(['01', '06', '07', '11', '12', '13', 'KG', '14', 'S2'].map(levelOfGrade), ['P1', 'P6', 'S1', 'S5', 'JC1', 'JC2', null, null, 'S2']);
  });

  it('refuses zips it must not read: a folder, a delta export, a bomb, no orgs.csv', async () => {
    const files = rosterFiles(generateRoster(40, { prefix: 'z' }));
    await assert.rejects(importer.plan(zipSync({ 'export/users.csv': files['users.csv']! })), (e: Error) => e instanceof OneRosterFileError && /not in a folder/.test(e.message));
    const delta = strToU8('propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\nfile.users,delta\n');
    await assert.rejects(importer.plan(zipSync({ ...files, 'manifest.csv': delta })), /delta file.*bulk exports only/);
    const bomb = zipSync({ 'users.csv': new Uint8Array(8 * 1024 * 1024) }, { level: 9 });
    assert.ok(bomb.length < 64 * 1024);
    assert.throws(() => readZip(bomb, { maxEntries: 64, maxFileBytes: 4 * 1024 * 1024, maxTotalBytes: 200 * 1024 * 1024, maxZipBytes: 1024 * 1024 }), /larger than 4 MB once unpacked/);
    const { 'orgs.csv': _, ...noOrgs } = files;
    await assert.rejects(importer.plan(zipSync(noOrgs)), /no orgs\.csv/);
    await assert.rejects(importer.plan(Buffer.from('users.csv,not a zip')), /not a zip/);
  });

  it('a dry run reports each bad line with its file and line, counts what a commit would do, and writes nothing', async () => {
    const before = await t.idp.directory.count();
    const bad = copyRoster(data);
    const pupil = (i: number) => bad.users.filter((u) => u.role === 'student')[i]!;
    pupil(0).username = 'not-an-email';
    pupil(1).grades = 'KG';
    bad.users.push({ ...pupil(2), sourcedId: 'stu-duplicate' }); // the same username again
    bad.classes.push({ sourcedId: 'class-nowhere', title: '9Z', classCode: '9Z', classType: 'homeroom', schoolSourcedId: 'school-unknown', termSourcedIds: `t${data.year}-1` });
    const plan = await importer.plan(rosterZip(bad));
    const users = errorsOf(plan, 'users.csv');
    assert.deepEqual(users.map((e) => e.line), [userLine(bad, pupil(0).sourcedId), userLine(bad, pupil(1).sourcedId), bad.users.length + 1]);
    assert.match(users[0]!.message, /username: "not-an-email" is not an email address/);
    assert.match(users[1]!.message, /grades: unknown grade "KG"/);
    assert.match(users[2]!.message, new RegExp(`username: ${pupil(2).username} is also line ${userLine(bad, pupil(2).sourcedId)}`));
    const classes = errorsOf(plan, 'classes.csv');
    assert.deepEqual(classes, [{ line: bad.classes.length + 1, message: 'schoolSourcedId: school-unknown is not in orgs.csv' }]);
    // The bad pupils' enrollments are not errors twice; the report names every other file too.
    assert.deepEqual(errorsOf(plan, 'enrollments.csv'), []);
    assert.equal(plan.counts.error, 3);
    assert.equal(plan.counts.create, 10_000 - 2);
    assert.equal(plan.classCounts.skipped, 3); // the scheduled classes
    assert.equal(plan.errors, 4);
    await assert.rejects(importer.apply(plan), /4 error\(s\) in the files; nothing was imported/);
    assert.equal(await t.idp.directory.count(), before);
  });

  it('commits 10,000 users as one job with progress (a second job at once is refused), then a re-import changes nothing', async () => {
    const plan = await importer.plan(zip);
    assert.equal(plan.errors, 0, JSON.stringify(plan.files.filter((f) => f.errors.length)));
    assert.deepEqual(plan.counts, { create: 10_000, update: 0, move: 0, leave: 0, unchanged: 0, skipped: 0, error: 0 });
    const progress: Progress[] = [];
    const first = importer.apply(plan, { actorName: 'test operator', onProgress: (p) => progress.push(p) });
    await assert.rejects(importer.apply(plan), (e: Error) => e instanceof OneRosterBusyError && /another OneRoster import is running \(source default, by test operator/.test(e.message));
    const result = await first;
    assert.deepEqual(result.failed, []);
    assert.equal(result.counts.create, 10_000);
    assert.equal(result.classes.created, plan.classes.length);
    assert.deepEqual(progress.at(-1), { done: 10_000 + plan.classes.length, total: 10_000 + plan.classes.length });
    assert.ok(progress.length >= 2);

    const pupil = data.users.find((u) => u.role === 'student' && u.grades === '04')!;
    const account = (await t.idp.directory.findByLoginId(pupil.username))!;
    assert.equal(account.level, 'P4');
    assert.deepEqual(account.school, { code: 'NS00', name: 'North School 0' });
    const homeroom = data.classes.find((c) => c.sourcedId === data.enrollments.find((e) => e.userSourcedId === pupil.sourcedId)!.classSourcedId)!;
    assert.deepEqual(account.class, { year: data.year, name: homeroom.classCode });
    const teacher = (await t.idp.directory.findByLoginId('teacher0@schools.gov.sg'))!;
    assert.deepEqual(teacher.roles, ['staff']);
    assert.deepEqual(teacher.formClasses, [{ year: data.year, name: '1A' }]);
    const client = (await t.idp.provisioningRows.clients()).find((c) => c.name === 'oneroster:default')!;
    assert.ok(client.revokedAt !== null, 'no token authenticates as the source');
    assert.equal(await t.idp.provisioningRows.externalTarget(client.id, 'user', pupil.sourcedId), account.id);
    const events = await t.idp.audit.recent(5, (e) => e.type === 'roster.import');
    assert.equal(events.length, 1);
    assert.match(events[0]!.reason!, /created 10000, updated 0, moved 0, left 0/);
    assert.equal(events[0]!.actorName, 'test operator');

    // The same zip again: every user unchanged, nothing written but the job's own event.
    const auditBefore = (await t.idp.audit.recent(50_000)).length;
    const again = await importer.plan(zip);
    assert.deepEqual(again.counts, { create: 0, update: 0, move: 0, leave: 0, unchanged: 10_000, skipped: 0, error: 0 });
    assert.deepEqual(again.classCounts, { create: 0, update: 0, unchanged: plan.classes.length, skipped: 3, error: 0 });
    const rerun = await importer.apply(again);
    assert.equal(rerun.counts.unchanged, 10_000);
    const after = await t.idp.audit.recent(50_000);
    assert.equal(after.length, auditBefore + 1);
    assert.equal(after[0]!.type, 'roster.import');
  });

  it('a second zip moves 100 pupils to another school and drops 50: their sessions end and the app is told by back channel', async () => {
    const pupils = data.users.filter((u) => u.role === 'student' && u.primaryOrgSourcedId === 'school-0');
    const moving = pupils.slice(0, 100).map((u) => u.sourcedId);
    const dropping = pupils.slice(100, 150).map((u) => u.sourcedId);
    const second = copyRoster(data);
    moveStudents(second, moving, 'school-1');
    removeUsers(second, dropping);

    // One pupil of each signs in to the app (with the demo pupil's password and answers).
    const demo = (await t.idp.directory.findByLoginId(DEMO.student.loginId))!;
    const config = await oidc.discovery(new URL(t.url), 'roster-recording', SECRET, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    const signIn = async (sourcedId: string) => {
      const loginId = data.users.find((u) => u.sourcedId === sourcedId)!.username;
      const id = (await t.idp.directory.findByLoginId(loginId))!.id;
      await t.idp.directory.update(id, (a) => ({ ...a, passwordHash: demo.passwordHash, passwordChangedAt: demo.passwordChangedAt, questions: demo.questions, mustChangePassword: false, temporaryUntil: null }));
      const verifier = oidc.randomPKCECodeVerifier();
      const b = new Browser(t.url);
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      const step = await b.signIn((await b.open(url.toString())).res, loginId, DEMO.student.password);
      assert.ok(step.external?.startsWith(REDIRECT), `${loginId} reached the app: ${step.res.status} ${step.res.text.slice(0, 200)}`);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(step.external!), { pkceCodeVerifier: verifier });
      assert.equal((await t.store.setMembers(keys.accountSsoSessions(id))).length, 1);
      return { id, loginId, sid: tokens.claims()!.sid as string, browser: b };
    };
    const mover = await signIn(moving[0]!);
    const leaver = await signIn(dropping[0]!);
    rp.requests.length = 0;

    const plan = await importer.plan(rosterZip(second));
    assert.equal(plan.errors, 0, JSON.stringify(plan.files.filter((f) => f.errors.length)));
    assert.deepEqual(plan.counts, { create: 0, update: 0, move: 100, leave: 50, unchanged: 10_000 - 150, skipped: 0, error: 0 });
    const result = await importer.apply(plan);
    assert.deepEqual(result.failed, []);

    const moved = (await t.idp.directory.get(mover.id))!;
    assert.equal(moved.school.code, 'NS01');
    assert.equal(moved.status, 'active');
    const target = second.classes.find((c) => c.sourcedId === second.enrollments.find((e) => e.userSourcedId === moving[0])!.classSourcedId)!;
    assert.deepEqual(moved.class, { year: data.year, name: target.classCode });
    const left = (await t.idp.directory.get(leaver.id))!;
    assert.equal(left.status, 'disabled');
    assert.ok(left.lifecycle?.leftAt);
    assert.equal((await t.idp.directory.findByLoginId(data.users.find((u) => u.sourcedId === dropping[49])!.username))!.status, 'disabled');

    // Their SSO sessions are gone; the portal asks them to sign in again.
    for (const who of [mover, leaver]) {
      assert.deepEqual(await t.store.setMembers(keys.accountSsoSessions(who.id)), []);
      const portal = await who.browser.open('/portal');
      assert.match(portal.res.text, /name="password"|Username/i, `${who.loginId} is signed out`);
    }
    // The app got one logout token for each, for the session it knew.
    assert.equal(rp.requests.length, 2, JSON.stringify(rp.requests.map((r) => r.path)));
    const jwks = createRemoteJWKSet(new URL(`${t.url}/oidc/jwks`));
    const sids = [];
    for (const r of rp.requests) {
      assert.equal(r.path, '/backchannel');
      const token = new URLSearchParams(r.body).get('logout_token')!;
      const { payload } = await jwtVerify(token, jwks, { issuer: t.url, audience: 'roster-recording', typ: 'logout+jwt' });
      sids.push(payload.sid);
    }
    assert.deepEqual(sids.sort(), [mover.sid, leaver.sid].sort());
    const events = await t.idp.audit.recent(5, (e) => e.type === 'roster.import');
    assert.match(events[0]!.reason!, /moved 100, left 50/);

    // And that zip again changes nothing (the leavers are not left twice).
    const again = await importer.plan(rosterZip(second));
    assert.deepEqual(again.counts, { create: 0, update: 0, move: 0, leave: 0, unchanged: 10_000 - 50, skipped: 0, error: 0 });
  });
});
