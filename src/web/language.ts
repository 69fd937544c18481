// The language of each request, in this order:
//   1. an explicit choice in the footer (GET /language/:lang, remembered in the idp_lang cookie),
//   2. the OIDC ui_locales of the sign-in that brought the browser here (the interaction route
//      remembers it for the browser session in idp_ui_locales),
//   3. the browser's Accept-Language,
//   4. English.
// The cookies hold only a language id (checked against the list), so they are not signed:
// oidc-provider's own context (its pages render through ours) reads them too.
import Router from '@koa/router';
import type { Context } from 'koa';
import { LANGUAGES, isLanguage, type Language } from '../messages/catalogue.ts';

export const LANGUAGE_COOKIE = 'idp_lang';
export const UI_LOCALES_COOKIE = 'idp_ui_locales';
const YEAR_MS = 365 * 24 * 3600_000;

/** Our language for a BCP 47 tag (zh-SG, zh-Hans, ms-MY, ta-IN, en-GB, ...), if we have one. */
export function languageOfTag(tag: string): Language | undefined {
  const primary = tag.trim().toLowerCase().split(/[-_]/)[0];
  return isLanguage(primary) ? primary : undefined;
}

/** The first language of ours in an Accept-Language header, by quality then order. */
export function fromAcceptLanguage(header: string | undefined): Language | undefined {
  if (!header) return undefined;
  const ranked = header.split(',').slice(0, 20).map((part, index) => {
    const [tag = '', ...params] = part.split(';');
    const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    return { tag, q: q === undefined ? 1 : Number(q), index };
  }).filter((r) => r.q > 0).sort((a, b) => b.q - a.q || a.index - b.index);
  for (const r of ranked) {
    const lang = languageOfTag(r.tag);
    if (lang) return lang;
  }
  return undefined;
}

/** The first language of ours in OIDC ui_locales (space-separated BCP 47 tags, in preference order). */
export function fromUiLocales(value: unknown): Language | undefined {
  if (typeof value !== 'string') return undefined;
  for (const tag of value.split(' ').slice(0, 20)) {
    const lang = languageOfTag(tag);
    if (lang) return lang;
  }
  return undefined;
}

export function languageOf(ctx: Context): Language {
  const cached = ctx.state?.language as Language | undefined;
  if (cached) return cached;
  const chosen = ctx.cookies.get(LANGUAGE_COOKIE);
  const hinted = ctx.cookies.get(UI_LOCALES_COOKIE);
  const lang = isLanguage(chosen) ? chosen : isLanguage(hinted) ? hinted : fromAcceptLanguage(ctx.get('Accept-Language')) ?? 'en';
  if (ctx.state) ctx.state.language = lang;
  return lang;
}

/** The interaction route: an OIDC request's ui_locales is remembered for this browser session (below an explicit choice). */
export function rememberUiLocales(ctx: Context, uiLocales: unknown, secure: boolean): void {
  const lang = fromUiLocales(uiLocales);
  if (!lang) return;
  ctx.cookies.set(UI_LOCALES_COOKIE, lang, { httpOnly: true, sameSite: 'lax', secure, path: '/', overwrite: true });
  if (ctx.state && !isLanguage(ctx.cookies.get(LANGUAGE_COOKIE))) ctx.state.language = lang;
}

/** Where the switcher returns to: a path of this site only. */
function safeReturn(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) && value.length <= 2000 ? value : '/portal';
}

/**
 * What the footer's switcher links back to from this page: the page itself when it can be
 * fetched again (flows, portal, admin with its query). A protocol endpoint's URL carries a
 * one-time message (SAMLRequest, an OIDC request): never echoed into the page, and not
 * worth repeating; those pages lead to the portal.
 */
export function returnPathOf(ctx: Context): string {
  let target: URL;
  try {
    target = ctx.method === 'GET' ? new URL(ctx.originalUrl, 'http://x') : new URL(ctx.get('Referer'));
    if (ctx.method !== 'GET' && target.host !== ctx.host) return '/portal';
  } catch {
    return '/portal';
  }
  if (/^\/(portal|admin)(\/|$)/.test(target.pathname)) return safeReturn(target.pathname + target.search);
  if (/^\/(flow|interaction)\/[A-Za-z0-9_.-]+$/.test(target.pathname)) return safeReturn(target.pathname);
  return '/portal';
}

/** GET /language/:lang?return=/path: the footer's switcher. */
export function languageRouter(secure: boolean): Router {
  const router = new Router();
  router.get('/language/:lang', (ctx) => {
    const lang = ctx.params.lang;
    if (!isLanguage(lang)) {
      ctx.status = 404;
      return;
    }
    ctx.cookies.set(LANGUAGE_COOKIE, lang, { httpOnly: true, sameSite: 'lax', secure, path: '/', maxAge: YEAR_MS, overwrite: true });
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 303;
    ctx.redirect(safeReturn(ctx.query.return));
  });
  return router;
}

export { LANGUAGES };
