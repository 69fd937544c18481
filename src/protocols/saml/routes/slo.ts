// GET|POST /saml/slo: a LogoutRequest from an SP, or a LogoutResponse to ours. A request
// is checked, kept, and continued by a 303 to GET /saml/slo/request/:id, which has this
// browser's cookies and ends its SSO session if the request names it.
import type { RouterContext } from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../../domain/errors.ts';
import { seeOther } from '../../../http/respond.ts';
import { keys } from '../../../store/index.ts';
import { NS, STATUS } from '../constants.ts';
import type { InboundMessage, SamlRefusal } from '../inbound/index.ts';
import type { LogoutFinal } from '../logout-chain.ts';
import { newMessageId } from '../responses.ts';
import { childElement, childElements, textOf } from '../xml.ts';
import { check, refused } from './receive.ts';
import type { SamlScope } from './scope.ts';
import { continueChain } from './slo-chain.ts';

interface LogoutRequestSeen {
  spId: string;
  requestId: string;
  relayState?: string | undefined;
  nameId?: string | undefined;
  sessionIndexes: string[];
}

export function sloHandlers(s: SamlScope) {
  const { deps } = s;

  /**
   * A refused LogoutResponse (unsigned, signed with another key, ...) that answers the
   * logout in progress — its chain (RelayState), its SP (Issuer) and its request
   * (InResponseTo) — ends that SP's turn as not confirmed, as a non-Success status does,
   * and the chain goes on. Nothing in it is trusted: it can only count against the SP.
   */
  async function notConfirmed(ctx: Context, msg: InboundMessage | undefined, refusal: SamlRefusal): Promise<boolean> {
    if (msg?.kind !== 'LogoutResponse' || !msg.sp || !msg.root) return false;
    const chain = await deps.chains.get(msg.relayState);
    if (!chain?.current || chain.current.spId !== msg.sp.id || chain.current.requestId !== msg.root.getAttribute('InResponseTo')) return false;
    chain.failed.push(msg.sp.id);
    delete chain.current;
    await deps.chains.save(chain);
    await deps.audit.record({ type: 'logout', client: msg.sp.id, ip: ctx.ip, requestId: ctx.state.requestId as string, reason: `LogoutResponse refused, sign-out not confirmed: ${refusal.detail}` });
    seeOther(ctx, `/saml/slo/next/${chain.id}`);
    return true;
  }

  const slo = async (ctx: Context) => {
    const received = await check(deps, ctx, deps.endpoints.sloUrl, ['LogoutRequest', 'LogoutResponse']);
    if (received.refusal) {
      if (await notConfirmed(ctx, received.msg, received.refusal)) return;
      throw refused(received.refusal);
    }
    const msg = received.msg;
    const trusted = msg.trusted!;
    const sp = msg.sp!;
    if (msg.kind === 'LogoutResponse') {
      const chain = await deps.chains.get(msg.relayState);
      const inResponseTo = trusted.getAttribute('InResponseTo');
      if (!chain || chain.current?.spId !== sp.id || chain.current.requestId !== inResponseTo) {
        throw new AppError('SSPR 5130', `LogoutResponse from ${sp.id} does not answer a logout in progress`, { continueTo: '/portal' });
      }
      const status = childElement(childElement(trusted, NS.protocol, 'Status') ?? trusted, NS.protocol, 'StatusCode')?.getAttribute('Value');
      (status === STATUS.success ? chain.loggedOut : chain.failed).push(sp.id);
      delete chain.current;
      await deps.chains.save(chain);
      return seeOther(ctx, `/saml/slo/next/${chain.id}`);
    }
    // A LogoutRequest: valid only while it has not expired.
    const notOnOrAfter = Date.parse(trusted.getAttribute('NotOnOrAfter') ?? '');
    if (Number.isFinite(notOnOrAfter) && notOnOrAfter + deps.settings.saml.clockSkewSeconds * 1000 <= deps.clock()) {
      throw new AppError('SSPR 5130', 'LogoutRequest has expired', { continueTo: '/portal' });
    }
    const seen: LogoutRequestSeen = {
      spId: sp.id,
      requestId: msg.id!,
      relayState: msg.relayState,
      nameId: textOf(childElement(trusted, NS.assertion, 'NameID')),
      sessionIndexes: childElements(trusted, NS.protocol, 'SessionIndex').map((el) => textOf(el) ?? ''),
    };
    // Continue as a GET, which carries this browser's cookies.
    const id = newMessageId();
    await deps.store.set(keys.samlLogoutRequest(id), JSON.stringify(seen), { ttlMs: 10 * 60_000 });
    seeOther(ctx, `/saml/slo/request/${id}`);
  };

  const request = async (ctx: RouterContext) => {
    const key = keys.samlLogoutRequest(ctx.params.id!);
    const raw = /^_[0-9a-f]{40}$/.test(ctx.params.id!) ? await deps.store.get(key) : null;
    if (!raw) throw new AppError('SSPR 5101', 'logout request unknown or expired', { continueTo: '/portal' });
    await deps.store.del(key);
    const seen = JSON.parse(raw) as LogoutRequestSeen;
    const final: LogoutFinal = { kind: 'saml-response', spId: seen.spId, inResponseTo: seen.requestId, relayState: seen.relayState, status: STATUS.success };
    const session = await deps.ssoOf(ctx);
    if (!session) {
      // Already signed out here: tell the SP so.
      return continueChain(s, ctx, await deps.chains.create([], final));
    }
    const participant = (await deps.sso.participants(session.id)).saml.find((p) => p.spId === seen.spId);
    const matches = participant !== undefined && participant.nameId === seen.nameId && (seen.sessionIndexes.length === 0 || seen.sessionIndexes.includes(participant.sessionIndex));
    if (!matches) {
      // Not this browser's session at that SP: end nothing, and say so.
      return continueChain(s, ctx, await deps.chains.create([], { ...final, status: STATUS.requester }));
    }
    seeOther(ctx, await deps.signOut(ctx, final, seen.spId));
  };

  return { slo, request };
}
