/**
 * Eigenvalues and eigenvectors of a small symmetric matrix (row-major `d x d`, doubles) by the
 * cyclic Jacobi method: rotations that zero each off-diagonal entry in turn until the
 * off-diagonal mass is at rounding level. O(d³) a sweep and a handful of sweeps: what the
 * affine refit's matrix square roots need for d up to a few hundred, in the same doubles as the
 * rest of `denseMatrix.ts`, without pulling a linear-algebra package into the browser bundle for
 * one routine. `a = V diag(values) V^T`, V's columns the eigenvectors.
 */
export function symmetricEigen(
  a: Float64Array,
  d: number,
): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let scale = 0;
  for (let i = 0; i < d * d; i++) scale += m[i] * m[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += m[p * d + q] ** 2;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = m[p * d + q];
        if (apq === 0) continue;
        // The rotation angle that zeroes m[p][q] (Golub & Van Loan, 8.5.2), in its stable form.
        const theta = (m[q * d + q] - m[p * d + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const mkp = m[k * d + p];
          const mkq = m[k * d + q];
          m[k * d + p] = c * mkp - s * mkq;
          m[k * d + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < d; k++) {
          const mpk = m[p * d + k];
          const mqk = m[q * d + k];
          m[p * d + k] = c * mpk - s * mqk;
          m[q * d + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p];
          const vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = m[i * d + i];
  return { values, vectors: v };
}

/**
 * f(A) = V diag(f(λ)) V^T for a symmetric A (row-major `d x d`), e.g. its square root or
 * inverse square root; undefined when an eigenvalue is not positive (f is asked of a positive
 * definite matrix only).
 */
export function symmetricFunction(
  a: Float64Array,
  d: number,
  f: (lambda: number) => number,
): Float64Array | undefined {
  const { values, vectors } = symmetricEigen(a, d);
  if (!values.every((l) => l > 0)) return undefined;
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const fk = f(values[k]);
    for (let i = 0; i < d; i++) {
      const vik = vectors[i * d + k] * fk;
      for (let j = 0; j < d; j++) out[i * d + j] += vik * vectors[j * d + k];
    }
  }
  return out;
}
