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

export async function drive(options: LoadOptions, op: (worker: number, i: number) => Promise<void>): Promise<Measured & { errorSamples: string[]; latencies: number[] }> {
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
  return { ...summarise(latencies, errors, (performance.now() - started) / 1000), errorSamples, latencies };
}

export interface Compared<T> {
  baseline: T;
  product: T;
  /** median over the slices of product / baseline, each pair measured back to back */
  ratio: number;
  ratios: number[];
}

/**
 * Baseline and product measured in alternating slices (b p p b b p …, `slices` each), so
 * that the machine's drift over a run (this kind of virtual machine varies by ±30 % from
 * one minute to the next) falls on both alike; the ratio is the median of the slices'
 * ratios, each slice compared with the other measured beside it.
 */
export async function alternate<T extends { perSecond: number }>(slices: number, baseline: () => Promise<T>, product: () => Promise<T>, merge: (parts: T[]) => T): Promise<Compared<T>> {
  const b: T[] = [];
  const p: T[] = [];
  for (let i = 0; i < slices; i++) {
    if (i % 2 === 0) {
      b.push(await baseline());
      p.push(await product());
    } else {
      p.push(await product());
      b.push(await baseline());
    }
  }
  const ratios = p.map((x, i) => x.perSecond / b[i]!.perSecond);
  const sorted = [...ratios].sort((x, y) => x - y);
  const mid = sorted.length / 2;
  const ratio = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { baseline: merge(b), product: merge(p), ratio: Math.round(ratio * 100) / 100, ratios: ratios.map((r) => Math.round(r * 100) / 100) };
}

/** Several slices of `drive` as one measurement (ops, errors and seconds summed; latencies pooled). */
export function mergeDriven(parts: Array<Measured & { errorSamples: string[]; latencies?: number[] }>): Measured & { errorSamples: string[] } {
  const ops = parts.reduce((a, x) => a + x.ops, 0);
  const seconds = parts.reduce((a, x) => a + x.seconds, 0);
  const errors = parts.reduce((a, x) => a + x.errors, 0);
  const all = parts.flatMap((x) => x.latencies ?? []);
  const s = summarise(all, errors, seconds);
  return { ...s, ops, perSecond: Math.round((ops / seconds) * 10) / 10, errorSamples: parts.flatMap((x) => x.errorSamples).slice(0, 5) };
}
