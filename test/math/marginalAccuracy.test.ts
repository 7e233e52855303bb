import { describe, expect, it } from 'vitest';
import { importanceCheck } from '../../src/math/importanceCheck.js';
import { marginalAccuracy, wasserstein1, worstAccuracy } from '../../src/math/marginalAccuracy.js';
import { Rng } from '../../src/random/rng.js';

describe('marginal accuracy', () => {
  it('W₁ is exact for step quantile functions', () => {
    expect(wasserstein1([0, 1, 2], [1, 2, 3])).toBeCloseTo(1, 12);
    expect(wasserstein1([0, 0], [1])).toBeCloseTo(1, 12);
    // Unequal sizes: F⁻¹ of {0, 1} is 0 on (0, ½], 1 after; of {0, ⅓, ⅔} steps at thirds:
    // |0 − ⅓| on (⅓, ½], |1 − ⅓| on (½, ⅔], |1 − ⅔| on (⅔, 1].
    expect(wasserstein1([0, 1], [0, 1 / 3, 2 / 3])).toBeCloseTo(
      (1 / 6) * (1 / 3) + (1 / 6) * (2 / 3) + (1 / 3) * (1 / 3),
      12,
    );
    expect(wasserstein1([3, 1, 2], [2, 3, 1])).toBe(0);
  });

  it('standardises by the reference: a shift of 0.2 sd and a 1.5× sd read as such', () => {
    const rng = new Rng(4);
    const ref = Array.from({ length: 20000 }, () => 2 + 3 * rng.normal());
    const q = ref.map((v) => 2.6 + (v - 2) * 1.5);
    const [m] = marginalAccuracy({ a: q }, { a: ref }, ['a']);
    // Exact by construction: q is an affine map of the very same draws, so its mean is
    // 2.6 + 1.5 (mean − 2) and its sd 1.5 sd, whatever the sample.
    const mean = ref.reduce((a, b) => a + b, 0) / ref.length;
    const sd = Math.sqrt(ref.reduce((a, b) => a + (b - mean) ** 2, 0) / (ref.length - 1));
    expect(m.meanError).toBeCloseTo((0.6 + 0.5 * (mean - 2)) / sd, 10);
    expect(m.sdRatio).toBeCloseTo(1.5, 10);
    // W₁ of N(μ + 0.6, (1.5σ)²) to N(μ, σ²) in σ units: E|0.2 + 0.5 Z| = 0.4316 (closed form
    // 0.5·√(2/π)·e^{-0.08} + 0.2·(1 − 2Φ(−0.4))); 20,000 draws: ±0.01.
    expect(m.wasserstein).toBeCloseTo(0.4316, 1);
    const w = worstAccuracy([m, { name: 'b', meanError: 0.5, sdRatio: 0.5, wasserstein: 0.1 }]);
    expect(w).toMatchObject({
      meanError: 0.5,
      sdRatio: 0.5,
      wasserstein: m.wasserstein,
      worstMeanName: 'b',
    });
  });
});

describe('importance check', () => {
  it('recovers a target N(0.3, 1.2²) from draws of q = N(0, 1): shift 0.25 sd, sd ratio 0.83', () => {
    const rng = new Rng(7);
    const z = Array.from({ length: 20000 }, () => rng.normal());
    const logN = (x: number, m: number, s: number) => -0.5 * ((x - m) / s) ** 2 - Math.log(s);
    const logW = z.map((x) => logN(x, 0.3, 1.2) - logN(x, 0, 1));
    const c = importanceCheck(
      z.map((x) => [x]),
      logW,
      ['x'],
    )!;
    // Self-normalised IS with ESS ≈ 15,000 of 20,000: the estimates' errors are ~0.01.
    expect(c.meanShift).toBeCloseTo(0.25, 1);
    expect(c.sdRatio).toBeCloseTo(1 / 1.2, 1);
    expect(c.ess).toBeGreaterThan(10000);
  });

  it('finds nothing to correct when q is the target', () => {
    const rng = new Rng(8);
    const z = Array.from({ length: 4000 }, () => [rng.normal(), rng.normal()]);
    const c = importanceCheck(
      z,
      z.map(() => 0),
      ['a', 'b'],
    )!;
    expect(c.meanShift).toBe(0);
    expect(c.sdRatio).toBeCloseTo(Math.sqrt(4000 / 3999), 6); // n−1 against n denominators
    expect(c.ess).toBeCloseTo(4000, 6);
  });
});
