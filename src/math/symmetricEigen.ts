import { jacobiEigen } from '../modelling/symmetricEigen.js';

/**
 * Eigenvalues and eigenvectors of a small symmetric matrix (row-major `d x d`, doubles): the
 * modelling kit's cyclic Jacobi method (Stan's `eigenvalues_sym`), `a = V diag(values) V^T`
 * with V's columns the eigenvectors.
 */
export function symmetricEigen(
  a: Float64Array,
  d: number,
): { values: Float64Array; vectors: Float64Array } {
  return jacobiEigen(a, d);
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
