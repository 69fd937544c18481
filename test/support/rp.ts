// A relying party's side of OIDC for tests: openid-client against a test IdP, the way an
// application uses it (discovery, authorization URL with PKCE, code exchange).
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { parseOidcClient, type OidcClientFile } from '../../src/config/relying-parties.ts';
import type { Browser } from './browser.ts';
import type { TestIdp } from './idp.ts';

/** test/fixtures/relying-parties/web.json */
export const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback', postLogout: 'http://127.0.0.1:9/signed-out' };
/** test/fixtures/relying-parties/other.json */
export const OTHER = { id: 'other-web', secret: 'other-web-secret-0123456789abcdef012345678', redirect: 'http://127.0.0.1:9/other-callback' };
/** test/fixtures/relying-parties/service.json */
export const SERVICE = { id: 'test-service', secret: 'test-service-secret-0123456789abcdef012345' };

export async function discover(t: TestIdp, id: string, secret?: string, auth?: oidc.ClientAuth): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(t.url), id, secret, auth ?? (secret ? oidc.ClientSecretBasic(secret) : oidc.None()), { execute: [oidc.allowInsecureRequests] });
}

export interface AuthRequest {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

/** An authorization request with PKCE, state and nonce; `params` add to or override the defaults. */
export async function authRequest(config: oidc.Configuration, redirect: string, params: Record<string, string> = {}): Promise<AuthRequest> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirect,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}

/** Exchanges the code the browser was sent back with, checking what openid-client checks. */
export async function redeem(config: oidc.Configuration, req: AuthRequest, callback: string | undefined, checks: { maxAge?: number } = {}) {
  assert.ok(callback, 'the browser was not sent back to the application');
  return oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce, ...checks });
}

/** Opens an authorization request and signs in on the page it leads to; resolves to the callback URL. */
export async function signInThrough(browser: Browser, req: AuthRequest, who: { loginId: string; password: string }): Promise<string | undefined> {
  const page = await browser.open(req.url.toString());
  assert.match(page.res.text, /name="password"/, `expected a sign-in page, got ${page.res.status} ${page.external ?? page.res.text.slice(0, 300)}`);
  return (await browser.signIn(page.res, who.loginId, who.password)).external;
}

/** A client registered in code (validated like a file in config/relying-parties/). */
export function client(data: Record<string, unknown>): OidcClientFile {
  return parseOidcClient({ protocol: 'oidc', display_name: String(data.client_id), ...data }, `<test ${String(data.client_id)}>`);
}
