// sls-sim: a "Student Learning Space" relying party for trying the IdP, written only
// against the IdP's public OIDC endpoints with openid-client (code + PKCE), as any
// school app would. It shows the student's name, school, level and sample assignments,
// the ID token claims for testers, RP-initiated logout, and honours back-channel logout.
import bodyParser from '@koa/bodyparser';
import Router from '@koa/router';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import Koa from 'koa';
import { chooseSimLanguage, cookieSessions, languageRoute, pageRenderer, simLocalsOf } from '../web.ts';
import * as oidc from 'openid-client';

export interface SlsSimOptions {
  /** Where the sim is reached, e.g. http://localhost:3002 */
  publicUrl: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  viewsDir: string;
}

interface SimSession {
  id: string;
  pending?: { state: string; nonce: string; verifier: string };
  claims?: Record<string, unknown>;
  idToken?: string;
  userinfo?: Record<string, unknown>;
  sid?: string;
}

const COOKIE = 'sls_sim';

const ASSIGNMENTS: Record<string, string[]> = {
  primary: ['Maths: Fractions practice (due Friday)', 'English: My favourite animal — 150 words', 'Science: Life cycle of a butterfly'],
  secondary: ['Mathematics: Quadratic equations worksheet', 'Geography: Case study — urban heat islands', 'Chemistry: Mole concept quiz'],
  jc: ['H2 Mathematics: Vectors tutorial 4', 'General Paper: Argumentative essay outline', 'H2 Economics: Market failure case study'],
  staff: ['Review: Primary 5 English assignment submissions', 'Plan: Term 3 science lessons'],
};

function assignmentsFor(level: unknown): string[] {
  if (typeof level !== 'string') return ASSIGNMENTS.staff!;
  if (level.startsWith('P')) return ASSIGNMENTS.primary!;
  if (level.startsWith('JC')) return ASSIGNMENTS.jc!;
  return ASSIGNMENTS.secondary!;
}

export function createSlsSim(options: SlsSimOptions): { app: Koa; sessions: Map<string, SimSession> } {
  let config: Promise<oidc.Configuration> | undefined;
  const configuration = () => {
    config ??= oidc
      .discovery(new URL(options.issuer), options.clientId, options.clientSecret, oidc.ClientSecretBasic(options.clientSecret), {
        execute: options.issuer.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
      })
      .catch((err: unknown) => {
        config = undefined; // try again next time (the IdP may not be up yet)
        throw err;
      });
    return config;
  };
  const redirectUri = `${options.publicUrl}/callback`;

  const render = pageRenderer(options.viewsDir);

  const simSessions = cookieSessions<SimSession>(COOKIE);
  const { sessions } = simSessions;
  const session = simSessions.of;

  const router = new Router();
  languageRoute(router);

  router.get('/', async (ctx) => {
    const s = session(ctx);
    if (!s.claims) return render(ctx, 'home', {});
    const info = { ...s.claims, ...s.userinfo };
    await render(ctx, 'dashboard', { info, claims: s.claims, assignments: assignmentsFor(info.level) });
  });

  router.get('/login', async (ctx) => {
    const s = session(ctx);
    const verifier = oidc.randomPKCECodeVerifier();
    s.pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier };
    let cfg: oidc.Configuration;
    try {
      cfg = await configuration();
    } catch (err) {
      return render(ctx, 'error', { messageId: 'error.failed.start', params: { detail: (err as Error).message } }, 502);
    }
    const url = oidc.buildAuthorizationUrl(cfg, {
      redirect_uri: redirectUri,
      scope: 'openid email profile school roles',
      state: s.pending.state,
      nonce: s.pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      // The IdP's pages in the language this app shows (OIDC ui_locales).
      ui_locales: simLocalsOf(ctx).htmlLang,
    });
    ctx.redirect(url.toString());
  });

  router.get('/callback', async (ctx) => {
    const s = session(ctx);
    if (!s.pending) return render(ctx, 'error', { messageId: 'error.not_started', params: {} }, 400);
    const { state, nonce, verifier } = s.pending;
    delete s.pending;
    try {
      const cfg = await configuration();
      const tokens = await oidc.authorizationCodeGrant(cfg, new URL(ctx.href.replace(/^https?:\/\/[^/]+/, options.publicUrl)), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
      const claims = tokens.claims()!;
      s.claims = { ...claims };
      s.idToken = tokens.id_token;
      s.sid = typeof claims.sid === 'string' ? claims.sid : undefined;
      s.userinfo = { ...(await oidc.fetchUserInfo(cfg, tokens.access_token, claims.sub)) };
      // The person's language at the IdP (OIDC `locale`, profile scope): this app speaks it too.
      if (typeof s.userinfo.locale === 'string') chooseSimLanguage(ctx, s.userinfo.locale.toLowerCase().split(/[-_]/)[0]!);
    } catch (err) {
      const e = err as { error?: string; error_description?: string; message: string };
      return render(ctx, 'error', { messageId: 'error.failed.sign_in', params: { detail: e.error_description ?? e.error ?? e.message } }, 400);
    }
    ctx.redirect('/');
  });

  router.post('/logout', async (ctx) => {
    const s = session(ctx);
    const idToken = s.idToken;
    simSessions.end(ctx);
    if (!idToken) return ctx.redirect('/');
    let cfg: oidc.Configuration;
    try {
      cfg = await configuration();
    } catch (err) {
      return render(ctx, 'error', { messageId: 'error.failed.sign_out', params: { detail: (err as Error).message } }, 502);
    }
    const url = oidc.buildEndSessionUrl(cfg, { id_token_hint: idToken, post_logout_redirect_uri: `${options.publicUrl}/` });
    ctx.redirect(url.toString());
  });

  // OIDC Back-Channel Logout 1.0: the IdP says a session ended; verify and forget it.
  router.post('/backchannel-logout', async (ctx) => {
    const token = (ctx.request.body as Record<string, unknown> | undefined)?.logout_token;
    if (typeof token !== 'string') {
      ctx.status = 400;
      return;
    }
    try {
      const cfg = await configuration();
      const meta = cfg.serverMetadata();
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(meta.jwks_uri!)), { issuer: meta.issuer, audience: options.clientId, maxTokenAge: '2m' });
      const events = payload.events as Record<string, unknown> | undefined;
      if (!events?.['http://schemas.openid.net/event/backchannel-logout'] || 'nonce' in payload) throw new Error('not a logout token');
      for (const [id, s] of sessions) {
        const sameSession = payload.sid ? s.sid === payload.sid : s.claims?.sub === payload.sub;
        if (sameSession) sessions.delete(id);
      }
      ctx.set('Cache-Control', 'no-store');
      ctx.status = 200;
    } catch {
      ctx.status = 400;
    }
  });

  const app = new Koa();
  app.use(bodyParser({ enableTypes: ['form'] }));
  app.use(router.routes()).use(router.allowedMethods());
  return { app, sessions };
}
