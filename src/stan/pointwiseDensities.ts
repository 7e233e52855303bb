import * as ad from '../modelling/autodiff.js';
import type { Node, Val } from '../modelling/autodiff.js';
import { lgammaOf } from '../modelling/distributions.js';
import { lgamma } from '../modelling/special.js';
import { StanError } from './operators.js';

/**
 * Log densities point by point: one value per broadcast element instead of their sum, for a
 * vectorised loop whose density is combined with something else at each point (a mixture's
 * `log_mix(theta, normal_lpdf(y[n] | mu[1], s[1]), normal_lpdf(y[n] | mu[2], s[2]))`). Each is
 * the per-element term of the summed density in `modelling/distributions.ts` or `builtins.ts`,
 * normalising constants included, so the vectorised loop gives what the loop as written gives.
 */
const POINTWISE: Record<string, (y: Val, p: Val[]) => Node> = {
  normal: (y, [mu, sigma]) => normal(y, mu, sigma),
  std_normal: (y) => normal(y, 0, 1),
  lognormal: (y, [mu, sigma]) => ad.sub(normal(ad.log(y), mu, sigma), ad.log(y)),
  cauchy: (y, [mu, sigma]) =>
    ad.sub(
      ad.neg(ad.add(ad.log1p(ad.square(ad.div(ad.sub(y, mu), sigma))), ad.log(sigma))),
      Math.log(Math.PI),
    ),
  student_t: (y, [nu, mu, sigma]) => {
    const half = ad.mul(ad.add(nu, 1), 0.5);
    const norm = ad.sub(
      ad.sub(lgammaOf(half), lgammaOf(ad.mul(nu, 0.5))),
      ad.add(ad.mul(ad.log(ad.mul(nu, Math.PI)), 0.5), ad.log(sigma)),
    );
    const z = ad.div(ad.sub(y, mu), sigma);
    return ad.sub(norm, ad.mul(half, ad.log1p(ad.div(ad.square(z), nu))));
  },
  exponential: (y, [rate]) => ad.sub(ad.log(rate), ad.mul(rate, y)),
  gamma: (y, [alpha, beta]) =>
    ad.add(
      ad.sub(ad.mul(alpha, ad.log(beta)), lgammaOf(alpha)),
      ad.sub(ad.mul(ad.sub(alpha, 1), ad.log(y)), ad.mul(beta, y)),
    ),
  poisson_log: (k, [eta]) => poissonLog(k, eta),
  poisson: (k, [rate]) => poissonLog(k, ad.log(rate)),
  bernoulli_logit: (k, [eta]) =>
    ad.add(ad.mul(k, ad.logInvLogit(eta)), ad.mul(ad.sub(1, k), ad.log1mInvLogit(eta))),
  bernoulli: (k, [p]) => ad.add(ad.lmultiply(k, p), ad.l1mMultiply(ad.sub(1, k), p)),
  binomial: (k, [n, p]) =>
    ad.add(logChoose(n, k), ad.add(ad.lmultiply(k, p), ad.l1mMultiply(ad.sub(n, k), p))),
  binomial_logit: (k, [n, eta]) =>
    ad.add(
      logChoose(n, k),
      ad.add(ad.mul(k, ad.logInvLogit(eta)), ad.mul(ad.sub(n, k), ad.log1mInvLogit(eta))),
    ),
};

/** log C(n, k) point by point; counts and trials are data. */
export function logChoose(n: Val, k: Val): Float64Array {
  const [N, K] = [ad.lift(n), ad.lift(k)];
  if (N.variable || K.variable) throw new StanError('binomial counts and trials must be data');
  const m = Math.max(N.value.length, K.value.length);
  return Float64Array.from({ length: m }, (_, i) => {
    const ni = N.value[N.value.length === 1 ? 0 : i];
    const ki = K.value[K.value.length === 1 ? 0 : i];
    return lgamma(ni + 1) - lgamma(ki + 1) - lgamma(ni - ki + 1);
  });
}

/** Whether `family` has a pointwise log density here. */
export function hasPointwise(family: string): boolean {
  return Object.hasOwn(POINTWISE, family);
}

/** log p(y_i | args_i) for each broadcast element i. */
export function pointwiseLogDensity(family: string, y: Val, args: Val[]): Node {
  return POINTWISE[family](y, args);
}

function normal(y: Val, mu: Val, sigma: Val): Node {
  const z = ad.div(ad.sub(y, mu), sigma);
  return ad.sub(ad.mul(ad.square(z), -0.5), ad.add(ad.log(sigma), 0.5 * Math.log(2 * Math.PI)));
}

/** Counts must be data: their log factorials are constants. */
function poissonLog(k: Val, eta: Val): Node {
  const K = ad.lift(k);
  if (K.variable) throw new Error('a count must be data');
  const logFact = K.value.map((x) => lgamma(x + 1));
  return ad.sub(ad.sub(ad.mul(K, eta), ad.exp(eta)), logFact);
}
