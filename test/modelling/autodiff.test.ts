import { describe, expect, it } from 'vitest';
import * as ad from '../../src/modelling/autodiff.js';
import type { Node } from '../../src/modelling/autodiff.js';
import { digamma, lgamma } from '../../src/modelling/special.js';
import { cholesky } from '../../src/modelling/cholesky.js';
import { normalElementwise } from '../../src/modelling/distributions.js';

/** Central differences of f at x: step 1e-6 gives ~1e-9 relative error for smooth f. */
function numericGradient(f: (x: Node) => ad.Val, x: number[]): number[] {
  return x.map((_, i) => {
    const h = 1e-6 * Math.max(1, Math.abs(x[i]));
    const up = [...x];
    const down = [...x];
    up[i] += h;
    down[i] -= h;
    const value = (p: number[]) => ad.evaluate((n) => ad.lift(f(n)).value[0], p);
    return (value(up) - value(down)) / (2 * h);
  });
}

// Each case: a scalar function of a vector, at a point inside its domain.
const CASES: [string, (x: Node) => ad.Val, number[]][] = [
  [
    'add/mul/sub/div broadcast',
    (x) => ad.sum(ad.div(ad.mul(ad.sub(x, x.at(0)), x), ad.add(x.at(1), 3))),
    [0.3, -1.2, 2.5],
  ],
  [
    'exp/log/log1p/expm1',
    (x) => ad.sum(ad.add(ad.log(ad.exp(x)), ad.mul(ad.log1p(ad.square(x)), ad.expm1(x)))),
    [0.1, -0.7, 1.3],
  ],
  [
    'sqrt/pow/abs/tanh',
    (x) =>
      ad.sum(ad.add(ad.sqrt(ad.add(ad.square(x), 1)), ad.mul(ad.pow(ad.abs(x), 1.5), ad.tanh(x)))),
    [0.4, -2.1, 0.9],
  ],
  [
    'logistic family',
    (x) => ad.sum(ad.add(ad.logInvLogit(x), ad.mul(ad.log1mInvLogit(x), ad.invLogit(x)))),
    [-30, 0.2, 35],
  ],
  ['log1pExp', (x) => ad.sum(ad.log1pExp(x)), [-800, 0.5, 800]],
  ['dot/slice/concat', (x) => ad.dot(ad.concat(ad.slice(x, 1, 2), x.at(0)), x), [1.5, -0.5, 2]],
  [
    'matVec (constant and variable matrix)',
    (x) =>
      ad.add(
        ad.sum(ad.square(ad.matVec(ad.concat(x, ad.mul(x, 2)), 2, 3, x))),
        ad.sum(ad.matVec([1, 2, 3, 4, 5, 6], 2, 3, ad.exp(x))),
      ),
    [0.2, 0.7, -1.1],
  ],
  [
    // 7 rows: the backward pass's four-row blocks and its remainder.
    'matVec of a 7 × 3 constant matrix',
    (x) =>
      ad.sum(
        ad.square(
          ad.matVec(
            Array.from({ length: 21 }, (_, i) => Math.sin(i + 1)),
            7,
            3,
            x,
          ),
        ),
      ),
    [0.2, 0.7, -1.1],
  ],
  [
    'logSumExp and logMix',
    (x) => ad.add(ad.logSumExp(x), ad.logMix(0.3, x.at(0), x.at(2))),
    [-1, 2, 0.5],
  ],
  [
    // Every operand a variable, one broadcast: the fused element-wise forms' three partials.
    'logMix and the element-wise normal, all operands variable',
    (x) =>
      ad.sum(
        ad.logMix(
          ad.invLogit(x.at(0)),
          normalElementwise(x, x.at(1), ad.exp(x)),
          normalElementwise([0.5, -1, 2], x, ad.exp(x.at(2))),
        ),
      ),
    [0.4, -0.3, 1.1],
  ],
  [
    // Repeated positions: their adjoints add up.
    'gather with repeats',
    (x) => ad.sum(ad.mul(ad.gather(x, [2, 0, 2, 1, 2]), [1, -2, 3, 0.5, -1])),
    [0.4, -0.3, 1.1],
  ],
  [
    'cholesky of x xᵀ + I',
    (x) => {
      const n = 3;
      const a: ad.Node[] = [];
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) a.push(ad.add(ad.mul(x.at(i), x.at(j)), i === j ? 1 : 0));
      return ad.sum(ad.mul(cholesky(ad.concat(...a), n), [1, 0, 0, 2, 3, 0, 4, 5, 6]));
    },
    [0.5, -1, 2],
  ],
];

describe('reverse-mode differentiation in doubles', () => {
  it.each(CASES)('%s: the gradient matches central differences', (_name, f, x) => {
    const { grad } = ad.gradient(f, x);
    const numeric = numericGradient(f, x);
    // Central differences of smooth functions with h = 1e-6: error ~ h² f''' + 1e-16 / h ≈ 1e-9
    // relative; 1e-6 leaves room for the larger third derivatives here.
    numeric.forEach((g, i) => expect(grad[i]).toBeCloseTo(g, 5));
  });

  it('returns exact values: Σ x² at (1, 2) is 5 with gradient (2, 4)', () => {
    const r = ad.gradient((x) => ad.sum(ad.mul(x, x)), [1, 2]);
    expect(r.value).toBe(5);
    expect(Array.from(r.grad)).toEqual([2, 4]);
  });

  it('a function that does not use its input has zero gradient', () => {
    expect(Array.from(ad.gradient(() => 3, [1, 2]).grad)).toEqual([0, 0]);
  });

  it('gather refuses a position outside the vector', () => {
    expect(() => ad.gather([1, 2, 3], [0, 3])).toThrow(RangeError);
    expect(() => ad.gather([1, 2, 3], [1.5])).toThrow(RangeError);
  });

  it('refuses lengths that do not broadcast, and non-scalar outputs', () => {
    expect(() => ad.add([1, 2], [1, 2, 3])).toThrow(/broadcast/);
    expect(() => ad.gradient((x) => x, [1, 2])).toThrow(/scalar/);
  });

  it('cholesky reproduces A = L Lᵀ and refuses a matrix that is not positive definite', () => {
    const a = [4, 2, 2, 3];
    const l = cholesky(a, 2).value;
    expect(Array.from(l)).toEqual([2, 0, 1, Math.sqrt(2)]);
    expect(() => cholesky([1, 2, 2, 1], 2)).toThrow(RangeError);
  });
});

/** A smooth n × n SPD matrix of x (length n): K_ij = exp(-(x_i - x_j)²/2) + (1 + x_i²) δ_ij. */
function spd(x: Node, n: number): Node {
  const a: ad.Val[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const k = ad.exp(ad.mul(ad.square(ad.sub(x.at(i), x.at(j))), -0.5));
      a.push(i === j ? ad.add(k, ad.add(ad.square(x.at(i)), 1)) : k);
    }
  return ad.concat(...a);
}

/** A fixed weighting of L's entries, so that every entry's adjoint is exercised. */
const weights = (n: number) => Array.from({ length: n * n }, (_, i) => Math.cos(1.7 * i + 0.3));

describe('the fused Cholesky factor', () => {
  const n = 6;
  const f = (x: Node) => ad.sum(ad.mul(cholesky(spd(x, n), n), weights(n)));
  const x0 = [0.3, -1.1, 0.8, 2.0, -0.4, 1.5];

  it('its gradient matches central differences on a 6 × 6 matrix', () => {
    const { grad } = ad.gradient(f, x0);
    // As in the cases above: h = 1e-6 central differences are good to ~1e-9 relative.
    numericGradient(f, x0).forEach((g, i) => expect(grad[i]).toBeCloseTo(g, 6));
  });

  it('a batch of rows gets each row’s own value and gradient', () => {
    const rows = [x0, x0.map((v) => -0.5 * v + 0.2), x0.map((v, i) => v * v - i / 3)];
    const { values, grads } = ad.gradientRows(f, Float64Array.from(rows.flat()), rows.length);
    rows.forEach((x, b) => {
      const one = ad.gradient(f, x);
      // The same arithmetic row by row: equal to rounding.
      expect(values[b]).toBeCloseTo(one.value, 12);
      one.grad.forEach((g, i) => expect(grads[b * n + i]).toBeCloseTo(g, 10));
    });
  });

  it('rejects a batch with one row that is not positive definite', () => {
    const g = (x: Node) => ad.sum(cholesky(ad.concat(1, x.at(0), x.at(0), 1), 2));
    expect(() => ad.gradientRows(g, Float64Array.of(0.5, 0, 1.5, 0), 2)).toThrow(RangeError);
  });
});

describe('special functions', () => {
  it('log Γ matches factorials and Γ(1/2) = √π', () => {
    // Lanczos (g = 7, n = 9) is accurate to ~1e-15 relative; 12 digits of the log are safe.
    expect(lgamma(1)).toBeCloseTo(0, 12);
    expect(lgamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(lgamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(lgamma(101)).toBeCloseTo(363.73937555556347, 9);
  });

  it('ψ is the derivative of log Γ, with ψ(1) = −γ', () => {
    expect(digamma(1)).toBeCloseTo(-0.5772156649015329, 12);
    for (const x of [0.3, 2.5, 17]) {
      const h = 1e-5;
      expect(digamma(x)).toBeCloseTo((lgamma(x + h) - lgamma(x - h)) / (2 * h), 7);
    }
  });
});
