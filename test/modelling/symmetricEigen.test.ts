import { describe, expect, it } from 'vitest';
import * as ad from '../../src/modelling/autodiff.js';
import type { Node } from '../../src/modelling/autodiff.js';
import {
  eigenvaluesSym,
  eigenvectorsSym,
  jacobiEigen,
} from '../../src/modelling/symmetricEigen.js';
import { stan } from '../stan/stanTestKit.js';
import type { BayesianModel } from '../../src/inference/model.js';

/** The model's gradient at z against central differences (step 1e-6 in doubles: error < 1e-8). */
function expectGradientAgrees(m: BayesianModel, z: Float64Array): void {
  const { grad } = m.logDensityAndGradient!(z);
  z.forEach((_, k) => {
    const up = Float64Array.from(z);
    const down = Float64Array.from(z);
    up[k] += 1e-6;
    down[k] -= 1e-6;
    const fd = (m.logDensityAndGradient!(up).logp - m.logDensityAndGradient!(down).logp) / 2e-6;
    expect(grad[k]).toBeCloseTo(fd, 6);
  });
}

/** A symmetric n × n matrix from n² numbers (its upper triangle mirrored). */
const symmetric = (x: ArrayLike<number>, n: number) =>
  Float64Array.from({ length: n * n }, (_, k) => {
    const [i, j] = [Math.floor(k / n), k % n];
    return i <= j ? x[i * n + j] : x[j * n + i];
  });

const A4 = symmetric(
  Array.from({ length: 16 }, (_, k) => Math.sin(1.3 * k + 0.2) + (k % 5 === 0 ? 3 : 0)),
  4,
);

describe('the symmetric eigendecomposition', () => {
  it('reconstructs the matrix with orthonormal vectors and ascending values, and matches the 2×2 closed form', () => {
    const { values, vectors } = jacobiEigen(A4, 4);
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) {
        let vdv = 0;
        let vtv = 0;
        for (let k = 0; k < 4; k++) {
          vdv += vectors[i * 4 + k] * values[k] * vectors[j * 4 + k];
          vtv += vectors[k * 4 + i] * vectors[k * 4 + j];
        }
        // Jacobi rotations are orthogonal to rounding: 1e-12 is a thousand times its error.
        expect(vdv).toBeCloseTo(A4[i * 4 + j], 12);
        expect(vtv).toBeCloseTo(i === j ? 1 : 0, 12);
      }
    for (let i = 1; i < 4; i++) expect(values[i]).toBeGreaterThan(values[i - 1]);
    // [[a, b], [b, c]]: (a + c)/2 ± sqrt(((a - c)/2)² + b²).
    const [a, b, c] = [2.5, -0.7, 1.1];
    const two = jacobiEigen([a, b, b, c], 2).values;
    const r = Math.hypot((a - c) / 2, b);
    expect(two[0]).toBeCloseTo((a + c) / 2 - r, 14);
    expect(two[1]).toBeCloseTo((a + c) / 2 + r, 14);
  });

  it('differentiates values and vectors: gradients against central differences', () => {
    // f(x) = Σ w ∘ eigenvalues + Σ u ∘ eigenvectors of sym(A4 + x): the vectors' sign is fixed
    // (largest component positive), so f is smooth where the eigenvalues are distinct.
    const w = [0.3, -1.2, 0.8, 0.5];
    const u = Array.from({ length: 16 }, (_, k) => Math.cos(2.1 * k));
    const f = (x: Node) => {
      const m = ad.add(A4, x);
      return ad.add(ad.dot(eigenvaluesSym(m, 4), w), ad.dot(eigenvectorsSym(m, 4), u));
    };
    const x0 = Array.from({ length: 16 }, (_, k) => 0.05 * Math.sin(k));
    const { grad } = ad.gradient(f, x0);
    const value = (x: number[]) => ad.evaluate((n) => f(n), x).value[0];
    const h = 1e-6;
    x0.forEach((_, k) => {
      const up = x0.slice();
      const down = x0.slice();
      up[k] += h;
      down[k] -= h;
      // Central differences in doubles: error about h² f''' + 1e-16 / h, under 1e-8 here.
      expect(grad[k]).toBeCloseTo((value(up) - value(down)) / (2 * h), 6);
    });
  });

  it('runs Stan’s eigenvalues_sym and eigenvectors_sym: a matrix square root squares back', () => {
    // posteriordb's VAR models (statprior_var) take square roots this way.
    const m = stan(`
      parameters { vector[3] d; real<lower=-1, upper=1> r; }
      transformed parameters {
        matrix[3, 3] B = add_diag(rep_matrix(r, 3, 3), exp(d) + 1.5);
        matrix[3, 3] S;
        {
          vector[3] roots = sqrt(eigenvalues_sym(B));
          matrix[3, 3] V = eigenvectors_sym(B);
          S = diag_post_multiply(V, roots) * V';
        }
      }
      model { d ~ normal(0, 1); target += log_determinant(S); }`);
    const z = Float64Array.of(0.2, -0.4, 0.7, 0.3);
    const v = m.summarize(z);
    const at = (name: string) => v[m.summaryNames.indexOf(name)];
    for (let i = 1; i <= 3; i++)
      for (let j = 1; j <= 3; j++) {
        let ss = 0;
        for (let k = 1; k <= 3; k++) ss += at(`S[${i},${k}]`) * at(`S[${k},${j}]`);
        expect(ss).toBeCloseTo(at(`B[${i},${j}]`), 12);
      }
    // log det S = ½ log det B: the density's gradient against central differences.
    expectGradientAgrees(m, z);
  });

  it('gives Stan’s thin SVD: U diag(d) Vᵀ is the matrix, U and V orthonormal, d descending', () => {
    // A tall and a wide matrix of parameters; `.^` and x[i][j, k] = ... as statrml_var writes them.
    for (const [r, c] of [
      [3, 2],
      [2, 3],
    ]) {
      const k = Math.min(r, c);
      const m = stan(`
        parameters { matrix[${r}, ${c}] C; }
        transformed parameters {
          vector[${k}] d2 = singular_values(C) .^ 2;
          matrix[${r}, ${k}] U = svd_U(C);
          matrix[${c}, ${k}] V = svd_V(C);
          array[1] matrix[${r}, ${c}] back;
          back[1][1:${r}, :] = U * diag_matrix(sqrt(d2)) * V';
        }
        model { to_vector(C) ~ normal(0, 1); target += sum(d2) + sum(V * U'); }`);
      const z = Float64Array.from({ length: r * c }, (_, i) => Math.sin(2.3 * i + 0.5));
      const v = m.summarize(z);
      const at = (name: string) => v[m.summaryNames.indexOf(name)];
      for (let i = 1; i <= r; i++)
        for (let j = 1; j <= c; j++)
          expect(at(`back[1,${i},${j}]`)).toBeCloseTo(at(`C[${i},${j}]`), 12);
      for (const [side, n] of [
        ['U', r],
        ['V', c],
      ] as const)
        for (let a = 1; a <= k; a++)
          for (let b = 1; b <= k; b++) {
            let dot = 0;
            for (let i = 1; i <= n; i++) dot += at(`${side}[${i},${a}]`) * at(`${side}[${i},${b}]`);
            expect(dot).toBeCloseTo(a === b ? 1 : 0, 12);
          }
      expect(at('d2[1]')).toBeGreaterThan(at('d2[2]'));
      // V Uᵀ needs U and V to agree in order and sign: its gradient against central differences.
      expectGradientAgrees(m, z);
    }
  });
});
