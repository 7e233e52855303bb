import { cholesky, choleskySolve, inverseFromCholesky } from './denseMatrix.js';

/**
 * A check of a fit's draws against the model's gradient alone, needing no density of q (so it
 * holds for AVB's implicit q as well as for ADVI's Gaussian), from Stein's identities: for the
 * posterior p on R^d (tails decaying),
 *
 *   E_p[∇ log p(z)] = 0   and   E_p[(z - c) ∇ log p(z)^T] = -I   (any constant c).
 *
 * At q's draws, with m and C q's mean and covariance, g = ∇ log p, gbar = E_q[g] and
 * A = E_q[(z - m) g^T], a Gaussian posterior N(mu, S) gives gbar = -S^-1 (m - mu) and
 * A = -C S^-1 exactly, whatever q's shape: so S = -A^-1 C and mu = m + S gbar. These are the
 * posterior's moments as seen from q's draws. Where q is the posterior they equal q's own
 * (the identities hold for every posterior, Gaussian or not); where q is shifted or too narrow
 * they say by how much, in the units an accuracy check uses (posterior sds), exactly for a
 * Gaussian posterior and to first order for others.
 *
 * What it cannot see: the two identities are the exact ELBO's gradient in a and B for q's family
 * moved by z -> a + B z, so the maximiser of the ELBO over any family closed under affine maps
 * passes them whatever the posterior is (a converged full-rank Gaussian always does). It checks
 * that a fit has converged on the exact ELBO, which for AVB, whose entropy comes from an
 * adversary, is the question; for ADVI, whose entropy is exact, k̂ judges the family.
 */
export interface SteinCheck {
  /** The coordinate whose mean is farthest from the estimate, and by how much, |m - mu| / sd. */
  meanName: string;
  meanShift: number;
  /** The coordinate whose sd ratio sd_q / sd is farthest from 1, and that ratio. */
  sdName: string;
  sdRatio: number;
  /** Per coordinate: |m - mu| / sd and sd_q / sd (NaN where the estimate has no positive variance). */
  shifts: number[];
  sdRatios: number[];
  /** q's draws have a singular covariance (then the shift is infinite and the ratio 0). */
  degenerate?: boolean;
}

/**
 * `z` `[n, d]` q's draws and `grad` `[n, d]` ∇ log p at them (row-major, doubles), in the
 * coordinates of the fit; `toModel` the lower-triangular L of an affine map z -> mode + L z to
 * the model's coordinates (the Laplace whitening), in which the result is reported per `names`.
 * Undefined when there are too few draws (under 10 per dimension, or 100).
 */
export function steinCheck(
  z: Float64Array,
  grad: Float64Array,
  d: number,
  names: string[],
  toModel?: Float64Array,
): SteinCheck | undefined {
  const n = z.length / d;
  if (n < 10 * d || n < 100) return undefined;
  const m = new Float64Array(d);
  const gbar = new Float64Array(d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      m[j] += z[i * d + j] / n;
      gbar[j] += grad[i * d + j] / n;
    }
  // C = cov_q(z), A = E_q[(z - m) g^T], both over n: for a Gaussian posterior A = -C S^-1 is
  // then an identity of the draws, and S = -A^-1 C exact.
  const c = new Float64Array(d * d);
  const a = new Float64Array(d * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      const zj = z[i * d + j] - m[j];
      for (let k = 0; k < d; k++) {
        c[j * d + k] += (zj * (z[i * d + k] - m[k])) / n;
        a[j * d + k] += (zj * grad[i * d + k]) / n;
      }
    }
  const lc = cholesky(c, d);
  // A singular covariance: q's draws lie on a lower-dimensional set, which no posterior with a
  // density does. Singular up to rounding: a pivot below 1e-9 of its variance (float32 draws on
  // a subspace leave ~1e-14; a correlation of 0.9999 leaves 2e-4).
  const pivotsOk = lc?.every((v, k) => k % (d + 1) !== 0 || v * v > 1e-9 * c[k]);
  if (!lc || !pivotsOk) return { ...failed(names), degenerate: true };
  // The posterior's precision, S^-1 = -C^-1 A, symmetrised (A's noise is not symmetric).
  const ca = new Float64Array(d * d);
  const col = new Float64Array(d);
  for (let k = 0; k < d; k++) {
    for (let j = 0; j < d; j++) col[j] = -a[j * d + k];
    const x = choleskySolve(lc, d, col);
    for (let j = 0; j < d; j++) ca[j * d + k] = x[j];
  }
  const precision = Float64Array.from(ca, (v, idx) => {
    const j = Math.floor(idx / d);
    const k = idx % d;
    return (v + ca[k * d + j]) / 2;
  });
  const lp = cholesky(precision, d);
  // A precision that is not positive definite: q's draws see no Gaussian-like posterior at all.
  if (!lp) return failed(names);
  const s = inverseFromCholesky(lp, d);
  const shift = new Float64Array(d); // m - mu = -S gbar
  for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) shift[j] -= s[j * d + k] * gbar[k];
  const shiftModel = toModel ? mapVector(toModel, d, shift) : shift;
  const sModel = toModel ? mapCovariance(toModel, d, s) : s;
  const cModel = toModel ? mapCovariance(toModel, d, c) : c;
  const shifts: number[] = [];
  const sdRatios: number[] = [];
  for (let j = 0; j < d; j++) {
    const v = sModel[j * d + j];
    shifts.push(v > 0 ? Math.abs(shiftModel[j]) / Math.sqrt(v) : NaN);
    sdRatios.push(v > 0 ? Math.sqrt(cModel[j * d + j] / v) : NaN);
  }
  let mi = 0;
  let si = 0;
  for (let j = 1; j < d; j++) {
    if (!(shifts[j] <= shifts[mi])) mi = j;
    if (!(Math.abs(Math.log(sdRatios[j])) <= Math.abs(Math.log(sdRatios[si])))) si = j;
  }
  return {
    meanName: names[mi],
    meanShift: shifts[mi],
    sdName: names[si],
    sdRatio: sdRatios[si],
    shifts,
    sdRatios,
  };
}

/** A check that found no posterior's moments to compare with: infinitely off. */
function failed(names: string[]): SteinCheck {
  return {
    meanName: names[0],
    meanShift: Infinity,
    sdName: names[0],
    sdRatio: 0,
    shifts: names.map(() => NaN),
    sdRatios: names.map(() => NaN),
  };
}

/** L v for lower-triangular L. */
function mapVector(l: Float64Array, d: number, v: Float64Array): Float64Array {
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) for (let k = 0; k <= i; k++) out[i] += l[i * d + k] * v[k];
  return out;
}

/** L M L^T for lower-triangular L and symmetric M. */
function mapCovariance(l: Float64Array, d: number, mat: Float64Array): Float64Array {
  const lm = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let acc = 0;
      for (let k = 0; k <= i; k++) acc += l[i * d + k] * mat[k * d + j];
      lm[i * d + j] = acc;
    }
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let acc = 0;
      for (let k = 0; k <= j; k++) acc += lm[i * d + k] * l[j * d + k];
      out[i * d + j] = acc;
    }
  return out;
}
