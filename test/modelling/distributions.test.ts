import { describe, expect, it } from 'vitest';
import * as ad from '../../src/modelling/autodiff.js';
import * as c from '../../src/modelling/constraints.js';
import * as d from '../../src/modelling/distributions.js';
import { Rng } from '../../src/random/rng.js';
import { lgamma } from '../../src/modelling/special.js';

const value = (n: ad.Node) => n.value[0];

/** ∫ exp(logpdf) over [lo, hi] by the midpoint rule with 200,000 cells. */
function integral(logpdf: (y: number) => number, lo: number, hi: number): number {
  const n = 200000;
  const h = (hi - lo) / n;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(logpdf(lo + (i + 0.5) * h));
  return s * h;
}

// Each continuous family: its log density as avb computes it, a closed form written
// independently, and a range holding all but a negligible part of its mass.
const CONTINUOUS: [string, (y: number) => number, (y: number) => number, number, number][] = [
  [
    'normal(1, 2)',
    (y) => value(d.normal(y, 1, 2)),
    (y) => -0.5 * ((y - 1) / 2) ** 2 - Math.log(2 * Math.sqrt(2 * Math.PI)),
    -20,
    22,
  ],
  [
    'studentT(3, 1, 2)',
    (y) => value(d.studentT(y, 3, 1, 2)),
    (y) => Math.log(2 / (Math.PI * Math.sqrt(3) * 2)) - 2 * Math.log1p(((y - 1) / 2) ** 2 / 3),
    -4000,
    4000,
  ],
  [
    'cauchy(0, 2.5)',
    (y) => value(d.cauchy(y, 0, 2.5)),
    (y) => -Math.log(Math.PI * 2.5 * (1 + (y / 2.5) ** 2)),
    -2000,
    2000,
  ],
  [
    'lognormal(0.3, 0.5)',
    (y) => value(d.lognormal(y, 0.3, 0.5)),
    (y) => -Math.log(y * 0.5 * Math.sqrt(2 * Math.PI)) - 0.5 * ((Math.log(y) - 0.3) / 0.5) ** 2,
    1e-9,
    40,
  ],
  ['exponential(1.5)', (y) => value(d.exponential(y, 1.5)), (y) => Math.log(1.5) - 1.5 * y, 0, 40],
  [
    'gamma(25, 4)',
    (y) => value(d.gamma(y, 25, 4)),
    (y) => 25 * Math.log(4) - lgamma(25) + 24 * Math.log(y) - 4 * y,
    1e-9,
    30,
  ],
  [
    'invGamma(3, 2)',
    (y) => value(d.invGamma(y, 3, 2)),
    (y) => 3 * Math.log(2) - Math.log(2) - 4 * Math.log(y) - 2 / y,
    1e-6,
    2000,
  ],
  [
    'beta(5, 5)',
    (y) => value(d.beta(y, 5, 5)),
    (y) => Math.log(630) + 4 * Math.log(y) + 4 * Math.log(1 - y),
    0,
    1,
  ],
];

describe('distributions', () => {
  it.each(CONTINUOUS)(
    '%s: equals its closed form and integrates to 1',
    (_n, avb, exact, lo, hi) => {
      for (const y of [0.37, 1.9, 6.1].map(
        (t) => lo + ((hi - lo) * t) / 1000 + (lo <= 0 && hi <= 1 ? t / 10 : 0),
      ))
        if (y > lo && y < hi) expect(avb(y)).toBeCloseTo(exact(y), 10);
      // Midpoint rule error ~ h² f'' with h ≤ 0.01 on these ranges, plus the tails left out
      // (8e-4 for the Cauchy on ±2000: 2·2.5/(π·2000)); 3e-3 covers both.
      expect(Math.abs(integral(avb, lo, hi) - 1)).toBeLessThan(3e-3);
    },
  );

  it('discrete families sum to 1 and equal their closed forms', () => {
    // Poisson(e^η), binomial(10, inv_logit(η)), negative binomial(μ 3, φ 2): sums over 0..199.
    const sum = (f: (k: number) => number) =>
      Array.from({ length: 200 }, (_, k) => Math.exp(f(k))).reduce((a, b) => a + b, 0);
    expect(sum((k) => value(d.poissonLog(k, Math.log(3.5))))).toBeCloseTo(1, 12);
    expect(sum((k) => (k <= 10 ? value(d.binomialLogit(k, 10, 0.4)) : -Infinity))).toBeCloseTo(
      1,
      12,
    );
    expect(sum((k) => value(d.negBinomial2(k, 3, 2)))).toBeCloseTo(1, 9);
    expect(value(d.poisson(2, 3))).toBeCloseTo(Math.log((9 / 2) * Math.exp(-3)), 12);
    const p = 1 / (1 + Math.exp(-0.4));
    expect(value(d.bernoulliLogit([1, 0, 1], 0.4))).toBeCloseTo(
      2 * Math.log(p) + Math.log(1 - p),
      12,
    );
    expect(value(d.categoricalLogit(2, [0, 1, -1]))).toBeCloseTo(
      1 - Math.log(1 + Math.E + Math.exp(-1)),
      12,
    );
    expect(() => d.categoricalLogit(4, [0, 1, -1])).toThrow(/outside 1..3/);
  });

  it('sums over vectors with broadcasting, and differentiates in every argument', () => {
    const y = [0.5, 1.5, -0.2];
    const v = value(d.normal(y, [0, 1, 2], 1.5));
    const exact = y.reduce(
      (s, yi, i) => s - 0.5 * ((yi - i) / 1.5) ** 2 - Math.log(1.5 * Math.sqrt(2 * Math.PI)),
      0,
    );
    expect(v).toBeCloseTo(exact, 12);
    // Location, scale and shape as parameters: the gradient against central differences.
    const f = (x: ad.Node) =>
      ad.total(
        d.studentT(y, ad.exp(x.at(2)), x.at(0), ad.exp(x.at(1))),
        d.gamma(ad.exp(x.at(0)), ad.exp(x.at(1)), 2),
        d.beta(ad.invLogit(x.at(0)), ad.exp(x.at(1)), ad.exp(x.at(2))),
        d.negBinomial2Log([3, 0, 7], x.at(0), ad.exp(x.at(2))),
      );
    const x = [0.3, -0.2, 1.1];
    const { grad } = ad.gradient(f, x);
    x.forEach((_, i) => {
      const h = 1e-6;
      const up = [...x];
      const down = [...x];
      up[i] += h;
      down[i] -= h;
      const num = (ad.evaluate(f, up).value[0] - ad.evaluate(f, down).value[0]) / (2 * h);
      // Central differences with h = 1e-6: ~1e-9 absolute here.
      expect(grad[i]).toBeCloseTo(num, 6);
    });
  });

  it('log_mix and the element-wise normal agree with their definitions', () => {
    const a = d.normalElementwise([0.5, 2], 1, 2).value;
    expect(a[1]).toBeCloseTo(-0.125 - Math.log(2 * Math.sqrt(2 * Math.PI)), 12);
    expect(value(ad.logMix(0.3, -1, -2))).toBeCloseTo(
      Math.log(0.3 * Math.exp(-1) + 0.7 * Math.exp(-2)),
      12,
    );
  });
});

describe('lkjCorrCholesky', () => {
  const lbeta = (a: number, b: number) => lgamma(a) + lgamma(b) - lgamma(a + b);

  it('K = 2: the correlation r has (r + 1) / 2 ~ Beta(η, η)', () => {
    // L = [[1, 0], [r, √(1 − r²)]], whose free entry is r itself: p(L) is r's density.
    for (const eta of [0.7, 1, 3]) {
      for (const r of [-0.9, 0, 0.4]) {
        const L = [1, 0, r, Math.sqrt(1 - r * r)];
        const exact = (eta - 1) * Math.log(1 - r * r) - (2 * eta - 1) * Math.LN2 - lbeta(eta, eta);
        expect(value(d.lkjCorrCholesky(L, 2, eta))).toBeCloseTo(exact, 12);
      }
    }
  });

  it('K = 3: integrates to 1 through choleskyFactorCorr, with Beta marginals of the correlations', () => {
    // Monte Carlo over the partial correlations z ∈ (−1, 1)³ (uniform, density 1/8): the
    // density in z is p(L(z)) |∂L/∂u| / Π(1 − z²). The integrand is bounded (η ≥ 1), so 200,000
    // draws give a relative error of about 0.3%; 2% is over 6 standard errors. Every r_ij of
    // an LKJ(η) matrix has (r + 1)/2 ~ Beta(a, a), a = η − 1 + K/2, so E[r²] = 1 / (2a + 1).
    const block = c.choleskyFactorCorr(3);
    const rng = new Rng(3);
    for (const eta of [1, 2.5]) {
      let mass = 0;
      let r12 = 0;
      let r23 = 0;
      const n = 200000;
      for (let s = 0; s < n; s++) {
        const z = [0, 0, 0].map(() => 2 * rng.uniform() - 1);
        const u = ad.lift(z.map(Math.atanh));
        const { value: L, logJacobian } = block.constrain(u, {});
        const logTanh = z.reduce((a, v) => a + Math.log(1 - v * v), 0);
        const w = 8 * Math.exp(value(d.lkjCorrCholesky(L, 3, eta)) + value(logJacobian) - logTanh);
        const l = L.value;
        mass += w / n;
        r12 += (w * l[3] ** 2) / n; // R_21 = L_21 L_11
        r23 += (w * (l[6] * l[3] + l[7] * l[4]) ** 2) / n; // R_32 = L_31 L_21 + L_32 L_22
      }
      const a = eta - 1 + 3 / 2;
      expect(Math.abs(mass - 1)).toBeLessThan(0.02);
      expect(Math.abs(r12 / mass - 1 / (2 * a + 1))).toBeLessThan(0.01);
      expect(Math.abs(r23 / mass - 1 / (2 * a + 1))).toBeLessThan(0.01);
    }
  });
});
