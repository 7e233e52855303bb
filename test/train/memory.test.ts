import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/loadDataset.js';
import { MinibatchSampler } from '../../src/data/sampler.js';
import { buildParts, objectiveFor } from '../../src/experiments/buildParts.js';
import { resolveConfig } from '../../src/experiments/config.js';
import { Rng } from '../../src/random/rng.js';
import { Trainer } from '../../src/train/trainer.js';
import { testTrainerConfig, useBackend } from '../helpers.js';

beforeAll(() => useBackend());

describe('long-run health', () => {
  it(
    '20,000 AVB+AC steps leak no tensors and do not grow the process memory',
    { timeout: 600_000 },
    () => {
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
      const run = (n: number) => {
        for (let i = 0; i < n; i++) expect(trainer.step().ok).toBe(true);
      };
      run(1000); // warm-up: caches, JIT and the wasm heap reach their working size
      const tensors = tf.memory().numTensors;
      const rss = process.memoryUsage().rss;
      run(19000);
      expect(tf.memory().numTensors).toBe(tensors);
      // Two leaked 1 KiB tensors per step would add ~40 MiB over 19,000 steps; allocator and GC
      // noise stays well below 32 MiB.
      expect(process.memoryUsage().rss - rss).toBeLessThan(32 * 2 ** 20);
      trainer.dispose();
    },
  );
});
