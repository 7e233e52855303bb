import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/inference/loadModel.js';
import type { DeclaredModel } from '../../src/inference/declaredModel.js';
import { nuts } from '../../src/inference/nuts.js';
import { avbInference } from '../../src/inference/variational.js';
import * as tf from '../../src/tf.js';
import { useBackend } from '../helpers.js';
import { MODEL_KIT } from '../../src/inference/modelKit.js';

beforeAll(() => useBackend());

const DATA = JSON.parse(readFileSync('examples/regression-data.json', 'utf8')) as {
  x: number[];
  y: number[];
};

/**
 * The exact posterior of examples/regression.mjs (normal-inverse-gamma: σ² ~ IG(3, 2),
 * β | σ² ~ N(0, σ²/0.1 I)): β's marginal is a t with mean m_n and covariance
 * b_n / (a_n − 1) Λ_n⁻¹, σ² ~ IG(a_n, b_n).
 */
function exactPosterior(x: number[], y: number[]) {
  const n = x.length;
  const sx = x.reduce((a, b) => a + b, 0);
  const sxx = x.reduce((a, b) => a + b * b, 0);
  const sy = y.reduce((a, b) => a + b, 0);
  const sxy = x.reduce((a, b, i) => a + b * y[i], 0);
  const syy = y.reduce((a, b) => a + b * b, 0);
  const l = [n + 0.1, sx, sx, sxx + 0.1]; // Λ_n = XᵀX + 0.1 I
  const det = l[0] * l[3] - l[1] * l[2];
  const inv = [l[3] / det, -l[1] / det, -l[2] / det, l[0] / det];
  const m = [inv[0] * sy + inv[1] * sxy, inv[2] * sy + inv[3] * sxy];
  const an = 3 + n / 2;
  const bn =
    2 + 0.5 * (syy - (m[0] * (l[0] * m[0] + l[1] * m[1]) + m[1] * (l[2] * m[0] + l[3] * m[1])));
  const s2 = bn / (an - 1);
  // x* = (1, 10): x*ᵀ Λ⁻¹ x* = inv₀₀ + 20 inv₀₁ + 100 inv₁₁.
  const predictiveVar10 = s2 * (1 + inv[0] + 20 * inv[1] + 100 * inv[3]);
  return {
    predictiveVar10,
    mean: [m[0], m[1], s2],
    sd: [Math.sqrt(s2 * inv[0]), Math.sqrt(s2 * inv[3]), s2 / Math.sqrt(an - 2)],
  };
}

function momentsOf(values: number[][]) {
  const k = values[0].length;
  const mean = Array.from(
    { length: k },
    (_, j) => values.reduce((a, v) => a + v[j], 0) / values.length,
  );
  const sd = mean.map((m, j) =>
    Math.sqrt(values.reduce((a, v) => a + (v[j] - m) ** 2, 0) / (values.length - 1)),
  );
  return { mean, sd };
}

describe('a declared model (examples/regression.mjs) against its closed-form posterior', () => {
  let model: DeclaredModel;
  beforeAll(async () => {
    model = (await loadModel('examples/regression.mjs', undefined, DATA)) as DeclaredModel;
  });

  it('names its quantities the Stan way and maps them to R^d and back', () => {
    expect(model.dim).toBe(3);
    expect(model.summaryNames).toEqual(['beta[1]', 'beta[2]', 'sigma2', 'y10']);
    expect(model.parameterNames).toEqual(['beta[1]', 'beta[2]', 'sigma2 (unconstrained)']);
    const z = model.unconstrain({ beta: [1, 0.5], sigma2: 0.7 });
    expect(z[2]).toBeCloseTo(Math.log(0.7), 12);
    const [b0, b1, s2, y10] = model.summarize(z);
    expect([b0, b1, s2]).toEqual([1, 0.5, expect.closeTo(0.7, 12)]);
    // The generated quantity is seeded by the draw: the same draw gives the same value.
    expect(model.summarize(z)[3]).toBe(y10);
    expect(model.summarize(model.unconstrain({ beta: [1, 0.5], sigma2: 0.8 }))[3]).not.toBe(y10);
  });

  it('its tfjs log joint equals the doubles one, and so do the gradients', () => {
    const rows = [
      [1, 0.5, -0.4],
      [0.2, 0.9, 0.3],
    ];
    const z = tf.tensor2d(rows);
    const { value, grad } = tf.valueAndGrad((t: tf.Tensor) =>
      tf.sum(model.logJoint(t as tf.Tensor2D)),
    )(z);
    const g = grad.arraySync() as number[][];
    const lp = model.logJoint(z).arraySync();
    rows.forEach((r, i) => {
      const e = model.logDensityAndGradient!(Float64Array.from(r));
      // float32 rounding of a log density of a few hundred: ~1e-5 relative.
      expect(lp[i]).toBeCloseTo(e.logp, 2);
      e.grad.forEach((v, j) => expect(g[i][j]).toBeCloseTo(v, 2));
    });
    expect(value.dataSync()[0]).toBeCloseTo(lp[0] + lp[1], 1);
    tf.dispose([z, value, grad]);
  });

  it('NUTS matches the exact posterior means and sds', async () => {
    const exact = exactPosterior(DATA.x, DATA.y);
    const r = await nuts(model, { chains: 4, warmup: 500, samples: 1000, seed: 3 });
    const m = momentsOf(r.draws.values.map((v) => v.slice(0, 3)));
    // 4,000 draws with ESS > 1,000: the means' Monte-Carlo error is < 0.03 sd, the sds' < 0.03
    // relative; 0.1 sd and ±10% are over 3 standard errors.
    m.mean.forEach((v, j) => expect(Math.abs(v - exact.mean[j]) / exact.sd[j]).toBeLessThan(0.1));
    m.sd.forEach((v, j) => expect(v / exact.sd[j]).toBeGreaterThan(0.9));
    m.sd.forEach((v, j) => expect(v / exact.sd[j]).toBeLessThan(1.1));
    expect(r.divergences).toBe(0);
    // The posterior predictive at x = 10: a t with mean m₀ + 10 m₁ and variance
    // E σ² (1 + x*ᵀ Λ⁻¹ x*) = var(β₀ + 10 β₁) + E σ²; 4,000 independent-ish draws: ±0.05 sd.
    const y10 = r.draws.values.map((v) => v[3]);
    const mean = exact.mean[0] + 10 * exact.mean[1];
    const sd = Math.sqrt(exact.predictiveVar10);
    const got = momentsOf(y10.map((v) => [v]));
    expect(Math.abs(got.mean[0] - mean) / sd).toBeLessThan(0.1);
    expect(got.sd[0] / sd).toBeGreaterThan(0.93);
    expect(got.sd[0] / sd).toBeLessThan(1.07);
  });

  it('AVB with adaptive contrast matches them too', async () => {
    const exact = exactPosterior(DATA.x, DATA.y);
    const r = await avbInference(model, { iterations: 2000, seed: 2 });
    const m = momentsOf(r.draws.values.map((v) => v.slice(0, 3)));
    // Measured on seeds 1-5 (2,000 iterations): worst mean error 0.014-0.072 sd, sd ratios
    // 0.95-1.03 (σ² is skewed, which the adversary has to learn); 0.15 sd and ±15% hold those
    // with a margin.
    m.mean.forEach((v, j) => expect(Math.abs(v - exact.mean[j]) / exact.sd[j]).toBeLessThan(0.15));
    m.sd.forEach((v, j) => expect(v / exact.sd[j]).toBeGreaterThan(0.85));
    m.sd.forEach((v, j) => expect(v / exact.sd[j]).toBeLessThan(1.15));
    // 66 s while two MNIST processes held both cores, 126 s with a third: the limit is for a
    // hung fit, not a measure of speed.
  }, 300_000);
});

describe('a Cholesky factor of a correlation matrix under LKJ', () => {
  it('NUTS draws correlations with the LKJ marginals, named L[i,j]', async () => {
    const model = MODEL_KIT.model({
      name: 'lkj',
      parameters: { L: MODEL_KIT.choleskyFactorCorr(3) },
      logDensity: ({ L }) => MODEL_KIT.lkjCorrCholesky(L, 3, 2),
    });
    expect(model.summaryNames.slice(0, 4)).toEqual(['L[1,1]', 'L[1,2]', 'L[1,3]', 'L[2,1]']);
    const r = await nuts(model, { chains: 4, warmup: 500, samples: 1000, seed: 4 });
    // LKJ(2), K = 3: each correlation has (r + 1)/2 ~ Beta(2.5, 2.5), E r² = 1/6 (sd of r²
    // 0.19). With bulk ESS above 1,500 the mean of r² has a Monte-Carlo error of about 0.005;
    // measured on seeds 1-6 the error was at most 0.006, and 0.02 is 4 such errors.
    const k = model.summaryNames.indexOf('L[2,1]'); // R_21 = L_21
    const r21sq = r.draws.values.reduce((a, v) => a + v[k] ** 2, 0) / r.draws.values.length;
    expect(Math.abs(r21sq - 1 / 6)).toBeLessThan(0.02);
    expect(r.divergences).toBe(0);
  }, 60_000);
});
