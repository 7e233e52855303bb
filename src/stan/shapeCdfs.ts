import * as ad from '../modelling/autodiff.js';
import type { Node, Val } from '../modelling/autodiff.js';
import { lgamma } from '../modelling/special.js';

/**
 * Log cdfs (and log complementary cdfs) of the families whose cdf is an incomplete gamma or beta
 * function: `student_t`, `gamma`, `inv_gamma`, `chi_square` and `beta`. They normalise truncated
 * densities (`sigma ~ student_t(3, 0, 2.5) T[0, ]`, `y ~ gamma(a, b) T[, U]`) and serve
 * `_lcdf`/`_lccdf`. Values come from the continued fractions and series of Numerical Recipes
 * (§6.2, §6.4) in doubles, each tail computed directly (no 1 − F cancellation); derivatives in
 * every argument by central differences of the log cdf (relative step 1e-5: about 1e-9 accurate
 * for these smooth functions, far below what sampling or optimisation resolves).
 */
export function shapeLogCdf(family: string, upper: boolean, y: Val, p: Val[]): Node | undefined {
  const tails = TAILS[family];
  if (!tails) return undefined;
  return numericallyDifferentiated(
    (v) => Math.log(tails(v[0], v.slice(1))[upper ? 1 : 0]),
    [y, ...p],
  );
}

/**
 * f applied element by element to broadcast arguments, on the kit: its value in doubles and its
 * partial derivatives by central differences (relative step 1e-5: about 1e-9 accurate for the
 * smooth special functions here). For functions whose derivatives in some argument have no
 * usable closed form (an incomplete gamma function's in its shape).
 */
export function numericallyDifferentiated(f: (args: number[]) => number, args: Val[]): Node {
  const inputs = args.map((v) => ad.lift(v));
  const n = Math.max(...inputs.map((x) => x.length));
  const at = (i: number) => inputs.map((x) => x.value[x.length === 1 ? 0 : i]);
  const value = Float64Array.from({ length: n }, (_, i) => f(at(i)));
  return ad.custom(value, inputs, (g) =>
    inputs.map((input, k) => {
      if (!input.variable) return undefined;
      const d = new Float64Array(input.length);
      for (let i = 0; i < n; i++) {
        const v = at(i);
        const h = 1e-5 * Math.max(1, Math.abs(v[k]));
        const [up, down] = [v.slice(), v.slice()];
        up[k] += h;
        down[k] -= h;
        d[input.length === 1 ? 0 : i] += (g[i] * (f(up) - f(down))) / (2 * h);
      }
      return d;
    }),
  );
}

/** [P(Y ≤ y), P(Y > y)] of each family. */
const TAILS: Record<string, (y: number, p: number[]) => [number, number]> = {
  student_t: (y, [nu, mu, sigma]) => {
    // P(|T| > |t|) / 2 = I_{ν/(ν+t²)}(ν/2, 1/2) / 2 on the far side of the centre.
    const t = (y - mu) / sigma;
    const far = 0.5 * incompleteBeta(nu / 2, 0.5, nu / (nu + t * t));
    return t > 0 ? [1 - far, far] : [far, 1 - far];
  },
  gamma: (y, [alpha, beta]) => (y <= 0 ? [0, 1] : incompleteGamma(alpha, beta * y)),
  inv_gamma: (y, [alpha, beta]) => {
    if (y <= 0) return [0, 1];
    const [p, q] = incompleteGamma(alpha, beta / y);
    return [q, p];
  },
  chi_square: (y, [nu]) => (y <= 0 ? [0, 1] : incompleteGamma(nu / 2, y / 2)),
  beta: (y, [a, b]) => {
    if (y <= 0) return [0, 1];
    if (y >= 1) return [1, 0];
    return [incompleteBeta(a, b, y), incompleteBeta(b, a, 1 - y)];
  },
};

/** The regularised incomplete gamma functions [P(a, x), Q(a, x)] for a > 0, x ≥ 0. */
export function incompleteGamma(a: number, x: number): [number, number] {
  if (x <= 0) return [0, 1];
  const logPrefactor = a * Math.log(x) - x - lgamma(a);
  if (x < a + 1) {
    // P by its series Σ x^n / (a (a+1) ... (a+n)).
    let [term, sum] = [1 / a, 1 / a];
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    const p = sum * Math.exp(logPrefactor);
    return [p, 1 - p];
  }
  // Q by its continued fraction (modified Lentz).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const q = Math.exp(logPrefactor) * h;
  return [1 - q, q];
}

/** The regularised incomplete beta function I_x(a, b) for a, b > 0, 0 ≤ x ≤ 1. */
export function incompleteBeta(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  // The continued fraction converges fast for x < (a + 1)/(a + b + 2); else use the symmetry.
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaFraction(a, b, x)) / a;
  return 1 - (Math.exp(logFront) * betaFraction(b, a, 1 - x)) / b;
}

/** The continued fraction of the incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  const [qab, qap, qam] = [a + b, a + 1, a - 1];
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return h;
}
