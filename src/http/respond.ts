// What every route module answers with, below web/ so that flows, protocols, the portal
// and admin share it without importing the app's assembly.
import type { Context } from 'koa';

/** Renders a view inside the layout (web/render.ts builds the one in use); C: oidc-provider's context too. */
export type Render<C = Context> = (ctx: C, view: string, data: Record<string, unknown>, status?: number) => Promise<void>;

/** Redirect after a POST (or to a flow page): 303 See Other. */
export function seeOther(ctx: Context, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}
