// Outbound mail: a small queue in front of a transport. `send` never waits for the
// transport and never throws: the page that caused a message is answered at once, and the
// message is delivered in the background, tried again with growing pauses when the
// transport fails (SMTP down, refused), and given up after `attempts` tries. Every outcome
// is counted (metrics) and logged without the address (only its masked form).
import type { OutboundMail, Transport } from './transport.ts';

export interface RetrySettings {
  /** Tries in all (the first and the retries). */
  attempts: number;
  /** Pause before the first retry; doubled before each next one. */
  backoffMs: number;
}

export type MailOutcome = 'sent' | 'retry' | 'given_up';

export interface OutboxOptions {
  transport: Transport;
  from: string;
  retry: RetrySettings;
  /** Each delivery outcome, with the template it was (metrics). */
  onOutcome?: (outcome: MailOutcome, template: string) => void;
  /** A failed try (for the log); `to` is already masked. */
  onError?: (err: unknown, info: { to: string; template: string; attempt: number }) => void;
}

export class Outbox {
  readonly #o: OutboxOptions;
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(options: OutboxOptions) {
    this.#o = options;
  }

  /** Queues a message; resolves nothing, throws nothing. `maskedTo` is what logs may show. */
  send(mail: OutboundMail, meta: { template: string; maskedTo: string }): void {
    if (this.#closed) return;
    const job = this.#deliver(mail, meta).finally(() => this.#inFlight.delete(job));
    this.#inFlight.add(job);
  }

  /** Resolves once every queued message was sent or given up (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Stops taking messages; those under way may still finish. */
  close(): void {
    this.#closed = true;
  }

  async #deliver(mail: OutboundMail, meta: { template: string; maskedTo: string }): Promise<void> {
    const { attempts, backoffMs } = this.#o.retry;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await this.#o.transport.send({ ...mail, from: this.#o.from });
        this.#o.onOutcome?.('sent', meta.template);
        return;
      } catch (err) {
        this.#o.onError?.(err, { to: meta.maskedTo, template: meta.template, attempt });
        if (attempt === attempts || this.#closed) break;
        this.#o.onOutcome?.('retry', meta.template);
        await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 1)).unref?.());
      }
    }
    this.#o.onOutcome?.('given_up', meta.template);
  }
}
