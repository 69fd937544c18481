// GET|POST /saml/sso: an AuthnRequest over HTTP-Redirect or HTTP-POST. It is checked and
// kept as a pending sign-in; a cross-site POST (no SameSite=Lax cookies) is continued by a
// 303 to /saml/resume/:id, a GET, which has this browser's cookies.
import type { Context } from 'koa';
import { seeOther } from '../../../http/respond.ts';
import { NAMEID_EMAIL, NAMEID_PERSISTENT, NAMEID_UNSPECIFIED, NS, STATUS } from '../constants.ts';
import { requestedAuthnContext } from '../authn-context.ts';
import { browserBinding } from '../pending.ts';
import { childElement } from '../xml.ts';
import { receive } from './receive.ts';
import { resume } from './resume.ts';
import type { SamlScope } from './scope.ts';
import { postResponse } from './send.ts';

function isTrue(value: string | null): boolean {
  return value === 'true' || value === '1';
}

export function ssoHandler(s: SamlScope) {
  const { deps, pendingSignIns } = s;
  return async (ctx: Context) => {
    const msg = await receive(deps, ctx, deps.endpoints.ssoUrl, ['AuthnRequest']);
    const trusted = msg.trusted!;
    const sp = msg.sp!;
    const policy = childElement(trusted, NS.protocol, 'NameIDPolicy')?.getAttribute('Format');
    const pending = await pendingSignIns.create({
      spId: sp.id,
      requestId: msg.id!,
      acsUrl: msg.acs!.location,
      ...(msg.relayState !== undefined ? { relayState: msg.relayState } : {}),
      forceAuthn: isTrue(trusted.getAttribute('ForceAuthn')),
      isPassive: isTrue(trusted.getAttribute('IsPassive')),
      ...(requestedAuthnContext(trusted) ? { authnContext: requestedAuthnContext(trusted)! } : {}),
      receivedAt: deps.clock(),
      // HTTP-Redirect is a GET with this browser's cookies: bound now. HTTP-POST comes
      // cross-site without them: bound by the GET it is continued with.
      binding: ctx.method === 'GET' ? browserBinding(deps.browserSecret(ctx)) : '',
    });
    // The SP gets the NameID its file allows (an address only where it may have mail): a policy asking for another is refused.
    const issued = sp.nameIdFormat === 'persistent' ? NAMEID_PERSISTENT : NAMEID_EMAIL;
    if (policy && policy !== issued && policy !== NAMEID_UNSPECIFIED) {
      const { samlResponse } = deps.messages.errorResponse({ sp, acsUrl: pending.acsUrl, inResponseTo: pending.requestId, status: STATUS.requester, subStatus: 'urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy', message: `This service provider is given ${sp.nameIdFormat} NameIDs only.`, now: deps.clock() });
      await pendingSignIns.take(pending);
      return postResponse(deps, ctx, pending.acsUrl, samlResponse, pending.relayState);
    }
    if (ctx.method === 'GET') return resume(s, ctx, pending);
    seeOther(ctx, `/saml/resume/${pending.id}`);
  };
}
