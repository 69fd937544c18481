// Where a sign-in continues (after the login prompt too), and where the user cancels it.
//   GET  /saml/resume/:id         issues the Response when the SSO session allows it
//   GET  /saml/resume/:id/abort   the user cancelled: the SP gets AuthnFailed
import type { RouterContext } from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../../domain/errors.ts';
import type { SamlResume } from '../../../domain/sessions/resume.ts';
import { seeOther } from '../../../http/respond.ts';
import { classRefFor, metWithoutPassword, neededStrength, sessionStrength } from '../authn-context.ts';
import { STATUS } from '../constants.ts';
import { browserBinding, type PendingSignIn } from '../pending.ts';
import type { ServiceProvider } from '../service-providers.ts';
import type { SamlScope } from './scope.ts';
import { postResponse } from './send.ts';

async function spOf(s: SamlScope, pending: PendingSignIn): Promise<ServiceProvider> {
  const sp = await s.deps.sps.findById(pending.spId);
  if (!sp) throw new AppError('SSPR 5131', `SP ${pending.spId} no longer registered`);
  return sp;
}

/** The pending sign-in for this browser (claimed by the first browser that opens it). */
async function pendingFor(s: SamlScope, ctx: Context, id: string): Promise<PendingSignIn> {
  const found = await s.pendingSignIns.get(id);
  if (found === 'used') throw new AppError('SSPR 5133', `pending sign-in ${id} already answered`, { continueTo: '/portal' });
  if (!found) throw new AppError('SSPR 5101', `pending sign-in ${id} unknown or expired`, { continueTo: '/portal' });
  const binding = browserBinding(s.deps.browserSecret(ctx));
  if (!found.binding) {
    const claimed = await s.pendingSignIns.claim(found, binding);
    if (!claimed) throw new AppError('SSPR 5102', 'pending sign-in claimed by another browser', { continueTo: '/portal' });
    return claimed;
  }
  if (found.binding !== binding) throw new AppError('SSPR 5102', 'pending sign-in belongs to another browser', { continueTo: '/portal' });
  return found;
}

export async function errorToSp(s: SamlScope, ctx: Context, pending: PendingSignIn, status: string, subStatus: string, message: string): Promise<void> {
  const sp = await spOf(s, pending);
  if (!(await s.pendingSignIns.take(pending))) throw new AppError('SSPR 5133', 'pending sign-in answered twice');
  const { samlResponse } = s.deps.messages.errorResponse({ sp, acsUrl: pending.acsUrl, inResponseTo: pending.requestId, status, subStatus, message, now: s.deps.clock() });
  await postResponse(s.deps, ctx, pending.acsUrl, samlResponse, pending.relayState);
}

/** Issues the Response when the SSO session allows it; otherwise the login prompt first. */
export async function resume(s: SamlScope, ctx: Context, pending: PendingSignIn): Promise<void> {
  const { deps } = s;
  const sp = await spOf(s, pending);
  const resumeTo: SamlResume = { kind: 'saml', pendingId: pending.id, spId: sp.id };
  // RequestedAuthnContext: two-step sign-in when only that meets it; NoAuthnContext when nothing can.
  const strength = neededStrength(pending.authnContext);
  if (strength === 'impossible') return errorToSp(s, ctx, pending, STATUS.requester, STATUS.noAuthnContext, 'The requested authentication context is not supported.');
  // ForceAuthn: a sign-in since the request arrived.
  const app = { key: `saml:${sp.id}`, name: sp.displayName, receives: [...sp.attributes] };
  const verdict = await deps.gate(await deps.ssoOf(ctx), { authenticatedSince: pending.forceAuthn ? pending.receivedAt : undefined, mfa: strength === 'mfa' ? {} : undefined, app });
  if (verdict.reason === 'mfa_unavailable') return errorToSp(s, ctx, pending, STATUS.requester, STATUS.noAuthnContext, 'Two-step sign-in is not set up for this account.');
  if (!verdict.proceed) {
    // IsPassive: no page may be shown; nothing is issued while a sign-in or a required action is due.
    if (pending.isPassive) {
      const why = verdict.reason === 'required_actions' ? 'The user must complete required steps first.' : 'The user is not signed in.';
      return errorToSp(s, ctx, pending, STATUS.responder, STATUS.noPassive, why);
    }
    return seeOther(ctx, await deps.runFirst(ctx, verdict, resumeTo));
  }
  const { session, account } = verdict;
  // A sign-in without a password or two steps (a badge) meets no password class the SP asked for.
  const strength2 = sessionStrength(session.amr);
  if (!strength2.password && !strength2.mfa && !metWithoutPassword(pending.authnContext)) {
    return errorToSp(s, ctx, pending, STATUS.requester, STATUS.noAuthnContext, 'The sign-in used (a badge) does not meet the requested authentication context.');
  }
  if (!(await s.pendingSignIns.take(pending))) throw new AppError('SSPR 5133', 'pending sign-in answered twice');
  // Only what the ministry and the school let this SP have of their pupils: without `email`,
  // no mail attribute and no address as NameID (its persistent identifier instead).
  const kept = deps.released ? await deps.released(`saml:${sp.id}`, account.school.code, [...new Set([...sp.attributes, 'mail' as const])]) : null;
  const attributes = kept ? sp.attributes.filter((a) => kept.includes(a)) : sp.attributes;
  const emailKept = !kept || kept.includes('mail');
  const released = { ...sp, attributes, nameIdFormat: sp.nameIdFormat === 'emailAddress' && !emailKept ? 'persistent' as const : sp.nameIdFormat };
  const participant = await deps.sso.samlParticipant(session, sp.id, deps.messages.nameIdOf(released, account).value);
  const { id, samlResponse } = await deps.messages.loginResponse({
    sp: released, acsUrl: pending.acsUrl, inResponseTo: pending.requestId, account, sessionIndex: participant.sessionIndex,
    authInstant: session.authTime, sessionNotOnOrAfter: session.expiresAt, now: deps.clock(),
    authnContextClassRef: classRefFor(pending.authnContext, strength2),
  });
  await postResponse(deps, ctx, pending.acsUrl, samlResponse, pending.relayState);
  await deps.audit.record({ type: 'saml.assertion', accountId: account.id, client: sp.id, ip: ctx.ip, requestId: ctx.state.requestId as string, reason: `response ${id}${pending.requestId ? ` to ${pending.requestId}` : ' (IdP-initiated)'}` });
}

export function resumeHandlers(s: SamlScope) {
  return {
    resume: async (ctx: RouterContext) => {
      await resume(s, ctx, await pendingFor(s, ctx, ctx.params.id!));
    },
    abort: async (ctx: RouterContext) => {
      const pending = await pendingFor(s, ctx, ctx.params.id!);
      await errorToSp(s, ctx, pending, STATUS.responder, STATUS.authnFailed, 'The user cancelled the sign-in.');
    },
  };
}

