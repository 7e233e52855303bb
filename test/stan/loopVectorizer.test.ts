import { describe, expect, it } from 'vitest';
import { declareModel } from '../../src/inference/declaredModel.js';
import { vectorizedLoops } from '../../src/stan/loopVectorizer.js';
import { stanModel } from '../../src/stan/stanModel.js';
import { point } from './stanTestKit.js';

/**
 * The program with its loops run as one pass and run as written: the same log density and
 * gradient at three points (to 1e-9 relative: the pass sums the same terms in another order).
 * Returns whether any loop ran as one pass.
 */
function bothWays(source: string, data: unknown = {}): boolean {
  const fast = declareModel(stanModel(source, 'fast.stan', data));
  const slow = declareModel(stanModel(source, 'slow.stan', data, { vectorizeLoops: false }));
  const before = vectorizedLoops.passes;
  for (let k = 0; k < 3; k++) {
    const z = point(fast.dim, k);
    const [a, b] = [fast.logDensityAndGradient!(z), slow.logDensityAndGradient!(z)];
    expect(a.logp, `point ${k}`).toBeCloseTo(
      b.logp,
      9 - Math.ceil(Math.log10(Math.abs(b.logp) + 1)),
    );
    a.grad.forEach((g, i) => expect(g, `gradient ${i}`).toBeCloseTo(b.grad[i], 8));
    // Reported quantities (transformed parameters the loops assign) agree as well.
    const [sa, sb] = [fast.summarize(z), slow.summarize(z)];
    sa.forEach((v, i) => expect(v).toBeCloseTo(sb[i], 10));
  }
  return vectorizedLoops.passes > before;
}

const N = 9;
const x = Array.from({ length: N }, (_, i) => Math.cos(i) + 1.5);
const k = Array.from({ length: N }, (_, i) => i % 3);
const y = Array.from({ length: N }, (_, i) => 0.5 + (i % 4) * 0.3);
const DATA = {
  N,
  x,
  k,
  y,
  X: x.map((v, i) => [v, i, -v]),
  trials: k.map((c) => c + 2),
  b01: k.map((c) => c % 2),
};
const DATA_BLOCK = `data { int N; vector[N] x; array[N] int k; array[N] real y; matrix[N, 3] X; array[N] int trials; array[N] int b01; }`;

describe('loops over data points run as one pass', () => {
  // Each family with per-point arguments, as a loop of `~` and of `target += _lpdf`.
  it.each([
    ['normal', 'y[n] ~ normal(a + b * x[n], s);'],
    ['std_normal', 'target += std_normal_lpdf(y[n] - a);'],
    ['student_t', 'y[n] ~ student_t(3 + x[n], a, s);'],
    ['cauchy', 'target += cauchy_lpdf(y[n] | a * x[n], s);'],
    ['lognormal', 'y[n] ~ lognormal(a, s * x[n]);'],
    ['exponential', 'y[n] ~ exponential(s * x[n]);'],
    ['gamma', 'y[n] ~ gamma(s, x[n]);'],
    ['inv_gamma', 'target += inv_gamma_lupdf(y[n] | s + x[n], 2);'],
    ['beta', 'y[n] / 2 ~ beta(s, x[n]);'],
    ['chi_square', 'y[n] ~ chi_square(s + x[n]);'],
    ['double_exponential', 'y[n] ~ double_exponential(a, s * x[n]);'],
    ['logistic', 'y[n] ~ logistic(a * x[n], s);'],
    ['weibull', 'y[n] ~ weibull(s, x[n]);'],
    ['bernoulli', 'b01[n] ~ bernoulli(inv_logit(a + x[n]));'],
    ['bernoulli, of a comparison', 'k[n] > 0 ~ bernoulli(inv_logit(a + x[n]));'],
    ['bernoulli_logit', 'target += bernoulli_logit_lpmf(k[n] % 2 | a + b * x[n]);'],
    ['binomial', 'k[n] ~ binomial(trials[n], inv_logit(a * x[n]));'],
    ['binomial_logit', 'k[n] ~ binomial_logit(trials[n], a + b * X[n, 1]);'],
    ['poisson', 'k[n] ~ poisson(s * x[n]);'],
    ['poisson_log', 'k[n] ~ poisson_log(a + b * x[n]);'],
    ['neg_binomial_2', 'k[n] ~ neg_binomial_2(s * x[n], 2);'],
    ['neg_binomial_2_log', 'target += neg_binomial_2_log_lpmf(k[n] | a + x[n], s);'],
  ])('%s', (_family, statement) => {
    const source = `${DATA_BLOCK}
      parameters { real a; real b; real<lower=0> s; }
      model { a ~ normal(0, 1); b ~ normal(0, 1); s ~ gamma(2, 2); for (n in 1:N) ${statement} }`;
    const vectorized = bothWays(source, DATA);
    // A comparison (k[n] > 0) or a remainder is not element-wise arithmetic: run as written.
    expect(vectorized).toBe(!/>|%/.test(statement));
  });

  // A density combined with something else at each point is taken point by point.
  it.each([
    ['normal', 'normal_lpdf(y[n] | a + b * x[n], s)'],
    ['std_normal', 'std_normal_lpdf(y[n] - a)'],
    ['lognormal', 'lognormal_lpdf(y[n] | a, s * x[n])'],
    ['cauchy', 'cauchy_lupdf(y[n] | a * x[n], s)'],
    ['student_t', 'student_t_lpdf(y[n] | 3 + x[n], a, s)'],
    ['exponential', 'exponential_lpdf(y[n] | s * x[n])'],
    ['gamma', 'gamma_lpdf(y[n] | s, x[n])'],
    ['poisson', 'poisson_lpmf(k[n] | s * x[n])'],
    ['poisson_log', 'poisson_log_lpmf(k[n] | a + b * x[n])'],
    ['bernoulli', 'bernoulli_lpmf(b01[n] | inv_logit(a * x[n]))'],
    ['bernoulli_logit', 'bernoulli_logit_lpmf(b01[n] | a + b * x[n])'],
    ['binomial', 'binomial_lpmf(k[n] | trials[n], inv_logit(a * x[n]))'],
    ['binomial_logit', 'binomial_logit_lpmf(k[n] | trials[n], a + b * x[n])'],
  ])('%s, point by point', (_family, density) => {
    const source = `${DATA_BLOCK}
      parameters { real a; real b; real<lower=0> s; }
      model {
        a ~ normal(0, 1); b ~ normal(0, 1); s ~ gamma(2, 2);
        for (n in 1:N) target += log_sum_exp(${density}, -2 + x[n]) - 0.5 * ${density};
      }`;
    expect(bothWays(source, DATA)).toBe(true);
  });

  it('runs a mixture’s loop of log_mix as one pass (posteriordb’s low_dim_gauss_mix)', () => {
    const source = `${DATA_BLOCK}
      parameters { ordered[2] mu; array[2] real<lower=0> sigma; real<lower=0, upper=1> theta; }
      model {
        sigma ~ normal(0, 2); mu ~ normal(0, 2); theta ~ beta(5, 5);
        for (n in 1:N)
          target += log_mix(theta, normal_lpdf(y[n] | mu[1], sigma[1]), normal_lpdf(y[n] | mu[2], sigma[2]));
      }`;
    expect(bothWays(source, DATA)).toBe(true);
  });

  it('assigns vectors and arrays, whole or in part, with the values of earlier statements', () => {
    const parameters = 'parameters { real a; real<lower=0> s; vector[3] beta; }';
    expect(
      bothWays(
        `${DATA_BLOCK} ${parameters}
        transformed parameters {
          vector[N] mu;
          array[N] real m;
          mu[1] = a;
          for (n in 2:N) mu[n] = a + beta[2] * X[n, 2] - exp(beta[3] * x[n]) / (1 + n);
          for (n in 1:N) { m[n] = mu[n] * 2; m[n] += s ^ 2 + x[n]; }
        }
        model { beta ~ normal(0, 1); s ~ gamma(2, 2); for (n in 1:N) y[n] ~ normal(m[n] - mu[n], s); }`,
        DATA,
      ),
    ).toBe(true);
    // A statement reads an element before the next one assigns it: the old value, as the loop does.
    expect(
      bothWays(
        `${DATA_BLOCK} ${parameters}
        model {
          vector[N] m = rep_vector(a, N);
          for (n in 1:N) { target += normal_lpdf(y[n] | m[n], s); m[n] = beta[1] * x[n]; y[n] ~ normal(m[n], 1); }
        }`,
        DATA,
      ),
    ).toBe(true);
  });

  it('takes n at any index: rows of matrices and of two-dimensional arrays, inside an outer loop', () => {
    // posteriordb's dogs_log: p[j, t] assigned over t for each dog j, y[i, j] ~ bernoulli(p[i, j]).
    const T = 8; // a pass needs 8 points or more
    const data = {
      J: 3,
      T,
      yy: [0, 1, 2].map((j) => Array.from({ length: T }, (_, t) => (j + t) % 2)),
    };
    const source = `data { int J; int T; array[J, T] int yy; }
      parameters { vector[2] beta; }
      transformed parameters {
        matrix[J, T] p;
        array[J, T] real q;
        for (j in 1:J) for (t in 1:T) p[j, t] = inv_logit(beta[1] * t + beta[2] * yy[j, t]);
        for (j in 1:J) for (t in 1:T) q[j, t] = p[j, t] * j;
      }
      model { beta ~ normal(0, 1); for (i in 1:J) for (t in 1:T) yy[i, t] ~ bernoulli(q[i, t] / J); }`;
    expect(bothWays(source, data)).toBe(true);
    // Assigned as x[j, t] but read as x[t, j]: another element, so run as written.
    const transposed = `data { int J; int T; array[J, T] int yy; }
      parameters { vector[2] beta; }
      model {
        matrix[8, 8] x = rep_matrix(0, 8, 8);
        beta ~ normal(0, 1);
        for (j in 1:8) for (t in 1:8) { x[j, t] = beta[1] * t; target += -square(x[t, j]); }
      }`;
    expect(bothWays(transposed, data)).toBe(false);
  });

  it('leaves an index out of range to the loop as written, which names it', () => {
    const source = `${DATA_BLOCK} parameters { real a; }
      model { vector[N] m; for (n in 1:(N + 1)) m[n] = a * n; a ~ normal(0, 1); }`;
    for (const vectorizeLoops of [true, false])
      expect(() =>
        declareModel(stanModel(source, 'm.stan', DATA, { vectorizeLoops })).logDensityAndGradient!(
          Float64Array.of(0.1),
        ),
      ).toThrow(/index 10 is outside 1\.\.9/);
  });

  it('takes an index through the data (alpha[county[n]]): a parameter vector, a data array, an assigned vector', () => {
    const source = `${DATA_BLOCK} parameters { vector[3] alpha; real b; real<lower=0> s; }
      model {
        vector[N] mu;
        for (n in 1:N) mu[n] = alpha[k[n] + 1] + b * x[n];
        y ~ normal(mu, s);
        for (n in 1:N) target += normal_lpdf(alpha[k[n] + 1] | y[trials[n] - 1], s);
        alpha ~ normal(0, 2);
      }`;
    expect(bothWays(source, DATA)).toBe(true);
    // An index out of range, or one that is not integer data, is left to the loop as written.
    const outside = `${DATA_BLOCK} parameters { vector[2] alpha; }
      model { for (n in 1:N) y[n] ~ normal(alpha[k[n] + 1], 1); }`;
    for (const vectorizeLoops of [true, false])
      expect(() =>
        declareModel(stanModel(outside, 'm.stan', DATA, { vectorizeLoops })).logDensityAndGradient!(
          Float64Array.of(0.1, 0.2),
        ),
      ).toThrow(/outside 1\.\.2/);
  });

  it('adds a term free of n once per point', () => {
    const source = `${DATA_BLOCK} parameters { real a; }
      model { for (n in 1:N) target += normal_lpdf(a | 0, 1) - 0.5; }`;
    expect(bothWays(source, DATA)).toBe(true);
  });

  it('branches on the data: each branch one pass over its own points (posteriordb’s M0)', () => {
    // M0's capture-recapture loop: animals seen (k > 0) and never seen take different terms.
    const m0 = `${DATA_BLOCK}
      parameters { real<lower=0, upper=1> omega; real<lower=0, upper=1> p; }
      model {
        for (n in 1:N) {
          if (k[n] > 0) {
            target += bernoulli_lpmf(1 | omega) + binomial_lpmf(k[n] | trials[n], p);
          } else
            target += log_sum_exp(bernoulli_lpmf(1 | omega) + binomial_lpmf(0 | trials[n], p),
                                  bernoulli_lpmf(0 | omega));
        }
      }`;
    expect(bothWays(m0, DATA)).toBe(true);
    // Nested, combined and negated conditions; a branch without else; one taken by no point.
    const nested = `${DATA_BLOCK} parameters { real a; real b; real<lower=0> s; }
      model {
        for (n in 1:N) {
          if (b01[n] == 1 && x[n] > 1.2) y[n] ~ normal(a, s);
          else if (!(k[n] == 2) || n == 3) y[n] ~ normal(b * x[n], s);
          if (x[n] > 100) target += -1000 * a;
        }
      }`;
    expect(bothWays(nested, DATA)).toBe(true);
  });

  it('runs as written what one pass would change: recursions, conditions on parameters, branches that assign, vectors where scalars are assumed, integer division, short loops', () => {
    const parameters = 'parameters { real a; real<lower=0> s; vector[N] v; }';
    const cases = [
      // mu[n] reads mu[n - 1]: not a per-point computation.
      'vector[N] mu; mu[1] = a; for (n in 2:N) mu[n] = mu[n - 1] * 0.5 + x[n]; y ~ normal(mu, s);',
      // A condition on a parameter: each point's branch depends on where the sampler is.
      'for (n in 1:N) { if (a > x[n]) y[n] ~ normal(a, s); else y[n] ~ normal(0, s); }',
      // A branch in a body that assigns: a branch's points would see part of the new values.
      'vector[N] mu; for (n in 1:N) { mu[n] = a * x[n]; if (k[n] > 0) y[n] ~ normal(mu[n], s); }',
      // A branch that assigns.
      'vector[N] mu = x; for (n in 1:N) { if (k[n] > 0) mu[n] = a; } y ~ normal(mu, s);',
      // v is a vector: v * x[n] is a vector at each n, so the density sums over N at each n.
      'for (n in 1:N) y[n] ~ normal(v * x[n], s);',
      // k[n] / 2 divides integers (truncating).
      'for (n in 1:N) y[n] ~ normal(a + k[n] / 2, s);',
      // A local variable in the body.
      'for (n in 1:N) { real m = a * x[n]; y[n] ~ normal(m, s); }',
      // Under 8 passes a pass costs more than it saves.
      'for (n in 3:9) y[n] ~ normal(a * x[n], s);',
    ];
    for (const body of cases)
      expect(
        bothWays(`${DATA_BLOCK} ${parameters} model { v ~ normal(0, 1); ${body} }`, DATA),
        body,
      ).toBe(false);
  });
});
