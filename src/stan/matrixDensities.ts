import * as ad from '../modelling/autodiff.js';
import { cholesky } from '../modelling/cholesky.js';
import { Node } from '../modelling/autodiff.js';
import type { Val } from '../modelling/autodiff.js';
import { lgammaOf, lkjLogConstant } from '../modelling/distributions.js';
import { StanError } from './operators.js';
import { flat } from './values.js';
import type { Value } from './values.js';

/**
 * Stan's densities over vectors and matrices (multivariate normal, Wishart, inverse Wishart),
 * written on lower Cholesky factors: log-determinants from their diagonals, quadratic forms and
 * traces by forward substitution, all differentiable through the modelling kit.
 */

/** A square matrix's size, or a one-line error naming the function. */
function squareSize(m: Value, what: string): number {
  if (m.k !== 'mat' || m.rows !== m.cols) throw new StanError(`${what} needs a square matrix`);
  return m.rows;
}

/** Element (i, j) of a row-major k × k matrix. */
const at = (L: Val, k: number, i: number, j: number): Val =>
  L instanceof Node ? ad.index(L, i * k + j) : (L as ArrayLike<number>)[i * k + j];

/** log det(L Lᵀ) = 2 Σ log L_ii. */
function logDetFromCholesky(L: Val, k: number): Node {
  return ad.mul(2, ad.total(...Array.from({ length: k }, (_, i) => ad.log(at(L, k, i, i)))));
}

/** x = L⁻¹ b (L lower-triangular k × k, b a k-vector), by forward substitution. */
function forwardSolve(L: Val, k: number, b: Val): Node {
  const w: Node[] = [];
  for (let i = 0; i < k; i++) {
    let r: Node = ad.index(b, i);
    for (let j = 0; j < i; j++) r = ad.sub(r, ad.mul(at(L, k, i, j), w[j]));
    w.push(ad.div(r, at(L, k, i, i)));
  }
  return ad.concat(...w);
}

/** ‖A⁻¹ B‖²_F for lower-triangular k × k factors A and B (= tr(B Bᵀ (A Aᵀ)⁻¹)). */
function traceOfSolve(A: Val, B: Val, k: number): Node {
  const columns = Array.from({ length: k }, (_, c) => {
    const col = ad.concat(...Array.from({ length: k }, (_, i) => at(B, k, i, c)));
    const x = forwardSolve(A, k, col);
    return ad.dot(x, x);
  });
  return ad.total(...columns);
}

/** The Cholesky factor of a covariance matrix value (constant factors stay plain numbers). */
function choleskyOf(m: Value, k: number): Val {
  const v = flat(m);
  return v instanceof Node && v.variable ? cholesky(v, k) : cholesky(v, k).value;
}

/** log Γ_k(a), the multivariate gamma function. */
function logMultiGamma(a: Val, k: number): Node {
  const terms = Array.from({ length: k }, (_, j) => lgammaOf(ad.sub(a, j / 2)));
  return ad.add(ad.total(...terms), ((k * (k - 1)) / 4) * Math.log(Math.PI));
}

/**
 * Σ log N(y_i | mu_i, Σ): `y` a vector or an array of vectors, `mu` one vector or one per y;
 * `cov` a covariance matrix, or its Cholesky factor when `isCovariance` is false.
 */
export function multiNormal(y: Value, mu: Value, cov: Value, isCovariance: boolean): Node {
  const k = squareSize(cov, 'a multivariate normal');
  const L = isCovariance ? choleskyOf(cov, k) : flat(cov);
  const logNorm = ad.add(ad.mul(0.5, logDetFromCholesky(L, k)), 0.5 * k * Math.log(2 * Math.PI));
  return ad.total(
    ...residuals(y, mu).map((r) => {
      const w = forwardSolve(L, k, r);
      return ad.sub(ad.mul(ad.dot(w, w), -0.5), logNorm);
    }),
  );
}

/**
 * Σ log N(y_i | mu_i, Ω⁻¹) with the precision matrix Ω = L Lᵀ (Stan's `multi_normal_prec`):
 * ½ log det Ω − ½ |Lᵀ(y − mu)|² − k/2 log 2π per vector.
 */
export function multiNormalPrecision(y: Value, mu: Value, precision: Value): Node {
  const k = squareSize(precision, 'multi_normal_prec');
  const L = choleskyOf(precision, k);
  const logNorm = ad.sub(ad.mul(0.5, logDetFromCholesky(L, k)), 0.5 * k * Math.log(2 * Math.PI));
  return ad.total(
    ...residuals(y, mu).map((r) => {
      // u = Lᵀ r: u_j = Σ_{i ≥ j} L_ij r_i.
      const u = Array.from({ length: k }, (_, j) =>
        ad.total(
          ...Array.from({ length: k - j }, (_, m) =>
            ad.mul(at(L, k, j + m, j), ad.index(r, j + m)),
          ),
        ),
      );
      const uu = ad.concat(...u);
      return ad.add(ad.mul(ad.dot(uu, uu), -0.5), logNorm);
    }),
  );
}

/**
 * Σ log t_ν(y_i | mu_i, Σ), the multivariate Student t (Stan's `multi_student_t`), with
 * w = L⁻¹(y − mu) and L Lᵀ = Σ: log Γ((ν + k)/2) − log Γ(ν/2) − k/2 log(νπ) − ½ log det Σ
 * − (ν + k)/2 log(1 + |w|²/ν) per vector.
 */
export function multiStudentT(y: Value, nu: Val, mu: Value, cov: Value): Node {
  const k = squareSize(cov, 'multi_student_t');
  const L = choleskyOf(cov, k);
  const half = ad.mul(ad.add(nu, k), 0.5);
  const logNorm = ad.sub(
    ad.sub(lgammaOf(half), lgammaOf(ad.mul(nu, 0.5))),
    ad.add(ad.mul(0.5 * k, ad.log(ad.mul(nu, Math.PI))), ad.mul(0.5, logDetFromCholesky(L, k))),
  );
  return ad.total(
    ...residuals(y, mu).map((r) => {
      const w = forwardSolve(L, k, r);
      return ad.sub(logNorm, ad.mul(half, ad.log1p(ad.div(ad.dot(w, w), nu))));
    }),
  );
}

/** y − mu for `y` a vector or an array of vectors, `mu` one vector or one per y. */
function residuals(y: Value, mu: Value): Node[] {
  const ys = y.k === 'arr' ? y.items : [y];
  const mus = mu.k === 'arr' ? mu.items : undefined;
  if (mus && mus.length !== ys.length)
    throw new StanError(`${ys.length} outcomes but ${mus.length} means`);
  return ys.map((yi, n) => ad.sub(flat(yi), flat(mus ? mus[n] : mu)));
}

/**
 * Wishart (`inverse` false) or inverse Wishart log density of the k × k matrix W with `nu`
 * degrees of freedom and scale S, normalising constants included.
 */
export function wishart(W: Value, nu: Val, S: Value, inverse: boolean): Node {
  const k = squareSize(W, inverse ? 'inv_wishart' : 'wishart');
  if (squareSize(S, 'a Wishart scale') !== k)
    throw new StanError('a Wishart matrix and its scale must be the same size');
  const LW = choleskyOf(W, k);
  const LS = choleskyOf(S, k);
  const logDetW = logDetFromCholesky(LW, k);
  const logDetS = logDetFromCholesky(LS, k);
  const half = ad.mul(0.5, nu);
  const norm = ad.add(ad.mul(half, k * Math.LN2), logMultiGamma(half, k));
  // inverse: (ν/2) log|S| − ((ν+k+1)/2) log|W| − ½ tr(S W⁻¹); else ((ν−k−1)/2) log|W| − (ν/2) log|S| − ½ tr(S⁻¹ W).
  const core = inverse
    ? ad.sub(
        ad.mul(half, logDetS),
        ad.add(
          ad.mul(ad.mul(0.5, ad.add(nu, k + 1)), logDetW),
          ad.mul(0.5, traceOfSolve(LW, LS, k)),
        ),
      )
    : ad.sub(
        ad.mul(ad.mul(0.5, ad.sub(nu, k + 1)), logDetW),
        ad.add(ad.mul(half, logDetS), ad.mul(0.5, traceOfSolve(LS, LW, k))),
      );
  return ad.sub(core, norm);
}

/**
 * LKJ(η) on a K × K correlation matrix Ω (Stan's `lkj_corr`): (η − 1) log det Ω − log c_K(η),
 * the density whose Cholesky factor has `lkj_corr_cholesky`'s.
 */
export function lkjCorr(W: Value, eta: Val): Node {
  const k = squareSize(W, 'lkj_corr');
  return ad.sub(
    ad.mul(ad.sub(eta, 1), logDetFromCholesky(choleskyOf(W, k), k)),
    lkjLogConstant(k, eta),
  );
}
