// GET /saml/launch/:sp: IdP-initiated sign-in (portal tiles), a pending sign-in without a
// request, bound to this browser at once.
import type { RouterContext } from '@koa/router';
import { AppError } from '../../../domain/errors.ts';
import { browserBinding } from '../pending.ts';
import { resume } from './resume.ts';
import type { SamlScope } from './scope.ts';

export function launchHandler(s: SamlScope) {
  const { deps } = s;
  return async (ctx: RouterContext) => {
    const sp = await deps.sps.findById(ctx.params.sp!);
    if (!sp) throw new AppError('SSPR 5404', `no SAML SP ${ctx.params.sp}`);
    const pending = await s.pendingSignIns.create({
      spId: sp.id,
      acsUrl: sp.acs[0]!.location,
      ...(sp.defaultRelayState !== undefined ? { relayState: sp.defaultRelayState } : {}),
      forceAuthn: false,
      isPassive: false,
      receivedAt: deps.clock(),
      binding: browserBinding(deps.browserSecret(ctx)),
    });
    await resume(s, ctx, pending);
  };
}
