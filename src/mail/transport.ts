// How a message leaves: SMTP through nodemailer (SMTP_URL: smtp://host:25,
// smtps://user:pass@host:465), or, in demo mode without SMTP_URL, the embedded mailbox
// (mailbox.ts), which keeps what was sent in memory for /dev/mail.
//
// Library: nodemailer. The Node mail library most projects use, with no dependencies of
// its own; it speaks SMTP with STARTTLS, authentication and pooling, and builds the
// multipart (plain text + HTML) message with the right encodings for Chinese and Tamil.
import nodemailer from 'nodemailer';

export interface OutboundMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** BCP 47 tag of the message's language (Content-Language). */
  language: string;
}

export interface Transport {
  send(mail: OutboundMail & { from: string }): Promise<void>;
  close?(): void;
}

/** An SMTP transport for `url`; each message is one connection's try (the outbox retries). */
export function smtpTransport(url: string, timeoutMs = 10_000): Transport {
  const t = nodemailer.createTransport(url, {});
  // Short timeouts: a dead server is a failed try for the outbox to retry, not a hang.
  Object.assign(t.options as object, { connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs * 3 });
  return {
    async send(mail) {
      await t.sendMail({ from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, headers: { 'Content-Language': mail.language } });
    },
    close: () => t.close(),
  };
}
