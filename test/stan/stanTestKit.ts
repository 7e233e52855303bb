import { expect } from 'vitest';
import { declareModel } from '../../src/inference/declaredModel.js';
import { stanModel } from '../../src/stan/stanModel.js';

/** A Stan program (with its data) declared as a model, as `avb infer model.stan` does. */
export const stan = (source: string, data: unknown = {}) =>
  declareModel(stanModel(source, 'test.stan', data));

/** A point of R^d away from the origin, different for each k. */
export const point = (d: number, k: number) =>
  Float64Array.from({ length: d }, (_, i) => 0.3 * Math.sin(1.7 * i + k));

/**
 * Two programs with the same log density and gradient at three points, to `digits` decimals
 * (rounding: both sum the same terms in another order or form). Returns the first model.
 */
export function same(a: string, b: string, data: unknown = {}, digits = 10) {
  const [ma, mb] = [stan(a, data), stan(b, data)];
  expect(ma.dim).toBe(mb.dim);
  for (let k = 0; k < 3; k++) {
    const z = point(ma.dim, k);
    const [ra, rb] = [ma.logDensityAndGradient!(z), mb.logDensityAndGradient!(z)];
    expect(ra.logp).toBeCloseTo(rb.logp, digits);
    ra.grad.forEach((g, i) => expect(g).toBeCloseTo(rb.grad[i], digits));
  }
  return ma;
}
