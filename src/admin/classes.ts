// Classes and form teachers in /admin.
//   GET  /admin/classes                                   the classes this person reaches
//   GET  /admin/classes/:school/:year/:name                a class: its students and form teachers
//   POST /admin/classes/:school/:year/:name/slips          new temporary passwords for the students
//                                                         ticked, as printable sign-in slips
//   POST /admin/accounts/:id/class                        an administrator sets a student's class
//                                                         or a teacher's form classes
//   GET  /admin/requests                                  temporary passwords form teachers asked for
// What may be reached is decided by domain/admin/administration.ts (the form-teacher scope),
// for every class and account a URL names, whatever the menu showed.
import type { RouterContext } from '@koa/router';
import type { Account, SchoolClass } from '../domain/accounts/account.ts';
import { normaliseClassName, parseClassList, parseYear, schoolYear, isStudentOnly } from '../domain/classes/classes.ts';
import { AppError } from '../domain/errors.ts';
import { seeOther } from '../http/respond.ts';
import { LANGUAGE_INFO, isLanguage, text, type Language } from '../messages/catalogue.ts';
import { confirmedByPassword, ctxOf, isFresh, signedInAdmin, stepUp, usesMfa, who, type Admin, type AdminDeps } from './signed-in.ts';

const SCHOOL_CODE = /^[A-Za-z0-9_-]{1,32}$/;

/** The class a URL names, or 404. */
export function classOf(ctx: RouterContext): { schoolCode: string; c: SchoolClass } {
  const schoolCode = ctx.params.school ?? '';
  const year = parseYear(ctx.params.year ?? '');
  const name = normaliseClassName(ctx.params.name ?? '');
  if (!SCHOOL_CODE.test(schoolCode) || year === null || name === null) throw new AppError('SSPR 5404', 'no such class');
  return { schoolCode, c: { year, name } };
}

export function classPath(schoolCode: string, c: SchoolClass): string {
  return `/admin/classes/${encodeURIComponent(schoolCode)}/${c.year}/${encodeURIComponent(c.name)}`;
}

/** The words of a sign-in slip in a language (the student's, chosen on the class page). */
export function slipWords(lang: Language, portalUrl: string, validUntil: string) {
  const t = (id: Parameters<typeof text>[0] & string, params?: Record<string, string>) => text(params ? { id: id as never, params } : (id as never), lang);
  return {
    lang: LANGUAGE_INFO[lang].tag,
    title: t('slip.title'),
    loginId: t('field.username'),
    password: t('slip.temporary_password'),
    where: t('slip.where', { url: portalUrl }),
    steps: t('slip.steps'),
    stepsPassword: t('slip.steps_password'),
    valid: t('slip.valid_until', { when: validUntil }),
  };
}

function listOf(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** A class's page (its roster, with each pupil's badge where badges are on), with what an action wants it to say. */
export async function renderClass(deps: AdminDeps, ctx: RouterContext, a: Admin, schoolCode: string, c: SchoolClass, extra: Record<string, unknown> = {}, status = 200): Promise<void> {
  const roster = await deps.administration.classRoster(a.scope, schoolCode, c);
  const badges = await deps.administration.badgesOf(a.scope, roster.students.map((s) => s.account));
  const badgeLevels = deps.administration.badgeLevels();
  await deps.render(ctx, 'admin/class', {
    admin: who(a, deps), schoolCode, c, path: classPath(schoolCode, c), roster,
    badgeLevels, badgeOf: Object.fromEntries([...badges].map(([id, b]) => [id, b.issuedAt])), mayHoldBadge: Object.fromEntries(roster.students.map((s) => [s.account.id, deps.administration.mayHoldBadge(s.account)])),
    slipLanguage: isLanguage(ctx.query.lang) ? ctx.query.lang : ((ctx.state.language as Language | undefined) ?? 'en'), needsPassword: false, confirmFor: 'slips', selected: [], notice: null, ...extra,
  }, status);
}

export function classHandlers(deps: AdminDeps) {
  const list = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    const classes = await deps.administration.classes(a.scope);
    const voided = typeof ctx.query.voided === 'string' && /^\d{1,7}$/.test(ctx.query.voided) ? Number(ctx.query.voided) : null;
    await deps.render(ctx, 'admin/classes', { admin: who(a, deps), classes: classes.map((k) => ({ ...k, path: classPath(k.schoolCode, k) })), voided, badgesOn: deps.administration.badgeLevels().length > 0 });
  };

  const show = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    const { schoolCode, c } = classOf(ctx);
    await renderClass(deps, ctx, a, schoolCode, c);
  };

  const slips = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    const { schoolCode, c } = classOf(ctx);
    deps.administration.require(a.scope, 'slips');
    const body = (ctx.request as { body?: Record<string, unknown> }).body ?? {};
    const ids = listOf(body.account).slice(0, 61);
    const lang: Language = isLanguage(body.lang) ? body.lang : 'en';
    // Everything checked before anything is written: the class, then each student in it.
    const roster = await deps.administration.classRoster(a.scope, schoolCode, c);
    const inClass = new Set(roster.students.map((s) => s.account.id));
    if (ids.length === 0) return renderClass(deps, ctx, a, schoolCode, c, { error: 'admin.slips_none', slipLanguage: lang }, 400);
    if (ids.some((id) => !inClass.has(id))) throw new AppError('SSPR 5403', 'a student not of this class');
    if (!isFresh(deps, a) && usesMfa(deps, a)) return stepUp(deps, ctx, a, classPath(schoolCode, c));
    if (!isFresh(deps, a) && !(await confirmedByPassword(deps, ctx, a))) {
      return renderClass(deps, ctx, a, schoolCode, c, { needsPassword: true, selected: ids, slipLanguage: lang, error: body.password === undefined ? null : 'admin.confirm_password_missing' }, body.password === undefined ? 200 : 401);
    }
    const issued = await deps.administration.issueSlips(a.scope, a.actor, ids, ctxOf(ctx));
    const until = issued[0]?.account.temporaryUntil;
    const words = slipWords(lang, deps.portalUrl, until ? formatDay(until, lang) : '');
    // Shown once, on this response only; never stored in plain text nor logged.
    await deps.render(ctx, 'admin/slips', { admin: who(a, deps), c, schoolCode, back: classPath(schoolCode, c), words, slips: issued.map((s) => ({ name: s.account.displayName, loginId: s.account.loginId, className: s.account.class?.name ?? c.name, school: s.account.school.name, temporaryPassword: s.temporaryPassword, questionsSet: s.account.questions.length > 0 })) });
  };

  const setClass = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    deps.administration.require(a.scope, 'set-class');
    const id = ctx.params.id!;
    const account = await deps.administration.target(a.scope, id);
    const body = (ctx.request as { body?: Record<string, unknown> }).body ?? {};
    const yearText = typeof body.year === 'string' && body.year.trim() ? body.year : String(schoolYear(deps.clock()));
    const year = parseYear(yearText);
    const raw = typeof body.classes === 'string' ? body.classes.slice(0, 400) : '';
    const refuse = (error: string) => seeOther(ctx, `/admin/accounts/${encodeURIComponent(id)}?error=${error}`);
    if (year === null) return refuse('class_year');
    if (isStudentOnly(account)) {
      const name = raw.trim() ? normaliseClassName(raw) : null;
      if (raw.trim() && name === null) return refuse('class_name');
      await deps.administration.setClass(a.scope, a.actor, id, name ? { year, name } : null, ctxOf(ctx));
    } else {
      const parsed = parseClassList(raw, year);
      if ('invalid' in parsed) return refuse('class_name');
      // Classes of other years stay; this year's are replaced by the list.
      const others = (account.formClasses ?? []).filter((k) => k.year !== year);
      await deps.administration.setFormClasses(a.scope, a.actor, id, [...others, ...parsed.classes], ctxOf(ctx));
    }
    seeOther(ctx, `/admin/accounts/${encodeURIComponent(id)}?done=set-class`);
  };

  const requests = async (ctx: RouterContext) => {
    const a = await signedInAdmin(deps, ctx);
    if (!a) return;
    const accounts: Account[] = await deps.administration.passwordRequests(a.scope);
    await deps.render(ctx, 'admin/requests', { admin: who(a, deps), accounts });
  };

  return { list, show, slips, setClass, requests };
}

/** A day in the language's format, Singapore time ("21 December 2026"). */
export function formatDay(at: number, lang: Language): string {
  return new Intl.DateTimeFormat(LANGUAGE_INFO[lang].locale, { dateStyle: 'long', timeZone: 'Asia/Singapore' }).format(new Date(at));
}
