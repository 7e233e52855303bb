import * as tf from '../../src/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/loadDataset.js';
import { MinibatchSampler } from '../../src/data/sampler.js';
import { buildParts, objectiveFor } from '../../src/experiments/buildParts.js';
import { resolveConfig } from '../../src/experiments/config.js';
import { Rng } from '../../src/random/rng.js';
import { Trainer } from '../../src/train/trainer.js';
import { testTrainerConfig, useBackend } from '../helpers.js';
import { formatSlopes, measureMemoryTrend } from '../memoryTrend.js';
import type { MemoryTrend } from '../memoryTrend.js';

beforeAll(() => useBackend());

// Bounds on the growth per step, measured after a full garbage collection (../memoryTrend.ts).
// A leak of one 1 KiB tensor, buffer or array per step has a slope of ~1024 B/step in one of
// the precise counters; the test of the detector below checks that each such leak crosses
// LEAK_BOUND. Without a leak, their slopes measured on 2-core machines (alone, in the full suite
// and beside another CPU-bound process, fresh clones) stay within +-40 B/step.
const LEAK_BOUND = 256;
// rss also counts pages the allocator keeps after a collection; its scatter between samples is
// +-10 MiB, which over 10 blocks of 1,000 steps allows slopes of several hundred B/step without
// a leak. It is bounded loosely, as a backstop for native memory no other counter sees.
const RSS_BOUND = 4096;
const TREND = { warmup: 1000, every: 1000, samples: 11 };

function expectNoGrowth(trend: MemoryTrend): void {
  expect(trend.slope.heapUsed).toBeLessThan(LEAK_BOUND);
  expect(trend.slope.external).toBeLessThan(LEAK_BOUND);
  expect(trend.slope.arrayBuffers).toBeLessThan(LEAK_BOUND);
  expect(trend.slope.tensorBytes).toBeLessThan(LEAK_BOUND);
  expect(trend.slope.rss).toBeLessThan(RSS_BOUND);
}

describe('long-run health', () => {
  it('AVB+AC training leaks no tensors and its memory does not grow', { timeout: 600_000 }, () => {
    const config = resolveConfig(
      {
        encoder: { hidden: [16], noiseDim: 4, bases: 2 },
        decoder: { hidden: [16] },
        adversary: { hidden: 16, depth: 1 },
      },
      { experiment: 'synthetic', method: 'avb-ac' },
    );
    const ds = loadDataset('synthetic');
    const parts = buildParts(config, ds, new Rng(1));
    const trainer = new Trainer(
      parts,
      objectiveFor(config),
      new MinibatchSampler(ds, ds.train, { seed: 1, binarize: false }),
      testTrainerConfig(1e-3, { batch: 8, schedule: 'simultaneous', adversarySteps: 1 }),
      new Rng(2),
    );
    let tensors = -1;
    let failed = 0;
    const trend = measureMemoryTrend(() => {
      if (!trainer.step().ok) failed++;
      if (tensors < 0) tensors = tf.memory().numTensors;
    }, TREND);
    console.log(`training: ${formatSlopes(trend)}`);
    expect(failed).toBe(0);
    expect(tf.memory().numTensors).toBe(tensors);
    expectNoGrowth(trend);
    trainer.dispose();
  });

  // The check above can fail: each kind of 1 KiB-per-step leak, inside a loop that also makes
  // garbage of every kind (as a training step does), pushes its counter over the bound.
  const leaks: [string, 'tensorBytes' | 'heapUsed' | 'arrayBuffers', (kept: unknown[]) => void][] =
    [
      ['a tensor', 'tensorBytes', (kept) => kept.push(tf.fill([256], 1))],
      ['an ArrayBuffer', 'arrayBuffers', (kept) => kept.push(new Float32Array(256))],
      [
        'a JS array',
        'heapUsed',
        (kept) => kept.push(Array.from({ length: 128 }, (_, i) => i + 0.5)),
      ],
    ];
  for (const [what, field, leak] of leaks) {
    it(`detects ${what} of 1 KiB leaked per step`, () => {
      const kept: unknown[] = [];
      const trend = measureMemoryTrend(() => {
        tf.tidy(() => tf.sum(tf.mul(tf.ones([64, 64]), 2)).dataSync());
        void new Float32Array(512).fill(1).reduce((a, b) => a + b, 0);
        leak(kept);
      }, TREND);
      console.log(`${what} leaked: ${formatSlopes(trend)}`);
      expect(trend.slope[field]).toBeGreaterThan(LEAK_BOUND);
      expect(() => expectNoGrowth(trend)).toThrow();
      tf.dispose(kept.filter((k): k is tf.Tensor => k instanceof tf.Tensor));
    });
  }
});
