import * as tf from '../../src/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/random/rng.js';
import { LossStepper } from '../../src/train/lossStepper.js';
import { AVERAGING_ETA } from '../../src/train/weightAverage.js';
import { useBackend } from '../helpers.js';

beforeAll(() => useBackend());

const ADAM = { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-12 };

describe('LossStepper: polynomial-decay averaging of the weights', () => {
  it('weighs step s by about s^η: on a steady drift the average lags by t / (η + 2)', () => {
    // A constant gradient makes Adam move every weight by exactly the learning rate each step
    // (its bias-corrected m̂ / √v̂ is 1), so w_t = −0.01 t. Weights ∝ s^η on [0, t] have mean
    // t (η + 1) / (η + 2): the average is −0.01 × 5/6 × t, up to O(1/t) from the sum's ends
    // (0.3% at t = 600; 1% tolerance).
    const w = tf.variable(tf.zeros([3]));
    const stepper = new LossStepper([w], () => tf.sum(w), ADAM, new Rng(1), undefined, true);
    const t = 600;
    for (let i = 0; i < t; i++) expect(stepper.step().ok).toBe(true);
    expect(w.dataSync()[0]).toBeCloseTo(-0.01 * t, 3);
    stepper.useAverages();
    const expected = (-0.01 * t * (AVERAGING_ETA + 1)) / (AVERAGING_ETA + 2);
    for (const v of w.dataSync()) expect(Math.abs(v / expected - 1)).toBeLessThan(0.01);
    stepper.dispose();
    w.dispose();
  });

  it('the average is part of the snapshot: a restored stepper continues it exactly', () => {
    const make = () => {
      const w = tf.variable(tf.tensor1d([1, -2]));
      // A noisy quadratic: the weights fluctuate around 0, as a stochastic fit's do.
      const loss = (rng: Rng) => tf.sum(tf.square(tf.sub(w, rng.normalTensor([2])))) as tf.Scalar;
      return { w, s: new LossStepper([w], loss, ADAM, new Rng(2), undefined, true) };
    };
    const a = make();
    for (let i = 0; i < 50; i++) a.s.step();
    const snap = a.s.snapshot();
    for (let i = 0; i < 50; i++) a.s.step();
    a.s.useAverages();
    const b = make();
    b.s.restore(snap);
    for (let i = 0; i < 50; i++) b.s.step();
    b.s.useAverages();
    expect(Array.from(b.w.dataSync())).toEqual(Array.from(a.w.dataSync()));
    [a, b].forEach(({ w, s }) => {
      s.dispose();
      w.dispose();
    });
  });
});
