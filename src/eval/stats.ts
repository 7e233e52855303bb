import { cholesky } from '../math/denseMatrix.js';
import { HALF_LOG_2PI } from '../math/gaussian.js';

/** Numerically stable log(mean(exp(v))) in float64. */
export function logMeanExp(v: ArrayLike<number>): number {
  let mx = -Infinity;
  for (let i = 0; i < v.length; i++) if (v[i] > mx) mx = v[i];
  if (!Number.isFinite(mx)) return mx;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.exp(v[i] - mx);
  return mx + Math.log(s / v.length);
}

/** Mean and standard error of the mean. */
export function meanAndStderr(v: ArrayLike<number>): { mean: number; stderr: number } {
  const n = v.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += v[i] / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (v[i] - mean) ** 2;
  return { mean, stderr: n > 1 ? Math.sqrt(ss / (n - 1) / n) : NaN };
}

/**
 * log N(x; mean, cov) for a full covariance matrix (row-major `d x d`), by Cholesky
 * factorisation in float64. The exact answer for linear-Gaussian models.
 */
export function logNormalDensity(
  x: ArrayLike<number>,
  mean: ArrayLike<number>,
  cov: Float64Array,
): number {
  const d = x.length;
  const Lc = cholesky(cov, d);
  if (!Lc) throw new Error('covariance is not positive definite');
  // Solve L y = x - mean; log N = -1/2 |y|^2 - sum log L_ii - d/2 log 2 pi.
  const y = new Float64Array(d);
  let quad = 0;
  let logDet = 0;
  for (let i = 0; i < d; i++) {
    let s = x[i] - mean[i];
    for (let k = 0; k < i; k++) s -= Lc[i * d + k] * y[k];
    y[i] = s / Lc[i * d + i];
    quad += y[i] * y[i];
    logDet += Math.log(Lc[i * d + i]);
  }
  return -0.5 * quad - logDet - d * HALF_LOG_2PI;
}
