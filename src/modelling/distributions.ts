/**
 * Log densities of the common families, Stan's way: each returns Σ_i log p(y_i | θ_i) over the
 * broadcast of its arguments, normalising constants included (Stan's `_lpdf` / `_lpmf`), as a
 * scalar {@link Node} so that it adds into a model's log density and differentiates in every
 * argument that is a node (locations, scales, shapes, and y itself for latent quantities).
 *
 * ```ts
 * target = total(normal(y, add(alpha, mul(beta, x)), sigma), cauchy(sigma, 0, 2.5));
 * ```
 *
 * Discrete outcomes (counts, successes, categories) are constants; categories count from 1 as
 * in Stan data files. Half-distributions are the full ones on a parameter declared positive:
 * their normalising factor 2 is a constant.
 */
import {
  add,
  div,
  exp,
  index,
  lift,
  log,
  log1m,
  log1mInvLogit,
  log1p,
  logInvLogit,
  logSumExp,
  mul,
  Node,
  fusedScalar,
  fusedRows,
  square,
  sub,
  sum,
  ternary,
  unary,
} from './autodiff.js';
import type { Val } from './autodiff.js';
import { digamma, lgamma } from './special.js';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** log Γ(x) element-wise, differentiable (ψ). */
export const lgammaOf = (a: Val): Node => unary(a, lgamma, digamma);

/** The broadcast length of the arguments (each of length 1 or n). */
function broadcast(...vals: Val[]): number {
  let n = 1;
  for (const v of vals) {
    const len = v instanceof Node ? v.length : typeof v === 'number' ? 1 : v.length;
    if (len === 1 || len === n) continue;
    if (n !== 1) throw new Error(`arguments of lengths ${n} and ${len} do not broadcast`);
    n = len;
  }
  return n;
}

/** Σ over n broadcast elements of a term that is either per element or shared (length 1). */
function sumOver(term: Val, n: number): Node {
  const t = lift(term);
  return t.length === 1 && n > 1 ? mul(t, n) : sum(t);
}

/**
 * Normal(y | μ, σ), fused: value and partial derivatives in one pass over the points (a
 * regression's likelihood is most of its cost).
 */
export function normal(y: Val, mu: Val, sigma: Val): Node {
  const n = broadcast(y, mu, sigma);
  const [Y, M, S] = [lift(y), lift(mu), lift(sigma)];
  if (Y.batch !== 1 || M.batch !== 1 || S.batch !== 1) return normalRows(Y, M, S, n);
  const yv = Y.value;
  const mv = M.value;
  const sv = S.value;
  const [sy, sm, ss] = [Y, M, S].map((x) => (x.length === 1 ? 0 : 1));
  const dy = Y.variable ? new Float64Array(Y.length) : undefined;
  const dm = M.variable ? new Float64Array(M.length) : undefined;
  const ds = S.variable ? new Float64Array(S.length) : undefined;
  // One shared σ: its log once, not once a point.
  let value = -n * (LOG_SQRT_2PI + (ss === 0 ? Math.log(sv[0]) : 0));
  for (let i = 0; i < n; i++) {
    const s = sv[i * ss];
    const z = (yv[i * sy] - mv[i * sm]) / s;
    value -= 0.5 * z * z + (ss === 0 ? 0 : Math.log(s));
    if (dy) dy[i * sy] -= z / s;
    if (dm) dm[i * sm] += z / s;
    if (ds) ds[i * ss] += (z * z - 1) / s;
  }
  return fusedScalar([Y, M, S], value, [dy, dm, ds]);
}

/** {@link normal} in a batched evaluation: the same pass, once per row (`gradientRows`). */
function normalRows(Y: Node, M: Node, S: Node, n: number): Node {
  const batch = Math.max(Y.batch, M.batch, S.batch);
  const [yv, mv, sv] = [Y.data, M.data, S.data];
  const [sy, sm, ss] = [Y, M, S].map((x) => (x.length === 1 ? 0 : 1));
  const rowOf = (x: Node, b: number) => (x.batch === 1 ? 0 : b * x.length);
  const partial = (x: Node) => (x.variable ? new Float64Array(x.data.length) : undefined);
  const [dy, dm, ds] = [partial(Y), partial(M), partial(S)];
  const values = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    const [oy, om, os] = [rowOf(Y, b), rowOf(M, b), rowOf(S, b)];
    let value = -n * (LOG_SQRT_2PI + (ss === 0 ? Math.log(sv[os]) : 0));
    for (let i = 0; i < n; i++) {
      const s = sv[os + i * ss];
      const z = (yv[oy + i * sy] - mv[om + i * sm]) / s;
      value -= 0.5 * z * z + (ss === 0 ? 0 : Math.log(s));
      if (dy) dy[oy + i * sy] -= z / s;
      if (dm) dm[om + i * sm] += z / s;
      if (ds) ds[os + i * ss] += (z * z - 1) / s;
    }
    values[b] = value;
  }
  return fusedRows([Y, M, S], values, [dy, dm, ds]);
}

/** log Normal(y_i | μ_i, σ_i) element by element (a vector), for mixtures and HMMs. */
export function normalElementwise(y: Val, mu: Val, sigma: Val): Node {
  return ternary(y, mu, sigma, (x, m, s, d) => {
    const z = (x - m) / s;
    d[0] = -z / s;
    d[1] = z / s;
    d[2] = (z * z - 1) / s;
    return -0.5 * z * z - Math.log(s) - LOG_SQRT_2PI;
  });
}

/**
 * The exponentiated-quadratic covariance of points x (Stan's `gp_exp_quad_cov`):
 * K_ij = α² exp(-(x_i - x_j)² / (2ρ²)), row-major `n × n`.
 */
export function gpExpQuadCov(x: ArrayLike<number>, alpha: Val, rho: Val): Node {
  const n = x.length;
  const d2 = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) d2[i * n + j] = (x[i] - x[j]) ** 2;
  return mul(square(alpha), exp(div(d2, mul(square(rho), -2))));
}

/** Student-t(y | ν, μ, σ). */
export function studentT(y: Val, nu: Val, mu: Val, sigma: Val): Node {
  const n = broadcast(y, nu, mu, sigma);
  const z = div(sub(y, mu), sigma);
  const halfNuPlus1 = mul(add(nu, 1), 0.5);
  const norm = sub(
    sub(lgammaOf(halfNuPlus1), lgammaOf(mul(nu, 0.5))),
    add(mul(log(mul(nu, Math.PI)), 0.5), log(sigma)),
  );
  return sub(sumOver(norm, n), sum(mul(halfNuPlus1, log1p(div(square(z), nu)))));
}

/** Cauchy(y | μ, σ). */
export function cauchy(y: Val, mu: Val, sigma: Val): Node {
  const n = broadcast(y, mu, sigma);
  const z = div(sub(y, mu), sigma);
  return sub(mul(-1, add(sum(log1p(square(z))), sumOver(log(sigma), n))), n * Math.log(Math.PI));
}

/** Log-normal(y | μ, σ): log y ~ normal(μ, σ). */
export function lognormal(y: Val, mu: Val, sigma: Val): Node {
  const logY = log(y);
  return sub(normal(logY, mu, sigma), sum(logY));
}

/** Exponential(y | λ) (rate λ). */
export function exponential(y: Val, rate: Val): Node {
  const n = broadcast(y, rate);
  return sub(sumOver(log(rate), n), sum(mul(rate, y)));
}

/** Gamma(y | α, β) (shape α, rate β). */
export function gamma(y: Val, alpha: Val, beta: Val): Node {
  const n = broadcast(y, alpha, beta);
  const norm = sub(mul(alpha, log(beta)), lgammaOf(alpha));
  return add(sumOver(norm, n), sum(sub(mul(sub(alpha, 1), log(y)), mul(beta, y))));
}

/** Inverse-gamma(y | α, β) (shape α, scale β). */
export function invGamma(y: Val, alpha: Val, beta: Val): Node {
  const n = broadcast(y, alpha, beta);
  const norm = sub(mul(alpha, log(beta)), lgammaOf(alpha));
  return sub(sumOver(norm, n), sum(add(mul(add(alpha, 1), log(y)), div(beta, y))));
}

/** Beta(y | a, b) on (0, 1). */
export function beta(y: Val, a: Val, b: Val): Node {
  const n = broadcast(y, a, b);
  const logB = sub(add(lgammaOf(a), lgammaOf(b)), lgammaOf(add(a, b)));
  return sub(sum(add(mul(sub(a, 1), log(y)), mul(sub(b, 1), log1m(y)))), sumOver(logB, n));
}

/** Bernoulli(k | inv_logit(η)), k ∈ {0, 1}. */
export function bernoulliLogit(k: ArrayLike<number> | number, eta: Val): Node {
  const K = lift(k);
  return sum(add(mul(K, logInvLogit(eta)), mul(sub(1, K), log1mInvLogit(eta))));
}

/** Binomial(k | N, inv_logit(η)). */
export function binomialLogit(
  k: ArrayLike<number> | number,
  trials: ArrayLike<number> | number,
  eta: Val,
): Node {
  const K = lift(k).value;
  const N = lift(trials).value;
  const n = broadcast(k, trials, eta);
  const choose = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ki = K[K.length === 1 ? 0 : i];
    const ni = N[N.length === 1 ? 0 : i];
    choose[i] = lgamma(ni + 1) - lgamma(ki + 1) - lgamma(ni - ki + 1);
  }
  const kv = lift(k);
  return add(
    sum(choose),
    sum(add(mul(kv, logInvLogit(eta)), mul(sub(trials, kv), log1mInvLogit(eta)))),
  );
}

/** Poisson(k | e^η). */
export function poissonLog(k: ArrayLike<number> | number, eta: Val): Node {
  const K = lift(k);
  const n = broadcast(k, eta);
  let logFact = 0;
  for (let i = 0; i < n; i++) logFact += lgamma(K.value[K.length === 1 ? 0 : i] + 1);
  return sub(sum(sub(mul(K, eta), exp(eta))), logFact);
}

/** Poisson(k | λ). */
export function poisson(k: ArrayLike<number> | number, rate: Val): Node {
  return poissonLog(k, log(rate));
}

/**
 * Negative binomial(k | μ, φ) in Stan's mean-dispersion form (`neg_binomial_2`): mean μ,
 * variance μ + μ²/φ.
 */
export function negBinomial2(k: ArrayLike<number> | number, mu: Val, phi: Val): Node {
  const K = lift(k);
  const n = broadcast(k, mu, phi);
  let logFact = 0;
  for (let i = 0; i < n; i++) logFact += lgamma(K.value[K.length === 1 ? 0 : i] + 1);
  const logMuPhi = log(add(mu, phi));
  const perElement = add(
    sub(lgammaOf(add(K, phi)), lgammaOf(phi)),
    add(mul(K, sub(log(mu), logMuPhi)), mul(phi, sub(log(phi), logMuPhi))),
  );
  return sub(sumOver(perElement, n), logFact);
}

/** Negative binomial(k | e^η, φ) (`neg_binomial_2_log`). */
export function negBinomial2Log(k: ArrayLike<number> | number, eta: Val, phi: Val): Node {
  return negBinomial2(k, exp(eta), phi);
}

/** Categorical(k | softmax(η)): one outcome k ∈ 1..K (as in Stan data) and logits η [K]. */
export function categoricalLogit(k: number, eta: Val): Node {
  const E = lift(eta);
  if (!Number.isInteger(k) || k < 1 || k > E.length)
    throw new RangeError(`category ${k} is outside 1..${E.length}`);
  return sub(lift(E).at(k - 1), logSumExp(E));
}

/**
 * LKJ(η) on the Cholesky factor L (K × K, row-major) of a correlation matrix: Stan's
 * `lkj_corr_cholesky`, log p(L) = Σ_{i=1}^{K−1} (K − i − 1 + 2η − 2) log L_ii − log c_K(η), with
 * the LKJ constant (Lewandowski, Kurowicka & Joe 2009, eq. 16)
 * c_K(η) = Π_{k=1}^{K−1} 2^{(2η − 2 + K − k)(K − k)} B(η + (K − k − 1)/2, η + (K − k − 1)/2)^{K − k}.
 * η = 1: uniform over correlation matrices; larger η: nearer the identity.
 */
export function lkjCorrCholesky(L: Val, K: number, eta: Val): Node {
  const l = lift(L);
  if (l.length !== K * K)
    throw new RangeError(`lkjCorrCholesky: L has ${l.length} entries, not ${K}×${K}`);
  let lp: Node = lift(0);
  for (let i = 1; i < K; i++)
    lp = add(lp, mul(add(K - i - 1, mul(2, sub(eta, 1))), log(index(l, i * K + i))));
  return sub(lp, lkjLogConstant(K, eta));
}

/** log c_K(η), the LKJ normalising constant (see {@link lkjCorrCholesky}). */
export function lkjLogConstant(K: number, eta: Val): Node {
  let logC: Node = lift(0);
  for (let k = 1; k < K; k++) {
    const b = add(eta, (K - k - 1) / 2);
    const lbetaB = sub(mul(2, lgammaOf(b)), lgammaOf(mul(2, b)));
    logC = add(
      logC,
      add(mul(mul(add(mul(2, sub(eta, 1)), K - k), K - k), Math.LN2), mul(K - k, lbetaB)),
    );
  }
  return logC;
}
