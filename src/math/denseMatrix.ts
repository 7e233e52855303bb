/**
 * Small dense symmetric linear algebra in doubles, row-major `d x d` Float64Arrays: what the
 * Laplace approximation needs (Cholesky, solves, the inverse), for d up to a few hundred.
 */

/** The lower Cholesky factor L (A = L L^T), or undefined when A is not positive definite. */
export function cholesky(a: Float64Array, d: number): Float64Array | undefined {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j];
      for (let k = 0; k < j; k++) s -= l[i * d + k] * l[j * d + k];
      if (i === j) {
        if (!(s > 0)) return undefined;
        l[i * d + i] = Math.sqrt(s);
      } else l[i * d + j] = s / l[j * d + j];
    }
  }
  return l;
}

/** x with L L^T x = b. */
export function choleskySolve(l: Float64Array, d: number, b: ArrayLike<number>): Float64Array {
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * d + k] * y[k];
    y[i] = s / l[i * d + i];
  }
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < d; k++) s -= l[k * d + i] * x[k];
    x[i] = s / l[i * d + i];
  }
  return x;
}

/** (L L^T)^-1, column by column. */
export function inverseFromCholesky(l: Float64Array, d: number): Float64Array {
  const inv = new Float64Array(d * d);
  const e = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    e.fill(0);
    e[j] = 1;
    const col = choleskySolve(l, d, e);
    for (let i = 0; i < d; i++) inv[i * d + j] = col[i];
  }
  return inv;
}

/**
 * Mean and covariance of the rows of `z` `[n, d]`, both over n (not n - 1): the affine refit's
 * Gaussian step is then exact on the draws themselves.
 */
export function rowMoments(z: Float64Array, n: number, d: number) {
  const m = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m[j] += z[i * d + j] / n;
  const c = new Float64Array(d * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      const zj = z[i * d + j] - m[j];
      for (let k = 0; k <= j; k++) c[j * d + k] += (zj * (z[i * d + k] - m[k])) / n;
    }
  for (let j = 0; j < d; j++) for (let k = 0; k < j; k++) c[k * d + j] = c[j * d + k];
  return { m, c };
}

/**
 * How far draws moved between `before` and `after` ({@link rowMoments}): the largest |mean
 * change| of a coordinate in its sds before, and the sd ratio (after / before) farthest from 1.
 */
export function momentChange(
  before: { m: Float64Array; c: Float64Array },
  after: { m: Float64Array; c: Float64Array },
  d: number,
): { meanMoved: number; sdRatio: number } {
  let meanMoved = 0;
  let sdRatio = 1;
  for (let j = 0; j < d; j++) {
    const sd = Math.sqrt(before.c[j * d + j]);
    meanMoved = Math.max(meanMoved, Math.abs(after.m[j] - before.m[j]) / sd);
    const r = Math.sqrt(after.c[j * d + j]) / sd;
    if (Math.abs(Math.log(r)) > Math.abs(Math.log(sdRatio))) sdRatio = r;
  }
  return { meanMoved, sdRatio };
}
