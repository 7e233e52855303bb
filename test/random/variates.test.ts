import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/random/rng.js';
import { betaDraw, binomialDraw, gammaDraw, poissonDraw } from '../../src/random/variates.js';

/** Sample mean and variance of n draws. */
function moments(n: number, draw: () => number): { mean: number; variance: number } {
  let s = 0;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const x = draw();
    s += x;
    ss += x * x;
  }
  const mean = s / n;
  return { mean, variance: (ss - n * mean * mean) / (n - 1) };
}

/**
 * The sample mean within 5 standard errors of the exact mean, and the sample variance within 5
 * of its own (its se is sd² √((κ − 1)/n), κ the kurtosis, given per case). A wrong sampler (a
 * shape off by 1, a rate for a scale) misses by far more; the seeds are fixed, so the outcome
 * is deterministic, and 5 se leaves it far from chance under any seed (p ≈ 6e-7 per bound).
 */
function expectMoments(
  m: { mean: number; variance: number },
  exact: { mean: number; variance: number; kurtosis: number },
  n: number,
) {
  expect(Math.abs(m.mean - exact.mean)).toBeLessThan(5 * Math.sqrt(exact.variance / n));
  const varianceSe = exact.variance * Math.sqrt((exact.kurtosis - 1) / n);
  expect(Math.abs(m.variance - exact.variance)).toBeLessThan(5 * varianceSe);
}

const N = 40_000;

describe('exact random variates', () => {
  it('gamma(α): mean α and variance α, for α below, at and far above 1', () => {
    for (const alpha of [0.05, 0.3, 1, 7.5, 400]) {
      const rng = new Rng(11);
      const m = moments(N, () => gammaDraw(rng, alpha));
      expectMoments(m, { mean: alpha, variance: alpha, kurtosis: 3 + 6 / alpha }, N);
    }
  });

  it('beta(a, b): mean a / (a + b) and variance ab / ((a + b)²(a + b + 1))', () => {
    for (const [a, b] of [
      [0.5, 0.5],
      [2, 5],
      [30, 3],
    ]) {
      const rng = new Rng(12);
      const m = moments(N, () => betaDraw(rng, a, b));
      const s = a + b;
      const variance = (a * b) / (s * s * (s + 1));
      // Beta's excess kurtosis, exact.
      const excess = (6 * ((a - b) ** 2 * (s + 1) - a * b * (s + 2))) / (a * b * (s + 2) * (s + 3));
      expectMoments(m, { mean: a / s, variance, kurtosis: 3 + excess }, N);
    }
  });

  it('Poisson(λ): mean and variance λ, on both sides of the splitting threshold (16)', () => {
    for (const lambda of [0, 0.5, 10, 16.5, 300, 1e5]) {
      const rng = new Rng(13);
      const m = moments(N, () => poissonDraw(rng, lambda));
      if (lambda === 0) {
        expect(m).toEqual({ mean: 0, variance: 0 });
        continue;
      }
      expectMoments(m, { mean: lambda, variance: lambda, kurtosis: 3 + 1 / lambda }, N);
    }
  });

  it('binomial(n, p): mean np and variance np(1 − p), small n and split n alike', () => {
    for (const [n, p] of [
      [5, 0.3],
      [33, 0.5],
      [1000, 0.02],
      [1_000_000, 0.7],
    ]) {
      const rng = new Rng(14);
      const draws: number[] = [];
      const m = moments(N, () => {
        const k = binomialDraw(rng, n, p);
        draws.push(k);
        return k;
      });
      expect(draws.every((k) => Number.isInteger(k) && k >= 0 && k <= n)).toBe(true);
      const variance = n * p * (1 - p);
      expectMoments(
        m,
        { mean: n * p, variance, kurtosis: 3 + (1 - 6 * p * (1 - p)) / variance },
        N,
      );
    }
  });

  it('Poisson(40) and binomial(100, 0.3) match their exact pmfs (chi-square goodness of fit)', () => {
    const logFactorial = (k: number) => {
      let s = 0;
      for (let i = 2; i <= k; i++) s += Math.log(i);
      return s;
    };
    const cases: [string, () => number, (k: number) => number][] = [];
    const r1 = new Rng(15);
    cases.push([
      'poisson',
      () => poissonDraw(r1, 40),
      (k) => Math.exp(k * Math.log(40) - 40 - logFactorial(k)),
    ]);
    const r2 = new Rng(16);
    cases.push([
      'binomial',
      () => binomialDraw(r2, 100, 0.3),
      (k) =>
        Math.exp(
          logFactorial(100) -
            logFactorial(k) -
            logFactorial(100 - k) +
            k * Math.log(0.3) +
            (100 - k) * Math.log(0.7),
        ),
    ]);
    for (const [, draw, pmf] of cases) {
      const counts = new Map<number, number>();
      for (let i = 0; i < N; i++) {
        const k = draw();
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      // Cells of every k with an expected count of at least 20, and the two tails pooled.
      const cells = Array.from({ length: 101 }, (_, k) => k).filter((k) => N * pmf(k) >= 20);
      const [lo, hi] = [cells[0], cells[cells.length - 1]];
      let chi2 = 0;
      let inside = 0;
      let insideP = 0;
      for (const k of cells) {
        const expected = N * pmf(k);
        const observed = counts.get(k) ?? 0;
        chi2 += (observed - expected) ** 2 / expected;
        inside += observed;
        insideP += pmf(k);
      }
      const tailExpected = N * (1 - insideP);
      chi2 += (N - inside - tailExpected) ** 2 / tailExpected;
      const df = hi - lo + 1;
      // Wilson–Hilferty's 0.9999 quantile of chi-square(df) (z = 3.72): a right sampler
      // crosses it once in 10,000 seeds; a pmf off by a shift of one k, every time.
      const q = df * (1 - 2 / (9 * df) + 3.72 * Math.sqrt(2 / (9 * df))) ** 3;
      expect(chi2).toBeLessThan(q);
    }
  });

  it('invalid parameters give NaN, not a hang or a number', () => {
    const rng = new Rng(1);
    expect(gammaDraw(rng, 0)).toBeNaN();
    expect(gammaDraw(rng, -1)).toBeNaN();
    expect(poissonDraw(rng, -1)).toBeNaN();
    expect(poissonDraw(rng, Infinity)).toBeNaN();
    expect(binomialDraw(rng, 10, 1.5)).toBeNaN();
    expect(binomialDraw(rng, 2.5, 0.5)).toBeNaN();
  });
});
