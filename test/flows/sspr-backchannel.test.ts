// A password change in the portal's MIMS SSPR app ends the account's *other* sessions and
// tells their apps by back channel (sls-sim: OIDC logout token with that session's sid;
// workspace-sim: SAML LogoutRequest over SOAP with that session's SessionIndex), while
// this browser stays signed in, at the portal and at both apps.
import assert from 'node:assert/strict';
import { formOf } from '../support/browser.ts';
import { DEMO } from '../support/idp.ts';
import { MultiBrowser } from '../support/multi-browser.ts';
import { followHandOffs } from '../support/saml.ts';
import { startWorld, type World } from '../support/world.ts';

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 80 && !(await check()); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(await check(), what);
}

describe('MIMS SSPR app: a password change tells the apps of the other sessions', () => {
  let world: World;
  before(async () => {
    world = await startWorld();
  });
  after(async () => {
    await world.close();
  });

  function browser(): MultiBrowser {
    return new MultiBrowser(world.t.url, world.ws.url, world.slsUrl);
  }

  async function signInToBothApps(b: MultiBrowser): Promise<void> {
    const login = await b.open(`${world.ws.url}/login`);
    const f = formOf(login.res.text, '/sign-in');
    await followHandOffs(b, await b.post(new URL(f.action, world.t.url).toString(), { ...f.hidden, username: DEMO.student2.loginId, password: DEMO.student2.password }));
    if (/I understand/.test((await b.open(`${world.ws.url}/`)).res.text)) await b.post(`${world.ws.url}/welcome`, {});
    await b.open(`${world.slsUrl}/login`);
    assert.ok(await atWorkspace(b));
    assert.ok(await atSls(b));
  }

  const atWorkspace = async (b: MultiBrowser) => /id="apps"/.test((await b.open(`${world.ws.url}/`)).res.text);
  const atSls = async (b: MultiBrowser) => /id="student-name"/.test((await b.open(`${world.slsUrl}/`)).res.text);

  it('signs the phone out of SLS and Student iCON, keeps the laptop signed in, and says so', async () => {
    const phone = browser();
    const laptop = browser();
    await signInToBothApps(phone);
    await signInToBothApps(laptop);

    const idp = laptop.at(world.t.url);
    const sspr = await idp.open('/portal/sspr');
    const reauth = await idp.follow(await idp.submit(sspr.res, '/portal/sspr/password', {}));
    const change = await idp.follow(await idp.submit(reauth.res, '/reauth', { password: DEMO.student2.password }));
    const wait = await idp.follow(await idp.submit(change.res, '/password', { newPassword: 'Paper-Crane-4040', confirmPassword: 'Paper-Crane-4040' }));
    const done = await idp.follow(await idp.submit(wait.res, '/password/commit', {}));
    assert.match(done.res.text, /The password has been changed successfully/);
    assert.match(done.res.text, /Your other sessions at the MIMS Portal have been signed out/);
    const told = /id="apps-told-names">([^<]*)</.exec(done.res.text)?.[1] ?? '';
    assert.match(told, /Student iCON/);
    assert.match(told, /Student Learning Space/);
    assert.doesNotMatch(done.res.text, /apps-not-told-names/);

    await until(async () => !(await atSls(phone)), 'sls-sim ended the phone’s session');
    assert.equal(await atWorkspace(phone), false, 'workspace-sim ended the phone’s session');
    assert.equal(await atSls(laptop), true, 'sls-sim keeps the laptop’s session (the logout token named the other sid)');
    assert.equal(await atWorkspace(laptop), true, 'workspace-sim keeps the laptop’s session (other SessionIndex)');
    assert.match((await idp.open('/portal')).res.text, /Bella Lim/, 'the laptop stays signed in at the portal');

    const bella = (await world.t.idp.directory.findByLoginId(DEMO.student2.loginId))!;
    const events = await world.t.idp.audit.recent(20, (e) => e.type === 'logout.backchannel' && e.accountId === bella.id);
    assert.deepEqual(events.map((e) => `${e.client} ${e.reason}`).sort(), ['sls-sim oidc told', 'workspace-sim saml told']);
  });
});
