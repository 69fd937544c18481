// Every inbound message passes inbound/ before anything else happens: decoded by its
// binding, then every check. A refusal is counted and becomes the error page.
import type { Context } from 'koa';
import { AppError } from '../../../domain/errors.ts';
import { checkInbound, fromPost, fromRedirect, SamlRefusal, type InboundMessage, type MessageKind } from '../inbound/index.ts';
import type { SamlDeps } from './scope.ts';

export type Checked = { msg: InboundMessage; refusal?: undefined } | { msg: InboundMessage | undefined; refusal: SamlRefusal };

/**
 * Decodes an inbound message and runs every check on it. A refusal is counted and comes
 * back with the message as far as the checks had read it.
 */
export async function check(deps: SamlDeps, ctx: Context, endpointUrl: string, expected: MessageKind[]): Promise<Checked> {
  const { settings } = deps;
  const max = settings.saml.maxMessageBytes;
  let msg: InboundMessage | undefined;
  try {
    msg = ctx.method === 'GET' ? fromRedirect(ctx.querystring, endpointUrl, expected, max) : fromPost(ctx.request.body, Boolean(ctx.is('application/x-www-form-urlencoded')), endpointUrl, expected, max);
    return {
      msg: await checkInbound(msg, {
        sps: deps.sps,
        schema: deps.schema,
        store: deps.store,
        now: deps.clock(),
        clockSkewMs: settings.saml.clockSkewSeconds * 1000,
        requestMaxAgeMs: settings.saml.requestMaxAgeSeconds * 1000,
        maxMessageBytes: max,
      }),
    };
  } catch (err) {
    if (!(err instanceof SamlRefusal)) throw err;
    deps.onRefusal?.(err.code);
    return { msg, refusal: err };
  }
}

/** The error page of a refused message (its detail goes to the log line). */
export function refused(refusal: SamlRefusal): AppError {
  return new AppError(refusal.code, `SAML message refused: ${refusal.detail}`, { continueTo: '/portal' });
}

export async function receive(deps: SamlDeps, ctx: Context, endpointUrl: string, expected: MessageKind[]): Promise<InboundMessage> {
  const received = await check(deps, ctx, endpointUrl, expected);
  if (received.refusal) throw refused(received.refusal);
  return received.msg;
}
