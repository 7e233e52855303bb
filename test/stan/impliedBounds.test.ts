import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/inference/loadModel.js';
import { impliedSupports } from '../../src/stan/impliedBounds.js';
import { parseStan } from '../../src/stan/parser.js';
import { stanModel } from '../../src/stan/stanModel.js';
import { same, stan } from './stanTestKit.js';
import { scratchDir } from '../scratchDir.js';

const supports = (source: string) =>
  Object.fromEntries(
    [...impliedSupports(parseStan(source, 'test.stan'))].map(([name, s]) => [
      name,
      [...(s.whole ? ['whole'] : []), ...[...(s.elements?.keys() ?? [])].map((k) => `[${k}]`)].join(
        ' ',
      ),
    ]),
  );

describe('Stan: supports implied by uniform statements and truncations', () => {
  // Each program with an implied support must be the program with that support declared: the
  // same unconstrained coordinates, log density and log-Jacobian, at three points (`same`: 10
  // decimals; both run the same transforms, so only summation order could differ).
  it('declares the support of a uniform statement the program left undeclared', () => {
    // A whole scalar, one side declared: (0, 2) with lower 0 kept.
    same(
      'parameters { real<lower=0> s; } model { s ~ uniform(0, 2); }',
      'parameters { real<lower=0, upper=2> s; } model { s ~ uniform(0, 2); }',
    );
    // target += uniform_lpdf, a vector's bounds read from data.
    same(
      `data { real lo; real hi; } parameters { vector[3] x; }
        model { target += uniform_lpdf(x | lo, hi); }`,
      `data { real lo; real hi; } parameters { vector<lower=lo, upper=hi>[3] x; }
        model { target += uniform_lpdf(x | lo, hi); }`,
      { lo: -1, hi: 4 },
    );
    // A loop over all of an array, its bounds indexed by the loop (read as the vectors).
    same(
      `data { int J; vector[J] lo; vector[J] hi; } parameters { array[J] real x; }
        model { for (j in 1:J) { x[j] ~ uniform(lo[j], hi[j]); } }`,
      `data { int J; vector[J] lo; vector[J] hi; } parameters { array[J] real<lower=lo, upper=hi> x; }
        model { for (j in 1:J) { x[j] ~ uniform(lo[j], hi[j]); } }`,
      { J: 3, lo: [0, 5, -2], hi: [1, 7, 0] },
    );
    // A bound that reads an earlier parameter.
    same(
      'parameters { real a; real x; } model { a ~ normal(0, 1); x ~ uniform(a, a + 1); }',
      'parameters { real a; real<lower=a, upper=a + 1> x; } model { a ~ normal(0, 1); x ~ uniform(a, a + 1); }',
    );
    // A truncated density, one side.
    same(
      'parameters { real y; } model { y ~ normal(1, 2) T[0, ]; }',
      'parameters { real<lower=0> y; } model { y ~ normal(1, 2) T[0, ]; }',
    );
  });

  it("declares a family's support for a parameter declared without it", () => {
    // real x; x ~ gamma(2, 2): Stan rejects x < 0 (avb: -inf), so x lives on (0, inf).
    same(
      'parameters { real x; } model { x ~ gamma(2, 2); }',
      'parameters { real<lower=0> x; } model { x ~ gamma(2, 2); }',
    );
    same(
      'parameters { real p; vector[2] s; } model { target += beta_lpdf(p | 2, 3); s[2] ~ lognormal(0, 1); s[1] ~ normal(0, 1); }',
      'parameters { real<lower=0, upper=1> p; real s1; real<lower=0> s2; } model { target += beta_lpdf(p | 2, 3); s2 ~ lognormal(0, 1); s1 ~ normal(0, 1); }',
    );
    // A truncation's open side is the family's.
    same(
      'parameters { real x; } model { x ~ gamma(2, 1) T[, 5]; }',
      'parameters { real<lower=0, upper=5> x; } model { x ~ gamma(2, 1) T[, 5]; }',
    );
    // Declared as it should be: nothing to say, and the block as declared.
    const declared = stanModel(
      'parameters { vector<lower=0>[2] v; } model { v[1] ~ exponential(1); v[2] ~ gamma(2, 2); }',
      't.stan',
      {},
    );
    expect(declared.notes).toBeUndefined();
    expect(declared.parameters.v.kind).toBe('vector[2]<lower=0>');
    expect(
      stanModel(
        'parameters { real<lower=0> s; real<lower=0, upper=1> p; } model { s ~ exponential(1); p ~ beta(2, 2); }',
        't.stan',
        {},
      ).notes,
    ).toBeUndefined();
  });

  it("counts a variate outside its family's support as log density -inf, as Stan rejects it", () => {
    // Under a condition avb does not read as a bound; before, exponential's log λ - λ x was
    // finite, and grew, for x < 0 (a posterior on the whole line), and gamma's was NaN.
    for (const family of ['exponential(1)', 'gamma(2, 2)', 'lognormal(0, 1)', 'beta(2, 2)']) {
      const model = stan(`parameters { real x; } model { if (1 > 0) x ~ ${family}; }`);
      expect(model.declaration.notes, family).toBeUndefined();
      expect(model.logDensityAndGradient!(Float64Array.from([-0.5])).logp, family).toBe(-Infinity);
      expect(Number.isFinite(model.logDensityAndGradient!(Float64Array.from([0.5])).logp)).toBe(
        true,
      );
    }
    expect(
      stan('parameters { real x; } model { if (1 > 0) x ~ beta(2, 2); }').logDensityAndGradient!(
        Float64Array.from([1.5]),
      ).logp,
    ).toBe(-Infinity);
  });

  it('gives elements their own supports, the others as declared (posteriordb dogs_log)', () => {
    same(
      `parameters { vector[3] beta; }
        model { beta[1] ~ uniform(-100, 0); beta[3] ~ uniform(0, 100); beta ~ normal(0, 30); }`,
      `parameters { real<lower=-100, upper=0> b1; real b2; real<lower=0, upper=100> b3; }
        model { b1 ~ uniform(-100, 0); b3 ~ uniform(0, 100); [b1, b2, b3] ~ normal(0, 30); }`,
    );
    // A declared side is kept where the statement's is looser, replaced where it is tighter.
    same(
      'parameters { vector<lower=0>[2] v; } model { v[1] ~ uniform(-1, 3); v[2] ~ uniform(1, 2); }',
      'parameters { real<lower=0, upper=3> a; real<lower=1, upper=2> b; } model { a ~ uniform(-1, 3); b ~ uniform(1, 2); }',
    );
  });

  it('says what it declared, by name and line', () => {
    const model = stanModel(
      `parameters { vector[2] beta; real<lower=0> s; }
model { beta[1] ~ uniform(-100, 0); beta[2] ~ uniform(0, 100); s ~ uniform(0, 5); }`,
      'test.stan',
      {},
    );
    expect(model.notes).toEqual([
      'beta[1] is sampled on (-100, 0), the support its uniform statement on line 2 implies',
      'beta[2] is sampled on (0, 100), the support its uniform statement on line 2 implies',
      's is sampled on (0, 5), the support its uniform statement on line 2 implies',
    ]);
    expect(model.parameters.beta.kind).toBe('vector[2] (bounds by element)');
    // A program that needs nothing of this says nothing.
    expect(
      stanModel('parameters { real x; } model { x ~ normal(0, 1); }', 't.stan', {}).notes,
    ).toBeUndefined();
  });

  it('leaves alone what does not bound a parameter on every evaluation', () => {
    expect(
      supports(`data { int J; } parameters { real a; real b; real c; vector[J] v; real d; real e; }
        model {
          if (a > 0) b ~ uniform(0, 1);          // conditional
          for (j in 1:(J - 1)) v[j] ~ uniform(0, 1); // a loop over part of v
          { real lo = 0; c ~ uniform(lo, 1); }    // a bound read from a local variable
          d ~ uniform(0, e);                      // e is declared after d
          a ~ normal(0, 1) T[, 3];                // truncation: a is bounded
        }`),
    ).toEqual({ a: 'whole' });
    // A parameter with an offset and multiplier keeps them.
    expect(
      supports('parameters { real<offset=1, multiplier=2> x; } model { x ~ uniform(0, 5); }'),
    ).toEqual({});
    // Constant supports that cross (a density -inf everywhere) are left as written.
    const crossed = stan(
      'parameters { real<lower=1> x; } model { x ~ uniform(-1, 0); }',
    ).declaration;
    expect(crossed.parameters.x.kind).toBe('real<lower=1>');
    expect(crossed.notes).toBeUndefined();
  });

  it('makes posteriordb dogs_log finite near a corner of its box', () => {
    // dogs_log as posteriordb writes it (an unbounded vector beta under uniform priors), on the
    // simulated dogs data: before, a fit failed at once ("not finite at z = 0"); with the box
    // declared, beta never leaves it, so every unconstrained point has a density that is -inf
    // only where the logits saturate.
    const source = readFileSync('examples/stan/dogs_log.stan', 'utf8');
    const data = JSON.parse(readFileSync('examples/stan/dogs.json', 'utf8')) as unknown;
    const model = stan(source, data);
    expect(model.declaration.notes).toHaveLength(2);
    const far = model.logDensityAndGradient!(Float64Array.from([12, -12]));
    // beta = (-100 sigma(-12), 100 sigma(-12)) ~ (-6e-4, 6e-4): near 0, the box's corner.
    expect(Number.isFinite(far.logp)).toBe(true);
  });

  it('loads a program whose density is -inf at z = 0 but finite at a random start, and says so', async () => {
    // dogs_log on the simulated data: -inf at z = 0 (the box's centre) and at all 100 of Stan's
    // [-2, 2] inits, finite at 2% of starts in [-4, 4]^2 (laplace.ts).
    const data = JSON.parse(readFileSync('examples/stan/dogs.json', 'utf8')) as unknown;
    const model = await loadModel('examples/stan/dogs_log.stan', undefined, data);
    expect(model.notes?.at(-1)).toMatch(
      /^the log density is not finite at z = 0 \(-Infinity\), .*fits start from the mode search's random starts where it is finite$/,
    );
    // -inf everywhere: refused in one line.
    const nowhere = join(scratchDir('avb-implied-'), 'nowhere.stan');
    writeFileSync(nowhere, 'parameters { real x; } model { target += negative_infinity(); }');
    await expect(loadModel(nowhere, undefined, {})).rejects.toThrow(
      /log joint is not finite at z = 0 \(-Infinity\) nor at random points in \[-8, 8\]\^1, where samplers start: fix the model$/,
    );
  });
});
