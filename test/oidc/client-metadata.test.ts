// A relying-party file written with standard client metadata (RFC 7591 §2: client_name,
// logo_uri, policy_uri, tos_uri, contacts) and no display_name: oidc-provider takes the
// client and a sign-in with openid-client goes through.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { parseRelyingParty, type OidcClientFile } from '../../src/config/relying-parties.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const STANDARD = {
  protocol: 'oidc', client_id: 'standard-meta', client_secret: 'standard-meta-secret-0123456789abcdef0123', redirect_uris: ['http://127.0.0.1:9/std-callback'],
  client_name: 'Timetable', logo_uri: 'https://timetable.example.edu/logo.png', policy_uri: 'https://timetable.example.edu/privacy',
  tos_uri: 'https://timetable.example.edu/terms', contacts: ['it@timetable.example.edu'],
};

describe('relying parties with standard client metadata', () => {
  let t: TestIdp;
  before(async () => {
    t = await startTestIdp({ clients: [parseRelyingParty(STANDARD, 'standard-meta.json') as OidcClientFile] });
  });
  after(async () => {
    await t.close();
  });

  it('signs in through a client named by client_name', async () => {
    const config = await oidc.discovery(new URL(t.url), STANDARD.client_id, STANDARD.client_secret, oidc.ClientSecretBasic(STANDARD.client_secret), { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: STANDARD.redirect_uris[0]!, scope: 'openid profile', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    const browser = new Browser(t.url);
    const step = await browser.signIn((await browser.open(url.toString())).res, DEMO.student.loginId, DEMO.student.password);
    assert.ok(step.external?.startsWith(STANDARD.redirect_uris[0]!), step.res.text.slice(0, 300));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(step.external!), { pkceCodeVerifier: verifier, expectedState: oidc.skipStateCheck });
    assert.equal(tokens.claims()!.aud, STANDARD.client_id);
  });
});
