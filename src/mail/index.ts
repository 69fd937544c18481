// Outbound mail, assembled from settings: SMTP when SMTP_URL is set; the embedded mailbox
// in demo mode without it (shown at /dev/mail); otherwise none (nothing that needs mail is
// offered, and start-up says so).
import type { Settings } from '../config/settings.ts';
import type { SendRecoveryMail } from '../domain/recovery/recovery-email.ts';
import { maskAddress } from '../domain/recovery/recovery-email.ts';
import { isLanguage } from '../messages/catalogue.ts';
import { Mailbox } from './mailbox.ts';
import { Outbox, type MailOutcome } from './outbox.ts';
import { renderMail } from './templates.ts';
import { smtpTransport, type Transport } from './transport.ts';

export { Mailbox } from './mailbox.ts';
export { Outbox } from './outbox.ts';

export interface Mail {
  /** Whether messages can be sent at all. */
  available: boolean;
  /** The embedded mailbox (demo mode without SMTP_URL), else null. */
  mailbox: Mailbox | null;
  outbox: Outbox | null;
  /** What the recovery email sends, rendered in the page's language and queued. */
  sendRecoveryMail: SendRecoveryMail;
  close(): void;
}

export interface MailHooks {
  onOutcome?: (outcome: MailOutcome, template: string) => void;
  onError?: (err: unknown, info: { to: string; template: string; attempt: number }) => void;
}

export function createMail(settings: Pick<Settings, 'mail' | 'seed'>, hooks: MailHooks = {}, clock: () => number = Date.now): Mail {
  const { mail } = settings;
  const mailbox = !mail.smtpUrl && settings.seed.demo ? new Mailbox(mail.mailboxSize, clock) : null;
  const transport: Transport | null = mail.smtpUrl ? smtpTransport(mail.smtpUrl) : mailbox;
  if (!transport) return { available: false, mailbox: null, outbox: null, sendRecoveryMail: () => {}, close: () => {} };
  const outbox = new Outbox({ transport, from: mail.from, retry: { attempts: mail.attempts, backoffMs: mail.backoffMs }, ...hooks });
  return {
    available: true,
    mailbox,
    outbox,
    sendRecoveryMail: (to, kind, lang, params) => {
      const rendered = renderMail(kind, isLanguage(lang) ? lang : 'en', params);
      outbox.send({ to, ...rendered }, { template: kind, maskedTo: maskAddress(to) });
    },
    close: () => {
      outbox.close();
      transport.close?.();
    },
  };
}
