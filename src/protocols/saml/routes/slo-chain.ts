// A single logout goes from SP to SP, one LogoutRequest at a time, then ends as it was
// asked to (a page, a form post, or a LogoutResponse to the SP that asked).
//   GET  /saml/slo/next/:chain   the next step of a single logout
//   GET  /saml/slo/resume        where the IdP's own OIDC logout hands over (web/single-logout.ts)
import type { RouterContext } from '@koa/router';
import type { Context } from 'koa';
import { allowFormTargets } from '../../../http/form-targets.ts';
import type { LogoutChain } from '../logout-chain.ts';
import { newMessageId } from '../responses.ts';
import { logoutEndpoint } from '../service-providers.ts';
import { LOGOUT_CHAIN_COOKIE, type SamlScope } from './scope.ts';
import { send } from './send.ts';

export async function continueChain(s: SamlScope, ctx: Context, chain: LogoutChain): Promise<void> {
  const { deps } = s;
  const { sps, messages } = deps;
  while (chain.remaining.length > 0) {
    const participant = chain.remaining.shift()!;
    const sp = await sps.findById(participant.spId);
    const endpoint = sp && logoutEndpoint(sp);
    if (!sp || !endpoint) continue;
    const requestId = newMessageId();
    chain.current = { spId: sp.id, requestId };
    await deps.chains.save(chain);
    const xml = messages.logoutRequestXml({ id: requestId, destination: endpoint.location, nameId: participant.nameId, sessionIndex: participant.sessionIndex, now: deps.clock(), sp });
    return send(deps, ctx, messages.deliver(endpoint, 'SAMLRequest', xml, chain.id));
  }
  await deps.chains.end(chain.id);
  ctx.cookies.set(LOGOUT_CHAIN_COOKIE, '', { httpOnly: true, sameSite: 'lax', secure: s.secure, maxAge: 0 });
  const final = chain.final;
  if (final.kind === 'page') return deps.signedOutPage(ctx, chain);
  if (final.kind === 'post') {
    await deps.render(ctx, 'saml-post', { action: final.action, fields: final.fields, purpose: 'sign-out' });
    allowFormTargets(ctx.res, [final.leadsTo]);
    return;
  }
  const sp = await sps.findById(final.spId);
  const endpoint = sp && logoutEndpoint(sp);
  if (!sp || !endpoint) return deps.signedOutPage(ctx, chain);
  const xml = messages.logoutResponseXml({ id: newMessageId(), destination: endpoint.responseLocation ?? endpoint.location, inResponseTo: final.inResponseTo, status: final.status, now: deps.clock() });
  return send(deps, ctx, messages.deliver(endpoint, 'SAMLResponse', xml, final.relayState, true));
}

export function chainHandlers(s: SamlScope) {
  const { deps } = s;
  return {
    next: async (ctx: RouterContext) => {
      const chain = await deps.chains.get(ctx.params.chain);
      if (!chain) return deps.signedOutPage(ctx, null);
      await continueChain(s, ctx, chain);
    },
    resume: async (ctx: Context) => {
      const chain = await deps.chains.get(ctx.cookies.get(LOGOUT_CHAIN_COOKIE, { signed: true }));
      if (!chain) return deps.signedOutPage(ctx, null);
      await continueChain(s, ctx, chain);
    },
  };
}
