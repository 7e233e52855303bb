import * as ad from '../modelling/autodiff.js';
import type { Node, Val } from '../modelling/autodiff.js';
import { logDensity } from './builtins.js';
import { StanError } from './operators.js';
import { int, real } from './values.js';

/** Families of integer outcomes that `y ~ family(...) T[L, U]` may truncate. */
const DISCRETE = new Set([
  'poisson',
  'poisson_log',
  'neg_binomial',
  'neg_binomial_2',
  'neg_binomial_2_log',
  'binomial',
  'binomial_logit',
  'beta_binomial',
  'bernoulli',
  'bernoulli_logit',
]);

/** Outcomes a normaliser may sum over, per element: beyond, the bounds are refused. */
const MAX_TERMS = 100_000;

export function isDiscreteFamily(family: string): boolean {
  return DISCRETE.has(family);
}

/**
 * The log normaliser of a discrete `family` truncated to [lower, upper] (either may be absent), for
 * `n` outcomes with arguments broadcast over them: Σ_i log P(L ≤ Y_i ≤ U). Summed outcome by
 * outcome from the family's own probability mass function, so it is exact and differentiable in
 * every argument without a closed-form cdf: Σ_{j=L}^{U} p(j) with both bounds, Σ_{j=0}^{U} p(j)
 * with the upper alone, and 1 − Σ_{j=0}^{L−1} p(j) with the lower alone (zero-truncated counts,
 * `T[1, ]`, cost one term). Counts start at 0.
 */
export function discreteLogTruncation(
  family: string,
  n: number,
  p: Val[],
  lower: Val | undefined,
  upper: Val | undefined,
): Node {
  const bound = (b: Val | undefined, i: number) => {
    if (b === undefined) return undefined;
    const B = ad.lift(b);
    if (B.variable) throw new StanError(`truncation bounds of ${family} must be data`);
    const v = B.value[B.length === 1 ? 0 : i];
    if (!Number.isInteger(v))
      throw new StanError(`truncation bounds of ${family} must be integers`);
    return v;
  };
  const terms: Node[] = [];
  for (let i = 0; i < n; i++) {
    // Element i's arguments; data stay numbers (a binomial's trials must be an integer).
    const args = p.map((a) => {
      const A = ad.lift(a);
      const at = A.length === 1 ? 0 : i;
      if (A.variable) return real(A.length === 1 ? A : ad.index(A, at));
      const v = A.value[at];
      return Number.isInteger(v) ? int(v) : real(v);
    });
    const logMass = (from: number, to: number) => {
      if (to - from + 1 > MAX_TERMS)
        throw new StanError(
          `truncating ${family} to ${to - from + 1} outcomes is not supported (at most ${MAX_TERMS})`,
        );
      const each = [];
      for (let j = from; j <= to; j++) each.push(logDensity(family, int(j), args));
      return ad.logSumExp(ad.concat(...each));
    };
    const [L, U] = [bound(lower, i), bound(upper, i)];
    const from = Math.max(L ?? 0, 0);
    if (U !== undefined) {
      if (U < from) throw new StanError(`${family} truncated to an empty range [${L}, ${U}]`);
      terms.push(logMass(from, U));
    } else if (from > 0) terms.push(ad.log1m(ad.exp(logMass(0, from - 1))));
  }
  return ad.total(...terms);
}
