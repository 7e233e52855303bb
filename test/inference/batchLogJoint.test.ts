import { beforeAll, describe, expect, it } from 'vitest';
import {
  clipRowGradients,
  MAX_ROW_GRADIENT,
  ROW_GRADIENT_CLIP,
} from '../../src/inference/batchLogJoint.js';
import { advi, avbInference } from '../../src/inference/variational.js';
import { PARETO_K_BAD } from '../../src/inference/fitTrust.js';
import * as tf from '../../src/tf.js';
import { stan } from '../stan/stanTestKit.js';
import { useBackend } from '../helpers.js';

beforeAll(() => useBackend());

/** The gradient of sum(z * w) through the clip: each row's gradient is w's row, clipped. */
function clipped(w: number[][]): number[][] {
  const z = tf.zeros([w.length, w[0].length]) as tf.Tensor2D;
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(clipRowGradients(x as tf.Tensor2D), w)))(z);
  return g.arraySync() as number[][];
}

describe('row gradients as the variational fits take them', () => {
  it('a row far past the batch’s median is shortened to the clip, its direction kept', () => {
    const g = clipped([
      [3, 4],
      [0, 5],
      [5, 0],
      [6e6, -8e6],
    ]);
    // Norms 5, 5, 5, 1e7: the median is 5, so the last row is cut to 100 × 5 = 500.
    expect(ROW_GRADIENT_CLIP).toBe(100);
    expect(g.slice(0, 3)).toEqual([
      [3, 4],
      [0, 5],
      [5, 0],
    ]);
    expect(g[3][0]).toBeCloseTo(300, 3);
    expect(g[3][1]).toBeCloseTo(-400, 3);
  });

  it('a batch whose rows all pull hard is cut to the absolute bound', () => {
    const g = clipped([
      [3e20, 4e20],
      [0, 5e20],
    ]);
    // Float32 keeps ~7 digits: 1e12 to a relative 1e-6.
    expect(Math.hypot(...g[0]) / MAX_ROW_GRADIENT).toBeCloseTo(1, 5);
    expect(g[0][0] / g[0][1]).toBeCloseTo(0.75, 5);
    expect(g[1][1] / MAX_ROW_GRADIENT).toBeCloseTo(1, 5);
  });

  it('a declared model’s gradient beyond float32’s range is handed on finite, its sign kept', () => {
    const m = stan('parameters { real x; } model { x ~ normal(0, 1); target += -exp(100 * x); }');
    // At x = 0.88 the log density is -e^88 = -1.7e38 (inside float32) and its gradient
    // -100 e^88 = -1.7e40 (outside): it used to reach the fits as -Infinity, and NaN after a
    // product with zero.
    expect(m.logDensityAndGradient!(Float64Array.of(0.88)).grad[0]).toBeLessThan(-1e40);
    const z = tf.tensor2d([[0.88]]);
    const g = tf
      .grad((x: tf.Tensor) => tf.sum(m.logJoint(x as tf.Tensor2D)))(z)
      .dataSync()[0];
    expect(Number.isFinite(g)).toBe(true);
    expect(g).toBeLessThan(-1e29);
  });
});

/**
 * Three independent x_i ~ N(0, 1) against a wall, exp(-exp(100 x_i)): the posterior of each is
 * a normal cut off near 0 (mean -0.8015, sd 0.6019 by quadrature). The mode sits at the wall, so
 * the Laplace whitening is too wide on its right: half of q's first draws land where the log
 * density is -1e20 and beyond, as on posteriordb's accel_gp one Laplace sd out.
 */
const wall = `parameters { vector[3] x; }
  model { x ~ normal(0, 1); target += -sum(exp(100 * x)); }`;

/** The posterior's mean and sd of one x_i, by the trapezoid rule on [-8, 2] with step 1e-4. */
function wallMoments(): { mean: number; sd: number } {
  let [z, m, s] = [0, 0, 0];
  for (let i = 0; i <= 100000; i++) {
    const x = -8 + i * 1e-4;
    const w = Math.exp(-(x * x) / 2 - Math.exp(100 * x)) * (i === 0 || i === 100000 ? 0.5 : 1);
    [z, m, s] = [z + w, m + w * x, s + w * x * x];
  }
  return { mean: m / z, sd: Math.sqrt(s / z - (m / z) ** 2) };
}

describe('a posterior whose tail falls faster than any Gaussian’s', () => {
  it('AVB+AC fits it: the far rows pull q in without taking over the optimiser', async () => {
    const exact = wallMoments();
    const r = await avbInference(stan(wall), { iterations: 2000, seed: 1 });
    for (let i = 0; i < 3; i++) {
      const x = r.draws.values.map((v) => v[i]);
      const mean = x.reduce((a, b) => a + b, 0) / x.length;
      const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
      // The posteriordb floor (0.1 sd, sd ratio within 10%). Measured on seeds 1-3: at worst
      // 0.026 sd and 1.028. Unclipped, seed 1 ended 0.69 sd off with sds 0.55 ×: the first
      // steps' 1e20 gradients held Adam's second moments up for the rest of the fit.
      expect(Math.abs(mean - exact.mean) / exact.sd).toBeLessThan(0.1);
      expect(sd / exact.sd).toBeGreaterThan(0.9);
      expect(sd / exact.sd).toBeLessThan(1.1);
    }
  }, 180_000);

  it('full-rank ADVI ends, and its Gaussian q, which cannot fit a wall, is flagged', async () => {
    // Unclipped it stopped: "ADVI diverged (step 104: the gradient of weight 1 is not finite)".
    const r = await advi(stan(wall), { kind: 'fullrank', seed: 1 });
    expect(r.status).toBe('completed');
    expect(r.paretoK).toBeGreaterThan(PARETO_K_BAD);
  }, 60_000);
});
