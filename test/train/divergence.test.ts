import * as tf from '../../src/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/loadDataset.js';
import { MinibatchSampler } from '../../src/data/sampler.js';
import { buildParts } from '../../src/experiments/buildParts.js';
import { resolveConfig } from '../../src/experiments/config.js';
import type { BayesianModel } from '../../src/inference/model.js';
import { advi } from '../../src/inference/variational.js';
import { avbObjective } from '../../src/objectives/avb.js';
import type { Objective } from '../../src/objectives/objective.js';
import { Rng } from '../../src/random/rng.js';
import { fit, MAX_ROLLBACKS } from '../../src/train/fit.js';
import { LossStepper } from '../../src/train/lossStepper.js';
import { Trainer } from '../../src/train/trainer.js';
import { testTrainerConfig, useBackend } from '../helpers.js';

beforeAll(() => useBackend());

/** Every weight's and both Adam states' values, as plain numbers (bit-identical comparison). */
function fullState(trainer: Trainer): unknown {
  const s = trainer.snapshot();
  return {
    weights: [...s.weights].map(([k, v]) => [k, Array.from(v.data)]),
    adam: [s.state.adam.primal, s.state.adam.adversary].map((a) => ({
      t: a.t,
      m: a.m.map((x) => Array.from(x)),
      v: a.v.map((x) => Array.from(x)),
    })),
  };
}

describe('divergence guard: a refused step changes nothing, for every schedule', () => {
  for (const schedule of ['simultaneous', 'alternating'] as const)
    for (const [what, poison] of [
      ['primal loss', 'primal'],
      ['adversary loss', 'adversary'],
    ] as const) {
      it(`${schedule}: a NaN ${what} at step 3 leaves every weight and Adam moment bit-identical`, () => {
        let primalCalls = 0;
        // AVB, except that from the third primal update on the chosen loss is multiplied by NaN
        // (with `alternating`, after that step's two adversary updates were computed).
        const poisoned: Objective = (parts, x, rng, o) => {
          const out = avbObjective(parts, x, rng, o);
          if (o.select !== 'adversary') primalCalls++;
          // Alternating: step 3's adversary updates come after 2 primal ones.
          const on = primalCalls >= (schedule === 'alternating' && poison === 'adversary' ? 2 : 3);
          if (on && out[poison]) out[poison] = tf.mul(out[poison], NaN) as tf.Scalar;
          return out;
        };
        const config = resolveConfig({}, { experiment: 'synthetic' });
        const ds = loadDataset('synthetic');
        const parts = buildParts(config, ds, new Rng(1));
        const trainer = new Trainer(
          parts,
          poisoned,
          new MinibatchSampler(ds, ds.train, { seed: 1, binarize: false }),
          testTrainerConfig(1e-3, { schedule, adversarySteps: 2 }),
          new Rng(2),
        );
        expect(trainer.step().ok).toBe(true);
        expect(trainer.step().ok).toBe(true);
        const before = fullState(trainer);
        const r = trainer.step();
        expect(r.ok).toBe(false);
        if (!r.ok)
          expect(r.divergence).toEqual({
            step: 3,
            quantity: poison === 'primal' ? 'primalLoss' : 'adversaryLoss',
          });
        expect(fullState(trainer)).toEqual(before);
        expect(trainer.completedSteps).toBe(2);
        trainer.dispose();
      });
    }
});

describe('fit: the divergence policy', () => {
  it('rollback: back to the last snapshot with halved rates, at most MAX_ROLLBACKS times', async () => {
    const w = tf.variable(tf.tensor1d([3]));
    let poisoned = false;
    // Minimises w^2; once poisoned, every loss is NaN.
    const stepper = new LossStepper(
      [w],
      () => tf.mul(tf.sum(tf.square(w)), poisoned ? NaN : 1) as tf.Scalar,
      { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
      new Rng(1),
    );
    const rollbacks: { backTo: number; scale: number }[] = [];
    const r = await fit(stepper, {
      until: 100,
      onNan: 'rollback',
      snapshotEvery: 10,
      onStep: (m) => {
        if (m.step === 25) poisoned = true;
      },
      onRollback: ({ backTo, scale }) => rollbacks.push({ backTo, scale }),
    });
    expect(r.status).toBe('diverged');
    expect(r.divergence).toEqual({ step: 21, quantity: 'the loss' });
    expect(r.rollbacks).toBe(MAX_ROLLBACKS);
    // Every rollback returns to step 20 (the last snapshot) and halves the rates again.
    expect(rollbacks).toEqual(
      Array.from({ length: MAX_ROLLBACKS }, (_, i) => ({ backTo: 20, scale: 0.5 ** (i + 1) })),
    );
    expect(stepper.completedSteps).toBe(20);
    stepper.dispose();
    w.dispose();
  });

  it('ADVI refuses a NaN step and says so in one line, never a NaN draw', async () => {
    // log(1 - z) is NaN wherever z > 1, where q = N(0, 1) puts 16% of its draws at the start.
    const model: BayesianModel = {
      name: 'half-nan',
      dim: 1,
      parameterNames: ['z'],
      summaryNames: ['z'],
      summarize: (z) => [z[0]],
      logJoint: (z) =>
        tf.tidy(() => {
          const x = z.reshape([-1]);
          return tf.add(tf.mul(tf.square(x), -0.5), tf.log(tf.sub(1, x)));
        }) as tf.Tensor1D,
    };
    await expect(advi(model, { iterations: 300, batch: 64, seed: 1 })).rejects.toThrow(
      /ADVI diverged \(step \d+: the loss is not finite\) after 5 rollbacks/,
    );
  });
});
