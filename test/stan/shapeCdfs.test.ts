import { describe, expect, it } from 'vitest';
import { lgamma } from '../../src/modelling/special.js';
import { incompleteBeta, incompleteGamma } from '../../src/stan/shapeCdfs.js';
import { point, same, stan } from './stanTestKit.js';

/**
 * The incomplete gamma and beta functions against closed forms, and the cdfs built on them
 * against quadrature of their densities (written out here independently), with their gradients
 * and the truncations they normalise.
 */

/** ∫_a^b f by composite Simpson with n (even) intervals. */
function simpson(f: (x: number) => number, a: number, b: number, n = 20000): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += f(a + i * h) * (i % 2 ? 4 : 2);
  return (s * h) / 3;
}

/** The value of a program at u = 0 (its std_normal term added back). */
function valueOf(body: string): number {
  const m = stan(`parameters { real u; } model { u ~ std_normal(); ${body} }`);
  return m.logDensityAndGradient!(Float64Array.of(0)).logp + 0.5 * Math.log(2 * Math.PI);
}

describe('incomplete gamma and beta functions', () => {
  it('match their closed forms at integer arguments', () => {
    // P(3, x) = 1 - e^-x (1 + x + x^2/2); I_x(2, 3) = sum_{j=2}^{4} C(4, j) x^j (1-x)^(4-j).
    for (const x of [0.5, 2, 3.9, 6, 30]) {
      const [p, q] = incompleteGamma(3, x);
      const exactQ = Math.exp(-x) * (1 + x + (x * x) / 2);
      expect(q / exactQ).toBeCloseTo(1, 12);
      expect(p).toBeCloseTo(1 - exactQ, 14);
    }
    for (const x of [0.05, 0.4, 0.9]) {
      const exact = 6 * x ** 2 * (1 - x) ** 2 + 4 * x ** 3 * (1 - x) + x ** 4;
      expect(incompleteBeta(2, 3, x)).toBeCloseTo(exact, 14);
    }
  });
});

const gammaPdf = (a: number, b: number) => (y: number) =>
  Math.exp(a * Math.log(b) - lgamma(a) + (a - 1) * Math.log(y) - b * y);
const tPdf = (nu: number, mu: number, s: number) => (y: number) =>
  Math.exp(
    lgamma((nu + 1) / 2) -
      lgamma(nu / 2) -
      0.5 * Math.log(nu * Math.PI) -
      Math.log(s) -
      ((nu + 1) / 2) * Math.log1p(((y - mu) / s) ** 2 / nu),
  );
const betaPdf = (a: number, b: number) => (y: number) =>
  Math.exp(
    lgamma(a + b) - lgamma(a) - lgamma(b) + (a - 1) * Math.log(y) + (b - 1) * Math.log1p(-y),
  );

describe('cdfs of student_t, gamma, inv_gamma, chi_square and beta', () => {
  it('equal the quadrature of their densities, each tail computed directly', () => {
    // Simpson with 20,000 intervals on smooth densities: error ~1e-12 here.
    const cases: [string, number, () => number][] = [
      [
        'student_t_lcdf(-1.3 | 4.5, 0.2, 1.5)',
        -1.3,
        () => simpson(tPdf(4.5, 0.2, 1.5), -3000, -1.3, 2_000_000),
      ],
      [
        'student_t_lccdf(2.1 | 4.5, 0.2, 1.5)',
        2.1,
        () => simpson(tPdf(4.5, 0.2, 1.5), 2.1, 3000, 2_000_000),
      ],
      ['gamma_lcdf(2.5 | 2.7, 1.3)', 2.5, () => simpson(gammaPdf(2.7, 1.3), 1e-12, 2.5)],
      ['gamma_lccdf(9 | 2.7, 1.3)', 9, () => simpson(gammaPdf(2.7, 1.3), 9, 80)],
      [
        'inv_gamma_lcdf(0.8 | 3, 2)',
        0.8,
        () => simpson((y) => gammaPdf(3, 2)(1 / y) / (y * y), 1e-9, 0.8),
      ],
      ['chi_square_lcdf(3.3 | 5)', 3.3, () => simpson(gammaPdf(2.5, 0.5), 1e-12, 3.3)],
      ['beta_lcdf(0.3 | 2.5, 4)', 0.3, () => simpson(betaPdf(2.5, 4), 0, 0.3)],
      ['beta_lccdf(0.95 | 2.5, 4)', 0.95, () => simpson(betaPdf(2.5, 4), 0.95, 1)],
    ];
    for (const [call, , quadrature] of cases) {
      // The t's tails beyond +-3000 hold ~1e-15 of its mass at 4.5 degrees of freedom.
      expect(valueOf(`target += ${call};`), call).toBeCloseTo(Math.log(quadrature()), 7);
    }
  });

  it('are differentiable in every argument (central differences of the log cdf)', () => {
    const m = stan(
      `parameters { real<lower=0> nu; real mu; real<lower=0> s; real<lower=0> a; real<lower=0> b; }
       model { target += student_t_lcdf(0.7 | nu, mu, s) + gamma_lccdf(1.9 | a, b) + beta_lcdf(0.4 | a, b); }`,
    );
    const z = point(5, 2);
    const { grad } = m.logDensityAndGradient!(z);
    for (let i = 0; i < 5; i++) {
      const h = 1e-5;
      const [up, down] = [z.slice(), z.slice()];
      up[i] += h;
      down[i] -= h;
      const fd =
        (m.logDensityAndGradient!(up).logp - m.logDensityAndGradient!(down).logp) / (2 * h);
      // Both sides are differences at steps ~1e-5: they agree to ~1e-8.
      expect(Math.abs(fd - grad[i])).toBeLessThan(1e-6);
    }
  });

  it('normalise truncations: a half-t at its centre is the t plus log 2, whatever its parameters', () => {
    same(
      `parameters { real<lower=0> s; real<lower=0> nu; real<lower=0> w; }
       model { nu ~ gamma(2, 0.1); w ~ exponential(1); s ~ student_t(nu, 0, w) T[0, ]; }`,
      `parameters { real<lower=0> s; real<lower=0> nu; real<lower=0> w; }
       model { nu ~ gamma(2, 0.1); w ~ exponential(1); s ~ student_t(nu, 0, w); target += log(2); }`,
      {},
      7,
    );
    same(
      `parameters { real<lower=0, upper=3> y; real<lower=0> a; } model { a ~ gamma(2, 1); y ~ gamma(a, 1.5) T[, 3]; }`,
      `parameters { real<lower=0, upper=3> y; real<lower=0> a; } model { a ~ gamma(2, 1); y ~ gamma(a, 1.5); target += -gamma_lcdf(3 | a, 1.5); }`,
    );
  });
});
