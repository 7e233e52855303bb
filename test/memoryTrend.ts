import * as tf from '../src/tf.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Memory growth per step of a loop, measured as a slope rather than one difference.
 *
 * One difference of `rss` between two moments is mostly V8's heap sizing: between two garbage
 * collections the heap holds tens of MiB of garbage, and how much depends on when the collector
 * last ran (later under CPU load). So this samples *after a full collection* and fits a
 * least-squares line through every sample: a leak is a steady slope, GC timing is scatter.
 */

/**
 * The fields sampled, in bytes: the process's, and `tensorBytes`, the bytes held by live tfjs
 * tensors (the wasm heap's own size only grows in large steps, so it hides a slow leak).
 */
export const MEMORY_FIELDS = [
  'rss',
  'heapUsed',
  'external',
  'arrayBuffers',
  'tensorBytes',
] as const;
export type MemoryField = (typeof MEMORY_FIELDS)[number];

export interface MemoryTrend {
  /** Bytes per step, least-squares slope of each field over the samples. */
  slope: Record<MemoryField, number>;
  /** The samples: step and bytes of each field. */
  samples: { step: number; usage: Record<MemoryField, number> }[];
}

let collect: (() => void) | undefined;

/** A full garbage collection. Test workers run without `--expose-gc`; the flag can be set late. */
export function fullGc(): void {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}

function sample(): Record<MemoryField, number> {
  fullGc();
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    tensorBytes: tf.memory().numBytes,
  };
}

/**
 * Runs `step` for `warmup` steps (caches, JIT and the wasm heap reach their working size), then
 * `samples - 1` blocks of `every` steps, sampling memory before the first block and after each.
 *
 * `rss` is the exception: right after a collection it still swings by tens of MiB (pages the
 * allocator has not returned yet, V8's young generation resizing), so each block reports the
 * lowest rss seen at `rssReads` evenly spaced moments in it. A leak raises that floor; the
 * swings do not lower it.
 */
export function measureMemoryTrend(
  step: () => void,
  options: { warmup: number; every: number; samples: number; rssReads?: number },
): MemoryTrend {
  const rssReads = options.rssReads ?? 20;
  for (let i = 0; i < options.warmup; i++) step();
  const samples: MemoryTrend['samples'] = [{ step: 0, usage: sample() }];
  for (let s = 1; s < options.samples; s++) {
    let rssFloor = Infinity;
    for (let i = 1; i <= options.every; i++) {
      step();
      if (i % Math.ceil(options.every / rssReads) === 0)
        rssFloor = Math.min(rssFloor, process.memoryUsage.rss());
    }
    const usage = sample();
    usage.rss = Math.min(rssFloor, usage.rss);
    samples.push({ step: s * options.every, usage });
  }
  const slope = {} as Record<MemoryField, number>;
  // The first sample has no block before it, so its rss is no floor: fit rss from the second.
  for (const f of MEMORY_FIELDS) {
    const points = f === 'rss' ? samples.slice(1) : samples;
    slope[f] = leastSquaresSlope(
      points.map((p) => p.step),
      points.map((p) => p.usage[f]),
    );
  }
  return { slope, samples };
}

/** Slope of the least-squares line through (x_i, y_i). */
export function leastSquaresSlope(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  return sxy / sxx;
}

/** The slopes as one line, bytes per step, for the test log. */
export function formatSlopes(t: MemoryTrend): string {
  const slopes = MEMORY_FIELDS.map((f) => `${f} ${t.slope[f].toFixed(1)}`).join(', ');
  const rss = t.samples.map((p) => (p.usage.rss / 2 ** 20).toFixed(0)).join(' ');
  return `slopes (B/step): ${slopes}; rss samples (MiB): ${rss}`;
}
