// What goes back to an SP through the browser: a Response by HTTP-POST, a logout message
// by the SP's binding.
import type { Context } from 'koa';
import { allowFormTargets } from '../../../http/form-targets.ts';
import type { SamlMessages } from '../responses.ts';
import type { SamlDeps } from './scope.ts';

/** Sends a logout message to an SP by its binding. */
export async function send(deps: SamlDeps, ctx: Context, delivery: ReturnType<SamlMessages['deliver']>): Promise<void> {
  if (delivery.kind === 'redirect') {
    ctx.status = 302;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(delivery.url);
    return;
  }
  await deps.render(ctx, 'saml-post', { action: delivery.action, fields: delivery.fields, purpose: 'sign-out' });
  // The SP's endpoint, checked against its registration (an SP added while the IdP runs too).
  allowFormTargets(ctx.res, [delivery.action]);
}

export async function postResponse(deps: SamlDeps, ctx: Context, acsUrl: string, samlResponse: string, relayState: string | undefined): Promise<void> {
  await deps.render(ctx, 'saml-post', { action: acsUrl, fields: { SAMLResponse: samlResponse, ...(relayState !== undefined ? { RelayState: relayState } : {}) } });
  allowFormTargets(ctx.res, [acsUrl]);
}
