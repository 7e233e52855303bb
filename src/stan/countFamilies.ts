import * as ad from '../modelling/autodiff.js';
import type { Node, Val } from '../modelling/autodiff.js';
import {
  binomialLogit,
  categoricalLogit,
  lgammaOf,
  negBinomial2Log,
} from '../modelling/distributions.js';
import { lgamma } from '../modelling/special.js';
import { logDiffExp, logPhi } from './cdfs.js';
import { StanError, binaryOp } from './operators.js';
import { logChoose } from './pointwiseDensities.js';
import { flat } from './values.js';
import type { Value } from './values.js';

/**
 * Stan's families of counts and ordered categories beyond the common ones of `builtins.ts`, as
 * Stan's functions reference defines them (normalising constants included). Outcomes are data
 * (`k`, already checked to be numbers); the tests check each sums to 1 over its support, with
 * the mean its closed form gives, and its gradient against central differences.
 */
export function countLogDensity(
  family: string,
  /** The outcomes (data); throws if they are not. */
  outcomes: () => ArrayLike<number> | number,
  p: Val[],
  /** The linear predictor α + xβ of a GLM family's arguments (matrix x first). */
  glm: (x: Val, alpha: Val, beta: Val) => Val,
): Node | undefined {
  if (!COUNT_FAMILIES.has(family)) return undefined;
  const k = outcomes();
  switch (family) {
    case 'beta_binomial': {
      // C(N, k) B(k + α, N − k + β) / B(α, β).
      const [N, alpha, beta] = p;
      const K = ad.lift(k);
      const rest = ad.sub(N, K);
      return ad.sum(
        ad.add(
          logChoose(N, K),
          ad.sub(
            ad.add(
              ad.sub(lgammaOf(ad.add(K, alpha)), lgammaOf(alpha)),
              ad.sub(lgammaOf(ad.add(rest, beta)), lgammaOf(beta)),
            ),
            ad.sub(lgammaOf(ad.add(ad.add(N, alpha), beta)), lgammaOf(ad.add(alpha, beta))),
          ),
        ),
      );
    }
    case 'neg_binomial': {
      // C(k + α − 1, α − 1) (β/(1 + β))^α (1/(1 + β))^k.
      const [alpha, beta] = p;
      const K = ad.lift(k);
      const log1pBeta = ad.log1p(beta);
      return ad.sum(
        ad.sub(
          ad.add(
            ad.sub(lgammaOf(ad.add(K, alpha)), ad.add(lgammaOf(alpha), logFactorial(K))),
            ad.mul(alpha, ad.sub(ad.log(beta), log1pBeta)),
          ),
          ad.mul(K, log1pBeta),
        ),
      );
    }
    case 'neg_binomial_2_log_glm':
      return negBinomial2Log(k, glm(p[0], p[1], p[2]), p[3]);
    case 'binomial_logit_glm':
      return binomialLogit(k, trials(p[0]), glm(p[1], p[2], p[3]));
    case 'ordered_logistic':
    case 'ordered_probit':
      return ordered(family === 'ordered_logistic', k, p[0], p[1]);
    case 'multinomial':
    case 'multinomial_logit': {
      // N!/Π k_i! Π θ_i^k_i, θ = softmax(γ) for the logit form.
      const ks = Array.from(typeof k === 'number' ? [k] : k);
      const logTheta = family === 'multinomial' ? ad.log(p[0]) : ad.sub(p[0], ad.logSumExp(p[0]));
      if (ad.lift(logTheta).length !== ks.length)
        throw new StanError(
          `${family}: ${ks.length} counts but ${ad.lift(logTheta).length} probabilities`,
        );
      const n = ks.reduce((s, x) => s + x, 0);
      const constant = lgamma(n + 1) - ks.reduce((s, x) => s + lgamma(x + 1), 0);
      return ad.add(ad.dot(Float64Array.from(ks), logTheta), constant);
    }
    case 'dirichlet_multinomial': {
      // Γ(α₀) Γ(N + 1)/Γ(N + α₀) Π Γ(k_i + α_i)/(Γ(α_i) Γ(k_i + 1)).
      const ks = Float64Array.from(typeof k === 'number' ? [k] : k);
      const alpha = p[0];
      const n = ks.reduce((s, x) => s + x, 0);
      const a0 = ad.sum(alpha);
      return ad.add(
        ad.add(ad.sub(lgammaOf(a0), lgammaOf(ad.add(a0, n))), lgamma(n + 1)),
        ad.sum(
          ad.sub(ad.sub(lgammaOf(ad.add(ks, alpha)), lgammaOf(alpha)), logFactorial(ad.lift(ks))),
        ),
      );
    }
  }
  return undefined;
}

/** The families here whose log density sums over broadcast vector arguments. */
export const ELEMENTWISE_COUNT_FAMILIES = ['beta_binomial', 'neg_binomial'] as const;

const COUNT_FAMILIES = new Set([
  'beta_binomial',
  'neg_binomial',
  'neg_binomial_2_log_glm',
  'binomial_logit_glm',
  'ordered_logistic',
  'ordered_probit',
  'multinomial',
  'multinomial_logit',
  'dirichlet_multinomial',
]);

/** Trials of a binomial: data. */
function trials(n: Val): ArrayLike<number> | number {
  const N = ad.lift(n);
  if (N.variable) throw new StanError('binomial trials must be data');
  return N.length === 1 ? N.value[0] : N.value;
}

/** log k! of data counts. */
function logFactorial(K: Node): Float64Array {
  if (K.variable) throw new StanError('a count must be data');
  return K.value.map((x) => lgamma(x + 1));
}

/**
 * Ordered logistic (or probit) regression: outcome k ∈ 1..K with linear predictor η and
 * ascending cutpoints c₁ < … < c_{K−1}: P(k) = F(η − c_{k−1}) − F(η − c_k), with F the logistic
 * (or normal) cdf, c₀ = −∞ and c_K = +∞. η is one value or one per outcome; c one vector shared
 * by every outcome.
 */
function ordered(logistic: boolean, k: ArrayLike<number> | number, eta: Val, c: Val): Node {
  const ks = typeof k === 'number' ? [k] : Array.from(k);
  const E = ad.lift(eta);
  const C = ad.lift(c);
  const K = C.length + 1;
  if (K < 2) throw new StanError('ordered regression needs at least one cutpoint');
  if (E.length !== 1 && E.length !== ks.length)
    throw new StanError(`ordered regression: ${ks.length} outcomes but ${E.length} predictors`);
  for (let j = 1; j < C.length; j++)
    if (!(C.value[j] > C.value[j - 1])) {
      // Parameters out of order are a point of zero density (Stan rejects it); data, a mistake.
      if (C.variable) return ad.lift(-Infinity);
      throw new StanError('ordered regression: the cutpoints must be ascending');
    }
  // log F(x) and log(1 − F(x)).
  const logF = (x: Node) => (logistic ? ad.logInvLogit(x) : logPhi(x));
  const logSurvival = (x: Node) => (logistic ? ad.log1mInvLogit(x) : logPhi(ad.neg(x)));
  const terms = ks.map((kk, i) => {
    if (!Number.isInteger(kk) || kk < 1 || kk > K)
      throw new StanError(`ordered regression: outcome ${kk} is outside 1..${K}`);
    const e = E.length === 1 ? E : ad.index(E, i);
    const above = (j: number) => ad.sub(e, ad.index(C, j - 1)); // η − c_j
    if (kk === 1) return logSurvival(above(1));
    if (kk === K) return logF(above(K - 1));
    return logDiffExp(logF(above(kk - 1)), logF(above(kk)));
  });
  return ad.total(...terms);
}

/**
 * Stan's `categorical_logit_glm(y | x, alpha, beta)`: outcome y_n ∈ 1..C with logits
 * alpha + x_n beta, for x an N × K matrix (or one row for every outcome), alpha a C-vector and
 * beta a K × C matrix: Σ_n log softmax(alpha + x_n beta)[y_n].
 */
export function categoricalLogitGlm(
  k: ArrayLike<number> | number,
  x: Value,
  alpha: Val,
  beta: Value,
): Node {
  const ks = typeof k === 'number' ? [k] : Array.from(k);
  const products = binaryOp('*', x, beta);
  if (products.k !== 'mat' && !(products.k === 'vec' && products.row))
    throw new StanError('categorical_logit_glm takes a matrix (or row vector) x and a matrix beta');
  const [rows, C] =
    products.k === 'mat' ? [products.rows, products.cols] : [1, ad.lift(flat(products)).length];
  if (rows !== 1 && rows !== ks.length)
    throw new StanError(`categorical_logit_glm: ${ks.length} outcomes but ${rows} rows of x`);
  const all = flat(products);
  return ad.total(
    ...ks.map((kk, n) => {
      const row = ad.slice(all, (rows === 1 ? 0 : n) * C, C);
      return categoricalLogit(kk, ad.add(alpha, row));
    }),
  );
}
