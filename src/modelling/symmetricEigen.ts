import { custom, lift } from './autodiff.js';
import type { Node, Val } from './autodiff.js';

/**
 * The eigendecomposition of a symmetric matrix, differentiable: Stan's `eigenvalues_sym` and
 * `eigenvectors_sym` (posteriordb's VAR models take matrix square roots with them). The forward
 * pass is the cyclic Jacobi method in doubles (exact to rounding for the small matrices a model
 * holds); the backward pass is the closed form of Giles (2008), "Collected matrix derivative
 * results": for A = V Λ Vᵀ, Ā = V (diag(λ̄) + F ∘ (Vᵀ V̄)) Vᵀ with F_ij = 1 / (λ_j − λ_i), made
 * symmetric, as the input is read as the symmetric (A + Aᵀ) / 2.
 */

/** Eigenvalues (ascending) and eigenvectors (columns, row-major `[n, n]`) of sym(A), in doubles. */
export function jacobiEigen(
  a: ArrayLike<number>,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) m[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (const x of m) scale = Math.max(scale, Math.abs(x));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) off = Math.max(off, Math.abs(m[p * n + q]));
    if (off <= 1e-15 * scale || !(off > 0)) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        // The rotation that zeroes m[p][q] (Golub & Van Loan, Algorithm 8.4.1).
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p];
          const mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k];
          const mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  // Ascending, as Stan returns them; each vector's largest component positive (a fixed sign, so
  // the vectors are smooth functions of A where the eigenvalues are distinct).
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[i * n + i] - m[j * n + j]);
  const values = Float64Array.from(order, (i) => m[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((src, col) => {
    let big = 0;
    for (let k = 0; k < n; k++) if (Math.abs(v[k * n + src]) > Math.abs(big)) big = v[k * n + src];
    const sign = big < 0 ? -1 : 1;
    for (let k = 0; k < n; k++) vectors[k * n + col] = sign * v[k * n + src];
  });
  return { values, vectors };
}

/** V X Vᵀ made symmetric: the adjoint of a symmetric input. */
function back(v: Float64Array, x: Float64Array, n: number): Float64Array {
  const vx = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += v[i * n + j] * x[j * n + k];
      vx[i * n + k] = s;
    }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let l = 0; l < n; l++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vx[i * n + k] * v[l * n + k];
      out[i * n + l] = s;
    }
  for (let i = 0; i < n; i++)
    for (let l = 0; l < i; l++)
      out[i * n + l] = out[l * n + i] = 0.5 * (out[i * n + l] + out[l * n + i]);
  return out;
}

/** Eigenvalues of the symmetric n × n matrix, ascending. */
export function eigenvaluesSym(matrix: Val, n: number): Node {
  const A = lift(matrix);
  const { values, vectors } = jacobiEigen(A.value, n);
  return custom(values, [A], (g) => {
    const x = new Float64Array(n * n);
    for (let i = 0; i < n; i++) x[i * n + i] = g[i];
    return [back(vectors, x, n)];
  });
}

/** Eigenvectors of the symmetric n × n matrix, as columns in the eigenvalues' order. */
export function eigenvectorsSym(matrix: Val, n: number): Node {
  const A = lift(matrix);
  const { values, vectors } = jacobiEigen(A.value, n);
  return custom(vectors, [A], (g) => {
    // Vᵀ V̄, then F ∘ it (F_ij = 1 / (λ_j − λ_i); 0 where two eigenvalues coincide).
    const x = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const gap = values[j] - values[i];
        if (Math.abs(gap) < 1e-12 * (Math.abs(values[i]) + Math.abs(values[j]) + 1e-300)) continue;
        let s = 0;
        for (let k = 0; k < n; k++) s += vectors[k * n + i] * g[k * n + j];
        x[i * n + j] = s / gap;
      }
    return [back(vectors, x, n)];
  });
}
