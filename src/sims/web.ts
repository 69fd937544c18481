// What both simulated apps need of a web app, and nothing of the IdP's: EJS pages and a
// cookie-keyed in-memory session, as a small app of a school would have.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import ejs from 'ejs';
import type { Context } from 'koa';
import type Router from '@koa/router';
import { isSimLanguage, simLocals } from './messages.ts';

export function pageRenderer(viewsDir: string) {
  return async (ctx: Context, view: string, data: Record<string, unknown>, status = 200): Promise<void> => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    // The sim's own words in the browser's language (sims/messages.ts).
    ctx.body = await ejs.renderFile(path.join(viewsDir, `${view}.ejs`), { ...simLocalsOf(ctx), ...data }, { async: true });
  };
}

/** The sim's language cookie: its own switcher sets it, and so does a sign-in that says the person's language. */
export const SIM_LANGUAGE_COOKIE = 'sim_lang';

/** The sim's words for this request: the language chosen here, else the browser's. */
export function simLocalsOf(ctx: Context) {
  return simLocals(ctx.get('Accept-Language'), ctx.cookies.get(SIM_LANGUAGE_COOKIE), ctx.path);
}

/** Remembers a language for this sim (its switcher, or the IdP's `locale` claim). */
export function chooseSimLanguage(ctx: Context, lang: string): void {
  if (isSimLanguage(lang)) ctx.cookies.set(SIM_LANGUAGE_COOKIE, lang, { httpOnly: true, sameSite: 'lax', maxAge: 365 * 86_400_000 });
}

/** GET /language/:lang?return=/path: the sim's own language switcher. */
export function languageRoute(router: Router): void {
  router.get('/language/:lang', (ctx) => {
    chooseSimLanguage(ctx, ctx.params.lang ?? '');
    const back = typeof ctx.query.return === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(ctx.query.return) ? ctx.query.return : '/';
    ctx.redirect(back);
  });
}

/** Sessions kept in memory, found by a cookie; `sessions` is exposed for tests. */
export function cookieSessions<S extends { id: string }>(cookie: string) {
  const sessions = new Map<string, S>();
  return {
    sessions,
    of(ctx: Context): S {
      const id = ctx.cookies.get(cookie);
      const existing = id ? sessions.get(id) : undefined;
      if (existing) return existing;
      const created = { id: randomBytes(24).toString('base64url') } as S;
      sessions.set(created.id, created);
      ctx.cookies.set(cookie, created.id, { httpOnly: true, sameSite: 'lax' });
      return created;
    },
    end(ctx: Context): void {
      const id = ctx.cookies.get(cookie);
      if (id) sessions.delete(id);
      ctx.cookies.set(cookie, '', { maxAge: 0 });
    },
  };
}
