import { describe, expect, it } from 'vitest';
import {
  effectiveSampleSize,
  essBulk,
  essTail,
  normalQuantile,
  rankNormalizedRhat,
  splitRhat,
} from '../../src/math/mcmcDiagnostics.js';
import { Rng } from '../../src/random/rng.js';

/**
 * Chains from integer arithmetic (an LCG), so that Python builds exactly the same doubles: an
 * AR(ar) filter of values (x mod 1000) / 100, which tie now and then (ranks must average), each
 * chain shifted by drift × its index. ArviZ's reference figures below came from
 * `az.rhat(a, method=...)` and `az.ess(a, method=...)` of these chains (ArviZ 0.23.4, numpy
 * array of shape [chains, draws]), with the same loop written in Python.
 */
function lcgChains(o: { m?: number; n?: number; ar?: number; drift?: number } = {}): number[][] {
  const { m = 4, n = 101, ar = 0.8, drift = 0.3 } = o;
  let x = 12345;
  return Array.from({ length: m }, (_, c) => {
    let y = 0;
    return Array.from({ length: n }, () => {
      x = (x * 75 + 74) % 65537;
      y = ar * y + (x % 1000) / 100 + drift * c;
      return y;
    });
  });
}

describe('MCMC diagnostics equal ArviZ 0.23 on the same chains', () => {
  // [settings, split R-hat, rank R-hat, ess mean, ess bulk, ess tail], from ArviZ.
  const cases = [
    [
      {},
      1.1435343150693364,
      1.1520219477074554,
      23.951206408244197,
      22.860730999922158,
      39.20826095666179,
    ],
    [
      { ar: 0, drift: 0 },
      0.9957035408934423,
      1.0013508684762928,
      425.82559612538574,
      439.1921575481999,
      363.6618927267621,
    ],
    // Antithetic (ar < 0): ESS above the draws' number, at the cap m n log10(m n).
    [
      { ar: -0.5, drift: 0, n: 200 },
      0.9954506880851451,
      0.9966917239702309,
      2322.471989593555,
      2322.471989593555,
      801.6746938118405,
    ],
  ] as const;
  // Same algorithm in doubles; sums in another order differ in the last bits only.
  const close = (a: number, b: number) => expect(Math.abs(a / b - 1)).toBeLessThan(1e-9);
  for (const [settings, rhat, rank, mean, bulk, tail] of cases) {
    it(`chains ${JSON.stringify(settings)}`, () => {
      const chains = lcgChains(settings);
      close(splitRhat(chains), rhat);
      close(rankNormalizedRhat(chains), rank);
      close(effectiveSampleSize(chains), mean);
      close(essBulk(chains), bulk);
      close(essTail(chains), tail);
    });
  }
});

describe('rank-normalised R-hat', () => {
  it('sees chains that agree in location but not in scale, which split R-hat misses', () => {
    // Vehtari et al. 2021, section 4: one chain 3 times as wide. Measured here: rank-normalised
    // (its folded part) 1.153, split 1.000 since the means agree.
    const rng = new Rng(5);
    const chains = Array.from({ length: 4 }, (_, c) =>
      Array.from({ length: 1000 }, () => rng.normal() * (c === 0 ? 3 : 1)),
    );
    expect(splitRhat(chains)).toBeLessThan(1.01);
    expect(rankNormalizedRhat(chains)).toBeGreaterThan(1.05);
  });

  it('is near 1 for chains from one distribution, heavy tails included', () => {
    // Cauchy draws: the classic R-hat's variances do not exist; ranks do not care. Measured
    // here: R-hat 1.001, bulk ESS 0.955 of the draws.
    const rng = new Rng(6);
    const chains = Array.from({ length: 4 }, () =>
      Array.from({ length: 1000 }, () => Math.tan(Math.PI * (rng.uniform() - 0.5))),
    );
    expect(rankNormalizedRhat(chains)).toBeLessThan(1.01);
    expect(essBulk(chains) / 4000).toBeGreaterThan(0.85);
  });
});

describe('normalQuantile (AS 241)', () => {
  it('inverts known values of the normal CDF to double precision', () => {
    // Φ(1), Φ(2), Φ(-3) and the usual two-sided quantiles, to 16 digits (tables and scipy).
    const known: [number, number][] = [
      [0.8413447460685429, 1],
      [0.9772498680518208, 2],
      [0.0013498980316300946, -3],
      [0.975, 1.959963984540054],
      [0.995, 2.5758293035489004],
      [1e-10, -6.361340902404056],
      [0.5, 0],
    ];
    for (const [p, z] of known)
      expect(Math.abs(normalQuantile(p) - z)).toBeLessThan(2e-15 * Math.max(1, Math.abs(z)));
    for (const p of [0.01, 0.125, 0.3, 0.49])
      expect(normalQuantile(1 - p) + normalQuantile(p)).toBeCloseTo(0, 9);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(1.5)).toBeNaN();
  });
});

describe('effective sample size', () => {
  it('matches the exact ESS of AR(1) chains, positively and negatively correlated', () => {
    // ESS of an AR(1) chain is N (1 - phi) / (1 + phi): N/3 at phi = 0.5, 3N at -0.5 (antithetic).
    // With 4 chains of 5,000 the estimate over 40 seeds stayed within 0.89-1.11 of the truth;
    // 20% separates that from the old pairing from lag 1 without a monotone step (1/3 of the
    // truth at phi = -0.5).
    for (const phi of [0.5, -0.5]) {
      const rng = new Rng(phi > 0 ? 21 : 22);
      const chains = Array.from({ length: 4 }, () => {
        let x = rng.normal() / Math.sqrt(1 - phi * phi);
        return Array.from({ length: 5000 }, () => (x = phi * x + rng.normal()));
      });
      const exact = (20000 * (1 - phi)) / (1 + phi);
      expect(Math.abs(effectiveSampleSize(chains) / exact - 1), `phi ${phi}`).toBeLessThan(0.2);
    }
  });

  it('independent draws have ESS near their number', () => {
    const rng = new Rng(23);
    const chains = Array.from({ length: 4 }, () =>
      Array.from({ length: 2000 }, () => rng.normal()),
    );
    expect(Math.abs(effectiveSampleSize(chains) / 8000 - 1)).toBeLessThan(0.15);
  });
});
