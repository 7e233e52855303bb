import { describe, expect, it } from 'vitest';
import { hoistDataOnly } from '../../src/stan/hoistDataOnly.js';
import { parseStan } from '../../src/stan/parser.js';
import type { Stmt } from '../../src/stan/parser.js';
import { point, same, stan } from './stanTestKit.js';

/** posteriordb's dogs: counts from the data, filled in the transformed parameters block. */
const DOGS_DATA = 'data { int J; int T; array[J, T] int<lower=0, upper=1> y; }';
const DOGS_COUNTS = `
    for (j in 1:J) {
      n_avoid[j, 1] = 0;
      n_shock[j, 1] = 0;
      for (t in 2:T) {
        n_avoid[j, t] = n_avoid[j, t - 1] + 1 - y[j, t - 1];
        n_shock[j, t] = n_shock[j, t - 1] + y[j, t - 1];
      }`;
const DOGS = `${DOGS_DATA}
  parameters { vector[3] beta; }
  transformed parameters {
    matrix[J, T] n_avoid;
    matrix[J, T] n_shock;
    matrix[J, T] p;
    ${DOGS_COUNTS}
      for (t in 1:T) p[j, t] = beta[1] + beta[2] * n_avoid[j, t] + beta[3] * n_shock[j, t];
    }
  }
  model { beta ~ normal(0, 10); for (j in 1:J) for (t in 1:T) y[j, t] ~ bernoulli_logit(p[j, t]); }`;
/** The same with the counts moved to transformed data by hand (and still reported). */
const DOGS_BY_HAND = `${DOGS_DATA}
  transformed data {
    matrix[J, T] n_avoid;
    matrix[J, T] n_shock;
    ${DOGS_COUNTS}
    }
  }
  parameters { vector[3] beta; }
  transformed parameters {
    matrix[J, T] p;
    for (j in 1:J) for (t in 1:T) p[j, t] = beta[1] + beta[2] * n_avoid[j, t] + beta[3] * n_shock[j, t];
  }
  model { beta ~ normal(0, 10); for (j in 1:J) for (t in 1:T) y[j, t] ~ bernoulli_logit(p[j, t]); }`;
const DATA = {
  J: 3,
  T: 4,
  y: [
    [0, 1, 1, 1],
    [0, 0, 1, 1],
    [1, 0, 1, 1],
  ],
};

const block = (source: string): Stmt[] => parseStan(source, 't.stan').transformedParameters;
/** Every variable a list of statements assigns to. */
function assigned(body: Stmt[]): string[] {
  const out: string[] = [];
  const visit = (s: Stmt) => {
    if (s.s === 'assign' && s.target.e === 'index' && s.target.a.e === 'var')
      out.push(s.target.a.name);
    if (s.s === 'assign' && s.target.e === 'var') out.push(s.target.name);
    if (s.s === 'block') s.body.forEach(visit);
    if (s.s === 'for' || s.s === 'foreach' || s.s === 'while') visit(s.body);
    if (s.s === 'if') [s.then, s.else].forEach((x) => x && visit(x));
  };
  body.forEach(visit);
  return [...new Set(out)];
}

describe('transformed parameters that depend on data alone are computed once', () => {
  it('splits dogs: the counts once, the linear predictor at every evaluation', () => {
    const split = hoistDataOnly(block(DOGS), ['beta'])!;
    expect(split.names).toEqual(['n_avoid', 'n_shock']);
    expect(split.readByEach).toEqual(['n_avoid', 'n_shock']);
    expect(assigned(split.once).sort()).toEqual(['n_avoid', 'n_shock']);
    expect(assigned(split.each)).toEqual(['p']);
  });

  it('a value that reads a parameter through a condition or a loop bound is not data-only; a block that breaks is not split', () => {
    const through = (stmts: string) =>
      hoistDataOnly(block(`parameters { real b; } transformed parameters { ${stmts} }`), ['b'])
        ?.names;
    expect(through('real x = 1; real y; if (b > 0) y = 2; else y = 3;')).toEqual(['x']);
    expect(
      through(
        'vector[3] x; for (i in 1:3) x[i] = i; real s = 0; for (i in 1:(b > 0 ? 2 : 3)) s += x[i];',
      ),
    ).toEqual(['x']);
    expect(through('real y = b;')).toBeUndefined();
    expect(
      through('real x = 0; while (x < 3) { x += 1; if (x > 1) break; } real y = b * x;'),
    ).toBeUndefined();
  });

  it('dogs hoisted has the log density, gradient and reported counts of the counts written in transformed data', () => {
    const m = same(DOGS, DOGS_BY_HAND, DATA, 12);
    const byHand = stan(DOGS_BY_HAND, DATA);
    const z = point(3, 1);
    const names = m.summaryNames;
    const pAt = names.indexOf('p[2,3]');
    expect(pAt).toBeGreaterThan(0);
    expect(m.summarize(z)[pAt]).toBeCloseTo(
      byHand.summarize(z)[byHand.summaryNames.indexOf('p[2,3]')],
      12,
    );
    // The counts are reported, as written: row 3 of n_avoid is 0, 0, 1, 1.
    const avoid = [1, 2, 3, 4].map((t) => m.summarize(z)[names.indexOf(`n_avoid[3,${t}]`)]);
    expect(avoid).toEqual([0, 0, 1, 1]);
  });

  it('a data-only computation runs when the program is read: its error is reported then', () => {
    // w[N] with N = 3 is outside a vector of 2: the once-run part fails at load.
    expect(() =>
      stan(
        `data { int N; } parameters { real b; }
         transformed parameters { array[2] vector[2] w; w[1] = [1, 2]'; w[2, 1] = 3; w[2][N] = 4; real y = b * w[2, 1]; }
         model { b ~ normal(0, 1); }`,
        { N: 3 },
      ),
    ).toThrow(/index 3 is outside 1\.\.2/);
  });

  it('a variable written twice and read in between keeps the block as written', () => {
    // y reads a = 1 before a becomes 2: hoisting a (its final 2) would give y = 2 b.
    const m = stan(
      `parameters { real b; }
       transformed parameters { array[2] real a; a[1] = 1; a[2] = 0; real y = b * a[1]; a[1] = 2; }
       model { b ~ normal(0, 1); }`,
    );
    const z = Float64Array.of(0.7);
    const s = m.summarize(z);
    expect(s[m.summaryNames.indexOf('y')]).toBeCloseTo(0.7, 12);
    expect(s[m.summaryNames.indexOf('a[1]')]).toBe(2);
  });
});
