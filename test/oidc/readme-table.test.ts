// The README's OIDC table ("Registering a relying party (OIDC)") against what the IdP does:
// each row that names endpoints, flows, methods, algorithms or scope claims is read from
// README.md and compared with discovery, then the ID token and userinfo of a real code
// flow (openid-client). A change on either side without the other fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as oidc from 'openid-client';
import { projectRoot } from '../../src/config/settings.ts';
import { Browser } from '../support/browser.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';
import { authRequest, discover, redeem, signInThrough, WEB } from '../support/rp.ts';

/** The table's rows: first cell (without backticks) → second cell. */
function readmeTable(): Map<string, string> {
  const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('| issuer / discovery |');
  assert.ok(start > 0, 'the README has the OIDC table');
  const rows = new Map<string, string>();
  for (const line of readme.slice(start).split('\n')) {
    if (!line.startsWith('|')) break;
    const [, first, second] = line.split(/(?<!\\)\|/).map((c) => c.trim());
    rows.set(first!.replaceAll('`', ''), second!);
  }
  return rows;
}

const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
const sorted = (values: Iterable<string>) => [...values].sort();

describe('README: the OIDC table matches the IdP', () => {
  let t: TestIdp;
  let disc: Record<string, unknown>;
  const rows = readmeTable();
  const row = (name: string) => {
    const cell = rows.get(name);
    assert.ok(cell, `README OIDC table has a row "${name}"`);
    return cell;
  };

  before(async () => {
    t = await startTestIdp();
    disc = await (await fetch(`${t.url}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
  });
  after(async () => t.close());

  it('endpoints: exactly those discovery advertises', () => {
    const advertised = Object.entries(disc).filter(([k, v]) => (k.endsWith('_endpoint') || k === 'jwks_uri') && typeof v === 'string').map(([, v]) => new URL(v as string).pathname);
    assert.deepEqual(sorted(ticked(row('endpoints'))), sorted(advertised));
  });

  it('flows: response types, response modes, PKCE methods and grants', () => {
    const flows = row('flows');
    assert.deepEqual(disc.response_types_supported, ['code']);
    assert.match(flows, /authorization code only \(`response_type=code`/);
    assert.deepEqual(sorted(ticked(flows).filter((v) => ['query', 'fragment', 'form_post', 'jwt'].includes(v))), sorted(disc.response_modes_supported as string[]));
    assert.deepEqual(ticked(flows).filter((v) => /^(S256|plain)$/.test(v)), disc.code_challenge_methods_supported);
    const grants = disc.grant_types_supported as string[];
    assert.equal(/refresh tokens/.test(flows), grants.includes('refresh_token'));
    assert.equal(/client credentials/.test(flows), grants.includes('client_credentials'));
  });

  it('client authentication, request objects and the claims parameter', () => {
    const cell = row('client authentication');
    assert.deepEqual(sorted(ticked(cell).filter((v) => /^(client_secret_\w+|none|private_key_jwt|tls_client_auth)$/.test(v))), sorted(disc.token_endpoint_auth_methods_supported as string[]));
    assert.equal(/no request objects/.test(cell), !disc.request_parameter_supported && !disc.request_uri_parameter_supported);
    assert.equal(/the `claims` parameter \(OIDC Core 5\.5\) is supported/.test(cell), disc.claims_parameter_supported === true);
    assert.equal(/no `claims` parameter/.test(cell), disc.claims_parameter_supported !== true);
    assert.equal(/no DPoP/.test(cell), disc.dpop_signing_alg_values_supported === undefined);
  });

  it('ID token algorithms, and each scope\'s claims are advertised', () => {
    assert.deepEqual(ticked(row('ID tokens')).filter((v) => /^[RPE]S\d{3}$/.test(v)), disc.id_token_signing_alg_values_supported);
    for (const [name, cell] of rows) {
      const scope = /^scope (\w+)$/.exec(name)?.[1];
      if (!scope) continue;
      assert.ok((disc.scopes_supported as string[]).includes(scope), scope);
      for (const claim of ticked(cell).filter((c) => /^[a-z_]+$/.test(c))) assert.ok((disc.claims_supported as string[]).includes(claim), `${scope}: ${claim}`);
    }
  });

  it('as the table says: scope claims from userinfo, not in the ID token, unless the claims parameter asks; amr ["pwd"] for a password', async () => {
    const config = await discover(t, WEB.id, WEB.secret);
    const req = await authRequest(config, WEB.redirect, { scope: 'openid profile email school roles' });
    const tokens = await redeem(config, req, await signInThrough(new Browser(t.url), req, DEMO.student));
    const claims = tokens.claims()!;
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, 'urn:school-idp:acr:pwd');
    for (const [name, cell] of rows) {
      if (!name.startsWith('scope ')) continue;
      for (const claim of ticked(cell).filter((c) => /^[a-z_]+$/.test(c))) assert.equal(claims[claim], undefined, `${claim} is not in the ID token`);
    }
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    for (const [name, cell] of rows) {
      if (!name.startsWith('scope ')) continue;
      for (const claim of ticked(cell).filter((c) => /^[a-z_]+$/.test(c))) assert.ok(claim in info, `${claim} from userinfo`);
    }
    // The table's example: the claims parameter puts email in the ID token.
    const asked = await authRequest(config, WEB.redirect, { scope: 'openid email', claims: JSON.stringify({ id_token: { email: null } }) });
    const withEmail = await redeem(config, asked, await signInThrough(new Browser(t.url), asked, DEMO.student));
    assert.equal(withEmail.claims()!.email, DEMO.student.loginId);
  });
});
