import * as tf from '../../src/tf.js';
import type { BayesianModel } from '../../src/inference/model.js';
import type { Draws } from '../../src/inference/model.js';
import { Rng } from '../../src/random/rng.js';
import { cholesky, inverseFromCholesky } from '../../src/math/denseMatrix.js';

/**
 * Gaussian linear regressions with a closed-form posterior, scaled to break naive VI:
 * y = b0 + x b + N(0, 1) on 100 points and 5 predictors, priors N(0, 10^2), sigma known.
 * - `tiny`: predictors of scale 100, so the coefficients' posterior sd is ~1e-3, 1e-4 of the
 *   prior's (posteriordb's kidiq and diamonds have this shape);
 * - `correlated`: the first predictor is a calendar year (2000..2020), so the intercept and its
 *   coefficient have posterior correlation ~ -0.9999.
 * Exact posterior: N(A^-1 X^T y, A^-1), A = X^T X + I / 100.
 */
export function regression(kind: 'tiny' | 'correlated') {
  const rng = new Rng(5);
  const n = 100;
  const d = 6;
  const rows: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: 5 }, (_, j) =>
      kind === 'tiny' ? 100 * rng.normal() : j === 0 ? 2000 + 20 * rng.uniform() : rng.normal(),
    );
    const scale = kind === 'tiny' ? 1 : 0.01;
    y.push(1 + x.reduce((s, v, j) => s + v * (0.5 - 0.2 * j) * scale, 0) + rng.normal());
    rows.push([1, ...x]);
  }
  const a = Array.from({ length: d }, (_, i) =>
    Array.from(
      { length: d },
      (_, j) => rows.reduce((s, r) => s + r[i] * r[j], 0) + (i === j ? 0.01 : 0),
    ),
  );
  const b = Array.from({ length: d }, (_, i) => rows.reduce((s, r, k) => s + r[i] * y[k], 0));
  const cov = invert(a);
  const mean = cov.map((r) => r.reduce((s, v, j) => s + v * b[j], 0));
  const xf = Float32Array.from(rows.flat());
  const yf = Float32Array.from(y);
  const names = Array.from({ length: d }, (_, j) => `b_${j}`);
  const model: BayesianModel = {
    name: `regression-${kind}`,
    dim: d,
    parameterNames: names,
    summaryNames: names,
    summarize: (z) => Array.from(z),
    logJoint: (z) =>
      tf.tidy(() => {
        const mu = tf.matMul(z, tf.tensor2d(xf, [n, d]), false, true);
        const r = tf.sub(tf.tensor1d(yf), mu);
        return tf.add(
          tf.mul(tf.sum(tf.square(r), 1), -0.5),
          tf.mul(tf.sum(tf.square(z), 1), -0.005),
        ) as tf.Tensor1D;
      }),
  };
  return { model, mean, cov };
}

/** The inverse of a symmetric positive-definite matrix, through its Cholesky factor. */
function invert(a: number[][]): number[][] {
  const d = a.length;
  const l = cholesky(Float64Array.from(a.flat()), d);
  if (!l) throw new Error('the precision matrix is not positive definite');
  const inv = inverseFromCholesky(l, d);
  return Array.from({ length: d }, (_, i) => Array.from(inv.subarray(i * d, (i + 1) * d)));
}

/** The worst standardised mean error |E_q - E| / sd and the worst sd ratio (as max(r, 1/r)). */
export function worstErrors(draws: Draws, mean: number[], cov: number[][]) {
  let meanError = 0;
  let sdRatio = 1;
  for (const e of trueErrors(draws, mean, cov)) {
    meanError = Math.max(meanError, e.shift);
    sdRatio = Math.max(sdRatio, e.sdRatio, 1 / e.sdRatio);
  }
  return { meanError, sdRatio };
}

/**
 * Per coordinate: |mean - exact mean| / exact sd and sd / exact sd of the draws (sd over n, as
 * the Stein check takes it).
 */
export function trueErrors(draws: Draws, mean: number[], cov: number[][]) {
  const n = draws.values.length;
  return mean.map((mu, j) => {
    const v = draws.values.map((row) => row[j]);
    const m = v.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / n);
    const s = Math.sqrt(cov[j][j]);
    return { shift: Math.abs(m - mu) / s, sdRatio: sd / s };
  });
}
