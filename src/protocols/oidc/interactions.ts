// The OIDC interaction endpoint: /interaction/:uid, where oidc-provider sends the
// browser when it needs a login or consent. Routes live under /interaction/<uid>
// because oidc-provider scopes its interaction cookie to that path.
//   login   -> the gate decides (domain/sessions/gate.ts): a live SSO session that is
//              fresh enough finishes at once with that session's account and its real
//              auth_time; otherwise the protocol-neutral sign-in flow (re-authentication of
//              the same account for prompt=login and max_age) or the required actions run,
//              and return here when done. An id_token_hint naming another account than the
//              signed-in one is answered login_required.
//   consent -> clients are registered by administrators, so the requested scopes and
//              claims are granted without a consent screen (scopes already with the login,
//              which saves a round trip; what remains comes back here as a consent prompt).
import Router from '@koa/router';
import { decodeJwt } from 'jose';
import type { Context } from 'koa';
import type { Interaction, Provider } from 'oidc-provider';
import type { Clock } from '../../domain/clock.ts';
import { AppError } from '../../domain/errors.ts';
import { StoreUnavailableError } from '../../store/index.ts';
import type { AppNotice, Gate, Refusal } from '../../domain/sessions/gate.ts';
import type { OidcResume } from '../../domain/sessions/resume.ts';
import { seeOther } from '../../http/respond.ts';
import { acrOf, essentialAcrValues, requestedAcr } from './acr.ts';
import { subjectFor, type SubjectClient } from './subjects.ts';
import { CLAIMS_BY_SCOPE, claimsAllowed } from './claims.ts';
import type { SsoSession } from '../../domain/sessions/sso-sessions.ts';


export interface InteractionDeps {
  provider: Provider;
  ssoOf: (ctx: Context) => Promise<SsoSession | null>;
  gate: Gate;
  clock: Clock;
  /** Starts the flow the gate asks for (sign-in, re-authentication, required actions), which resumes this interaction; resolves to its URL. */
  runFirst: (ctx: Context, refusal: Refusal, resume: OidcResume) => Promise<string>;
  /** Records that this client signs in with the SSO session. */
  recordClient: (sso: SsoSession, clientId: string) => Promise<void>;
  /** Remembers the request's ui_locales as the pages' language (below the user's own choice). */
  rememberLanguage?: (ctx: Context, uiLocales: unknown) => void;
  /** The key of pairwise subjects (subjects.ts). */
  pairwiseKey: string;
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
    deps.rememberLanguage?.(ctx, details.params.ui_locales);

    if (details.prompt.name === 'login') {
      const resume: OidcResume = { kind: 'oidc', uid: details.uid, clientId };
      const acr = requestedAcr(details.params);
      const sso = await deps.ssoOf(ctx);
      // An id_token_hint names the account by the sub this client knows (pairwise for some apps):
      // it is the session's account when that account's sub at this client is the hint's.
      const hinted = hintedSub(details);
      const client = await provider.Client.find(clientId);
      const accountId = hinted === undefined ? undefined : sso && subjectFor(deps.pairwiseKey, client as unknown as SubjectClient, sso.accountId) === hinted ? sso.accountId : `hint:${hinted}`;
      const need = { authenticatedSince: await authenticatedSince(ctx, details), accountId, mfa: acr.mfa ? {} : undefined, app: appOf(client, clientId, details.params.scope) };
      let verdict = await deps.gate(sso, need);
      if (verdict.reason === 'mfa_unavailable') {
        // The account has no second factor: an essential request is refused; a voluntary one gets the lower class.
        if (acr.essential) {
          await provider.interactionFinished(ctx.req, ctx.res, { error: 'unmet_authentication_requirements', error_description: 'two-step sign-in is not set up for this account' }, { mergeWithLastSubmission: false });
          ctx.respond = false;
          return;
        }
        verdict = await deps.gate(verdict.session, { ...need, mfa: undefined });
      }
      if (verdict.reason === 'other_account') {
        await provider.interactionFinished(ctx.req, ctx.res, { error: 'login_required', error_description: 'another account is signed in' }, { mergeWithLastSubmission: false });
        ctx.respond = false;
        return;
      }
      if (!verdict.proceed) {
        // Nothing is issued while a sign-in, a fresher one or a required action is due.
        seeOther(ctx, await deps.runFirst(ctx, verdict, resume));
        return;
      }
      const { session, account } = verdict;
      // An app that insists on classes this sign-in does not meet (a password after a badge, say) gets an error, not a loop.
      const insisted = essentialAcrValues(details.params);
      if (insisted && !insisted.includes(acrOf(session.amr))) {
        await provider.interactionFinished(ctx.req, ctx.res, { error: 'unmet_authentication_requirements', error_description: `this sign-in (${acrOf(session.amr)}) does not meet the acr values insisted on` }, { mergeWithLastSubmission: false });
        ctx.respond = false;
        return;
      }
      // The SSO session remembers its OIDC clients (single logout goes through oidc-provider then).
      await deps.recordClient(session, clientId);
      // Consent is not asked (clients are registered by administrators): grant the requested
      // scopes now, which saves the consent round trip. Whatever this does not cover (claims,
      // resource indicators, an explicit prompt=consent) still comes back as a consent prompt.
      const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
      // A grant of the account the browser had before (its SSO session ended) is not reused.
      const grant = existing?.accountId === account.id ? existing : new provider.Grant({ accountId: account.id, clientId });
      if (typeof details.params.scope === 'string') grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      await provider.interactionFinished(
        ctx.req,
        ctx.res,
        { login: { accountId: account.id, acr: acrOf(session.amr), amr: session.amr, ts: Math.floor(session.authTime / 1000), remember: false }, consent: { grantId } },
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

  /**
   * prompt=login and max_age: the password must have been entered at or after this time
   * (ms). Fixed at the first visit and kept in the interaction (server side), so that the
   * sign-in it leads to satisfies it when the browser comes back.
   */
  async function authenticatedSince(ctx: Context, details: Interaction): Promise<number | undefined> {
    const { reasons } = details.prompt;
    if (!reasons.includes('login_prompt') && !reasons.includes('max_age')) return undefined;
    const kept = (details.result as { authenticatedSince?: unknown } | undefined)?.authenticatedSince;
    if (typeof kept === 'number') return kept;
    const maxAge = reasons.includes('login_prompt') ? 0 : Number(details.params.max_age);
    const since = deps.clock() - maxAge * 1000;
    await provider.interactionResult(ctx.req, ctx.res, { authenticatedSince: since }, { mergeWithLastSubmission: false });
    return since;
  }

  return router;
}

/** The app as the first-use notice names it: what it receives is the claims of the scopes asked that it may have. */
function appOf(client: unknown, clientId: string, scope: unknown): AppNotice {
  const c = client as { clientName?: string; scope?: string } | undefined;
  const allowed = claimsAllowed(c?.scope);
  const scopes = typeof scope === 'string' ? scope.split(' ') : [];
  const receives = scopes.flatMap((s) => (Object.hasOwn(CLAIMS_BY_SCOPE, s) ? [...CLAIMS_BY_SCOPE[s as keyof typeof CLAIMS_BY_SCOPE]] : [])).filter((claim) => !allowed || allowed.has(claim));
  return { key: `oidc:${clientId}`, name: c?.clientName ?? clientId, receives };
}

/** The sub an id_token_hint names (oidc-provider verified it when the request arrived). */
function hintedSub(details: Interaction): string | undefined {
  const hint = details.params.id_token_hint;
  if (typeof hint !== 'string') return undefined;
  try {
    return decodeJwt(hint).sub;
  } catch {
    return undefined;
  }
}
