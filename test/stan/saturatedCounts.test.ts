import { describe, expect, it } from 'vitest';
import { stan } from './stanTestKit.js';

/**
 * A count's term that the count leaves out is absent, as in Stan: bernoulli(1 | p) is log p,
 * with no (1 - 1) log(1 - p) beside it, so at p = 1 exactly (an inv_logit saturated in doubles:
 * inv_logit(50) = 1 - 2e-22 rounds to 1) the density is log 1 = 0, not 0 × −∞ = NaN. A model
 * whose parameters start there (posteriordb's dogs_log with its bounds declared: beta = (-50,
 * 50) at z = 0) was refused as "not finite at z = 0".
 */
describe('Bernoulli and binomial terms at a probability of exactly 0 or 1', () => {
  // b is 50 at z = 0 (its bounds' midpoint): inv_logit(b) = 1 and inv_logit(-b) = 0 in doubles.
  const programs = {
    bernoulli: 'y ~ bernoulli(inv_logit(b)); z ~ bernoulli(inv_logit(-b));',
    'bernoulli, in a loop of 8 (point by point)':
      'for (i in 1:8) { y[i] ~ bernoulli(inv_logit(b)); z[i] ~ bernoulli(inv_logit(-b)); }',
    binomial: 'n ~ binomial(8, inv_logit(b)); 0 ~ binomial(8, inv_logit(-b));',
    'binomial, in a loop of 8':
      'for (i in 1:8) { y[i] ~ binomial(1, inv_logit(b)); z[i] ~ binomial(1, inv_logit(-b)); }',
  };
  for (const [name, body] of Object.entries(programs))
    it(`${name}: log 1 = 0 for counts the probability makes certain`, () => {
      const m = stan(
        `data { array[8] int y; array[8] int z; int n; } parameters { real<lower=0, upper=100> b; } model { ${body} }`,
        { y: [1, 1, 1, 1, 1, 1, 1, 1], z: [0, 0, 0, 0, 0, 0, 0, 0], n: 8 },
      );
      const at = m.logDensityAndGradient!(new Float64Array(1));
      // log p(b) at z = 0 is the Jacobian of b = 100 inv_logit(z) alone: log(100 / 4).
      expect(at.logp).toBeCloseTo(Math.log(25), 10);
      expect(Number.isFinite(at.grad[0])).toBe(true);
    });

  it("Stan's lmultiply (and multiply_log) of 0 and 0 is 0, as the densities' terms are", () => {
    for (const f of ['lmultiply', 'multiply_log']) {
      const m = stan(
        `parameters { real<lower=0, upper=100> b; } model { target += ${f}(0, b - 50) + ${f}(2, b / 50); }`,
      );
      // At z = 0, b = 50: 0 + 2 log 1, beside the Jacobian log(100 / 4).
      expect(m.logDensityAndGradient!(new Float64Array(1)).logp).toBeCloseTo(Math.log(25), 10);
    }
  });

  it('a count the probability rules out still gives −∞', () => {
    const m = stan(
      'data { int y; } parameters { real<lower=0, upper=100> b; } model { y ~ bernoulli(inv_logit(b)); }',
      { y: 0 },
    );
    expect(m.logDensityAndGradient!(new Float64Array(1)).logp).toBe(-Infinity);
  });
});
