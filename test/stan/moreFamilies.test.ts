import { describe, expect, it } from 'vitest';
import { lgamma } from '../../src/modelling/special.js';
import { logBesselI } from '../../src/stan/continuousFamilies.js';
import { point, same, stan } from './stanTestKit.js';

/**
 * The families of `continuousFamilies.ts`, `countFamilies.ts` and the multivariate ones of
 * `matrixDensities.ts`, each checked against exact answers: a density integrates (sums) to 1
 * with the mean its closed form gives, a GLM or precision form equals its plain form, and the
 * gradient in every parameter matches central differences.
 */

const EULER_GAMMA = 0.5772156649015329;
const gammaFn = (x: number) => Math.exp(lgamma(x));

interface Continuous {
  family: string;
  args: number[];
  /** The outcome's declaration: its support, as a Stan constraint. */
  support: string;
  mean: number;
}

const CONTINUOUS: Continuous[] = [
  {
    family: 'skew_normal',
    args: [0.5, 1.3, 2],
    support: 'real',
    mean: 0.5 + 1.3 * (2 / Math.sqrt(5)) * Math.sqrt(2 / Math.PI),
  },
  { family: 'gumbel', args: [0.5, 1.3], support: 'real', mean: 0.5 + 1.3 * EULER_GAMMA },
  { family: 'exp_mod_normal', args: [0.5, 1.2, 0.8], support: 'real', mean: 0.5 + 1 / 0.8 },
  { family: 'inv_chi_square', args: [5], support: 'real<lower=0>', mean: 1 / 3 },
  {
    family: 'scaled_inv_chi_square',
    args: [5, 0.7],
    support: 'real<lower=0>',
    mean: (5 * 0.49) / 3,
  },
  { family: 'pareto', args: [1.5, 3.5], support: 'real<lower=1.5>', mean: (3.5 * 1.5) / 2.5 },
  {
    family: 'pareto_type_2',
    args: [0.5, 2, 3.5],
    support: 'real<lower=0.5>',
    mean: 0.5 + 2 / 2.5,
  },
  {
    family: 'frechet',
    args: [3.5, 1.2],
    support: 'real<lower=0>',
    mean: 1.2 * gammaFn(1 - 1 / 3.5),
  },
  { family: 'rayleigh', args: [1.3], support: 'real<lower=0>', mean: 1.3 * Math.sqrt(Math.PI / 2) },
  { family: 'beta_proportion', args: [0.3, 6], support: 'real<lower=0, upper=1>', mean: 0.3 },
  {
    family: 'loglogistic',
    args: [1.5, 4],
    support: 'real<lower=0>',
    mean: (1.5 * (Math.PI / 4)) / Math.sin(Math.PI / 4),
  },
  {
    family: 'von_mises',
    args: [0.4, 2.5],
    support: 'real<lower=0.4 - pi(), upper=0.4 + pi()>',
    mean: 0.4,
  },
];

/**
 * ∫ p(y) dy and ∫ y p(y) dy by the trapezoid rule on the unconstrained line z: the program's
 * log density in z includes the Jacobian of y(z), so ∫ e^{logp(z)} dz is ∫ p(y) dy. The
 * integrands are smooth and vanish at both ends of [-40, 40], where the trapezoid rule converges
 * faster than any power of the step; 1e-6 leaves room for the tails cut off.
 */
function moments(c: Continuous) {
  const params = c.args.map((_, i) => `p${i}`);
  const m = stan(
    `data { ${params.map((p) => `real ${p};`).join(' ')} }
     parameters { ${c.support} y; }
     model { y ~ ${c.family}(${params.join(', ')}); }`,
    Object.fromEntries(params.map((p, i) => [p, c.args[i]])),
  );
  const h = 0.005;
  let [mass, first] = [0, 0];
  for (let z = -40; z <= 40; z += h) {
    const density = Math.exp(m.logDensityAndGradient!(Float64Array.of(z)).logp);
    mass += density * h;
    first += density * h * m.summarize(Float64Array.of(z))[0];
  }
  return { mass, mean: first / mass };
}

/** Largest relative gap between the gradient and central differences at `z`. */
function gradientGap(m: ReturnType<typeof stan>, z: Float64Array): number {
  const { grad } = m.logDensityAndGradient!(z);
  let worst = 0;
  for (let i = 0; i < z.length; i++) {
    const h = 1e-6;
    const [up, down] = [z.slice(), z.slice()];
    up[i] += h;
    down[i] -= h;
    const fd = (m.logDensityAndGradient!(up).logp - m.logDensityAndGradient!(down).logp) / (2 * h);
    worst = Math.max(worst, Math.abs(fd - grad[i]) / (1 + Math.abs(fd)));
  }
  return worst;
}

describe('Stan continuous families beyond the common ones', () => {
  for (const c of CONTINUOUS) {
    it(`${c.family} integrates to 1 with mean ${c.mean.toFixed(4)}, gradient in every argument`, () => {
      const { mass, mean } = moments(c);
      expect(mass).toBeCloseTo(1, 6);
      expect(mean).toBeCloseTo(c.mean, 5);
      // Every argument a parameter (positive where the family needs it), the outcome data.
      const params = c.args.map((_, i) => `p${i}`);
      const decl = c.args.map((a, i) =>
        c.family === 'beta_proportion' && i === 0
          ? `real<lower=0, upper=1> p${i};`
          : a > 0
            ? `real<lower=0> p${i};`
            : `real p${i};`,
      );
      const y = c.family === 'pareto' || c.family === 'pareto_type_2' ? 2.7 : c.mean;
      const m = stan(
        `data { real y; } parameters { ${decl.join(' ')} }
         model { y ~ ${c.family}(${params.join(', ')}); }`,
        { y },
      );
      // Central differences of a smooth function at step 1e-6 agree to ~1e-8; 1e-6 is slack.
      expect(gradientGap(m, point(m.dim, 1))).toBeLessThan(1e-6);
    });
  }

  it('von_mises: log I0 and log I1 match their series and large-argument asymptotics', () => {
    // I0(1) and I1(1) to 16 digits (Abramowitz & Stegun table 9.8).
    expect(Math.exp(logBesselI(0, 1))).toBeCloseTo(1.2660658777520082, 12);
    expect(Math.exp(logBesselI(1, 1))).toBeCloseTo(0.5651591039924851, 12);
    // I_nu(x) ~ e^x / sqrt(2 pi x) (1 - (4 nu^2 - 1) / (8x)) for large x: at x = 500 the next
    // term is ~1e-6 relative.
    for (const nu of [0, 1] as const) {
      const x = 500;
      const asymptotic =
        x - 0.5 * Math.log(2 * Math.PI * x) + Math.log1p(-(4 * nu * nu - 1) / (8 * x));
      expect(logBesselI(nu, x)).toBeCloseTo(asymptotic, 5);
    }
  });

  it('vectorised forms sum the terms of each element', () => {
    for (const [family, args] of [
      ['gumbel', 'a, b'],
      ['skew_normal', 'a, b, 1.5'],
      ['frechet', 'b, b + 1'],
    ]) {
      same(
        `data { vector[3] y; } parameters { real a; real<lower=0> b; }
         model { y ~ ${family}(${args}); }`,
        `data { vector[3] y; } parameters { real a; real<lower=0> b; }
         model { ${[1, 2, 3].map((n) => `target += ${family}_lpdf(y[${n}] | ${args});`).join(' ')} }`,
        { y: [0.3, 1.7, 2.2] },
      );
    }
  });

  it('a pareto outcome below its minimum has log density -Infinity', () => {
    const m = stan('data { real y; } parameters { real<lower=0> a; } model { y ~ pareto(2, a); }', {
      y: 1.5,
    });
    expect(m.logDensityAndGradient!(Float64Array.of(0.1)).logp).toBe(-Infinity);
  });
});

/**
 * The probability a program gives its data: its log density at u = 0 less u's std_normal term
 * (-log sqrt(2 pi)), u being there so that the program has a parameter.
 */
function probabilityOf(body: string, data: unknown): number {
  const m = stan(`${body.replace('model {', 'model { u ~ std_normal();')}`, data);
  return Math.exp(m.logDensityAndGradient!(Float64Array.of(0)).logp + 0.5 * Math.log(2 * Math.PI));
}

/** Σ_k p(k) and Σ_k k p(k) of a one-outcome program `family` over the outcomes `support`. */
function sums(family: string, args: string, support: number[], truncation = '') {
  let [mass, first] = [0, 0];
  for (const k of support) {
    const p = probabilityOf(
      `data { int k; } parameters { real u; } model { k ~ ${family}(${args}) ${truncation}; }`,
      { k },
    );
    mass += p;
    first += k * p;
  }
  return { mass, mean: first / mass };
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Every vector of `parts` non-negative counts summing to n. */
function compositions(n: number, parts: number): number[][] {
  if (parts === 1) return [[n]];
  return range(0, n).flatMap((k) => compositions(n - k, parts - 1).map((rest) => [k, ...rest]));
}

/** Σ p(y) and Σ y p(y) over the compositions of n into 3 counts, for `y ~ family(args)`. */
function compositionMoments(family: string, args: string, n: number) {
  let mass = 0;
  const mean = [0, 0, 0];
  for (const y of compositions(n, 3)) {
    const p = probabilityOf(
      `data { array[3] int y; } parameters { real u; } model { y ~ ${family}(${args}); }`,
      { y },
    );
    mass += p;
    y.forEach((v, i) => (mean[i] += v * p));
  }
  return { mass, mean };
}

describe('Stan count and ordinal families beyond the common ones', () => {
  it('beta_binomial sums to 1 over 0..N with mean N a / (a + b); gradient', () => {
    const { mass, mean } = sums('beta_binomial', '12, 2.5, 1.5', range(0, 12));
    expect(mass).toBeCloseTo(1, 12);
    expect(mean).toBeCloseTo((12 * 2.5) / 4, 10);
    const m = stan(
      'data { int k; } parameters { real<lower=0> a; real<lower=0> b; } model { k ~ beta_binomial(12, a, b); }',
      { k: 5 },
    );
    expect(gradientGap(m, point(2, 1))).toBeLessThan(1e-6);
  });

  it('beta_binomial and neg_binomial vectorise over outcomes', () => {
    same(
      `data { array[3] int k; } parameters { real<lower=0> a; real<lower=0> b; }
       model { k ~ beta_binomial(9, a, b); k ~ neg_binomial(a, b); }`,
      `data { array[3] int k; } parameters { real<lower=0> a; real<lower=0> b; }
       model { ${[1, 2, 3].map((n) => `k[${n}] ~ beta_binomial(9, a, b); k[${n}] ~ neg_binomial(a, b);`).join(' ')} }`,
      { k: [0, 4, 9] },
    );
  });

  it('neg_binomial sums to 1 with mean a / b; gradient', () => {
    // Variance a (b + 1) / b^2 = 7: the mass beyond 400 is below 1e-40.
    const { mass, mean } = sums('neg_binomial', '2.5, 0.8', range(0, 400));
    expect(mass).toBeCloseTo(1, 10);
    expect(mean).toBeCloseTo(2.5 / 0.8, 8);
    const m = stan(
      'data { int k; } parameters { real<lower=0> a; real<lower=0> b; } model { k ~ neg_binomial(a, b); }',
      { k: 3 },
    );
    expect(gradientGap(m, point(2, 1))).toBeLessThan(1e-6);
  });

  for (const [family, cdf] of [
    ['ordered_logistic', (x: number) => 1 / (1 + Math.exp(-x))],
    ['ordered_probit', (x: number) => 0.5 * (1 + erf(x / Math.SQRT2))],
  ] as const) {
    it(`${family}: P(k) = F(eta - c[k-1]) - F(eta - c[k]), summing to 1; gradient`, () => {
      const [eta, c] = [0.3, [-1, 0.5, 2]];
      const F = (j: number) => (j === 0 ? 1 : j === 4 ? 0 : cdf(eta - c[j - 1]));
      let mass = 0;
      for (const k of range(1, 4)) {
        const p = probabilityOf(
          `data { int k; } parameters { real u; } model { k ~ ${family}(${eta}, [-1, 0.5, 2]'); }`,
          { k },
        );
        expect(p).toBeCloseTo(F(k - 1) - F(k), 7);
        mass += p;
      }
      expect(mass).toBeCloseTo(1, 7);
      // Outcomes of every category, a predictor per outcome, cutpoints as parameters.
      const m = stan(
        `data { array[4] int k; vector[4] x; }
         parameters { real b; ordered[3] c; }
         model { k ~ ${family}(x * b, c); }`,
        { k: [1, 2, 3, 4], x: [0.5, -1, 2, 0.1] },
      );
      expect(gradientGap(m, point(4, 1))).toBeLessThan(1e-6);
    });
  }

  it('multinomial sums to 1 over the compositions of N with mean N theta; multinomial_logit is its softmax form', () => {
    const theta = [0.2, 0.5, 0.3];
    const { mass, mean } = compositionMoments('multinomial', "[0.2, 0.5, 0.3]'", 5);
    expect(mass).toBeCloseTo(1, 12);
    mean.forEach((v, i) => expect(v).toBeCloseTo(5 * theta[i], 10));
    same(
      'data { array[3] int y; } parameters { vector[3] g; } model { g ~ normal(0, 1); y ~ multinomial_logit(g); }',
      'data { array[3] int y; } parameters { vector[3] g; } model { g ~ normal(0, 1); y ~ multinomial(softmax(g)); }',
      { y: [2, 0, 3] },
    );
  });

  it('dirichlet_multinomial sums to 1 over the compositions of N with mean N alpha / sum(alpha); gradient', () => {
    const alpha = [1.5, 0.5, 2];
    const { mass, mean } = compositionMoments('dirichlet_multinomial', "[1.5, 0.5, 2]'", 5);
    expect(mass).toBeCloseTo(1, 12);
    mean.forEach((v, i) => expect(v).toBeCloseTo((5 * alpha[i]) / 4, 10));
    const m = stan(
      'data { array[3] int y; } parameters { vector<lower=0>[3] a; } model { y ~ dirichlet_multinomial(a); }',
      { y: [2, 0, 3] },
    );
    expect(gradientGap(m, point(3, 1))).toBeLessThan(1e-6);
  });

  it('the GLM forms equal their plain forms', () => {
    const data = {
      y: [3, 0, 7],
      n: [5, 4, 9],
      x: [
        [0.5, 1],
        [-1, 0.2],
        [2, -0.3],
      ],
    };
    same(
      `data { array[3] int y; matrix[3, 2] x; } parameters { real a; vector[2] b; real<lower=0> phi; }
       model { y ~ neg_binomial_2_log_glm(x, a, b, phi); }`,
      `data { array[3] int y; matrix[3, 2] x; } parameters { real a; vector[2] b; real<lower=0> phi; }
       model { y ~ neg_binomial_2_log(a + x * b, phi); }`,
      data,
    );
    same(
      `data { array[3] int y; array[3] int n; matrix[3, 2] x; } parameters { real a; vector[2] b; }
       model { y ~ binomial_logit_glm(n, x, a, b); }`,
      `data { array[3] int y; array[3] int n; matrix[3, 2] x; } parameters { real a; vector[2] b; }
       model { y ~ binomial_logit(n, a + x * b); }`,
      data,
    );
  });
});

describe('Stan multivariate families beyond the normal', () => {
  it('multi_normal_prec(mu, Omega) equals multi_normal(mu, inverse(Omega))', () => {
    same(
      `data { array[2] vector[3] y; } parameters { vector[3] mu; cov_matrix[3] W; }
       model { W ~ wishart(5, diag_matrix(rep_vector(1, 3))); y ~ multi_normal_prec(mu, W); }`,
      `data { array[2] vector[3] y; } parameters { vector[3] mu; cov_matrix[3] W; }
       model { W ~ wishart(5, diag_matrix(rep_vector(1, 3))); y ~ multi_normal(mu, inverse(W)); }`,
      {
        y: [
          [0.1, -0.5, 1.2],
          [1, 0.3, -0.2],
        ],
      },
      8,
    );
  });

  it('multi_student_t is student_t in one dimension and the textbook density in two', () => {
    same(
      `data { vector[1] y; } parameters { real<lower=0> nu; real mu; real<lower=0> s; }
       model { y ~ multi_student_t(nu, rep_vector(mu, 1), diag_matrix(rep_vector(square(s), 1))); }`,
      `data { vector[1] y; } parameters { real<lower=0> nu; real mu; real<lower=0> s; }
       model { y[1] ~ student_t(nu, mu, s); }`,
      { y: [0.7] },
    );
    // Two dimensions, nu = 4, Sigma = [[2, 0.6], [0.6, 1]], by the explicit inverse and determinant.
    const [nu, y, mu] = [4, [0.9, -0.4], [0.2, 0.1]];
    const det = 2 * 1 - 0.6 * 0.6;
    const [dx, dy] = [y[0] - mu[0], y[1] - mu[1]];
    const q = (1 * dx * dx - 2 * 0.6 * dx * dy + 2 * dy * dy) / det;
    const expected =
      lgamma((nu + 2) / 2) -
      lgamma(nu / 2) -
      Math.log(nu * Math.PI) -
      0.5 * Math.log(det) -
      ((nu + 2) / 2) * Math.log1p(q / nu);
    const m = stan(
      `data { vector[2] y; matrix[2, 2] S; } parameters { real u; }
       model { u ~ std_normal(); y ~ multi_student_t(4, [0.2, 0.1]', S); }`,
      {
        y,
        S: [
          [2, 0.6],
          [0.6, 1],
        ],
      },
    );
    const logp = m.logDensityAndGradient!(Float64Array.of(0)).logp + 0.5 * Math.log(2 * Math.PI);
    expect(logp).toBeCloseTo(expected, 12);
  });
});

/** erf by its Maclaurin series (|x| ≤ 3 here: 60 terms reach 1e-15). */
function erf(x: number): number {
  let [term, sum] = [x, x];
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

describe('Stan truncated discrete families', () => {
  it('a zero-truncated poisson is the poisson less log(1 - e^-lambda), one rate per outcome', () => {
    same(
      `data { array[3] int y; } parameters { vector<lower=0>[3] l; }
       model { l ~ gamma(2, 1); y ~ poisson(l) T[1, ]; }`,
      `data { array[3] int y; } parameters { vector<lower=0>[3] l; }
       model { l ~ gamma(2, 1); y ~ poisson(l); target += -sum(log1m(exp(-l))); }`,
      { y: [1, 4, 2] },
    );
  });

  it('truncated to [L, U] or [, U], the mass sums to 1 over the bounds; outside it is -Infinity', () => {
    for (const [family, args, bounds, support] of [
      ['neg_binomial_2', '3.5, 2.2', 'T[2, 6]', range(2, 6)],
      ['binomial', '10, 0.35', 'T[, 5]', range(0, 5)],
      ['beta_binomial', '12, 2.5, 1.5', 'T[3, ]', range(3, 12)],
    ] as const) {
      const { mass } = sums(family, args, support, bounds);
      expect(mass, family).toBeCloseTo(1, 10);
    }
    const m = stan(
      'data { int k; } parameters { real<lower=0> l; } model { k ~ poisson(l) T[1, 4]; }',
      { k: 6 },
    );
    expect(m.logDensityAndGradient!(Float64Array.of(0.2)).logp).toBe(-Infinity);
  });

  it('the normaliser is differentiable in every argument', () => {
    const m = stan(
      `data { array[2] int y; } parameters { real<lower=0> mu; real<lower=0> phi; }
       model { y ~ neg_binomial_2(mu, phi) T[1, 8]; }`,
      { y: [3, 8] },
    );
    expect(gradientGap(m, point(2, 1))).toBeLessThan(1e-6);
  });

  it('bounds that are parameters or not integers are refused with the reason', () => {
    const refused = (program: string, data: unknown, message: RegExp) =>
      expect(() => stan(program, data).logDensityAndGradient!(Float64Array.of(0.1))).toThrow(
        message,
      );
    refused(
      'data { int k; } parameters { real<lower=0> l; } model { k ~ poisson(l) T[0, l]; }',
      { k: 1 },
      /bounds of poisson must be data/,
    );
    refused(
      'data { int k; } parameters { real<lower=0> l; } model { k ~ poisson(l) T[0.5, ]; }',
      { k: 1 },
      /bounds of poisson must be integers/,
    );
  });
});

describe('Stan ordered regression: what is refused', () => {
  it('cutpoints per outcome (an array of vectors) are refused, not run together', () => {
    const m = stan(
      `data { array[2] int k; } parameters { real b; array[2] ordered[2] c; }
       model { k ~ ordered_logistic([b, b]', c); }`,
      { k: [1, 3] },
    );
    expect(() => m.logDensityAndGradient!(point(m.dim, 1))).toThrow(
      /cutpoints per outcome is not supported yet/,
    );
  });
});

describe('Stan ordered regression: cutpoints out of order', () => {
  it('are a point of zero density when they are parameters, and an error when they are data', () => {
    const m = stan(
      'data { int k; } parameters { vector[2] c; } model { k ~ ordered_logistic(0.2, c); }',
      { k: 2 },
    );
    expect(m.logDensityAndGradient!(Float64Array.of(1, -1)).logp).toBe(-Infinity);
    expect(Number.isFinite(m.logDensityAndGradient!(Float64Array.of(-1, 1)).logp)).toBe(true);
    const d = stan(
      'data { int k; vector[2] c; } parameters { real b; } model { k ~ ordered_logistic(b, c); }',
      { k: 2, c: [1, -1] },
    );
    expect(() => d.logDensityAndGradient!(Float64Array.of(0))).toThrow(
      /cutpoints must be ascending/,
    );
  });
});
