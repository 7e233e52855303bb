import * as ad from '../modelling/autodiff.js';
import { Node } from '../modelling/autodiff.js';
import type { Val } from '../modelling/autodiff.js';
import { lgammaOf } from '../modelling/distributions.js';
import { lbeta } from './mathFunctions.js';
import { StanError, binaryOp, transpose } from './operators.js';
import { incompleteBeta, incompleteGamma, numericallyDifferentiated } from './shapeCdfs.js';
import { elementsOf, flat, isScalar, mat, numberOf, packScalars, real, vec } from './values.js';
import type { Scalar, Value } from './values.js';

/**
 * Stan functions that posteriordb's programs use beyond the common ones: the QR decomposition
 * (the QR reparametrisation of regressions), the Matérn, exponential and periodic GP kernels,
 * norms, matrix powers and traces of quadratic forms, and a few scalar functions. Each is written
 * on kit operations, so it is differentiable wherever its arguments are parameters.
 */
export function moreFunction(name: string, a: Value[]): Value | undefined {
  switch (name) {
    case 'qr_thin_Q':
    case 'qr_thin_R':
    case 'qr_Q':
    case 'qr_R':
      return qr(name, a[0]);
    case 'gp_exp_quad_cov':
    case 'cov_exp_quad':
    case 'gp_exponential_cov':
    case 'gp_matern32_cov':
    case 'gp_matern52_cov':
    case 'gp_periodic_cov':
    case 'gp_dot_prod_cov':
      return gpKernel(name, a);
    case 'matrix_power': {
      const m = square(a[0], name);
      const n = numberOf((a[1] as { v: Scalar }).v);
      if (!Number.isInteger(n) || n < 0) throw new StanError('matrix_power takes a power n ≥ 0');
      let out: Value = mat(identity(m.rows), m.rows, m.rows);
      for (let i = 0; i < n; i++) out = binaryOp('*', out, m);
      return out;
    }
    case 'trace_quad_form': {
      // trace(Bᵀ A B).
      const q = binaryOp('*', transpose(a[1]), binaryOp('*', a[0], a[1]));
      const m = square(q, name);
      return real(ad.total(...Array.from({ length: m.rows }, (_, i) => m.s.get(i * m.rows + i))));
    }
    case 'csr_matrix_times_vector':
      return csrTimesVector(a);
    case 'hmm_marginal':
      return real(hmmMarginal(a[0], a[1], a[2]));
    case 'to_array_2d': {
      // A matrix as an array of its rows.
      const m = a[0];
      if (m.k !== 'mat') throw new StanError('to_array_2d takes a matrix');
      const row = (i: number) => ({
        k: 'arr' as const,
        items: Array.from({ length: m.cols }, (_, j) => real(m.s.get(i * m.cols + j))),
      });
      return { k: 'arr', items: Array.from({ length: m.rows }, (_, i) => row(i)) };
    }
  }
  return scalarFunction(name, a);
}

/** The scalar functions here (norms, lmgamma, incomplete gamma and beta, factorials, ...). */
function scalarFunction(name: string, a: Value[]): Value | undefined {
  switch (name) {
    case 'norm1':
      return real(ad.sum(ad.abs(flat(a[0]))));
    case 'norm2':
      return real(ad.sqrt(ad.dot(flat(a[0]), flat(a[0]))));
    case 'squared_distance':
    case 'distance': {
      // Between two scalars or two vectors (row or column) of one size.
      const diff = ad.sub(flat(a[0]), flat(a[1]));
      const squared = ad.dot(diff, diff);
      return real(name === 'distance' ? ad.sqrt(squared) : squared);
    }
    case 'lmgamma': {
      // log Γ_k(x) = k(k − 1)/4 log π + Σ_{j=1}^{k} log Γ(x + (1 − j)/2).
      const k = numberOf((a[0] as { v: Scalar }).v);
      const x = flat(a[1]);
      const terms = Array.from({ length: k }, (_, j) => lgammaOf(ad.add(x, -j / 2)));
      return real(ad.add(ad.total(...terms), ((k * (k - 1)) / 4) * Math.log(Math.PI)));
    }
    case 'gamma_p':
    case 'gamma_q': {
      // The regularised incomplete gamma functions P(a, z) and Q(a, z).
      const which = name === 'gamma_p' ? 0 : 1;
      const g = numericallyDifferentiated(
        ([a, z]) => incompleteGamma(a, z)[which],
        [flat(a[0]), flat(a[1])],
      );
      return like(a[0], a[1], g);
    }
    case 'inc_beta':
      return like(
        a[0],
        a[2],
        numericallyDifferentiated(([p, q, x]) => incompleteBeta(p, q, x), a.map(flat)),
      );
    case 'beta':
      // The beta function B(a, b) = Γ(a)Γ(b)/Γ(a + b) (as a function; beta(...) as a density
      // is `~ beta` or beta_lpdf).
      return like(a[0], a[1], ad.exp(lbeta(flat(a[0]), flat(a[1]))));
    case 'falling_factorial':
      // x! / (x − n)! = Γ(x + 1)/Γ(x − n + 1).
      return like(
        a[0],
        a[1],
        ad.exp(
          ad.sub(
            lgammaOf(ad.add(flat(a[0]), 1)),
            lgammaOf(ad.sub(ad.add(flat(a[0]), 1), flat(a[1]))),
          ),
        ),
      );
    case 'rising_factorial':
      // Γ(x + n)/Γ(x).
      return like(
        a[0],
        a[1],
        ad.exp(ad.sub(lgammaOf(ad.add(flat(a[0]), flat(a[1]))), lgammaOf(flat(a[0])))),
      );
    case 'binary_log_loss': {
      // −y log ŷ − (1 − y) log(1 − ŷ) for an outcome y ∈ {0, 1}.
      const y = numberOf((a[0] as { v: Scalar }).v);
      const p = flat(a[1]);
      return real(ad.neg(y === 1 ? ad.log(p) : ad.log1m(p)));
    }
  }
  return undefined;
}

type Mat = Extract<Value, { k: 'mat' }>;

/** A scalar result as a real; a vectorised one shaped like the first non-scalar argument. */
function like(x: Value, y: Value, v: Node): Value {
  if (v.length === 1) return real(v);
  const shape = isScalar(x) ? y : x;
  return shape.k === 'mat' ? mat(v, shape.rows, shape.cols) : vec(v, v.length);
}

/**
 * Stan's `hmm_marginal(log_omega, Gamma, rho)`: log p(y) of a hidden Markov model by the forward
 * algorithm in log space, with log_omega[k, t] = log p(y_t | z_t = k) (K × N), Gamma[i, j] =
 * P(z_{t+1} = j | z_t = i) and rho the initial distribution:
 * α_1 = log ρ + log ω_{·,1}, α_t(k) = log ω_{k,t} + log Σ_j e^{α_{t−1}(j)} Γ_{jk}.
 */
function hmmMarginal(logOmega: Value, gamma: Value, rho: Value): Node {
  if (logOmega.k !== 'mat' || gamma.k !== 'mat')
    throw new StanError('hmm_marginal takes (matrix log_omega, matrix Gamma, vector rho)');
  const [K, N] = [logOmega.rows, logOmega.cols];
  if (gamma.rows !== K || gamma.cols !== K || elementsOf(rho).length !== K)
    throw new StanError(`hmm_marginal: Gamma must be ${K} × ${K} and rho of size ${K}`);
  const omega = (k: number, t: number) => logOmega.s.get(k * N + t);
  const logGamma = Array.from({ length: K * K }, (_, i) => ad.log(gamma.s.get(i)));
  const logRho = elementsOf(rho).map((r) => ad.log(r));
  let alpha: Node[] = Array.from({ length: K }, (_, k) => ad.add(logRho[k], omega(k, 0)));
  for (let t = 1; t < N; t++) {
    const prev = alpha;
    alpha = Array.from({ length: K }, (_, k) =>
      ad.add(
        omega(k, t),
        ad.logSumExp(ad.concat(...prev.map((a, j) => ad.add(a, logGamma[j * K + k])))),
      ),
    );
  }
  return ad.logSumExp(ad.concat(...alpha));
}

/**
 * A sparse m × n matrix in compressed row storage (values w, column indices v, row starts u, all
 * 1-based as in Stan) times the vector b: row i is Σ_{k = u[i]}^{u[i+1] − 1} w[k] b[v[k]].
 */
function csrTimesVector(a: Value[]): Value {
  const [m, n] = [a[0], a[1]].map((x) => numberOf((x as { v: Scalar }).v));
  const w = flat(a[2]);
  const [v, u] = [a[3], a[4]].map((x) => elementsOf(x).map((e) => numberOf(e)));
  const b = flat(a[5]);
  if (u.length !== m + 1)
    throw new StanError(`csr_matrix_times_vector: ${m} rows need ${m + 1} row starts`);
  if (ad.lift(b).length !== n)
    throw new StanError(`csr_matrix_times_vector: b must have ${n} elements`);
  const rows = Array.from({ length: m }, (_, i) => {
    const terms: Node[] = [];
    for (let k = u[i]; k < u[i + 1]; k++) {
      if (v[k - 1] < 1 || v[k - 1] > n)
        throw new StanError(`csr_matrix_times_vector: column ${v[k - 1]} is outside 1..${n}`);
      terms.push(ad.mul(ad.index(w, k - 1), ad.index(b, v[k - 1] - 1)));
    }
    return ad.total(...terms);
  });
  return vec(ad.concat(...rows), m);
}

function square(v: Value, what: string): Mat {
  if (v.k !== 'mat' || v.rows !== v.cols) throw new StanError(`${what} takes a square matrix`);
  return v;
}

function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

/**
 * The QR decomposition A = Q R of an m × n matrix (m ≥ n) by modified Gram–Schmidt, with R's
 * diagonal positive as Stan makes it (so that the decomposition is unique and a QR-parametrised
 * regression's coefficients have Stan's signs). The thin forms are m × n and n × n; the full
 * ones (`qr_Q`, `qr_R`) are the same for a square matrix and refused otherwise.
 */
function qr(name: string, v: Value): Value {
  if (v.k !== 'mat') throw new StanError(`${name} takes a matrix`);
  const [m, n] = [v.rows, v.cols];
  if (m < n) throw new StanError(`${name} needs at least as many rows as columns`);
  if ((name === 'qr_Q' || name === 'qr_R') && m !== n)
    throw new StanError(
      `${name} of a non-square matrix is not supported yet; use ${name.replace('qr_', 'qr_thin_')}`,
    );
  const columns: Node[] = Array.from({ length: n }, (_, j) =>
    ad.concat(...Array.from({ length: m }, (_, i) => v.s.get(i * n + j))),
  );
  const q: Node[] = [];
  const r: Scalar[][] = Array.from({ length: n }, () => new Array<Scalar>(n).fill(0));
  for (let j = 0; j < n; j++) {
    let w = columns[j];
    for (let i = 0; i < j; i++) {
      const rij = ad.dot(q[i], w);
      r[i][j] = rij;
      w = ad.sub(w, ad.mul(rij, q[i]));
    }
    const norm = ad.sqrt(ad.dot(w, w));
    if (!(norm.value[0] > 0))
      throw new StanError(`${name}: the matrix's columns are linearly dependent`);
    r[j][j] = norm;
    q.push(ad.div(w, norm));
  }
  if (name.endsWith('R')) return mat(packScalars(r.flat()), n, n);
  const cells: Scalar[] = [];
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) cells.push(ad.index(q[j], i));
  return mat(packScalars(cells), m, n);
}

/**
 * Stan's stationary GP kernels of points x (an array of reals or of vectors, data), or between
 * two such sets x1 and x2 (`gp_exp_quad_cov(x1, x2, alpha, rho)`: the n1 × n2 cross
 * covariance), with magnitude α and length scale ℓ, on the distance d = |x_i − x'_j|:
 * exponentiated quadratic α² e^{−d²/(2ℓ²)}, or with one length scale per dimension (an array
 * ℓ, automatic relevance determination) α² e^{−Σ_k (x_ik − x'_jk)²/(2ℓ_k²)};
 * exponential α² e^{−d/ℓ}; Matérn 3/2 α² (1 + √3 d/ℓ) e^{−√3 d/ℓ};
 * Matérn 5/2 α² (1 + √5 d/ℓ + 5d²/(3ℓ²)) e^{−√5 d/ℓ}; periodic α² e^{−2 sin²(π d/p)/ℓ²};
 * and the non-stationary dot product σ² + x_i · x'_j (`gp_dot_prod_cov(x, sigma)`).
 */
function gpKernel(name: string, a: Value[]): Value {
  // The cross form's second argument is a set of points: an array (a length scale never is,
  // except ARD's, which comes after the magnitude).
  const cross = a[1].k === 'arr';
  const x1 = pointsOf(a[0], name);
  const x2 = cross ? pointsOf(a[1], name) : x1;
  if (x2.some((p) => p.length !== x1[0].length))
    throw new StanError(`${name}: points of different sizes`);
  const [n1, n2] = [x1.length, x2.length];
  if (name === 'gp_dot_prod_cov') {
    const dots = new Float64Array(n1 * n2);
    for (let i = 0; i < n1; i++)
      for (let j = 0; j < n2; j++)
        dots[i * n2 + j] = x1[i].reduce((s, v, k) => s + v * x2[j][k], 0);
    return mat(ad.add(dots, ad.square(flat(a[cross ? 2 : 1]))), n1, n2);
  }
  const [alpha, ell] = [flat(a[cross ? 2 : 1]), flat(a[cross ? 3 : 2])];
  const a2 = ad.square(alpha);
  if (name === 'gp_exp_quad_cov' || name === 'cov_exp_quad')
    return mat(ad.mul(a2, ad.exp(ad.mul(halfSquaredDistances(x1, x2, ell, name), -1))), n1, n2);
  const d = new Float64Array(n1 * n2);
  for (let i = 0; i < n1; i++)
    for (let j = 0; j < n2; j++)
      d[i * n2 + j] = Math.sqrt(x1[i].reduce((s, v, k) => s + (v - x2[j][k]) ** 2, 0));
  let k: Node;
  switch (name) {
    case 'gp_exponential_cov':
      k = ad.exp(ad.neg(ad.div(d, ell)));
      break;
    case 'gp_matern32_cov': {
      const s = ad.div(ad.mul(d, Math.sqrt(3)), ell);
      k = ad.mul(ad.add(s, 1), ad.exp(ad.neg(s)));
      break;
    }
    case 'gp_matern52_cov': {
      const s = ad.div(ad.mul(d, Math.sqrt(5)), ell);
      k = ad.mul(ad.add(ad.add(s, 1), ad.div(ad.square(s), 3)), ad.exp(ad.neg(s)));
      break;
    }
    default: {
      const period = flat(a[cross ? 4 : 3]);
      const sine = ad.unary(ad.div(ad.mul(d, Math.PI), period), Math.sin, Math.cos);
      k = ad.exp(ad.div(ad.mul(ad.square(sine), -2), ad.square(ell)));
    }
  }
  return mat(ad.mul(a2, k), n1, n2);
}

/**
 * Σ_k (x_ik − x'_jk)² / (2ℓ_k²), row-major n1 × n2: one length scale for every dimension, or
 * one per dimension (ARD), each a separate term so that its gradient is its own.
 */
function halfSquaredDistances(x1: number[][], x2: number[][], ell: Val, what: string): Node {
  const [n1, n2, dims] = [x1.length, x2.length, x1[0]?.length ?? 0];
  const squared = (k: number | undefined) => {
    const out = new Float64Array(n1 * n2);
    for (let i = 0; i < n1; i++)
      for (let j = 0; j < n2; j++) {
        let s = 0;
        for (let m = 0; m < dims; m++)
          if (k === undefined || m === k) s += (x1[i][m] - x2[j][m]) ** 2;
        out[i * n2 + j] = s;
      }
    return out;
  };
  const lengths = ad.lift(ell).length;
  const scaled = (k: number | undefined, l: Val) => ad.div(squared(k), ad.mul(ad.square(l), 2));
  if (lengths === 1) return scaled(undefined, ell);
  if (lengths !== dims)
    throw new StanError(`${what}: ${lengths} length scales for points of ${dims} dimensions`);
  let sum: Node = scaled(0, ad.index(ell, 0));
  for (let k = 1; k < dims; k++) sum = ad.add(sum, scaled(k, ad.index(ell, k)));
  return sum;
}

/** Data points as coordinate lists: an array of reals (1-D), of vectors, or a vector. */
function pointsOf(x: Value, what: string): number[][] {
  return x.k === 'arr'
    ? x.items.map((p) => (isScalar(p) ? [numberOf(p.v)] : constants(elementsOf(p), what)))
    : constants(elementsOf(x), what).map((v) => [v]);
}

function constants(xs: Scalar[], what: string): number[] {
  return xs.map((v) => {
    if (v instanceof Node && v.variable) throw new StanError(`${what} needs data points`);
    return numberOf(v);
  });
}

/** log(1 − e^x) for x < 0, accurate near 0 and far below it. */
export const log1mExp = (x: Val): Node =>
  ad.unary(
    x,
    (v) => (v > -Math.LN2 ? Math.log(-Math.expm1(v)) : Math.log1p(-Math.exp(v))),
    (v) => -1 / Math.expm1(-v),
  );
