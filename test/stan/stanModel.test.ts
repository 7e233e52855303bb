import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AvbUserError } from '../../src/errors.js';
import { loadModel } from '../../src/inference/loadModel.js';
import { listPosteriors } from '../../src/experiments/posteriordb.js';
import { plannedPosteriors } from '../../src/experiments/reproduce/posteriordb.js';
import { readJsonData } from '../../src/io/jsonData.js';
import { point, same, stan } from './stanTestKit.js';
import { scratchDir } from '../scratchDir.js';

const ROOT = 'examples/posteriordb';

describe('Stan programs run directly', () => {
  // The hand translations were each checked with NUTS against posteriordb's reference draws, and
  // are written independently of the interpreter: the same log density (up to the constants a
  // translation may drop) and gradient at three points, to rounding.
  it.each(listPosteriors(ROOT).map((p) => [p.name, p] as const))(
    '%s: the shipped program matches its hand translation',
    async (_name, p) => {
      const data = readJsonData(p.dataFile, 'data');
      const hand = await loadModel(`${ROOT}/models/${p.modelName}.mjs`, undefined, data);
      const m = stan(readFileSync(p.stanFile, 'utf8'), data);
      expect(m.dim).toBe(hand.dim);
      const offsets = [0, 1, 2].map((k) => {
        const z = point(m.dim, k);
        const a = m.logDensityAndGradient!(z);
        const b = hand.logDensityAndGradient!(z);
        a.grad.forEach((g, i) => expect(g).toBeCloseTo(b.grad[i], 6));
        return a.logp - b.logp;
      });
      // One constant offset at every point (diamonds' program keeps a constant its translation drops).
      expect(offsets[1]).toBeCloseTo(offsets[0], 8);
      expect(offsets[2]).toBeCloseTo(offsets[0], 8);
      // The parameters' reported names are Stan's, as in the reference draws.
      for (const name of hand.summaryNames.slice(0, 6)) expect(m.summaryNames).toContain(name);
    },
    60_000,
  );

  it('loops, local variables, indexing, transformed parameters and matrix algebra: exact', () => {
    const source = `
      data { int N; vector[N] x; array[N] int k; matrix[2, 2] A; }
      transformed data { real xbar = mean(x); vector[N] xc = x - xbar; }
      parameters { real a; real<lower=0> s; vector[2] b; }
      transformed parameters { vector[N] eta; for (n in 1:N) eta[n] = a + s * xc[n]; }
      model {
        vector[2] Ab = A * b;
        a ~ normal(0, 2);
        target += -s;
        k ~ poisson_log(eta);
        if (N > 2) target += dot_product(Ab, b) * -0.5;
        for (j in 1:2) { if (j == 2) break; b[j] ~ normal(xbar, 1); }
      }`;
    const data = {
      N: 3,
      x: [1, 2, 4],
      k: [0, 3, 1],
      A: [
        [2, 0.5],
        [0.5, 1],
      ],
    };
    const m = stan(source, data);
    const z = point(m.dim, 0);
    const [a, logS, b0, b1] = z;
    const s = Math.exp(logS);
    const xbar = 7 / 3;
    const lgammaInt = (n: number) => Math.log([1, 1, 2, 6][n]);
    let expected = -0.5 * (a / 2) ** 2 - Math.log(2 * Math.sqrt(2 * Math.PI)) - s;
    data.x.forEach((x, n) => {
      const eta = a + s * (x - xbar);
      expected += data.k[n] * eta - Math.exp(eta) - lgammaInt(data.k[n]);
    });
    expected += -0.5 * (2 * b0 * b0 + b0 * b1 + b1 * b1);
    expected += -0.5 * (b0 - xbar) ** 2 - 0.5 * Math.log(2 * Math.PI);
    expected += logS; // the log-Jacobian of s = exp(log s)
    expect(m.logDensityAndGradient!(z).logp).toBeCloseTo(expected, 10);
    expect(m.summaryNames).toEqual(['a', 's', 'b[1]', 'b[2]', 'eta[1]', 'eta[2]', 'eta[3]']);
  });

  it('old and new syntax, GLM and multivariate forms agree with their plain equivalents', () => {
    const reg = {
      N: 3,
      K: 2,
      x: [
        [1, 0.5],
        [0.2, 1],
        [-1, 0.3],
      ],
      y: [0, 1, 1],
    };
    const head =
      'data { int N; int K; matrix[N, K] x; array[N] int y; } parameters { real a; vector[K] b; }';
    same(
      `${head} model { y ~ bernoulli_logit_glm(x, a, b); }`,
      `${head} model { for (n in 1:N) y[n] ~ bernoulli_logit(a + x[n] * b); }`,
      reg,
    );
    same(
      'parameters { real mu; real<lower=0> s; } model { increment_log_prob(normal_log(1.5, mu, s)); }',
      'parameters { real mu; real<lower=0> s; } model { target += normal_lpdf(1.5 | mu, s); }',
      {},
    );
    // A multi-index of a parameter vector (one gather node) and a loop over the points (a
    // consecutive `alpha[n]` gathered by the loop vectorizer, `alpha[g[n]]` run as written).
    const groups = { N: 5, g: [3, 1, 3, 2, 1], y: [0.3, -1.2, 0.8, 2.1, -0.4] };
    const grouped =
      'data { int N; array[N] int g; vector[N] y; } parameters { vector[3] alpha; real<lower=0> s; }';
    same(
      `${grouped} model { y ~ normal(alpha[g], s); }`,
      `${grouped} model { for (n in 1:N) y[n] ~ normal(alpha[g[n]], s); }`,
      groups,
    );
    same(
      `${grouped} model { y[1:3] ~ normal(alpha, s); }`,
      `${grouped} model { for (n in 1:3) y[n] ~ normal(alpha[n], s); }`,
      groups,
    );
    // A branch on the data splits a loop of 10 (long enough to be vectorised) into passes over
    // non-consecutive points, each gathering its elements of m.
    const ten = { y: [0.3, -1.2, 0.8, 2.1, -0.4, 1.5, -0.7, 0.2, -2.0, 0.9] };
    const split = 'data { vector[10] y; } parameters { vector[10] m; } model {';
    same(
      `${split} for (n in 1:10) { if (y[n] > 0) y[n] ~ normal(m[n], 1); else y[n] ~ normal(-m[n], 2); } }`,
      `${split} y[{1, 3, 4, 6, 8, 10}] ~ normal(m[{1, 3, 4, 6, 8, 10}], 1); y[{2, 5, 7, 9}] ~ normal(-m[{2, 5, 7, 9}], 2); }`,
      ten,
    );
    // A diagonal Cholesky factor: independent normals.
    same(
      "parameters { vector[2] v; vector<lower=0>[2] s; } model { v ~ multi_normal_cholesky([1, -1]', diag_matrix(s)); }",
      "parameters { vector[2] v; vector<lower=0>[2] s; } model { v ~ normal([1, -1]', s); }",
      {},
    );
    // An array of simplexes: each its own block, named Stan's way.
    const arr = same(
      "parameters { array[2] simplex[3] th; } model { th[1] ~ dirichlet([2, 3, 4]'); th[2] ~ dirichlet([1, 1, 5]'); }",
      "parameters { simplex[3] a; simplex[3] b; } model { a ~ dirichlet([2, 3, 4]'); b ~ dirichlet([1, 1, 5]'); }",
      {},
    );
    expect(arr.summaryNames).toEqual([
      'th[1,1]',
      'th[1,2]',
      'th[1,3]',
      'th[2,1]',
      'th[2,2]',
      'th[2,3]',
    ]);
  });

  it('names every quantity with more than one index Stan’s way, as the reference draws do', () => {
    // posteriordb's draws name matrices and arrays of vectors x[i,j]; quantities named flat
    // (x[1], x[2], ...) would match none of them and drop out of the comparison.
    const m = stan(`
      parameters { matrix[2, 3] M; array[2, 2] real a; cov_matrix[2] S; }
      transformed parameters {
        array[2] vector[3] t;
        matrix[3, 2] Mt;
        array[2, 2] real b;
        for (i in 1:2) for (j in 1:3) { t[i, j] = M[i, j]; Mt[j, i] = M[i, j]; }
        for (i in 1:2) for (j in 1:2) b[i, j] = 10 * i + j + a[i, j];
      }
      model { to_vector(M) ~ normal(0, 1); for (i in 1:2) a[i] ~ normal(0, 1); S ~ wishart(4, diag_matrix(rep_vector(1, 2))); }`);
    const names = m.summaryNames;
    expect(names.slice(0, 6)).toEqual(['M[1,1]', 'M[1,2]', 'M[1,3]', 'M[2,1]', 'M[2,2]', 'M[2,3]']);
    expect(names.slice(6, 14)).toEqual([
      'a[1,1]',
      'a[1,2]',
      'a[2,1]',
      'a[2,2]',
      'S[1,1]',
      'S[1,2]',
      'S[2,1]',
      'S[2,2]',
    ]);
    // Each name holds its own value: t[i,j] and Mt[j,i] are M[i,j]; b[i,j] is 10i + j + a[i,j].
    const v = m.summarize(point(m.dim, 1));
    const at = (name: string) => v[names.indexOf(name)];
    for (let i = 1; i <= 2; i++)
      for (let j = 1; j <= 3; j++) {
        expect(at(`t[${i},${j}]`)).toBe(at(`M[${i},${j}]`));
        expect(at(`Mt[${j},${i}]`)).toBe(at(`M[${i},${j}]`));
      }
    for (let i = 1; i <= 2; i++)
      for (let j = 1; j <= 2; j++)
        expect(at(`b[${i},${j}]`)).toBeCloseTo(10 * i + j + at(`a[${i},${j}]`), 12);
    expect(at('S[1,2]')).toBe(at('S[2,1]'));
  });

  it('a parameter with no elements is an empty constant, as in Stan (posteriordb banana at D = 2)', () => {
    // brms's `vector[Kc] b` with no predictors, banana's `vector[D - 2] y_rest`: no coordinates,
    // and statements over them add nothing.
    const data = { K: 0, X: [[], [], []], y: [0.5, -1, 2] };
    const withEmpty = same(
      `data { int K; matrix[3, K] X; vector[3] y; }
       parameters { vector[K] b; real a; array[K] real c; matrix[2, K] M; real<lower=0> s; }
       transformed parameters { vector[K] e = 2 * b; }
       model { b ~ normal(0, 1); c ~ normal(0, 1); to_vector(M) ~ normal(0, 1);
               y ~ normal(a + X * b, s); s ~ exponential(1); }`,
      `data { int K; matrix[3, K] X; vector[3] y; }
       parameters { real a; real<lower=0> s; }
       model { y ~ normal(a, s); s ~ exponential(1); }`,
      data,
    );
    expect(withEmpty.dim).toBe(2);
    expect(withEmpty.summaryNames).toEqual(['a', 's']);
  });

  it('refuses what it does not run, and bad data, in one line naming the problem', () => {
    const err = (source: string, data: unknown, pattern: RegExp) => {
      expect(() => stan(source, data)).toThrow(AvbUserError);
      expect(() => stan(source, data)).toThrow(pattern);
    };
    err(
      'functions { real f(tuple(real, real) x) { return x.1; } } parameters { real a; } model { }',
      {},
      /unknown type 'tuple' in a function's signature/,
    );
    err(
      'data { int N; } parameters { real a; } model { }',
      {},
      /data 'N' is missing from the data file/,
    );
    err(
      'data { int N; } parameters { real a; } model { }',
      null, // no --data
      /declares data \(N\); give them as a JSON object with --data FILE\.json/,
    );
    err(
      'data { vector[3] y; } parameters { real a; } model { }',
      { y: [1, 2] },
      /data 'y' must have 3 entries, got 2/,
    );
    err(
      'data { int<lower=0> N; } parameters { real a; } model { }',
      { N: -1 },
      /outside its declared lower bound/,
    );
    err(
      'parameters { array[2] corr_matrix[2] S; } model { }',
      {},
      /arrays of corr_matrix parameters of this shape are not supported yet/,
    );
    // A function it does not know is found when the density is first evaluated.
    const m = stan('parameters { real a; } model { target += owens_t(a, 1); }');
    expect(() => m.logDensityAndGradient!(new Float64Array(1))).toThrow(
      /function owens_t is not supported yet/,
    );
  });

  it('posteriordb: a posterior without a hand translation runs its Stan program, or is skipped saying why', () => {
    const dir = scratchDir('avb-stan-pdb-');
    const models = scratchDir('avb-stan-models-');
    for (const name of ['kidiq-kidscore_momhsiq', 'arK-arK'])
      cpSync(join(ROOT, name), join(dir, name), { recursive: true });
    writeFileSync(
      join(dir, 'arK-arK', 'model.stan'),
      'parameters { real a; } model { target += owens_t(a, 1); }',
    );
    const settings = { path: dir, models, methods: ['nuts' as const], seeds: [1], noncentre: true };
    const plan = plannedPosteriors(settings);
    expect(plan.run.map((p) => p.name)).toEqual(['kidiq-kidscore_momhsiq']);
    expect(plan.skipped).toEqual([
      {
        name: 'arK-arK',
        why: expect.stringMatching(
          /Stan program is not runnable by avb: .*owens_t is not supported yet/,
        ) as string,
      },
    ]);
  });
});
