// Issue 15, item 3: teachers find a student by any part of the name ("tan", "lim") as well
// as by login ID, case-insensitively, only in their own school; one range read of the
// school's name-part index (no walk over other schools' accounts).
// In `npm run test:cluster`'s glob (test/admin/): with IDP_TEST_STORE=cluster the
// dir:nameparts:* indexes live on a Redis Cluster (each index one key, so one slot).
import assert from 'node:assert/strict';
import { Browser } from '../support/browser.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';

const SITI = { loginId: 'siti_rahman@schools.gov.sg', password: 'Orchid!Compass58' };
const GRACE = { loginId: 'grace_lee@hq.moe.gov.sg', password: 'Summit=Harbour84' };

async function admin(t: TestIdp, who: { loginId: string; password: string }): Promise<Browser> {
  const b = new Browser(t.url);
  await b.signIn((await b.open('/admin')).res, who.loginId, who.password);
  return b;
}

describe('administrators find accounts by surname (issue 15, item 3)', () => {
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp();
  });
  after(async () => {
    await t.close();
  });

  it('matches any name part and the login ID, case-insensitively, in the own school only', async () => {
    const siti = await admin(t, SITI);
    assert.match((await siti.get('/admin?q=tan')).text, /allen_tan@students\.edu\.sg/, 'surname "tan"');
    assert.match((await siti.get('/admin?q=LIM')).text, /bella_lim@students\.edu\.sg/, 'surname "LIM", any case');
    assert.match((await siti.get('/admin?q=kum')).text, /chandra_kumar@students\.edu\.sg/, 'a prefix of a surname');
    assert.match((await siti.get('/admin?q=allen')).text, /allen_tan@students\.edu\.sg/, 'login ID and given name still');
    const teo = await siti.get('/admin?q=teo');
    assert.doesNotMatch(teo.text, /ivan_teo/, 'Ivan Teo is at another school');
    assert.match(teo.text, /No accounts found/);
    // A ministry administrator searches every school.
    assert.match((await (await admin(t, GRACE)).get('/admin?q=teo')).text, /ivan_teo@students\.edu\.sg/);
  });

  it('follows renames and school moves', async () => {
    const allen = (await t.idp.directory.findByLoginId('allen_tan@students.edu.sg'))!;
    await t.idp.directory.update(allen.id, (a) => ({ ...a, displayName: 'Allen Goh', familyName: 'Goh' }));
    assert.deepEqual(await t.idp.directory.searchNameParts(allen.school.code, 'tan', 10), []);
    assert.deepEqual(await t.idp.directory.searchNameParts(allen.school.code, 'goh', 10), [{ id: allen.id }]);
    await t.idp.directory.update(allen.id, (a) => ({ ...a, school: { code: 'DEMO02', name: 'Lakeside Demo School' } }));
    assert.deepEqual(await t.idp.directory.searchNameParts(allen.school.code, 'goh', 10), []);
    assert.deepEqual(await t.idp.directory.searchNameParts('DEMO02', 'goh', 10), [{ id: allen.id }]);
  });
});
