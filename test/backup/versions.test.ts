// Versioned account records: v1 (no `v`) and v2 are read; every write keeps fields this
// release does not know; a record of a newer version is never written (SSPR 5019).
import assert from 'node:assert/strict';
import type { Account } from '../../src/domain/accounts/account.ts';
import { ACCOUNT_VERSION } from '../../src/domain/accounts/account.ts';
import { Browser } from '../support/browser.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { loadV1, V1_PASSWORD } from './v1-fixture.ts';

const MINISTRY = { kind: 'ministry' } as const;
const ADMIN = { id: 'cli:test' } as Account;

describe('versioned account records', () => {
  let t: TestIdp;
  beforeEach(async () => {
    t = await startTestIdp({ seed: false });
  });
  afterEach(async () => {
    await t.close();
  });

  const raw = async (id: string) => JSON.parse((await t.idp.directory.raw(id))!) as Account & Record<string, unknown>;

  it('new accounts are written with the current version', async () => {
    const a = await t.idp.directory.create({ loginId: 'new_one@students.edu.sg', displayName: 'New One', givenName: 'New', familyName: 'One', school: { code: 'X', name: 'X' }, level: null, roles: ['student'], status: 'active', passwordHash: 'x', mustChangePassword: false, passwordChangedAt: 0, passwordHistory: [], questions: [] });
    assert.equal((await raw(a.id)).v, ACCOUNT_VERSION);
  });

  it('a field this release does not know survives sign-in, password change and admin updates (v1 record)', async () => {
    const [r] = await loadV1(t.idp.directory, 1, () => ({ futureField: { house: 'Red', since: 2027 }, futureFlag: true }));
    const id = r!.id;
    const keep = (step: string) => async () => {
      const now = await raw(id);
      assert.deepEqual(now.futureField, { house: 'Red', since: 2027 }, step);
      assert.equal(now.futureFlag, true, step);
      assert.equal(now.v, ACCOUNT_VERSION, `${step}: written as the current version`);
    };
    // Sign-in over HTTP (records lastSignInAt).
    const b = new Browser(t.url);
    await b.signIn((await b.open('/portal')).res, r!.loginId, V1_PASSWORD);
    assert.equal((await t.idp.audit.recent(5, (e) => e.type === 'signin.success' && e.accountId === id)).length, 1);
    assert.notEqual((await raw(id)).lastSignInAt, null);
    await keep('sign-in')();
    const current = await raw(id);
    await t.idp.credentials.setPasswordHash(id, await t.idp.hasher.hash('New-Password-22'), current.passwordHash, { actor: id, via: 'test' });
    await keep('password change')();
    assert.deepEqual((await raw(id)).passwordHistory[0], current.passwordHash);
    await t.idp.administration.setStatus(MINISTRY, ADMIN, id, 'disabled', {});
    await keep('disable')();
    await t.idp.administration.clearQuestions(MINISTRY, ADMIN, id, {});
    await keep('clear questions')();
    await t.idp.administration.resetPassword(MINISTRY, ADMIN, id, {});
    await keep('reset password')();
  });

  it('a record of a newer version is read but not written: the user sees SSPR 5019 and the record is unchanged', async () => {
    const [r] = await loadV1(t.idp.directory, 1, () => ({ v: ACCOUNT_VERSION + 1, newThing: 'x' }));
    const before = await t.idp.directory.raw(r!.id);
    assert.equal((await t.idp.directory.get(r!.id))?.loginId, r!.loginId);
    const b = new Browser(t.url);
    const res = await b.signIn((await b.open('/portal')).res, r!.loginId, V1_PASSWORD);
    assert.match(res.res.text, /SSPR 5019/);
    await assert.rejects(t.idp.administration.setStatus(MINISTRY, ADMIN, r!.id, 'disabled', {}), /written by a newer release/);
    assert.equal(await t.idp.directory.raw(r!.id), before);
  });
});
