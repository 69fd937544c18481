// Sign-in badges in /admin (domain/badges/): form teachers and administrators print them for
// pupils of a class or for one pupil, and void them.
//   POST /admin/classes/:school/:year/:name/badges        new badges for the pupils ticked (printable)
//   POST /admin/classes/:school/:year/:name/badges/void   voids the badges of the class's pupils (after a confirmation page)
//   POST /admin/accounts/:id/print-badge                   a new badge for one pupil (printable)
//   POST /admin/accounts/:id/void-badge                    voids it
//   POST /admin/badges/void                                every badge of one school (end of term;
//                                                          school administrators: their own; ministry:
//                                                          the school they name), after a confirmation page
// Printing hands out a credential: like slips, it needs a recent sign-in (step-up or the
// password). Voiding only takes access away and does not.
import type { RouterContext } from '@koa/router';
import QRCode from 'qrcode';
import type { Account, SchoolClass } from '../domain/accounts/account.ts';
import type { IssuedBadge } from '../domain/badges/badges.ts';
import { AppError } from '../domain/errors.ts';
import { seeOther } from '../http/respond.ts';
import { LANGUAGE_INFO, isLanguage, text, type Language } from '../messages/catalogue.ts';
import { classOf, classPath, renderClass } from './classes.ts';
import { confirmedByPassword, ctxOf, isFresh, signedInAdmin, stepUp, usesMfa, who, type Admin, type AdminDeps } from './signed-in.ts';

/** The words of a badge card in its language (chosen on the class or account page). */
function cardWords(lang: Language, portalUrl: string) {
  const t = (id: string) => text(id as never, lang);
  return { lang: LANGUAGE_INFO[lang].tag, title: t('badge.card_title'), how: t('badge.card_how'), keep: t('badge.card_keep'), where: text({ id: 'slip.where', params: { url: portalUrl } }, lang) };
}

function listOf(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function bodyOf(ctx: RouterContext): Record<string, unknown> {
  return (ctx.request as { body?: Record<string, unknown> }).body ?? {};
}

export function badgeHandlers(deps: AdminDeps) {
  /** The printable page: each card's QR code (PNG, error correction Q: a scuffed card still reads), name and class; the PINs on a page of their own. */
  async function printed(ctx: RouterContext, a: Admin, issued: IssuedBadge[], lang: Language, back: string, c: SchoolClass | null) {
    const cards = await Promise.all(issued.map(async (b) => ({
      name: b.account.displayName,
      loginId: b.account.loginId,
      className: b.account.class?.name ?? c?.name ?? '',
      school: b.account.school.name,
      qr: await QRCode.toDataURL(b.secret, { errorCorrectionLevel: 'Q', margin: 2, scale: 8 }),
      pin: b.pin,
    })));
    ctx.set('Cache-Control', 'no-store');
    // Shown once, on this response only; never stored in plain text nor logged.
    await deps.render(ctx, 'admin/badges', { admin: who(a, deps), cards, words: cardWords(lang, deps.portalUrl), back, withPins: cards.some((k) => k.pin !== null) });
  }

  /** Printing needs a recent sign-in: resolves true to go on; otherwise the page asking for it was sent. */
  async function freshEnough(ctx: RouterContext, a: Admin, back: string, askAgain: (error: string | null, status: number) => Promise<void>): Promise<boolean> {
    if (isFresh(deps, a)) return true;
    if (usesMfa(deps, a)) {
      await stepUp(deps, ctx, a, back);
      return false;
    }
    if (await confirmedByPassword(deps, ctx, a)) return true;
    const typed = bodyOf(ctx).password !== undefined;
    await askAgain(typed ? 'admin.confirm_password_missing' : null, typed ? 401 : 200);
    return false;
  }

  const printClass = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    const { schoolCode, c } = classOf(ctx);
    deps.administration.require(a.scope, 'badges');
    const body = bodyOf(ctx);
    const ids = listOf(body.account).slice(0, 61);
    const lang: Language = isLanguage(body.lang) ? body.lang : 'en';
    const roster = await deps.administration.classRoster(a.scope, schoolCode, c);
    const inClass = new Map(roster.students.map((s) => [s.account.id, s.account] as const));
    if (ids.some((id) => !inClass.has(id))) throw new AppError('SSPR 5403', 'a pupil not of this class');
    const levels = deps.administration.badgeLevels().join(', ');
    if (!levels) throw new AppError('SSPR 5404', 'sign-in badges are not enabled');
    if (ids.length === 0) return renderClass(deps, ctx, a, schoolCode, c, { error: 'admin.badges_none_selected', slipLanguage: lang }, 400);
    if (ids.some((id) => !deps.administration.mayHoldBadge(inClass.get(id)!))) {
      return renderClass(deps, ctx, a, schoolCode, c, { error: { id: 'admin.badges_not_allowed', params: { levels } }, selected: ids, slipLanguage: lang }, 400);
    }
    const back = classPath(schoolCode, c);
    const go = await freshEnough(ctx, a, back, (error, status) => renderClass(deps, ctx, a, schoolCode, c, { needsPassword: true, confirmFor: 'badges', selected: ids, slipLanguage: lang, error }, status));
    if (!go) return;
    const issued = await deps.administration.issueBadges(a.scope, a.actor, ids, ctxOf(ctx));
    await printed(ctx, a, issued, lang, back, c);
  };

  /** A void of many badges is confirmed on a page of its own first (WCAG 3.3.4: it cannot be undone). */
  async function confirmVoid(ctx: RouterContext, a: Admin, title: string, what: string, action: string, fields: Record<string, string>): Promise<boolean> {
    if (bodyOf(ctx).confirmed === 'yes') return true;
    await deps.render(ctx, 'admin/void-badges', { admin: who(a, deps), title, what, action, fields });
    return false;
  }

  const voidClass = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    const { schoolCode, c } = classOf(ctx);
    deps.administration.require(a.scope, 'void-badges');
    const roster = await deps.administration.classRoster(a.scope, schoolCode, c);
    const path = `${classPath(schoolCode, c)}/badges/void`;
    if (!(await confirmVoid(ctx, a, 'admin.badges_void_class', `${c.name} (${c.year}) · ${schoolCode}`, path, {}))) return;
    const voided = await deps.administration.voidBadges(a.scope, a.actor, roster.students.map((s) => s.account.id), ctxOf(ctx));
    await renderClass(deps, ctx, a, schoolCode, c, { notice: { id: 'admin.badges_voided', params: { count: voided } } });
  };

  const voidAccount = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    const id = ctx.params.id!;
    await deps.administration.target(a.scope, id);
    deps.administration.require(a.scope, 'void-badges');
    const voided = await deps.administration.voidBadges(a.scope, a.actor, [id], ctxOf(ctx));
    seeOther(ctx, `/admin/accounts/${encodeURIComponent(id)}?done=void-badge&count=${voided}`);
  };

  const printAccount = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    const id = ctx.params.id!;
    const target: Account = await deps.administration.target(a.scope, id);
    deps.administration.require(a.scope, 'badges');
    const back = `/admin/accounts/${encodeURIComponent(id)}`;
    if (deps.administration.badgeLevels().length === 0) throw new AppError('SSPR 5404', 'sign-in badges are not enabled');
    if (!deps.administration.mayHoldBadge(target)) return seeOther(ctx, `${back}?error=badge_not_allowed`);
    const body = bodyOf(ctx);
    const lang: Language = isLanguage(body.lang) ? body.lang : target.language && isLanguage(target.language) ? target.language : 'en';
    const go = await freshEnough(ctx, a, back, async (error, status) => {
      await deps.render(ctx, 'admin/confirm', { admin: who(a, deps), account: target, action: 'print-badge', needsPassword: true, error, extra: { lang } }, status);
    });
    if (!go) return;
    const issued = await deps.administration.issueBadges(a.scope, a.actor, [id], ctxOf(ctx));
    await printed(ctx, a, issued, lang, back, null);
  };

  const voidSchool = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    deps.administration.require(a.scope, 'void-badges');
    if (a.scope.kind === 'form-teacher') throw new AppError('SSPR 5403', 'a form teacher voids the badges of their own classes only');
    // A school administrator's own school; a ministry administrator names one.
    const typed = typeof bodyOf(ctx).school === 'string' ? String(bodyOf(ctx).school).trim().slice(0, 32) : '';
    const schoolCode = a.scope.kind === 'school' ? a.scope.schoolCode : typed;
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(schoolCode)) throw new AppError('SSPR 5103', 'school code missing or malformed');
    if (!(await confirmVoid(ctx, a, 'admin.badges_void_school', schoolCode, '/admin/badges/void', { school: schoolCode }))) return;
    const voided = await deps.administration.voidSchoolBadges(a.scope, a.actor, schoolCode, ctxOf(ctx));
    seeOther(ctx, `/admin/classes?voided=${voided}`);
  };

  return { printClass, voidClass, voidAccount, printAccount, voidSchool };
}
