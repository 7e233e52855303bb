import * as ad from '../modelling/autodiff.js';
import type { Node, Val } from '../modelling/autodiff.js';
import { StanError } from './operators.js';
import { shapeLogCdf } from './shapeCdfs.js';

/**
 * Log cumulative distribution functions (`_lcdf`, `_lccdf`), differentiable in every argument,
 * for the continuous families whose cdf has a closed form or is Φ (and, through `shapeCdfs.ts`,
 * an incomplete gamma or beta function). They normalise truncated
 * densities (`y ~ normal(mu, sigma) T[0, ]`) and appear in programs (brms's half-t priors
 * subtract `student_t_lccdf(0 | 3, 0, s)`, constant there: the t's cdf at its own centre).
 */

/** erfc(x) to about 1e-15 relative: Taylor series of erf for |x| < 2, a continued fraction beyond. */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) return 1 - erfSeries(x);
  return Math.exp(-x * x + logErfcFraction(x));
}

function erfSeries(x: number): number {
  // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)); at |x| < 2 the largest term is ~21, so the
  // sum keeps ~14 digits.
  let term = x;
  let sum = x;
  const x2 = x * x;
  for (let n = 1; n < 100; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** log(erfc(x) e^{x²}) for x ≥ 2: the continued fraction 1/√π · 1/(x + (1/2)/(x + 1/(x + ...))), by Lentz's method. */
function logErfcFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 200; n++) {
    const a = n / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -Math.log(f) - 0.5 * Math.log(Math.PI);
}

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** log Φ(z), accurate far into both tails. */
export function logPhiOf(z: number): number {
  const x = -z / Math.SQRT2;
  return x >= 2 ? -x * x + logErfcFraction(x) - Math.LN2 : Math.log(0.5 * erfc(x));
}

/** log Φ(z) on the kit: d/dz = φ(z) / Φ(z). */
export const logPhi = (z: Val): Node =>
  ad.unary(z, logPhiOf, (x, out) => Math.exp(-0.5 * x * x - LOG_SQRT_2PI - out));

/** Φ(z) on the kit. */
export const Phi = (z: Val): Node =>
  ad.unary(
    z,
    (x) => 0.5 * erfc(-x / Math.SQRT2),
    (x) => Math.exp(-0.5 * x * x - LOG_SQRT_2PI),
  );

/** log(e^a − e^b) for a > b, stable. */
export const logDiffExp = (a: Val, b: Val): Node => ad.add(a, ad.log1m(ad.exp(ad.sub(b, a))));

/** Σ of the log cdf (`upper` false) or log complementary cdf of `family` at y, or undefined. */
export function logCdf(family: string, upper: boolean, y: Val, p: Val[]): Node | undefined {
  const each = logCdfElements(family, upper, y, p);
  return each && ad.sum(each);
}

/** The log cdf or log complementary cdf element by element (arguments broadcast), or undefined. */
export function logCdfElements(family: string, upper: boolean, y: Val, p: Val[]): Node | undefined {
  const z = () => ad.div(ad.sub(y, p[0]), p[1]);
  switch (family) {
    case 'normal':
      return logPhi(upper ? ad.neg(z()) : z());
    case 'std_normal':
      return logPhi(upper ? ad.neg(y) : y);
    case 'lognormal': {
      const zl = ad.div(ad.sub(ad.log(y), p[0]), p[1]);
      return logPhi(upper ? ad.neg(zl) : zl);
    }
    case 'logistic':
      return upper ? ad.log1mInvLogit(z()) : ad.logInvLogit(z());
    case 'cauchy': {
      const half = ad.div(
        ad.unary(z(), Math.atan, (x) => 1 / (1 + x * x)),
        Math.PI,
      );
      return ad.log(upper ? ad.sub(0.5, half) : ad.add(0.5, half));
    }
    case 'exponential': {
      const rate = ad.mul(y, p[0]);
      return upper ? ad.neg(rate) : ad.log1m(ad.exp(ad.neg(rate)));
    }
    case 'weibull': {
      const h = ad.pow(ad.div(y, p[1]), p[0]);
      return upper ? ad.neg(h) : ad.log1m(ad.exp(ad.neg(h)));
    }
    case 'double_exponential':
      return doubleExponential(z(), upper);
    case 'uniform': {
      const u = ad.div(ad.sub(y, p[0]), ad.sub(p[1], p[0]));
      return ad.log(upper ? ad.sub(1, u) : u);
    }
  }
  return shapeLogCdf(family, upper, y, p);
}

/** log cdf of the Laplace distribution at z (standardised): ½e^z below 0, 1 − ½e^{−z} above. */
function doubleExponential(z: Node, upper: boolean): Node {
  const parts = Array.from(z.value, (x, i) => {
    const zi = ad.index(z, i);
    const below = x < 0 !== upper;
    const s = upper ? ad.neg(zi) : zi;
    // The side where the cdf is ½e^{s}: log ½ + s; the other: log(1 − ½e^{−s}).
    return below ? ad.add(s, -Math.LN2) : ad.log1m(ad.mul(0.5, ad.exp(ad.neg(s))));
  });
  return ad.concat(...parts);
}

/**
 * The log normaliser of `family` truncated to [lower, upper] (either may be absent) for outcomes of
 * `n` elements: Σ_i log(F(U | p_i) − F(L | p_i)), arguments broadcast over the elements.
 */
export function logTruncation(
  family: string,
  n: number,
  p: Val[],
  lower: Val | undefined,
  upper: Val | undefined,
): Node {
  const at = (b: Val) =>
    typeof b === 'number' ? new Float64Array(n).fill(b) : ad.add(b, new Float64Array(n));
  const cdf = (b: Val, complement: boolean) => {
    const r = logCdfElements(family, complement, at(b), p);
    if (!r) throw new StanError(`truncating ${family} is not supported yet (no closed-form cdf)`);
    return r;
  };
  if (lower !== undefined && upper !== undefined)
    return ad.sum(logDiffExp(cdf(upper, false), cdf(lower, false)));
  if (lower !== undefined) return ad.sum(cdf(lower, true));
  if (upper !== undefined) return ad.sum(cdf(upper, false));
  return ad.lift(0);
}
