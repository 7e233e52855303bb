/**
 * The Cholesky factor as one differentiable operation, with the closed-form backward pass
 * (Murray 2016, "Differentiation of the Cholesky decomposition"): a GP's or a multi-normal's
 * covariance factored per density evaluation records one node, not the O(n³/6) scalar steps of
 * the textbook recursion (on posteriordb's 11-point GP those steps were ~300 nodes a point).
 */
import { cholesky as factor } from '../math/denseMatrix.js';
import { customRows, lift } from './autodiff.js';
import type { Node, Val } from './autodiff.js';

/**
 * The adjoint of A's lower triangle from L̄ (both n × n at `o`): with dL = L Φ(L⁻¹ dA L⁻ᵀ), Φ
 * the lower triangle with its diagonal halved (self-adjoint), ⟨L̄, dL⟩ = ⟨M, dA⟩ for
 * M = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹. A's entry (i, j), i > j, stands for both (i, j) and (j, i) of the symmetric
 * A, so it gets M_ij + M_ji; the diagonal M_ii; the upper triangle (never read) nothing.
 */
function backwardBlock(l: Float64Array, g: Float64Array, out: Float64Array, o: number, n: number) {
  // P = Φ(Lᵀ L̄): P_ij = Σ_{k ≥ i} L_ki L̄_kj for i ≥ j (L lower, so k ≥ i), diagonal halved.
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += l[o + k * n + i] * g[o + k * n + j];
      m[i * n + j] = i === j ? 0.5 * s : s;
    }
  // M = P L⁻¹ (solve X L = P row by row, back from the last column), then M = L⁻ᵀ M (solve
  // Lᵀ Y = M column by column, back from the last row).
  for (let r = 0; r < n; r++)
    for (let j = n - 1; j >= 0; j--) {
      let s = m[r * n + j];
      for (let k = j + 1; k < n; k++) s -= m[r * n + k] * l[o + k * n + j];
      m[r * n + j] = s / l[o + j * n + j];
    }
  for (let c = 0; c < n; c++)
    for (let i = n - 1; i >= 0; i--) {
      let s = m[i * n + c];
      for (let k = i + 1; k < n; k++) s -= l[o + k * n + i] * m[k * n + c];
      m[i * n + c] = s / l[o + i * n + i];
    }
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++)
      out[o + i * n + j] = i === j ? m[i * n + i] : m[i * n + j] + m[j * n + i];
}

/**
 * The lower Cholesky factor L (row-major `n × n`, zeros above the diagonal) of a symmetric
 * positive-definite matrix A = L Lᵀ, differentiable in A's lower triangle (the upper one is not
 * read, as in Stan). In a batched evaluation every row is factored; one that is not positive
 * definite throws RangeError for the whole batch, whose rows are then evaluated one at a time.
 */
export function cholesky(matrix: Val, n: number): Node {
  const A = lift(matrix);
  if (A.length !== n * n) throw new Error(`cholesky: ${A.length} values are not ${n}×${n}`);
  const a = A.data;
  const l = new Float64Array(a.length);
  // Each row's block factored as the Laplace fit's are (it reads A's lower triangle only, as
  // Stan's `cholesky_decompose`).
  for (let o = 0; o < a.length; o += n * n) {
    const block = factor(a.subarray(o, o + n * n), n);
    if (!block) throw new RangeError('cholesky: the matrix is not positive definite');
    l.set(block, o);
  }
  return customRows(l, [A], (g) => {
    const d = new Float64Array(a.length);
    for (let o = 0; o < a.length; o += n * n) backwardBlock(l, g, d, o, n);
    return [d];
  });
}
