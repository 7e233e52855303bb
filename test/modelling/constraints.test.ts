import { describe, expect, it } from 'vitest';
import * as ad from '../../src/modelling/autodiff.js';
import * as c from '../../src/modelling/constraints.js';
import type { ParameterBlock } from '../../src/modelling/constraints.js';
import { logDetFromLu } from './logDet.js';

/**
 * The constrained coordinates a block's Jacobian is taken over: a simplex's all but the last,
 * a Cholesky factor's entries below the diagonal (the rest follow from them).
 */
const free = (b: ParameterBlock, v: Float64Array) => {
  if (b.kind.startsWith('simplex')) return v.subarray(0, b.free);
  if (!b.shape) return v;
  const K = b.shape[0];
  return Float64Array.from({ length: b.free }, (_, k) => {
    const i = Math.floor((1 + Math.sqrt(1 + 8 * k)) / 2); // row of the k-th entry below the diagonal
    return v[i * K + (k - (i * (i - 1)) / 2)];
  });
};

const BLOCKS: [string, ParameterBlock][] = [
  ['real', c.real()],
  ['lower bound', c.vector(3, { lower: -2 })],
  ['upper bound', c.vector(2, { upper: 5 })],
  ['interval', c.vector(3, { lower: -1, upper: 4 })],
  ['positive', c.positive()],
  ['simplex', c.simplex(4)],
  ['ordered', c.ordered(3)],
  ['positive ordered', c.positiveOrdered(3)],
  ['cholesky factor corr', c.choleskyFactorCorr(4)],
];

describe('constraint transforms', () => {
  it.each(BLOCKS)(
    '%s: log-Jacobian equals log |det| of the numeric Jacobian; unconstrain inverts',
    (_n, block) => {
      const u = Float64Array.from({ length: block.free }, (_, i) => 0.4 * i - 0.3);
      const at = (p: ArrayLike<number>) => block.constrain(ad.lift(p), {});
      const { value, logJacobian } = at(u);
      const x = free(block, value.value);
      const jac = new Float64Array(block.free * block.free);
      for (let j = 0; j < block.free; j++) {
        const h = 1e-6;
        const up = Float64Array.from(u);
        const down = Float64Array.from(u);
        up[j] += h;
        down[j] -= h;
        const a = free(block, at(up).value.value);
        const b = free(block, at(down).value.value);
        for (let i = 0; i < x.length; i++) jac[i * block.free + j] = (a[i] - b[i]) / (2 * h);
      }
      // Central differences: ~1e-10 per entry, so ~1e-8 on the log determinant.
      expect(logJacobian.value[0]).toBeCloseTo(logDetFromLu(jac, block.free), 6);
      const back = block.unconstrain(value.value, {});
      back.forEach((v, i) => expect(v).toBeCloseTo(u[i], 10));
    },
  );

  it('values satisfy their constraints far out in u', () => {
    const u = ad.lift([-30, 0, 30]);
    const simplex = c.simplex(4).constrain(u, {}).value.value;
    expect(simplex.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(Math.min(...simplex)).toBeGreaterThanOrEqual(0);
    const ord = c.ordered(3).constrain(u, {}).value.value;
    expect(ord[0] < ord[1] && ord[1] < ord[2]).toBe(true);
    // L of a correlation matrix: lower triangular, positive diagonal, rows of unit length.
    const l = c.choleskyFactorCorr(3).constrain(ad.lift([-30, 0.5, 30]), {}).value.value;
    expect([l[1], l[2], l[5]]).toEqual([0, 0, 0]);
    for (let i = 0; i < 3; i++) {
      expect(l[i * 3 + i]).toBeGreaterThanOrEqual(0);
      expect(l[i * 3] ** 2 + l[i * 3 + 1] ** 2 + l[i * 3 + 2] ** 2).toBeCloseTo(1, 12);
    }
    const iv = c.vector(3, { lower: -1, upper: 4 }).constrain(u, {}).value.value;
    expect(Math.min(...iv)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...iv)).toBeLessThanOrEqual(4);
  });

  it('sum_to_zero_vector: values sum to 0, the map is an isometry (Jacobian 0) and unconstrain inverts it', () => {
    const K = 5;
    const block = c.sumToZeroVector(K);
    const u = Float64Array.from({ length: K - 1 }, (_, i) => 0.7 * Math.sin(2.3 * i + 0.4));
    const { value, logJacobian } = block.constrain(ad.lift(u), {});
    const x = value.value;
    expect(x.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 14);
    // An isometry onto the subspace: |x| = |u|, and the columns of its matrix are orthonormal.
    const norm = (v: ArrayLike<number>) => Math.hypot(...Array.from(v));
    expect(norm(x)).toBeCloseTo(norm(u), 14);
    const columns = Array.from({ length: K - 1 }, (_, j) => {
      const e = new Float64Array(K - 1);
      e[j] = 1;
      return block.constrain(ad.lift(e), {}).value.value;
    });
    for (let i = 0; i < K - 1; i++)
      for (let j = 0; j < K - 1; j++)
        expect(columns[i].reduce((s, v, k) => s + v * columns[j][k], 0)).toBeCloseTo(
          i === j ? 1 : 0,
          14,
        );
    expect(logJacobian.value[0]).toBe(0);
    block.unconstrain(x, {}).forEach((v, i) => expect(v).toBeCloseTo(u[i], 12));
  });

  it('a bound may depend on an earlier parameter (GARCH: beta1 < 1 − alpha1)', () => {
    const block = c.real({ lower: 0, upper: (p) => ad.sub(1, p.alpha1) });
    const alpha1 = ad.lift([0.7]);
    const beta1 = block.constrain(ad.lift([3]), { alpha1 }).value.value[0];
    expect(beta1).toBeGreaterThan(0);
    expect(beta1).toBeLessThan(0.3);
  });

  it('refuses impossible declarations', () => {
    expect(() => c.vector(0)).toThrow(/positive integer/);
    expect(() => c.real({ lower: 2, upper: 1 })).toThrow(/not below/);
    expect(() => c.simplex(1)).toThrow(/at least 2/);
  });
});
