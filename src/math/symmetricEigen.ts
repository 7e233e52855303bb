import { jacobiEigen } from '../modelling/symmetricEigen.js';

/**
 * f(A) = V diag(f(λ)) V^T for a symmetric A (row-major `d x d`; the modelling kit's Jacobi
 * eigendecomposition), e.g. its square root or inverse square root; undefined when an
 * eigenvalue is not positive (f is asked of a positive definite matrix only).
 */
export function symmetricFunction(
  a: Float64Array,
  d: number,
  f: (lambda: number) => number,
): Float64Array | undefined {
  const { values, vectors } = jacobiEigen(a, d);
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
