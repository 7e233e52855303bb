import { Node } from '../modelling/autodiff.js';
import type { Val } from '../modelling/autodiff.js';

/**
 * The supports of Stan's continuous families whose variate does not range over the whole line,
 * where the bounds are constants (pareto's y_min and pareto_type_2's mu, arguments, are checked
 * by their own densities). Stan rejects a value outside (its density functions raise a domain
 * error, or return log 0), and avb counts it as log density -inf: an exponential's
 * log λ − λ y is finite, and grows, for y < 0, so an unbounded `real x; x ~ exponential(1);`
 * was a posterior on the whole line. `impliedBounds.ts` declares these bounds for a parameter
 * declared without them.
 */
const FAMILY_SUPPORTS: Readonly<Record<string, { lower: number; upper?: number }>> = {
  lognormal: { lower: 0 },
  exponential: { lower: 0 },
  gamma: { lower: 0 },
  inv_gamma: { lower: 0 },
  chi_square: { lower: 0 },
  inv_chi_square: { lower: 0 },
  scaled_inv_chi_square: { lower: 0 },
  weibull: { lower: 0 },
  frechet: { lower: 0 },
  rayleigh: { lower: 0 },
  loglogistic: { lower: 0 },
  beta: { lower: 0, upper: 1 },
  beta_proportion: { lower: 0, upper: 1 },
};

/** The support of `family`'s variate; undefined for a family on the whole line. */
export function familySupport(family: string): { lower: number; upper?: number } | undefined {
  return Object.hasOwn(FAMILY_SUPPORTS, family) ? FAMILY_SUPPORTS[family] : undefined;
}

/** Whether some value of `y` lies outside the support of `family` (false for a family on the line). */
export function outsideSupport(family: string, y: Val): boolean {
  const support = familySupport(family);
  if (!support) return false;
  const { lower, upper = Infinity } = support;
  const values = typeof y === 'number' ? [y] : y instanceof Node ? y.value : y;
  for (let i = 0; i < values.length; i++) if (values[i] < lower || values[i] > upper) return true;
  return false;
}
