// The SCIM 2.0 service provider (RFC 7643/7644) as a provisioning client meets it: requests
// shaped as Microsoft Entra ID's and Okta's provisioning services send them (their documented
// request sequences: filter by userName, POST, PATCH with "Replace" and string booleans, PUT
// with active false, group members added and removed by PATCH), every response checked by an
// independent SCIM implementation (SCIMMY's RFC 7643 schema definitions) besides our own
// assertions. Accounts follow: a class membership is the student's class, a change of school
// is a transfer, active false and DELETE end the account's sessions and tell its apps by
// back-channel logout; another school's accounts are out of reach.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import SCIMMY from 'scimmy';
import { parseOidcClient } from '../../src/config/relying-parties.ts';
import { URN } from '../../src/protocols/scim/schemas.ts';
import { captureServer, type CaptureServer } from '../support/backchannel.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { idOf, signedIn } from '../support/people.ts';

type Json = Record<string, any>;
const SECRET = 'recording-client-secret-0123456789abcdef';
const CALLBACK = 'http://127.0.0.1:9/recording/callback';

// SCIMMY knows the core schemas; our extensions are declared to it as /Schemas describes them.
SCIMMY.Schemas.User.extend(new SCIMMY.Types.SchemaDefinition('SchoolUser', URN.school, 'School', [
  new SCIMMY.Types.Attribute('string', 'schoolCode', { caseExact: true }), new SCIMMY.Types.Attribute('string', 'schoolName'),
  new SCIMMY.Types.Attribute('string', 'level'), new SCIMMY.Types.Attribute('dateTime', 'transferDate'), new SCIMMY.Types.Attribute('dateTime', 'leavingDate'),
]) as never, false);
SCIMMY.Schemas.Group.extend(new SCIMMY.Types.SchemaDefinition('SchoolClass', URN.classOf, 'Class', [
  new SCIMMY.Types.Attribute('string', 'schoolCode', { caseExact: true }), new SCIMMY.Types.Attribute('integer', 'year'),
]) as never, false);

/** Throws unless SCIMMY reads the resource as a valid outbound User / Group. */
function validUser(r: Json): Json {
  new SCIMMY.Schemas.User(r, 'out');
  assert.ok(r.meta?.version?.startsWith('W/"'), 'meta.version is a weak ETag');
  return r;
}
function validGroup(r: Json): Json {
  new SCIMMY.Schemas.Group(r, 'out');
  return r;
}

/** A PATCH body, built and checked by SCIMMY's PatchOp message. */
function patchOp(Operations: Json[]): Json {
  const message = new SCIMMY.Messages.PatchOp({ schemas: [URN.patch], Operations: Operations as never });
  return { schemas: message.schemas, Operations: message.Operations };
}

describe('SCIM 2.0: provisioning clients keep accounts and classes in step', () => {
  let t: TestIdp;
  let rp: CaptureServer;
  let token: string; // DEMO01 only
  let both: string; // DEMO01 and DEMO02
  let base: string;

  async function scim(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, bearer = token): Promise<{ status: number; json: Json; headers: Headers }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, accept: 'application/scim+json', ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : {}, headers: res.headers };
  }

  function scimError(r: { status: number; json: Json }, status: number, scimType?: string): void {
    assert.equal(r.status, status, JSON.stringify(r.json));
    assert.deepEqual(r.json.schemas, [URN.error]);
    assert.equal(r.json.status, String(status));
    if (scimType) assert.equal(r.json.scimType, scimType);
    assert.equal(typeof r.json.detail, 'string');
  }

  const newStudent = (loginId: string, extra: Json = {}) => ({
    schemas: [URN.user, URN.school], userName: loginId, externalId: `sis-${loginId.split('@')[0]}`, active: true,
    name: { givenName: 'Mei', familyName: 'Ong' }, displayName: 'Mei Ong', userType: 'Student',
    emails: [{ value: loginId, type: 'work', primary: true }], [URN.school]: { level: 'P3' }, ...extra,
  });

  before(async () => {
    rp = await captureServer();
    const recording = parseOidcClient({
      protocol: 'oidc', display_name: 'Recording app', client_id: 'recording-app', client_secret: SECRET,
      redirect_uris: [CALLBACK], grant_types: ['authorization_code'],
      backchannel_logout_uri: `${rp.url}/backchannel`, backchannel_logout_session_required: true,
    }, '(test recording-app)');
    t = await startTestIdp({ clients: [recording] });
    base = `${t.url}/scim/v2`;
    token = (await t.idp.provisioningClients.issue('Rivervale SIS', ['DEMO01'], 'test')).token;
    both = (await t.idp.provisioningClients.issue('Cluster SIS', ['DEMO01', 'DEMO02'], 'test')).token;
  });
  after(async () => {
    await t.close();
    await rp.close();
  });

  /** Signs a demo person in at the recording app (code flow); resolves the sub it was given. */
  async function atRecordingApp(who: { loginId: string; password: string }): Promise<{ browser: Browser; sub: string }> {
    const browser = await signedIn(t, who);
    const config = await oidc.discovery(new URL(t.url), 'recording-app', SECRET, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const step = await browser.open(url.toString());
    assert.ok(step.external?.startsWith(CALLBACK), `back at the app with a code: ${step.external ?? step.res.status}`);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(step.external!), { pkceCodeVerifier: verifier });
    return { browser, sub: tokens.claims()!.sub };
  }

  async function logoutTokensFor(sub: string): Promise<Json[]> {
    for (let i = 0; i < 80; i++) {
      const found = rp.requests.map((r) => new URLSearchParams(r.body).get('logout_token')).filter((v): v is string => !!v).map((v) => decodeJwt(v) as Json).filter((c) => c.sub === sub);
      if (found.length) return found;
      await new Promise((r) => setTimeout(r, 25));
    }
    return [];
  }

  it('serves its configuration, schemas and resource types to a client with a token, and nothing without one', async () => {
    const none = await fetch(`${base}/ServiceProviderConfig`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm="scim"/);
    scimError(await scim('GET', '/Users', undefined, {}, 'scim_not-a-token'), 401);
    const config = await scim('GET', '/ServiceProviderConfig');
    assert.equal(config.status, 200);
    assert.match(config.headers.get('content-type') ?? '', /^application\/scim\+json/);
    new SCIMMY.Schemas.ServiceProviderConfig(config.json, 'out');
    assert.equal(config.json.patch.supported, true);
    assert.equal(config.json.etag.supported, true);
    assert.equal(config.json.filter.maxResults, 500);
    const types = await scim('GET', '/ResourceTypes');
    assert.deepEqual(types.json.Resources.map((r: Json) => [r.id, r.endpoint]), [['User', '/Users'], ['Group', '/Groups']]);
    for (const r of types.json.Resources) new SCIMMY.Schemas.ResourceType(r, 'out');
    const schemas = await scim('GET', '/Schemas');
    assert.deepEqual(schemas.json.Resources.map((s: Json) => s.id).sort(), [URN.classOf, URN.group, URN.school, URN.user].sort());
    const user = await scim('GET', `/Schemas/${URN.user}`);
    assert.equal(user.json.attributes.find((a: Json) => a.name === 'userName').mutability, 'immutable');
    scimError(await scim('GET', '/Nothing'), 404);
  });

  it('Entra ID\'s sequence: a student is looked up, created (no password anyone knows), found by externalId, patched with "Replace"; ETags hold', async () => {
    const loginId = 'mei_ong@students.edu.sg';
    const lookup = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${loginId.toUpperCase()}"`)}`);
    assert.equal(lookup.status, 200);
    assert.equal(new SCIMMY.Messages.ListResponse(lookup.json as never).totalResults, 0);
    const created = await scim('POST', '/Users', newStudent(loginId));
    assert.equal(created.status, 201, JSON.stringify(created.json));
    validUser(created.json);
    assert.equal(created.headers.get('location'), `${base}/Users/${created.json.id}`);
    assert.equal(created.headers.get('etag'), created.json.meta.version);
    assert.equal(created.json.userName, loginId);
    assert.equal(created.json.externalId, 'sis-mei_ong');
    // The school's name is the directory's (schoolName only names a school that has no accounts yet).
    assert.deepEqual(created.json[URN.school], { schoolCode: 'DEMO01', schoolName: 'Rivervale Demo School', level: 'P3' });
    const account = (await t.idp.directory.get(created.json.id))!;
    assert.equal(account.school.code, 'DEMO01');
    assert.deepEqual(account.roles, ['student']);
    assert.equal(account.mustChangePassword, true);
    const events = await t.idp.audit.recent(5);
    assert.ok(events.some((e) => e.type === 'account.created' && e.accountId === account.id && e.actor?.startsWith('scim:')), JSON.stringify(events));
    // The same userName again, and the same externalId for another user: 409 uniqueness.
    scimError(await scim('POST', '/Users', newStudent(loginId)), 409, 'uniqueness');
    scimError(await scim('POST', '/Users', newStudent('other_ong@students.edu.sg', { externalId: 'sis-mei_ong' })), 409, 'uniqueness');

    const byExternal = await scim('GET', `/Users?filter=${encodeURIComponent('externalId eq "sis-mei_ong"')}&attributes=userName`);
    assert.equal(byExternal.json.totalResults, 1);
    assert.deepEqual(Object.keys(byExternal.json.Resources[0]).sort(), ['id', 'schemas', 'userName']);
    // Another client's namespace: the externalId means nothing there.
    const other = await scim('GET', `/Users?filter=${encodeURIComponent('externalId eq "sis-mei_ong"')}`, undefined, {}, both);
    assert.equal(other.json.totalResults, 0);

    const stale = created.json.meta.version as string;
    const patched = await scim('PATCH', `/Users/${created.json.id}`, patchOp([
      { op: 'Replace', path: 'name.familyName', value: 'Ong-Tan' },
      { op: 'Replace', value: { displayName: 'Mei Ong-Tan', [`${URN.school}:level`]: 'P4' } },
    ]), { 'if-match': stale });
    assert.equal(patched.status, 200, JSON.stringify(patched.json));
    validUser(patched.json);
    assert.equal(patched.json.name.familyName, 'Ong-Tan');
    assert.equal(patched.json.displayName, 'Mei Ong-Tan');
    assert.equal(patched.json[URN.school].level, 'P4');
    assert.notEqual(patched.json.meta.version, stale);
    // The old version no longer matches; the new one gives 304 on a conditional GET.
    scimError(await scim('PATCH', `/Users/${created.json.id}`, patchOp([{ op: 'replace', path: 'displayName', value: 'X' }]), { 'if-match': stale }), 412);
    const again = await fetch(`${base}/Users/${created.json.id}`, { headers: { authorization: `Bearer ${token}`, 'if-none-match': patched.json.meta.version } });
    assert.equal(again.status, 304);
    assert.equal((await t.idp.directory.get(created.json.id))!.displayName, 'Mei Ong-Tan');
    // userName is immutable, id and emails read-only.
    scimError(await scim('PATCH', `/Users/${created.json.id}`, patchOp([{ op: 'replace', path: 'userName', value: 'mei2@students.edu.sg' }])), 400, 'mutability');
    scimError(await scim('PATCH', `/Users/${created.json.id}`, patchOp([{ op: 'replace', path: 'emails[type eq "work"].value', value: 'x@y.z' }])), 400, 'mutability');
  });

  it('refuses what a school roster may not do, with SCIM errors and nothing changed', async () => {
    const before = await t.idp.directory.count();
    scimError(await scim('POST', '/Users', '{"userName": '), 400, 'invalidSyntax');
    scimError(await scim('POST', '/Users', newStudent('not-an-email')), 400, 'invalidValue');
    scimError(await scim('POST', '/Users', { ...newStudent('no_schema@students.edu.sg'), schemas: undefined }), 400, 'invalidSyntax');
    scimError(await scim('POST', '/Users', newStudent('adm@students.edu.sg', { userType: 'Administrator' })), 400, 'invalidValue');
    scimError(await scim('POST', '/Users', newStudent('pupil@schools.gov.sg')), 400, 'invalidValue'); // a student's domain
    scimError(await scim('POST', '/Users', newStudent('nolevel@students.edu.sg', { [URN.school]: {} })), 400, 'invalidValue');
    scimError(await scim('POST', '/Users', newStudent('zw@students.edu.sg', { name: { givenName: 'Mei\u200b', familyName: 'Ong' } })), 400, 'invalidValue');
    scimError(await scim('GET', `/Users?filter=${encodeURIComponent('name.familyName co "Ong"')}`), 400, 'invalidFilter');
    scimError(await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "a" or userName eq "b"')}`), 400, 'invalidFilter');
    scimError(await scim('GET', '/Users?filter=userName%20eq'), 400, 'invalidFilter');
    scimError(await scim('GET', '/Users?count=abc'), 400, 'invalidValue');
    scimError(await scim('PATCH', `/Users/${await idOf(t, DEMO.student.loginId)}`, { Operations: [] }), 400, 'invalidSyntax');
    const text = await fetch(`${base}/Users`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: 'x' });
    assert.equal(text.status, 415);
    assert.equal(await t.idp.directory.count(), before);
  });

  it('another school\'s accounts and classes are out of reach: not listed, 404 by id, 403 to create there', async () => {
    const ivan = await idOf(t, 'ivan_teo@students.edu.sg'); // DEMO02
    scimError(await scim('GET', `/Users/${ivan}`), 404);
    scimError(await scim('PATCH', `/Users/${ivan}`, patchOp([{ op: 'replace', path: 'active', value: false }])), 404);
    scimError(await scim('DELETE', `/Users/${ivan}`), 404);
    const listed = await scim('GET', '/Users?count=500');
    assert.ok(listed.json.Resources.every((u: Json) => u[URN.school].schoolCode === 'DEMO01'));
    assert.ok(!listed.json.Resources.some((u: Json) => u.id === ivan));
    scimError(await scim('POST', '/Users', newStudent('elsewhere@students.edu.sg', { [URN.school]: { schoolCode: 'DEMO02', level: 'P1' } })), 403);
    scimError(await scim('POST', '/Groups', { schemas: [URN.group], displayName: '3C', [URN.classOf]: { schoolCode: 'DEMO02' } }), 403);
    assert.equal((await t.idp.directory.get(ivan))!.status, 'active');
    // Paging: startIndex and count as RFC 7644 §3.4.2.4 has them.
    const first = await scim('GET', '/Users?startIndex=1&count=2');
    const second = await scim('GET', '/Users?startIndex=3&count=2');
    assert.equal(first.json.itemsPerPage, 2);
    assert.equal(second.json.startIndex, 3);
    assert.equal(first.json.totalResults, listed.json.totalResults);
    assert.ok(!second.json.Resources.some((u: Json) => first.json.Resources.some((f: Json) => f.id === u.id)));
  });

  it('classes are Groups: members added and removed by PATCH become the students\' class and the teacher\'s form classes', async () => {
    const allen = await idOf(t, DEMO.student.loginId);
    const daniel = await idOf(t, DEMO.staff.loginId);
    const created = await scim('POST', '/Groups', { schemas: [URN.group], externalId: 'sis-class-3c', displayName: '3c', members: [] });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    validGroup(created.json);
    assert.equal(created.json.displayName, '3C');
    const year = created.json[URN.classOf].year as number;
    scimError(await scim('POST', '/Groups', { schemas: [URN.group], displayName: '3C' }), 409, 'uniqueness');
    scimError(await scim('POST', '/Groups', { schemas: [URN.group], displayName: 'not a class name!' }), 400, 'invalidValue');

    // Entra adds members one request at a time, "Add" with a list of values.
    const added = await scim('PATCH', `/Groups/${created.json.id}`, patchOp([{ op: 'Add', path: 'members', value: [{ value: allen }] }, { op: 'Add', path: 'members', value: [{ value: daniel }] }]));
    assert.equal(added.status, 200, JSON.stringify(added.json));
    validGroup(added.json);
    assert.deepEqual(added.json.members.map((m: Json) => m.value).sort(), [allen, daniel].sort());
    assert.deepEqual((await t.idp.directory.get(allen))!.class, { year, name: '3C' });
    assert.ok((await t.idp.directory.get(daniel))!.formClasses!.some((c) => c.name === '3C' && c.year === year));
    const user = validUser((await scim('GET', `/Users/${allen}`)).json);
    assert.ok(user.groups.some((g: Json) => g.value === created.json.id && g.display === `3C (${year})`));
    // Found by name, by externalId, by member (and without its members, as Entra asks).
    assert.equal((await scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "3C"')}`)).json.totalResults, 1);
    const byMember = await scim('GET', `/Groups?filter=${encodeURIComponent(`id eq "${created.json.id}" and members[value eq "${allen}"]`)}&excludedAttributes=members`);
    assert.equal(byMember.json.totalResults, 1);
    assert.equal(byMember.json.Resources[0].members, undefined);
    assert.equal((await scim('GET', `/Groups?filter=${encodeURIComponent('externalId sw "sis-class"')}`)).json.totalResults, 1);
    // A member of another school is refused, and nothing of the request applied.
    const ivan = await idOf(t, 'ivan_teo@students.edu.sg');
    scimError(await scim('PATCH', `/Groups/${created.json.id}`, patchOp([{ op: 'add', path: 'members', value: [{ value: ivan }] }])), 400, 'invalidValue');
    assert.equal((await t.idp.directory.get(ivan))!.class ?? null, null);

    const removed = await scim('PATCH', `/Groups/${created.json.id}`, patchOp([{ op: 'remove', path: `members[value eq "${allen}"]` }]));
    assert.deepEqual(removed.json.members.map((m: Json) => m.value), [daniel]);
    assert.equal((await t.idp.directory.get(allen))!.class, null);
    // Renamed: the form teacher follows; deleted: nobody teaches it any more.
    const renamed = await scim('PUT', `/Groups/${created.json.id}`, { schemas: [URN.group], displayName: '3D', externalId: 'sis-class-3c', members: [{ value: daniel }, { value: allen }] });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.json));
    assert.deepEqual((await t.idp.directory.get(allen))!.class, { year, name: '3D' });
    assert.ok((await t.idp.directory.get(daniel))!.formClasses!.some((c) => c.name === '3D'));
    assert.equal((await scim('DELETE', `/Groups/${created.json.id}`)).status, 204);
    scimError(await scim('GET', `/Groups/${created.json.id}`), 404);
    assert.equal((await t.idp.directory.get(allen))!.class, null);
    assert.ok(!(await t.idp.directory.get(daniel))!.formClasses!.some((c) => c.name === '3D'));
    const classEvents = (await t.idp.audit.recent(40, (e) => e.type.startsWith('class.'))).map((e) => `${e.type} ${e.reason}`);
    assert.deepEqual(classEvents, [`class.deleted DEMO01: 3D (${year})`, `class.renamed DEMO01: 3C (${year}) to 3D`, `class.created DEMO01: 3C (${year})`]);
  });

  it('a transfer keeps the account and login ID, changes the school, ends sessions, and leaves the old school\'s client\'s reach', async () => {
    const created = (await scim('POST', '/Users', newStudent('transfer_kid@students.edu.sg', { [URN.school]: { schoolCode: 'DEMO01', level: 'P3' } }), {}, both)).json;
    // Without a school, a client of two schools is asked for one.
    scimError(await scim('POST', '/Users', newStudent('which_school@students.edu.sg'), {}, both), 400, 'invalidValue');
    const moved = await scim('PATCH', `/Users/${created.id}`, patchOp([{ op: 'replace', path: `${URN.school}:schoolCode`, value: 'DEMO02' }, { op: 'replace', path: `${URN.school}:schoolName`, value: 'Lakeside Demo School' }]), {}, both);
    assert.equal(moved.status, 200, JSON.stringify(moved.json));
    assert.equal(moved.json.id, created.id);
    assert.equal(moved.json.userName, 'transfer_kid@students.edu.sg');
    assert.deepEqual(moved.json[URN.school], { schoolCode: 'DEMO02', schoolName: 'Lakeside Demo School', level: 'P3' });
    scimError(await scim('GET', `/Users/${created.id}`), 404); // DEMO01's client: gone from its reach
    assert.ok((await t.idp.audit.recent(10)).some((e) => e.type === 'account.moved' && e.accountId === created.id && /from DEMO01 to DEMO02/.test(e.reason ?? '')));
    // The client that reaches DEMO01 only cannot move someone out to a school it does not reach.
    const mine = (await scim('POST', '/Users', newStudent('stay_kid@students.edu.sg'))).json;
    scimError(await scim('PATCH', `/Users/${mine.id}`, patchOp([{ op: 'replace', path: `${URN.school}:schoolCode`, value: 'DEMO02' }])), 403);
  });

  it('Entra\'s active "False" disables the account, ends its sessions and tells its apps; DELETE is leaving (404 afterwards); Okta\'s PUT active false works the same', async () => {
    const bella = await idOf(t, DEMO.student2.loginId);
    const { browser, sub } = await atRecordingApp(DEMO.student2);
    const off = await scim('PATCH', `/Users/${bella}`, patchOp([{ op: 'Replace', path: 'active', value: 'False' }]));
    assert.equal(off.status, 200, JSON.stringify(off.json));
    assert.equal(off.json.active, false);
    assert.equal((await t.idp.directory.get(bella))!.status, 'disabled');
    const tokens = await logoutTokensFor(sub);
    assert.equal(tokens.length, 1, 'the app received a back-channel logout token');
    assert.ok(tokens[0]!.events['http://schemas.openid.net/event/backchannel-logout']);
    assert.match((await browser.open('/portal')).res.text, /name="password"/, 'the portal session ended: the sign-in page again');
    const on = await scim('PATCH', `/Users/${bella}`, patchOp([{ op: 'Replace', path: 'active', value: 'True' }]));
    assert.equal(on.json.active, true);

    const okta = (await scim('POST', '/Users', newStudent('okta_kid@students.edu.sg'))).json;
    const put = await scim('PUT', `/Users/${okta.id}`, { ...newStudent('okta_kid@students.edu.sg'), id: okta.id, active: false });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    assert.equal((await t.idp.directory.get(okta.id))!.status, 'disabled');

    assert.equal((await scim('DELETE', `/Users/${okta.id}`)).status, 204);
    scimError(await scim('GET', `/Users/${okta.id}`), 404);
    scimError(await scim('DELETE', `/Users/${okta.id}`), 404);
    const left = (await t.idp.directory.get(okta.id))!;
    assert.equal(left.status, 'disabled');
    assert.equal(typeof left.lifecycle?.leftAt, 'number');
    assert.equal(typeof left.lifecycle?.deleteAt, 'number', 'students are deleted after the retention period');
  });

  describe('after an outside review', () => {
    const SITI = 'siti_rahman@schools.gov.sg';

    it('a roster cannot move, disable, rename or remove an administrator (moving a school administrator made her one of the new school)', async () => {
      const siti = await idOf(t, SITI);
      const before = (await t.idp.directory.get(siti))!;
      scimError(await scim('PATCH', `/Users/${siti}`, patchOp([{ op: 'replace', path: `${URN.school}:schoolCode`, value: 'DEMO02' }]), {}, both), 403);
      scimError(await scim('PATCH', `/Users/${siti}`, patchOp([{ op: 'replace', path: 'active', value: false }])), 403);
      scimError(await scim('PATCH', `/Users/${siti}`, patchOp([{ op: 'replace', path: 'name.givenName', value: 'Hacked' }])), 403);
      scimError(await scim('DELETE', `/Users/${siti}`), 403);
      const after = (await t.idp.directory.get(siti))!;
      assert.equal(after.school.code, 'DEMO01');
      assert.equal(after.status, 'active');
      assert.equal(after.givenName, before.givenName);
      assert.equal(after.lifecycle?.leftAt ?? null, null);
      assert.equal(validUser((await scim('GET', `/Users/${siti}`)).json).userName, SITI, 'still readable');
    });

    it('Entra\'s member removal by value removes them; concurrent changes neither lose each other nor pass one If-Match twice', async () => {
      const allen = await idOf(t, DEMO.student.loginId);
      const group = (await scim('POST', '/Groups', { schemas: [URN.group], displayName: '6R', members: [{ value: allen }] })).json;
      const removed = await scim('PATCH', `/Groups/${group.id}`, patchOp([{ op: 'Remove', path: 'members', value: [{ value: allen }] }]));
      assert.equal(removed.status, 200, JSON.stringify(removed.json));
      assert.deepEqual(removed.json.members, []);
      assert.equal((await t.idp.directory.get(allen))!.class, null);

      const kid = (await scim('POST', '/Users', newStudent('race_kid@students.edu.sg'))).json;
      const version = kid.meta.version as string;
      const raced = await Promise.all(Array.from({ length: 8 }, (_, i) => scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', path: 'displayName', value: `Race ${i}` }]), { 'if-match': version })));
      assert.deepEqual(raced.map((r) => r.status).sort(), [200, 412, 412, 412, 412, 412, 412, 412], JSON.stringify(raced.map((r) => [r.status, r.json.detail])));
      const fields = await Promise.all([
        scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', path: 'name.givenName', value: 'Wen' }])),
        scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', path: 'name.familyName', value: 'Lim' }])),
        scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', path: 'displayName', value: 'Wen Lim' }])),
        scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', path: `${URN.school}:level`, value: 'P6' }])),
      ]);
      assert.deepEqual(fields.map((r) => r.status), [200, 200, 200, 200], JSON.stringify(fields.map((r) => r.json.detail)));
      const stored = (await t.idp.directory.get(kid.id))!;
      assert.deepEqual([stored.givenName, stored.familyName, stored.displayName, stored.level], ['Wen', 'Lim', 'Wen Lim', 'P6'], 'every confirmed change kept');
    });

    it('PATCH does what it says or says why not: externalId removed, complex values merged, unknown or read-only paths and missing values refused', async () => {
      const kid = (await scim('POST', '/Users', newStudent('patch_kid@students.edu.sg'))).json;
      const gone = await scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'remove', path: 'externalId' }]));
      assert.equal(gone.status, 200);
      assert.equal(gone.json.externalId, undefined);
      assert.equal((await scim('GET', `/Users?filter=${encodeURIComponent('externalId eq "sis-patch_kid"')}`)).json.totalResults, 0);
      const merged = await scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', value: { name: { givenName: 'Nested' }, [URN.school]: { level: 'P2' } } }]));
      assert.equal(merged.status, 200, JSON.stringify(merged.json));
      assert.deepEqual([merged.json.name.givenName, merged.json.name.familyName, merged.json[URN.school].level], ['Nested', 'Ong', 'P2']);
      const byUrn = await scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', path: URN.school, value: { level: 'P1' } }]));
      assert.equal(byUrn.json[URN.school].level, 'P1');
      scimError(await scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', path: 'displayName' }])), 400, 'invalidValue');
      scimError(await scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', path: 'nosuchattr', value: 'x' }])), 400, 'invalidPath');
      scimError(await scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', path: 'meta.created', value: 'x' }])), 400, 'mutability');
      scimError(await scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'remove', path: 'active' }])), 400, 'mutability');
      scimError(await scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'remove', path: `${URN.school}:schoolCode` }])), 400, 'mutability');
      scimError(await scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', path: `${URN.school}:transferDate`, value: '2099-01-01T00:00:00Z' }])), 400, 'invalidValue');
      scimError(await scim('PATCH', `/Users/${kid.id}`, patchOp([{ op: 'replace', path: `${URN.school}:leavingDate`, value: '2001-01-01T00:00:00Z' }])), 400, 'invalidValue');
      // A past leaving date on creation: refused, nothing created.
      scimError(await scim('POST', '/Users', newStudent('past_kid@students.edu.sg', { [URN.school]: { level: 'P3', leavingDate: '2001-01-01' } })), 400, 'invalidValue');
      assert.equal(await t.idp.directory.findByLoginId('past_kid@students.edu.sg'), null);
      scimError(await scim('POST', '/Users', newStudent('pw_kid@students.edu.sg', { password: 'Secret-Pass-123' })), 400, 'mutability');
    });

    it('classes given elsewhere are Groups; schoolName is the directory\'s; nesting, size and unsupported endpoints are answered as SCIM errors', async () => {
      const allen = await idOf(t, DEMO.student.loginId);
      await t.idp.directory.update(allen, (a) => ({ ...a, class: { year: 2026, name: '2Z' } }));
      // A client connecting now sees it (an existing one within 10 s).
      const fresh = (await t.idp.provisioningClients.issue('New SIS', ['DEMO01'], 'test')).token;
      const found = await scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "2Z"')}`, undefined, {}, fresh);
      assert.equal(found.json.totalResults, 1);
      assert.ok(found.json.Resources[0].members.some((m: Json) => m.value === allen));
      const named = await scim('POST', '/Users', newStudent('named_kid@students.edu.sg', { [URN.school]: { level: 'P3', schoolName: 'Evil School' } }));
      assert.equal(named.json[URN.school].schoolName, 'Rivervale Demo School');
      // 5,000 levels deep (the JSON written by hand: JSON.stringify would overflow first).
      const deep = `${JSON.stringify(newStudent('deep_kid@students.edu.sg')).slice(0, -1)},"deep":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
      scimError(await scim('POST', '/Users', deep), 400, 'invalidSyntax');
      scimError(await scim('POST', '/Users', newStudent('big_kid@students.edu.sg', { displayName: 'x'.repeat(2_000_000) })), 413);
      scimError(await scim('POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [] }), 501);
      scimError(await scim('GET', '/Me'), 501);
      const ext = await scim('GET', `/Users/${allen}?attributes=${encodeURIComponent(URN.school)}`);
      assert.equal(ext.json[URN.school].schoolCode, 'DEMO01');
      const core = await scim('GET', `/Users/${allen}?attributes=${encodeURIComponent(`${URN.user}:userName`)}`);
      assert.equal(core.json.userName, DEMO.student.loginId);
      const search = await scim('POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: `userName eq "${DEMO.student.loginId}"`, attributes: ['userName'] });
      assert.deepEqual(Object.keys(search.json.Resources[0]).sort(), ['id', 'schemas', 'userName']);
    });
  });

  it('a revoked client\'s token stops working at once', async () => {
    const { client, token: temp } = await t.idp.provisioningClients.issue('Short-lived', ['DEMO01'], 'test');
    assert.equal((await scim('GET', '/Users?count=1', undefined, {}, temp)).status, 200);
    assert.equal(await t.idp.provisioningClients.revoke(client.id, 'test'), true);
    scimError(await scim('GET', '/Users?count=1', undefined, {}, temp), 401);
  });
});
