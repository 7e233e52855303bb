import { describe, expect, it } from 'vitest';
import { generatedWarnings } from '../../src/inference/compare.js';
import type { Draws } from '../../src/inference/model.js';
import { Rng } from '../../src/random/rng.js';
import { declareModel } from '../../src/inference/declaredModel.js';
import { stanModel } from '../../src/stan/stanModel.js';
import { stan } from './stanTestKit.js';

/** `count` unconstrained points (standard normal), seeded: distinct draws, distinct generators. */
function points(d: number, count: number, seed = 1): Float64Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => Float64Array.from({ length: d }, () => rng.normal()));
}

/** Column `name` of `model.summarize` over the points. */
function column(model: ReturnType<typeof stan>, zs: Float64Array[], name: string): number[] {
  const k = model.summaryNames.indexOf(name);
  expect(k, name).toBeGreaterThanOrEqual(0);
  return zs.map((z) => model.summarize(z)[k]);
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const variance = (v: number[]) => {
  const m = mean(v);
  return v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
};

const ONE_PARAMETER = 'parameters { real mu; } model { mu ~ normal(0, 1); }';
const N = 4000;

describe('Stan generated quantities', () => {
  it('are reported after the parameters, the same values for the same draw', () => {
    const m = stan(`${ONE_PARAMETER}
      generated quantities {
        real y = normal_rng(mu, 1);
        array[3] int k;
        for (i in 1:3) k[i] = poisson_rng(i);
      }`);
    expect(m.summaryNames).toEqual(['mu', 'y', 'k[1]', 'k[2]', 'k[3]']);
    expect(m.generatedQuantities?.names).toEqual(['y', 'k[1]', 'k[2]', 'k[3]']);
    const [z, w] = points(1, 2);
    expect(m.summarize(z)).toEqual(m.summarize(z));
    expect(m.summarize(z)[1]).not.toBe(m.summarize(w)[1]);
    expect(m.notes).toBeUndefined();
  });

  it('a posterior-predictive draw given the parameters has its family’s exact moments', () => {
    // y ~ normal(mu, 2) given mu: over draws of mu ~ N(0, 1), y − mu is N(0, 4) whatever mu.
    // 5 standard errors (the seeds are fixed: deterministic, and far from chance).
    const m = stan(`${ONE_PARAMETER}
      generated quantities {
        real e = normal_rng(mu, 2) - mu;
        int b = binomial_rng(20, 0.25);
        real g = gamma_rng(3, 2);
      }`);
    const zs = points(1, N);
    const e = column(m, zs, 'e');
    expect(Math.abs(mean(e))).toBeLessThan(5 * Math.sqrt(4 / N));
    expect(Math.abs(variance(e) - 4)).toBeLessThan(5 * 4 * Math.sqrt(2 / N));
    const b = column(m, zs, 'b');
    expect(b.every(Number.isInteger)).toBe(true);
    expect(Math.abs(mean(b) - 5)).toBeLessThan(5 * Math.sqrt(3.75 / N));
    const g = column(m, zs, 'g');
    expect(Math.abs(mean(g) - 1.5)).toBeLessThan(5 * Math.sqrt(0.75 / N));
  });

  it('vectorised _rng calls return an array of the containers’ size', () => {
    const m = stan(
      `data { int N; vector[N] x; }
       parameters { real a; }
       model { a ~ normal(0, 1); }
       generated quantities {
         array[N] real y = normal_rng(a + x, 1e-9);
         array[N] int c = bernoulli_logit_rng(x * 1000);
       }`,
      { N: 3, x: [-1, 0.5, 2] },
    );
    const [z] = points(1, 1);
    const s = m.summarize(z);
    const a = s[0];
    // σ = 1e-9: each y is a + x to 8 digits; logits of ±500 and more: c is 0 where x < 0.
    [-1, 0.5, 2].forEach((x, i) => expect(s[1 + i]).toBeCloseTo(a + x, 6));
    expect(s.slice(4)).toEqual([0, 1, 1]);
  });

  it('multivariate draws: multi_normal_rng’s covariance, dirichlet_rng’s mean, categorical_rng’s frequencies', () => {
    const m = stan(`${ONE_PARAMETER}
      generated quantities {
        vector[2] v = multi_normal_rng([1, -1]', [[4, 1.8], [1.8, 1]]);
        vector[3] d = dirichlet_rng([1, 2, 7]');
        int c = categorical_rng([0.2, 0.5, 0.3]');
        array[3] int n = multinomial_rng([0.2, 0.5, 0.3]', 10);
        int o = ordered_logistic_rng(0.5, [-1, 1]');
      }`);
    const zs = points(1, N, 2);
    const [v1, v2] = [column(m, zs, 'v[1]'), column(m, zs, 'v[2]')];
    expect(Math.abs(mean(v1) - 1)).toBeLessThan(5 * Math.sqrt(4 / N));
    expect(Math.abs(variance(v1) - 4)).toBeLessThan(5 * 4 * Math.sqrt(2 / N));
    const cov = mean(v1.map((x, i) => (x - 1) * (v2[i] + 1)));
    // cov's se: √((σ₁²σ₂² + σ₁₂²) / n) for a bivariate normal.
    expect(Math.abs(cov - 1.8)).toBeLessThan(5 * Math.sqrt((4 + 1.8 ** 2) / N));
    // Dirichlet(1, 2, 7): E d₃ = 0.7, var = 0.7 · 0.3 / 11.
    expect(Math.abs(mean(column(m, zs, 'd[3]')) - 0.7)).toBeLessThan(5 * Math.sqrt(0.21 / 11 / N));
    const c = column(m, zs, 'c');
    [0.2, 0.5, 0.3].forEach((p, k) => {
      const f = c.filter((x) => x === k + 1).length / N;
      expect(Math.abs(f - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N));
    });
    const n = [1, 2, 3].map((k) => column(m, zs, `n[${k}]`));
    expect(zs.every((_, i) => n[0][i] + n[1][i] + n[2][i] === 10)).toBe(true);
    expect(Math.abs(mean(n[1]) - 5)).toBeLessThan(5 * Math.sqrt(2.5 / N));
    // Ordered logistic: P(o = 1) = 1 − logit⁻¹(0.5 + 1), P(o = 3) = logit⁻¹(0.5 − 1).
    const o = column(m, zs, 'o');
    const inv = (x: number) => 1 / (1 + Math.exp(-x));
    for (const [k, p] of [
      [1, 1 - inv(1.5)],
      [3, inv(-0.5)],
    ]) {
      const f = o.filter((x) => x === k).length / N;
      expect(Math.abs(f - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N));
    }
  });

  it('log_lik written with _lpdf in the block equals the density computed directly', () => {
    const y = [0.3, -1.2, 2.5];
    const m = stan(
      `data { int N; vector[N] y; }
       parameters { real mu; real<lower=0> sigma; }
       model { y ~ normal(mu, sigma); mu ~ normal(0, 5); sigma ~ exponential(1); }
       generated quantities {
         vector[N] log_lik;
         for (n in 1:N) log_lik[n] = normal_lpdf(y[n] | mu, sigma);
       }`,
      { N: 3, y },
    );
    for (const z of points(2, 3)) {
      const s = m.summarize(z);
      const [mu, sigma] = s;
      y.forEach((yn, n) =>
        expect(s[2 + n]).toBeCloseTo(
          -0.5 * ((yn - mu) / sigma) ** 2 - Math.log(sigma) - 0.5 * Math.log(2 * Math.PI),
          10,
        ),
      );
    }
  });

  it('a draw where the block fails reports NaN, and the fit warns with the count and the error; none where it runs', () => {
    const m = stan(`${ONE_PARAMETER}
      generated quantities {
        real y = normal_rng(0, mu);
        int<lower=0> c = mu > 1 ? -1 : 1;
      }`);
    const zs = points(1, 400, 3);
    const values = zs.map((z) => m.summarize(z));
    const failed = values.filter((r) => Number.isNaN(r[1])).length;
    // normal_rng's sigma must be positive: every draw with mu ≤ 0 fails; c's bound fails at mu > 1.
    expect(failed).toBe(values.filter((r) => r[0] <= 0 || r[0] > 1).length);
    expect(values.every((r) => Number.isNaN(r[1]) === Number.isNaN(r[2]))).toBe(true);
    const draws: Draws = { names: m.summaryNames, values };
    const [warning] = generatedWarnings(draws, m);
    expect(warning).toContain(`generated quantities are NaN in ${failed} of 400 draws`);
    expect(warning).toMatch(/test\.stan: generated quantities, line \d+: (normal_rng: sigma|c is)/);
    const fine = { names: m.summaryNames, values: values.filter((r) => !Number.isNaN(r[1])) };
    expect(generatedWarnings(fine, m)).toEqual([]);
  });

  it('a block avb cannot run is left out with a note naming why; the model still runs', () => {
    const m = stan(`${ONE_PARAMETER}
      generated quantities { matrix[2, 2] W = wishart_rng(3, [[1, 0], [0, 1]]); }`);
    expect(m.summaryNames).toEqual(['mu']);
    expect(m.generatedQuantities).toBeUndefined();
    expect(m.notes?.[0]).toMatch(
      /^generated quantities are not run: test\.stan: generated quantities, line 2: wishart_rng is not one of the random-number functions avb runs/,
    );
  });

  it('an _rng call in the model block is refused by name, as Stan refuses it', () => {
    expect(() =>
      stan('parameters { real mu; } model { mu ~ normal(normal_rng(0, 1), 1); }')
        .logDensityAndGradient!(new Float64Array(1)),
    ).toThrow(
      /normal_rng draws random numbers, which Stan allows in transformed data and generated quantities only/,
    );
  });

  // A program that simulates its own data: drawn once as it is read, from the run's seed.
  const SIMULATES = `
    data { int<lower=1> N; }
    transformed data {
      vector[N] y;
      for (n in 1:N) y[n] = normal_rng(3, 2);
    }
    parameters { real mu; }
    model { mu ~ normal(0, 100); y ~ normal(mu, 2); }`;

  it('_rng calls in transformed data draw once, the same data for the same seed', () => {
    const load = (seed?: number) =>
      declareModel(stanModel(SIMULATES, 'sim.stan', { N: 2000 }, { seed }));
    const z = new Float64Array([0.5]);
    const [a, b, c] = [load(7), load(7), load(8)];
    const logp = (m: typeof a) => m.logDensityAndGradient!(z).logp;
    // Read twice at one seed: the same data, so the same density to the last bit.
    expect(logp(a)).toBe(logp(b));
    expect(logp(c)).not.toBe(logp(a));
    // No seed given: seed 1, as the CLI's default --seed.
    expect(logp(load())).toBe(logp(load(1)));
  });

  it('the data transformed data draws follow the family asked for, each pass its own draw', () => {
    // The loop must not be vectorised into one draw for all N (loopVectorizer.ts): with
    // one, the sd below would be 0. Bounds: 4 standard errors of a normal sample's mean
    // (2/√2000 = 0.045) and sd (2/√(2·1999) = 0.032).
    const m = declareModel(
      stanModel(
        `${SIMULATES} generated quantities { real ybar = mean(y); real ysd = sd(y); }`,
        'sim.stan',
        { N: 2000 },
        { seed: 3 },
      ),
    );
    const [, ybar, ysd] = m.summarize(new Float64Array([0]));
    expect(Math.abs(ybar - 3)).toBeLessThan(4 * (2 / Math.sqrt(2000)));
    expect(Math.abs(ysd - 2)).toBeLessThan(4 * (2 / Math.sqrt(2 * 1999)));
  });

  it('a family’s parameter outside its domain is a Stan error naming it', () => {
    const m = stan(`${ONE_PARAMETER}
      generated quantities { real y = beta_rng(1, -2); }`);
    expect(m.notes?.[0]).toContain('beta_rng: beta is -2, outside its domain (positive)');
  });
});
