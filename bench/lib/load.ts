// A closed-loop load driver for multi-step operations (a whole sign-in is several
// requests with cookies, which autocannon does not do): `concurrency` workers repeat
// `op` until the time is up; every op's latency is recorded, and failures counted.
import { summarise, type Measured } from './stats.ts';

export interface LoadOptions {
  concurrency: number;
  seconds: number;
  /** Cap on ops per second over all workers (open-ish loop for soak runs); none = as fast as it goes. */
  ratePerSecond?: number;
}

export async function drive(options: LoadOptions, op: (worker: number, i: number) => Promise<void>): Promise<Measured & { errorSamples: string[] }> {
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  let issued = 0;
  await Promise.all(Array.from({ length: options.concurrency }, async (_, worker) => {
    for (let i = 0; performance.now() < deadline; i++) {
      if (options.ratePerSecond) {
        // Pace: the n-th op overall may start at n / rate seconds.
        const due = started + (issued++ / options.ratePerSecond) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (performance.now() >= deadline) break;
      }
      const t0 = performance.now();
      try {
        await op(worker, i);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push((err as Error).message.slice(0, 300));
      }
    }
  }));
  return { ...summarise(latencies, errors, (performance.now() - started) / 1000), errorSamples };
}
