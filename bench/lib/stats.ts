// What every benchmark shares: percentiles, a result file per benchmark in bench/results/,
// and one line that says the ratio.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/config/settings.ts';

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface Measured {
  ops: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
}

export function summarise(latenciesMs: number[], errors: number, seconds: number): Measured {
  return {
    ops: latenciesMs.length,
    errors,
    seconds: round(seconds),
    perSecond: round(latenciesMs.length / seconds, 1),
    p50ms: round(percentile(latenciesMs, 50)),
    p99ms: round(percentile(latenciesMs, 99)),
  };
}

/** Writes bench/results/<name>.json and prints it with the headline. */
export function report(name: string, headline: string, result: Record<string, unknown>): void {
  const out = { benchmark: name, headline, ...result, machine: { cpus: cpus().length, model: cpus()[0]?.model }, node: process.version, at: new Date().toISOString() };
  mkdirSync(path.join(projectRoot, 'bench/results'), { recursive: true });
  // Raw latency lists (kept by drive() for merging slices) are not part of the result.
  const json = JSON.stringify(out, (key, value) => (key === 'latencies' ? undefined : value), 2);
  writeFileSync(path.join(projectRoot, 'bench/results', `${name}.json`), `${json}\n`);
  console.log(json);
  console.log(`\n${name}: ${headline}`);
}
