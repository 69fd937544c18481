// The messages the IdP sends, in the four languages of the catalogues (src/messages: the
// ids `mail.<template>.subject` and `mail.<template>.body`, translated like every screen
// text), each with a plain-text part and an HTML part made from the same words.
import { LANGUAGE_INFO, text, type Language, type MessageId, type MessageParams } from '../messages/catalogue.ts';

export const MAIL_TEMPLATES = ['confirm-code', 'reset-code', 'code-used', 'email-added', 'email-changed', 'email-removed', 'account-dormant'] as const;
export type MailTemplate = (typeof MAIL_TEMPLATES)[number];

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  language: string;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A code stands out in the HTML part (the plain part has it on its own line). */
function htmlParagraph(p: string, code: string | undefined): string {
  const escaped = escapeHtml(p);
  if (code && p.trim() === code) return `<p style="font-size:24px;font-weight:bold;letter-spacing:4px">${escaped}</p>`;
  return `<p>${escaped}</p>`;
}

export function renderMail(template: MailTemplate, lang: Language, params: MessageParams): RenderedMail {
  const subject = text({ id: `mail.${template}.subject` as MessageId, params }, lang);
  // Paragraphs are separated by blank lines in the catalogues.
  const paragraphs = [
    ...text({ id: `mail.${template}.body` as MessageId, params }, lang).split(/\n\s*\n/),
    text('mail.not_you', lang),
    text('mail.signature', lang),
  ].map((p) => p.trim()).filter(Boolean);
  const code = typeof params.code === 'string' ? params.code : undefined;
  const tag = LANGUAGE_INFO[lang].tag;
  return {
    subject,
    text: `${paragraphs.join('\n\n')}\n`,
    html: `<!doctype html><html lang="${tag}"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head><body style="font-family:sans-serif;line-height:1.5">${paragraphs.map((p) => htmlParagraph(p, code)).join('')}</body></html>`,
    language: tag,
  };
}
