// One place that turns failures into responses: an HTML error page (the guides'
// "Error / SSPR nnnn / Continue" screen) or JSON, always with a reference id that is
// also on the log line. Stack traces and library messages never reach the user.
import type { Context, Next } from 'koa';
import { AppError } from '../domain/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { StoreUnavailableError } from '../store/index.ts';
import type { Render } from '../http/respond.ts';

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof StoreUnavailableError) return new AppError('SSPR 5019', err.message, { cause: err });
  // A body sent compressed that does not decompress (Content-Encoding gzip, deflate, br): the sender's fault.
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && /^(Z_|ERR_ZLIB|ERR_BROTLI|ERR__?BROTLI)/.test(code)) return new AppError('SSPR 5103', `request body does not decompress: ${(err as Error).message}`, { cause: err });
  const status = (err as { status?: number; expose?: boolean }).status;
  if (status === 404) return new AppError('SSPR 5404');
  if (status && status >= 400 && status < 500) return new AppError('SSPR 5103', (err as Error).message, { cause: err });
  return new AppError('SSPR 5019', (err as Error)?.message ?? String(err), { cause: err });
}

function wantsJson(ctx: Context): boolean {
  return ctx.accepts('html', 'json') === 'json';
}

/**
 * The fields a waiting page sends again: the form as it was posted (string fields only, at
 * most 32 of at most 4 KB each), back to the browser that typed them, in a no-store page.
 */
function repostedFields(body: Record<string, unknown> | undefined): Array<[string, string]> {
  if (!body) return [];
  return Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].length <= 4096).slice(0, 32);
}

export async function renderAppError(ctx: Context, error: AppError, render: Render): Promise<void> {
  const reference = ctx.state.requestId as string;
  if (error.retryAfterSeconds !== undefined) {
    ctx.set('Retry-After', String(error.retryAfterSeconds));
    if (!wantsJson(ctx)) {
      // Nothing was done: the page sends the same form again by itself (POST), or loads the same page again (GET).
      const body = (ctx.request as { body?: unknown }).body as Record<string, unknown> | undefined;
      const fields = ctx.method === 'POST' ? repostedFields(body) : [];
      // Always a path of this IdP (never "//host": the page loads or posts it by itself).
      const own = (p: string) => (/^\/(?![/\\])/.test(p) ? p : '/portal');
      await render(ctx, 'wait', { code: error.code, message: { id: error.messageId, params: error.params }, reference, seconds: error.retryAfterSeconds, repost: ctx.method === 'POST' ? { action: own(ctx.path), fields } : null, again: ctx.method === 'GET' ? own(ctx.originalUrl) : null }, error.status);
      return;
    }
  }
  if (wantsJson(ctx)) {
    ctx.status = error.status;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: error.code, message: error.message, reference };
    return;
  }
  // The words in the request's language (the code stays as it is): the page's t() renders the message.
  await render(ctx, 'error', { code: error.code, message: { id: error.messageId, params: error.params }, reference, continueTo: error.continueTo ?? '/portal' }, error.status);
}

export function errorHandler(log: Logger, metrics: Metrics, render: Render) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined && ctx.respond !== false) throw new AppError('SSPR 5404');
    } catch (err) {
      const error = toAppError(err);
      if (error.code === 'SSPR 5019') {
        if (err instanceof StoreUnavailableError) metrics.storeErrors.inc();
        log.error({ err: err instanceof AppError ? { errorCode: err.code, detail: err.detail } : err, errorCode: error.code }, 'request failed');
      } else {
        log.warn({ errorCode: error.code, detail: error.detail }, 'request refused');
      }
      try {
        await renderAppError(ctx, error, render);
      } catch (renderErr) {
        // The error page itself failed: a plain page still carries the code and reference.
        log.error({ err: renderErr }, 'error page failed');
        ctx.status = error.status;
        ctx.type = 'text/plain; charset=utf-8';
        ctx.body = `${error.code}\n${error.message}\nReference: ${String(ctx.state.requestId)}\n`;
      }
    }
  };
}
