// Message ids and their rendering. Flows and domain rules return a `Message` (an id and
// its parameters), never a sentence; the page that shows it calls `text()` in the
// request's language. One catalogue per language with one key set (en.ts is the guides'
// words and the source of the ids; zh.ts, ms.ts, ta.ts translate them; the key-parity test
// in test/messages/ fails on a missing or extra key). A missing translation falls back to
// English rather than showing an id.
//
// Library: `intl-messageformat` (FormatJS) formats the ICU MessageFormat strings of every
// catalogue: plurals with each language's CLDR rules (Intl.PluralRules, built into Node),
// `select`, and numbers. It was chosen over i18next because it does one thing (format an
// ICU string; no resource loading, no detection, no plugins), has three small
// dependencies of its own, and ICU is the format translators and tools know. Language
// choice per request is ours (src/messages/language.ts).
import { IntlMessageFormat } from 'intl-messageformat';
import { en } from './en.ts';
import { ms } from './ms.ts';
import { ta } from './ta.ts';
import { zh } from './zh.ts';

export type MessageId = keyof typeof en;
export type MessageParams = Record<string, string | number>;

export interface Message {
  id: MessageId;
  params?: MessageParams;
}

export function message(id: MessageId, params?: MessageParams): Message {
  return params ? { id, params } : { id };
}

/** The languages of the product: the id used in URLs and cookies. */
export const LANGUAGES = ['en', 'zh', 'ms', 'ta'] as const;
export type Language = (typeof LANGUAGES)[number];

/** How each language is named (in itself), tagged (BCP 47, for `<html lang>`) and formatted. */
export const LANGUAGE_INFO: Record<Language, { name: string; tag: string; locale: string }> = {
  en: { name: 'English', tag: 'en-SG', locale: 'en-SG' },
  zh: { name: '简体中文', tag: 'zh-Hans-SG', locale: 'zh-Hans-SG' },
  ms: { name: 'Bahasa Melayu', tag: 'ms-SG', locale: 'ms-SG' },
  ta: { name: 'தமிழ்', tag: 'ta-SG', locale: 'ta-SG' },
};

/** A translation: the same ids as English (a missing one falls back to English; the parity test catches it). */
export type Translation = { [K in MessageId]?: string };

export const CATALOGUES: Record<Language, Translation> = { en: en as Translation, zh, ms, ta };

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

const formats = new Map<string, IntlMessageFormat>();

/** The compiled format of an id in a language (English when the language lacks it). */
function formatOf(lang: Language, id: MessageId): IntlMessageFormat | undefined {
  const key = `${lang}\u0000${id}`;
  let format = formats.get(key);
  if (format) return format;
  const source = CATALOGUES[lang][id] ?? (en as Record<string, string | undefined>)[id];
  if (source === undefined) return undefined;
  const useLang = CATALOGUES[lang][id] === undefined ? 'en' : lang;
  // ignoreTag: "<Full_Name>" in the sign-in help is text, not markup.
  format = new IntlMessageFormat(source, LANGUAGE_INFO[useLang].locale, undefined, { ignoreTag: true });
  formats.set(key, format);
  return format;
}

/** The words of a message (or of a bare id) in a language (English by default). */
export function text(m: Message | MessageId, lang: Language = 'en'): string {
  const { id, params } = typeof m === 'string' ? { id: m, params: undefined } : m;
  const format = formatOf(lang, id);
  if (!format) return id;
  return String(format.format(params ?? {}));
}

/** `t()` of the templates: messages and ids in one language; a bare id may take parameters. */
export type Translate = (m: Message | MessageId, params?: MessageParams) => string;

export function translator(lang: Language): Translate {
  return (m, params) => text(typeof m === 'string' && params ? { id: m, params } : m, lang);
}

/** The time zone times are shown in (the users are in Singapore; stored times are UTC). */
export const DISPLAY_TIME_ZONE = 'Asia/Singapore';

/** A time (epoch ms or ISO string) in the language's format, Singapore time, with the zone's name ("… SGT"). */
export function formatWhen(at: number | string, lang: Language): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return String(at);
  const locale = LANGUAGE_INFO[lang].locale;
  const time = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: DISPLAY_TIME_ZONE }).format(date);
  const zone = new Intl.DateTimeFormat(locale, { timeZone: DISPLAY_TIME_ZONE, timeZoneName: 'short' }).formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? DISPLAY_TIME_ZONE;
  return text({ id: 'admin.when', params: { time, zone } }, lang);
}
