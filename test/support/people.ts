// People of the demo seed as tests use them: a browser signed in at the portal, and an
// account's id by login ID.
import assert from 'node:assert/strict';
import { Browser } from './browser.ts';
import type { TestIdp } from './idp.ts';

/** A new browser signed in at the portal as `who` (the portal answered 200). */
export async function signedIn(t: TestIdp, who: { loginId: string; password: string }): Promise<Browser> {
  const b = new Browser(t.url);
  const landed = await b.signIn((await b.open('/portal')).res, who.loginId, who.password);
  assert.equal(landed.res.status, 200, landed.res.text.slice(0, 300));
  return b;
}

/** The id of the account with this login ID (which must exist). */
export async function idOf(t: TestIdp, loginId: string): Promise<string> {
  return (await t.idp.directory.findByLoginId(loginId))!.id;
}
