// Admission control in front of password checks. argon2id is what a sign-in costs (tens of
// milliseconds of a core); at 8 a.m. a whole district asks at once, and a queue without a
// bound turns a busy minute into a collapse: every request waits, times out, is sent again.
// So at most `concurrency` password actions run at once, at most `queue` wait (each at most
// `maxWaitMs`), and the rest are told at once to come back (Overloaded, with a time): the
// page says so and sends the form again by itself. Nothing else waits here: SSO with a live
// session, token refreshes and every protocol endpoint never pass through it.
export class Overloaded extends Error {
  override name = 'Overloaded';
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number) {
    super(`password checks are at capacity: come back in ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface AdmissionSettings {
  concurrency: number;
  queue: number;
  maxWaitMs: number;
}

interface Waiter {
  start: () => void;
  timer: NodeJS.Timeout;
}

export class Admission {
  readonly settings: AdmissionSettings;
  #active = 0;
  readonly #waiting: Waiter[] = [];
  /** Mean time of one action (ms), moving: the wait a refused request is told. */
  #meanMs = 50;
  /** Counts for metrics. */
  admitted = 0;
  refused = 0;

  constructor(settings: AdmissionSettings) {
    this.settings = settings;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Runs `action` when a place is free; throws Overloaded when the queue is full or the wait too long. */
  async run<T>(action: () => Promise<T>): Promise<T> {
    if (this.#active >= this.settings.concurrency) {
      if (this.#waiting.length >= this.settings.queue) throw this.#refuse();
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          start: resolve,
          timer: setTimeout(() => {
            this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
            reject(this.#refuse());
          }, this.settings.maxWaitMs),
        };
        this.#waiting.push(waiter);
      });
    } else {
      this.#active++;
    }
    this.admitted++;
    const began = performance.now();
    try {
      return await action();
    } finally {
      this.#meanMs = this.#meanMs * 0.9 + (performance.now() - began) * 0.1;
      const next = this.#waiting.shift();
      if (next) {
        // The place passes on to the next waiter (still counted active).
        clearTimeout(next.timer);
        next.start();
      } else {
        this.#active--;
      }
    }
  }

  /**
   * Told to come back after the time the IdP needs for those ahead: the queue, and everyone
   * refused in the last 15 s (each will come back). As the storm grows the wait grows with
   * it, so the waiting pages do not return faster than they can be served (each return
   * that is refused again costs a request); spread by up to a quarter so that they do not
   * all return at once.
   */
  #refuse(): Overloaded {
    this.refused++;
    const now = performance.now();
    this.#refusals.push(now);
    while (this.#refusals.length > 0 && this.#refusals[0]! < now - 15_000) this.#refusals.shift();
    const ahead = this.#waiting.length + this.settings.concurrency + this.#refusals.length;
    const clearS = (ahead * this.#meanMs) / this.settings.concurrency / 1000;
    const seconds = Math.min(120, Math.max(2, Math.ceil(clearS)));
    return new Overloaded(seconds + Math.floor(Math.random() * (seconds / 4 + 1)));
  }

  /** When the recent refusals were (performance.now()), oldest first, the last 15 s. */
  readonly #refusals: number[] = [];
}
