// The journeys the benchmarks drive against an IdP (bench:profile, bench:ab), as a browser
// or an app makes them: each is set up once (signed-in browsers, refresh tokens) and then
// returns one run of the journey for a worker (0 .. concurrency - 1) and its i-th run.
//   sign-in (OIDC password sign-in to the code), saml-sign-in (the same through SAML, as
//   the peer harness does it), saml-sso (HTTP-Redirect with a live SSO session), oidc-sso
//   (code flow with a live SSO session, code exchanged), refresh (refresh_token rotation),
//   client-credentials.
import { Agent, form } from './http.ts';
import { signedInBrowsers, USERS } from './idp.ts';
import { authnRequestXml, redirectQuery } from '../../test/support/saml-messages.ts';
import { signInOnce } from '../sign-in.ts';

export const JOURNEYS = ['sign-in', 'saml-sign-in', 'saml-sso', 'oidc-sso', 'refresh', 'client-credentials'] as const;

const WEB = { id: 'test-web', secret: 'test-web-secret-0123456789abcdef0123456789', redirect: 'http://127.0.0.1:9/callback' };
const SERVICE = { id: 'test-service', secret: 'test-service-secret-0123456789abcdef012345' };
export const SP = { entityId: 'https://sp.test/fixture-sp' };
const basic = (c: { id: string; secret: string }) => `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`;

export type Journey = (worker: number, i: number) => Promise<void>;

/** An OIDC sign-in with offline_access, its code exchanged: the refresh token. */
export async function tokens(idpUrl: string, agent: Agent): Promise<string> {
  const auth = `${idpUrl}/oidc/auth?${new URLSearchParams({ client_id: WEB.id, redirect_uri: WEB.redirect, response_type: 'code', scope: 'openid email offline_access', prompt: 'consent', state: 's' })}`;
  let res = await agent.follow(await agent.request(auth), idpUrl);
  if (res.status === 200) {
    const f = form(res.text, '/sign-in');
    res = await agent.follow(await agent.request(new URL(f.action, idpUrl).toString(), { form: { ...f.fields, username: USERS[0][0], password: USERS[0][1] } }), idpUrl);
  }
  const code = new URL(res.location!).searchParams.get('code')!;
  const body = await fetch(`${idpUrl}/oidc/token`, {
    method: 'POST', headers: { authorization: basic(WEB), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: WEB.redirect }),
  }).then((r) => r.json() as Promise<{ refresh_token?: string }>);
  if (!body.refresh_token) throw new Error('no refresh token');
  return body.refresh_token;
}

/** Sets up what a journey needs and returns one run of it for each worker. */
export async function journey(name: string, idpUrl: string, concurrency: number): Promise<Journey> {
  switch (name) {
    case 'sign-in':
      return async (worker, i) => void (await signInOnce(idpUrl, USERS[(worker + i) % USERS.length]!));
    case 'saml-sign-in':
      // As the peer harness signs in (../shared/peers-bench): a fresh browser sends an
      // AuthnRequest, gets the sign-in page, posts the password and receives the Response.
      return async (worker, i) => {
        const agent = new Agent();
        const xml = authnRequestXml({ issuer: SP.entityId, destination: `${idpUrl}/saml/sso` });
        let page = await agent.follow(await agent.request(`${idpUrl}/saml/sso?${redirectQuery('SAMLRequest', xml, { sign: false })}`), idpUrl);
        const user = USERS[(worker + i) % USERS.length]!;
        const f = form(page.text, '/sign-in');
        page = await agent.follow(await agent.request(new URL(f.action, idpUrl).toString(), { form: { ...f.fields, username: user[0], password: user[1] } }), idpUrl);
        if (!page.text.includes('name="SAMLResponse"')) throw new Error(`no response: ${page.status}`);
      };
    case 'saml-sso': {
      const agents = await signedInBrowsers(idpUrl, concurrency);
      return async (worker) => {
        const xml = authnRequestXml({ issuer: SP.entityId, destination: `${idpUrl}/saml/sso` });
        const page = await agents[worker]!.follow(await agents[worker]!.request(`${idpUrl}/saml/sso?${redirectQuery('SAMLRequest', xml, { sign: false })}`), idpUrl);
        if (!page.text.includes('name="SAMLResponse"')) throw new Error(`no response: ${page.status}`);
      };
    }
    case 'oidc-sso': {
      // The OIDC code flow with a live SSO session, as an app sends its users: /oidc/auth to
      // the code (no page), then the code exchanged for tokens (client_secret_basic).
      const agents = await signedInBrowsers(idpUrl, concurrency);
      return async (worker) => {
        const auth = `${idpUrl}/oidc/auth?${new URLSearchParams({ client_id: WEB.id, redirect_uri: WEB.redirect, response_type: 'code', scope: 'openid profile email', state: 's', nonce: 'n' })}`;
        const last = await agents[worker]!.follow(await agents[worker]!.request(auth), idpUrl);
        const code = last.location?.startsWith(`${WEB.redirect}?`) ? new URL(last.location).searchParams.get('code') : null;
        if (!code) throw new Error(`no code: ${last.status}`);
        const res = await fetch(`${idpUrl}/oidc/token`, {
          method: 'POST', headers: { authorization: basic(WEB), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: WEB.redirect }),
        });
        if (!res.ok) throw new Error(`token: ${res.status}`);
        await res.arrayBuffer();
      };
    }
    case 'refresh': {
      const agent = new Agent();
      const current: string[] = [];
      for (let w = 0; w < concurrency; w++) current.push(await tokens(idpUrl, agent));
      return async (worker) => {
        const res = await fetch(`${idpUrl}/oidc/token`, {
          method: 'POST', headers: { authorization: basic(WEB), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: current[worker]! }),
        });
        const body = (await res.json()) as { refresh_token?: string };
        if (!body.refresh_token) throw new Error(`refresh failed: ${res.status}`);
        current[worker] = body.refresh_token;
      };
    }
    case 'client-credentials':
      return async () => {
        const res = await fetch(`${idpUrl}/oidc/token`, {
          method: 'POST', headers: { authorization: basic(SERVICE), 'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=client_credentials',
        });
        if (!res.ok) throw new Error(`client_credentials: ${res.status}`);
        await res.arrayBuffer();
      };
    default:
      throw new Error(`unknown journey ${name}`);
  }
}

