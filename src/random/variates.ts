import type { Rng } from './rng.js';

/**
 * Exact draws from the distributions that need more than one transform of a uniform or a
 * normal: gamma, beta, Poisson and binomial, from avb's seeded {@link Rng} (so a seed still
 * defines a run). Written here because the libraries that have them either draw from their own
 * generator or, seeded from ours (stdlib's factories), bring ~260 packages for these four.
 * Each method is exact at any parameter, with a cost that grows at most as the log of it.
 */

/**
 * Gamma(shape α, rate 1): Marsaglia & Tsang (2000), a squeeze on a transformed normal; for
 * α < 1, Gamma(α + 1) · U^(1/α) (their note), whose small values stay exact in logs.
 */
export function gammaDraw(rng: Rng, alpha: number): number {
  if (!(alpha > 0) || !Number.isFinite(alpha)) return NaN;
  if (alpha < 1) {
    const u = 1 - rng.uniform(); // (0, 1]
    return gammaDraw(rng, alpha + 1) * Math.exp(Math.log(u) / alpha);
  }
  const d = alpha - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.uniform();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) as G_a / (G_a + G_b). */
export function betaDraw(rng: Rng, a: number, b: number): number {
  const x = gammaDraw(rng, a);
  const y = gammaDraw(rng, b);
  // Both tiny (a, b far below 1): which one is larger is all that is left.
  if (x + y === 0) return rng.uniform() < a / (a + b) ? 1 : 0;
  return x / (x + y);
}

/**
 * Poisson(λ): for small λ, Knuth's product of uniforms; for larger λ, Ahrens & Dieter's
 * splitting (Knuth, TAOCP 2, 3.4.1 F): with m = ⌊7λ/8⌋ and X ~ Gamma(m), the count is
 * m + Poisson(λ − X) when X < λ, else Binomial(m − 1, λ / X). Exact, O(log λ) steps.
 */
export function poissonDraw(rng: Rng, lambda: number): number {
  if (!(lambda >= 0) || !Number.isFinite(lambda)) return NaN;
  let k = 0;
  let rest = lambda;
  while (rest > 16) {
    const m = Math.floor((7 / 8) * rest);
    const x = gammaDraw(rng, m);
    if (x >= rest) return k + binomialDraw(rng, m - 1, rest / x);
    k += m;
    rest -= x;
  }
  const limit = Math.exp(-rest);
  let p = rng.uniform();
  while (p > limit) {
    k++;
    p *= rng.uniform();
  }
  return k;
}

/**
 * Binomial(n, p): for small n, a sum of Bernoullis; for larger n, the order-statistic split
 * (Knuth, TAOCP 2, 3.4.1 F; Devroye 1986, X.4): the a-th smallest of n uniforms, a = ⌊n/2⌋ + 1,
 * is Beta(a, n + 1 − a); the count below p is then a − 1 + ... on one side of it. Exact, O(log n).
 */
export function binomialDraw(rng: Rng, n: number, p: number): number {
  if (!(p >= 0 && p <= 1) || !Number.isInteger(n) || n < 0) return NaN;
  let k = 0;
  let trials = n;
  let prob = p;
  while (trials > 32) {
    const a = Math.floor(trials / 2) + 1;
    const b = trials + 1 - a;
    const x = betaDraw(rng, a, b);
    if (x >= prob) {
      // The a-th uniform is above p: the count is among the a − 1 below it.
      trials = a - 1;
      prob = prob / x;
    } else {
      // a uniforms are below p; the other b − 1 are uniform on (x, 1).
      k += a;
      trials = b - 1;
      prob = (prob - x) / (1 - x);
    }
  }
  for (let i = 0; i < trials; i++) if (rng.uniform() < prob) k++;
  return k;
}
