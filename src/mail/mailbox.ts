// The embedded mailbox of demo mode (`npm start` without SMTP_URL): what the IdP sent is
// kept in memory, the newest `size` messages, and shown at /dev/mail (and /dev/mail.json)
// where /dev is on, so testers read codes without a mail server. Nothing leaves the process.
import { newId } from '../domain/ids.ts';
import type { OutboundMail, Transport } from './transport.ts';

export interface MailboxEntry extends OutboundMail {
  id: string;
  from: string;
  at: number;
}

export class Mailbox implements Transport {
  readonly #size: number;
  readonly #clock: () => number;
  #entries: MailboxEntry[] = [];

  constructor(size = 200, clock: () => number = Date.now) {
    this.#size = size;
    this.#clock = clock;
  }

  async send(mail: OutboundMail & { from: string }): Promise<void> {
    this.#entries.push({ ...mail, id: newId(), at: this.#clock() });
    if (this.#entries.length > this.#size) this.#entries = this.#entries.slice(-this.#size);
  }

  /** Newest first. */
  list(): MailboxEntry[] {
    return [...this.#entries].reverse();
  }
}
