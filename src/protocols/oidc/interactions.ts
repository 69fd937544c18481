// The OIDC interaction endpoint: /interaction/:uid, where oidc-provider sends the
// browser when it needs a login or consent. Routes live under /interaction/<uid>
// because oidc-provider scopes its interaction cookie to that path.
//   login   -> with a live SSO session: finish at once with that session's account;
//              otherwise hand over to the protocol-neutral sign-in flow, which
//              returns here when done.
//   consent -> clients are registered by administrators, so the requested scopes and
//              claims are granted without a consent screen (scopes already with the login,
//              which saves a round trip; what remains comes back here as a consent prompt).
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Provider } from 'oidc-provider';
import { AppError } from '../../domain/errors.ts';
import { StoreUnavailableError } from '../../store/index.ts';
import type { RequiredAction } from '../../domain/accounts/credentials.ts';
import type { SsoSession } from '../../domain/sessions/sso-sessions.ts';

type Resume = { kind: 'oidc'; uid: string; clientId: string };

export interface InteractionDeps {
  provider: Provider;
  ssoOf: (ctx: Context) => Promise<SsoSession | null>;
  /** Required actions still pending for an account (none: it may be signed in). */
  pendingActions: (accountId: string) => Promise<RequiredAction[] | null>;
  /** Starts the sign-in flow that resumes this interaction; resolves to its URL. */
  beginSignIn: (ctx: Context, resume: Resume) => Promise<string>;
  /** Records that this client signs in with the SSO session. */
  recordClient: (sso: SsoSession, clientId: string) => Promise<void>;
  /** Starts the required actions of an account the SSO session vouches for. */
  beginRequiredActions: (ctx: Context, accountId: string, pending: RequiredAction[], resume: Resume) => Promise<string>;
}

export function interactionRouter(deps: InteractionDeps): Router {
  const { provider } = deps;
  const router = new Router();

  router.get('/interaction/:uid', async (ctx) => {
    let details;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw new AppError('SSPR 5101', `interaction not found: ${(err as Error).message}`, { continueTo: '/portal' });
    }
    if (details.uid !== ctx.params.uid) throw new AppError('SSPR 5102', 'interaction cookie does not match the URL', { continueTo: '/portal' });
    const clientId = String(details.params.client_id ?? '');

    if (details.prompt.name === 'login') {
      const sso = await deps.ssoOf(ctx);
      const resume: Resume = { kind: 'oidc', uid: details.uid, clientId };
      const pending = sso ? await deps.pendingActions(sso.accountId) : null;
      if (!sso || !pending) {
        ctx.status = 303;
        ctx.redirect(await deps.beginSignIn(ctx, resume));
        return;
      }
      if (pending.length > 0) {
        // Nothing is issued while a required action is pending.
        ctx.status = 303;
        ctx.redirect(await deps.beginRequiredActions(ctx, sso.accountId, pending, resume));
        return;
      }
      // The SSO session remembers its OIDC clients (single logout goes through oidc-provider then).
      await deps.recordClient(sso, clientId);
      // Consent is not asked (clients are registered by administrators): grant the requested
      // scopes now, which saves the consent round trip. Whatever this does not cover (claims,
      // resource indicators, an explicit prompt=consent) still comes back as a consent prompt.
      const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: sso.accountId, clientId });
      if (!grant || grant.accountId !== sso.accountId) throw new AppError('SSPR 5102', 'grant of another account');
      if (typeof details.params.scope === 'string') grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      await provider.interactionFinished(
        ctx.req,
        ctx.res,
        { login: { accountId: sso.accountId, amr: sso.amr, ts: Math.floor(sso.authTime / 1000), remember: false }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
      ctx.respond = false;
      return;
    }

    if (details.prompt.name === 'consent') {
      const accountId = details.session?.accountId;
      if (!accountId) throw new AppError('SSPR 5102', 'consent without a session');
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId, clientId });
      if (!grant) throw new AppError('SSPR 5102', 'grant vanished during consent');
      const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
      const grantId = await grant.save();
      await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      ctx.respond = false;
      return;
    }

    throw new AppError('SSPR 5120', `unsupported prompt ${details.prompt.name}`);
  });

  // The user cancelled the sign-in: the application gets access_denied.
  router.get('/interaction/:uid/abort', async (ctx) => {
    try {
      await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      throw new AppError('SSPR 5101', `interaction not found: ${(err as Error).message}`, { continueTo: '/portal' });
    }
    await provider.interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' }, { mergeWithLastSubmission: false });
    ctx.respond = false;
  });

  return router;
}
