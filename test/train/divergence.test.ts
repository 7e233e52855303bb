import * as tf from '../../src/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/loadDataset.js';
import { MinibatchSampler } from '../../src/data/sampler.js';
import { buildParts } from '../../src/experiments/buildParts.js';
import { resolveConfig } from '../../src/experiments/config.js';
import { avbObjective } from '../../src/objectives/avb.js';
import type { Objective } from '../../src/objectives/objective.js';
import { Rng } from '../../src/random/rng.js';
import { Trainer } from '../../src/train/trainer.js';
import { testTrainerConfig, useBackend } from '../helpers.js';

beforeAll(() => useBackend());

describe('divergence guard', () => {
  for (const [what, poison] of [
    ['primal loss', 'primal'],
    ['adversary loss', 'adversary'],
  ] as const) {
    it(`a NaN ${what} at step 3 is reported before any weight changes`, () => {
      let calls = 0;
      // AVB, except that from the third iteration on the chosen loss is multiplied by NaN.
      const poisoned: Objective = (parts, x, rng, o) => {
        const out = avbObjective(parts, x, rng, o);
        if (o.select !== 'adversary') calls++;
        if (calls >= 3 && out[poison]) out[poison] = tf.mul(out[poison], NaN) as tf.Scalar;
        return out;
      };
      const config = resolveConfig({}, { experiment: 'synthetic' });
      const ds = loadDataset('synthetic');
      const parts = buildParts(config, ds, new Rng(1));
      const trainer = new Trainer(
        parts,
        poisoned,
        new MinibatchSampler(ds, ds.train, { seed: 1, binarize: false }),
        testTrainerConfig(1e-3, { schedule: 'simultaneous', adversarySteps: 1 }),
        new Rng(2),
      );
      expect(trainer.step().ok).toBe(true);
      expect(trainer.step().ok).toBe(true);
      const snapshot = () =>
        [parts.encoder, parts.decoder, parts.adversary!].flatMap((m) =>
          [...m.namedWeights().values()].map((v) => Array.from(v.dataSync())),
        );
      const before = snapshot();
      const r = trainer.step();
      expect(r.ok).toBe(false);
      if (!r.ok)
        expect(r.divergence).toEqual({
          step: 3,
          quantity: poison === 'primal' ? 'primalLoss' : 'adversaryLoss',
        });
      expect(snapshot()).toEqual(before);
      expect(trainer.completedSteps).toBe(2);
      trainer.dispose();
    });
  }
});
