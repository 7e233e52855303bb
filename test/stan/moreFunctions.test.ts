import { describe, expect, it } from 'vitest';
import { lgamma } from '../../src/modelling/special.js';
import { point, same, stan } from './stanTestKit.js';

/**
 * The functions of `moreFunctions.ts`, the two-argument `log_mix` and matrix literals, each
 * against an independent computation: the same quantity written with Stan's basic operations,
 * or its defining identity (Q R = A with Q orthonormal).
 */

/** The value of a one-parameter program at u = 0 (its std_normal term added back). */
function valueOf(program: string, data: unknown = {}): number {
  const m = stan(`${program.replace('model {', 'model { u ~ std_normal();')}`, data);
  return m.logDensityAndGradient!(Float64Array.of(0)).logp + 0.5 * Math.log(2 * Math.PI);
}

describe('Stan functions beyond the common ones', () => {
  it('a matrix literal [[a, b], [c, d]] is a matrix, row by row', () => {
    same(
      'parameters { real x; } model { matrix[2, 2] m = [[1, x], [3, 4]]; target += -square(m[1, 2]) + m[2, 1]; }',
      'parameters { real x; } model { target += -square(x) + 3; }',
    );
    expect(() =>
      stan('parameters { real x; } model { matrix[2, 2] m = [[1, x], [3]]; }')
        .logDensityAndGradient!(Float64Array.of(0)),
    ).toThrow(/rows of a matrix literal must have the same size/);
  });

  it("[a', b']' builds an N × 2 matrix of predictors from two vectors (posteriordb's wells models)", () => {
    const data = { N: 3, y: [0, 1, 1], d: [10, 50, 100], a: [1, 2, 3] };
    same(
      `data { int N; array[N] int y; vector[N] d; vector[N] a; }
       transformed data { matrix[N, 2] x = [d' / 100, a']'; }
       parameters { real alpha; vector[2] beta; }
       model { y ~ bernoulli_logit_glm(x, alpha, beta); }`,
      `data { int N; array[N] int y; vector[N] d; vector[N] a; }
       parameters { real alpha; vector[2] beta; }
       model { for (n in 1:N) y[n] ~ bernoulli_logit(alpha + d[n] / 100 * beta[1] + a[n] * beta[2]); }`,
      data,
    );
  });

  it('log_mix(thetas, lps) is the log of the mixture, as its two-component form', () => {
    same(
      `parameters { real x; simplex[2] w; }
       model { target += log_mix(w, [normal_lpdf(x | 0, 1), normal_lpdf(x | 2, 0.5)]'); }`,
      `parameters { real x; simplex[2] w; }
       model { target += log_mix(w[1], normal_lpdf(x | 0, 1), normal_lpdf(x | 2, 0.5)); }`,
    );
  });

  it('log1m_exp(x) is log(1 - exp(x)), accurate near 0 and far below', () => {
    same(
      'parameters { real<upper=0> x; } model { target += log1m_exp(x) + x; }',
      'parameters { real<upper=0> x; } model { target += log1m(exp(x)) + x; }',
    );
    // log(1 - e^-1e-10) = log(1e-10 - 5e-21 ...): plain log1m(exp(x)) loses digits there.
    expect(valueOf('parameters { real u; } model { target += log1m_exp(-1e-10); }')).toBeCloseTo(
      Math.log(1e-10),
      8,
    );
  });

  it('qr_thin_Q and qr_thin_R: Q R = A, Q orthonormal, R upper-triangular with a positive diagonal; differentiable', () => {
    const a = [
      [1, 2],
      [3, -4],
      [5, 6.5],
    ];
    const cell = (f: string, i: number, j: number) =>
      valueOf(
        `data { matrix[3, 2] A; } parameters { real u; } model { target += ${f}(A)[${i}, ${j}]; }`,
        { A: a },
      );
    const Q = [1, 2, 3].map((i) => [1, 2].map((j) => cell('qr_thin_Q', i, j)));
    const R = [1, 2].map((i) => [1, 2].map((j) => cell('qr_thin_R', i, j)));
    expect(R[1][0]).toBe(0);
    expect(R[0][0]).toBeGreaterThan(0);
    expect(R[1][1]).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 2; j++)
        expect(Q[i][0] * R[0][j] + Q[i][1] * R[1][j]).toBeCloseTo(a[i][j], 12);
    for (let j = 0; j < 2; j++)
      for (let k = 0; k < 2; k++)
        expect(Q.reduce((s, row) => s + row[j] * row[k], 0)).toBeCloseTo(j === k ? 1 : 0, 12);
    // A parameter inside A: R[1, 1] is the first column's length, here x.
    same(
      'parameters { real<lower=0> x; } model { target += qr_thin_R([[x, 1], [0, 2]])[1, 1] - x^2; }',
      'parameters { real<lower=0> x; } model { target += x - x^2; }',
    );
  });

  it('the Matérn, exponential and periodic kernels equal their formulas written out', () => {
    const x = { x: [0.1, 0.9, 2.3] };
    const kernels: [string, string][] = [
      ['gp_exponential_cov(x, a, l)', 'square(a) * exp(-d / l)'],
      ['gp_matern32_cov(x, a, l)', 'square(a) * (1 + sqrt(3) * d / l) * exp(-sqrt(3) * d / l)'],
      [
        'gp_matern52_cov(x, a, l)',
        'square(a) * (1 + sqrt(5) * d / l + 5 * square(d) / (3 * square(l))) * exp(-sqrt(5) * d / l)',
      ],
      [
        'gp_periodic_cov(x, a, l, 1.7)',
        'square(a) * exp(-2 * square(sin(pi() * d / 1.7)) / square(l))',
      ],
    ];
    for (const [call, formula] of kernels) {
      same(
        `data { array[3] real x; } parameters { real<lower=0> a; real<lower=0> l; }
         model { matrix[3, 3] K = ${call}; target += -sum(K) + log_determinant(K + diag_matrix(rep_vector(0.1, 3))); }`,
        `data { array[3] real x; } parameters { real<lower=0> a; real<lower=0> l; }
         model { matrix[3, 3] K;
           for (i in 1:3) for (j in 1:3) { real d = abs(x[i] - x[j]); K[i, j] = ${formula}; }
           target += -sum(K) + log_determinant(K + diag_matrix(rep_vector(0.1, 3))); }`,
        x,
        9,
      );
    }
  });

  it('gp_dot_prod_cov of reals, of vectors and between two sets is σ² plus the dot products of the points', () => {
    // posteriordb's birthday2_6_28 sums gp_dot_prod_cov(I_ss, sigma) of indicator vectors.
    const data = {
      x: [0.1, 0.9, 2.3],
      v: [
        [1, 0.5],
        [0, 2],
        [-1, 1],
      ],
      w: [
        [0.3, 0.3],
        [1.2, -0.4],
      ],
    };
    const decls = `data { array[3] real x; array[3] vector[2] v; array[2] vector[2] w; }
      parameters { real<lower=0> s; }`;
    same(
      `${decls} model { target += log_determinant(add_diag(gp_dot_prod_cov(x, s), 0.5))
         + log_determinant(add_diag(gp_dot_prod_cov(v, s), 0.5)) - sum(gp_dot_prod_cov(v, w, s)); }`,
      `${decls} model { matrix[3, 3] K; matrix[3, 3] V; matrix[3, 2] C;
         for (i in 1:3) {
           for (j in 1:3) { K[i, j] = square(s) + x[i] * x[j]; V[i, j] = square(s) + dot_product(v[i], v[j]); }
           for (j in 1:2) C[i, j] = square(s) + dot_product(v[i], w[j]);
         }
         target += log_determinant(add_diag(K, 0.5)) + log_determinant(add_diag(V, 0.5)) - sum(C); }`,
      data,
      9,
    );
  });

  it('gp_exp_quad_cov of points in 2-D, with one length scale or one per dimension (ARD), and between two sets, equals its formula written out', () => {
    // posteriordb's loggaussian_survival_gp: vector[D] x[N] and real length_scale[D].
    const data = {
      x: [
        [0.1, 0.2],
        [0.5, 0.1],
        [0.9, 0.7],
      ],
      x2: [
        [0.3, 0.3],
        [1.2, -0.4],
      ],
    };
    const decls = `data { array[3] vector[2] x; array[2] vector[2] x2; }
      parameters { real<lower=0> a; array[2] real<lower=0> l; real<lower=0> r; }`;
    same(
      `${decls} model { matrix[3, 3] K = gp_exp_quad_cov(x, a, l); matrix[3, 3] S = gp_exp_quad_cov(x, a, r);
         matrix[3, 2] C = gp_exp_quad_cov(x, x2, a, l);
         target += log_determinant(add_diag(K, 0.1)) + log_determinant(add_diag(S, 0.2)) - sum(C); }`,
      `${decls} model { matrix[3, 3] K; matrix[3, 3] S; matrix[3, 2] C;
         for (i in 1:3) {
           for (j in 1:3) {
             K[i, j] = square(a) * exp(-square(x[i, 1] - x[j, 1]) / (2 * square(l[1])) - square(x[i, 2] - x[j, 2]) / (2 * square(l[2])));
             S[i, j] = square(a) * exp(-squared_distance(x[i], x[j]) / (2 * square(r)));
           }
           for (j in 1:2)
             C[i, j] = square(a) * exp(-square(x[i, 1] - x2[j, 1]) / (2 * square(l[1])) - square(x[i, 2] - x2[j, 2]) / (2 * square(l[2])));
         }
         target += log_determinant(add_diag(K, 0.1)) + log_determinant(add_diag(S, 0.2)) - sum(C); }`,
      data,
      9,
    );
    expect(
      valueOf(
        "parameters { real u; } model { target += distance([3, 4]', [0, 0]') + squared_distance(1.5, -0.5); }",
      ),
    ).toBeCloseTo(5 + 4, 12);
    expect(() =>
      stan(
        'data { array[3] vector[2] x; } parameters { real<lower=0> a; array[3] real<lower=0> l; } model { target += sum(gp_exp_quad_cov(x, a, l)); }',
        { x: data.x },
      ).logDensityAndGradient!(point(4, 0)),
    ).toThrow(/3 length scales for points of 2 dimensions/);
  });

  it('matrix_power, trace_quad_form, norms, lmgamma, beta, the factorials and binary_log_loss equal their definitions', () => {
    same(
      `parameters { real x; } model { matrix[2, 2] A = [[1, x], [0.5, 2]];
         target += sum(matrix_power(A, 3)) + trace_quad_form(A, [[1, 2], [x, 1]]) - x^4; }`,
      `parameters { real x; } model { matrix[2, 2] A = [[1, x], [0.5, 2]]; matrix[2, 2] B = [[1, 2], [x, 1]];
         target += sum(A * A * A) + trace(B' * A * B) - x^4; }`,
    );
    same(
      'parameters { vector[3] v; } model { target += -norm2(v) - norm1(v) - dot_self(v); }',
      'parameters { vector[3] v; } model { target += -sqrt(dot_self(v)) - sum(fabs(v)) - dot_self(v); }',
    );
    expect(valueOf('parameters { real u; } model { target += lmgamma(3, 2.5); }')).toBeCloseTo(
      ((3 * 2) / 4) * Math.log(Math.PI) + lgamma(2.5) + lgamma(2) + lgamma(1.5),
      12,
    );
    // B(2, 3) = 1/12; 5!/3! = 20; 2 * 3 * 4 = 24.
    expect(valueOf('parameters { real u; } model { target += beta(2, 3); }')).toBeCloseTo(
      1 / 12,
      12,
    );
    expect(
      valueOf('parameters { real u; } model { target += falling_factorial(5, 2); }'),
    ).toBeCloseTo(20, 10);
    expect(
      valueOf('parameters { real u; } model { target += rising_factorial(2, 3); }'),
    ).toBeCloseTo(24, 10);
    same(
      'parameters { real<lower=0, upper=1> p; } model { target += -binary_log_loss(1, p) - binary_log_loss(0, p); }',
      'parameters { real<lower=0, upper=1> p; } model { target += log(p) + log1m(p); }',
    );
  });

  it('csr_matrix_times_vector is the dense product', () => {
    // [[1, 0, 2], [0, 3, 0]] in compressed rows.
    same(
      `parameters { vector[3] b; }
       model { target += -dot_self(csr_matrix_times_vector(2, 3, [1, 2, 3]', {1, 3, 2}, {1, 3, 4}, b)); }`,
      `parameters { vector[3] b; }
       model { target += -dot_self([[1, 0, 2], [0, 3, 0]] * b); }`,
    );
    const m = stan(
      "parameters { vector[3] b; } model { target += sum(csr_matrix_times_vector(2, 3, [1, 2, 3]', {1, 4, 2}, {1, 3, 4}, b)); }",
    );
    expect(() => m.logDensityAndGradient!(point(3, 1))).toThrow(/column 4 is outside 1..3/);
  });
});

describe('Stan parameter types sum_to_zero_vector (and unit_vector, refused)', () => {
  it('x ~ normal(0, 1) on a sum_to_zero_vector is the standard normal of its free coordinates', () => {
    // The isometric map makes log p(u) = -|x|^2/2 = -|u|^2/2 exactly (up to a constant).
    const m = stan('parameters { sum_to_zero_vector[4] x; } model { x ~ normal(0, 1); }');
    expect(m.dim).toBe(3);
    const base = m.logDensityAndGradient!(new Float64Array(3)).logp;
    const u = point(3, 2);
    const { logp, grad } = m.logDensityAndGradient!(u);
    expect(logp - base).toBeCloseTo(-0.5 * u.reduce((s, v) => s + v * v, 0), 12);
    grad.forEach((g, i) => expect(g).toBeCloseTo(-u[i], 12));
    expect(m.summarize(u).reduce((a, b) => a + b, 0)).toBeCloseTo(0, 12);
  });

  it('a unit_vector is refused with the reason', () => {
    expect(() => stan('parameters { unit_vector[3] x; } model { }')).toThrow(
      /unit_vector parameters are not supported/,
    );
  });
});

describe('Stan syntax: profile blocks', () => {
  it('profile("name") { ... } runs its block', () => {
    same(
      `parameters { real mu; } model { profile("prior") { real s = 2; mu ~ normal(0, s); } profile("lik") { 1.5 ~ normal(mu, 1); } }`,
      'parameters { real mu; } model { mu ~ normal(0, 2); 1.5 ~ normal(mu, 1); }',
    );
  });
});

describe('Stan: append_row and append_col of vectors, hmm_marginal, incomplete gamma and beta, categorical_logit_glm', () => {
  it('append_row stacks two row vectors into a 2 × n matrix; append_col sets two vectors side by side', () => {
    same(
      `parameters { real x; } model {
         matrix[2, 3] A = append_row([1, x, 3], [4, 5, x]);
         matrix[3, 2] B = append_col([1, x, 3]', [4, 5, x]');
         target += -square(A[1, 2] - A[2, 3]) - square(B[2, 1] + B[3, 2]) + A[2, 1] + B[1, 2]; }`,
      'parameters { real x; } model { target += 0 - square(2 * x) + 4 + 4; }',
    );
  });

  it('hmm_marginal is the forward algorithm written out (posteriordb hmm_example style)', () => {
    const data = { N: 6, y: [0.2, 1.9, 2.4, -0.3, 0.1, 2.2] };
    same(
      `data { int N; vector[N] y; }
       parameters { simplex[2] t1; simplex[2] t2; ordered[2] mu; simplex[2] rho; }
       model {
         matrix[2, N] lo;
         for (n in 1:N) for (k in 1:2) lo[k, n] = normal_lpdf(y[n] | mu[k], 1);
         target += hmm_marginal(lo, append_row(t1', t2'), rho);
       }`,
      `data { int N; vector[N] y; }
       parameters { simplex[2] t1; simplex[2] t2; ordered[2] mu; simplex[2] rho; }
       model {
         array[2] real acc;
         array[N, 2] real gamma;
         for (k in 1:2) gamma[1, k] = log(rho[k]) + normal_lpdf(y[1] | mu[k], 1);
         for (t in 2:N) {
           for (k in 1:2) {
             acc[1] = gamma[t - 1, 1] + log(t1[k]) + normal_lpdf(y[t] | mu[k], 1);
             acc[2] = gamma[t - 1, 2] + log(t2[k]) + normal_lpdf(y[t] | mu[k], 1);
             gamma[t, k] = log_sum_exp(acc);
           }
         }
         target += log_sum_exp(gamma[N]);
       }`,
      data,
    );
  });

  it('gamma_p, gamma_q and inc_beta: closed forms at integer shapes; differentiable', () => {
    // P(3, z) = 1 - e^-z (1 + z + z^2/2); I_x(2, 3) as in shapeCdfs.test.ts.
    const z = 1.7;
    const q3 = Math.exp(-z) * (1 + z + (z * z) / 2);
    same(
      'parameters { real<lower=0> w; } model { w ~ exponential(1); target += log(gamma_p(3, w)) + log(gamma_q(3, w)); }',
      'parameters { real<lower=0> w; } model { w ~ exponential(1); target += log1m(exp(-w) * (1 + w + square(w) / 2)) + log(exp(-w) * (1 + w + square(w) / 2)); }',
      {},
      6,
    );
    expect(
      Math.exp(valueOf('parameters { real u; } model { target += log(gamma_q(3, 1.7)); }')),
    ).toBeCloseTo(q3, 12);
    same(
      'parameters { real<lower=0, upper=1> x; } model { target += log(inc_beta(2, 3, x)); }',
      'parameters { real<lower=0, upper=1> x; } model { target += log(6 * x^2 * (1 - x)^2 + 4 * x^3 * (1 - x) + x^4); }',
      {},
      6,
    );
  });

  it('categorical_logit_glm is categorical_logit of alpha + x[n] * beta for each outcome', () => {
    same(
      `data { array[3] int y; matrix[3, 2] x; } parameters { vector[3] a; matrix[2, 3] b; }
       model { a ~ normal(0, 1); to_vector(b) ~ normal(0, 1); y ~ categorical_logit_glm(x, a, b); }`,
      `data { array[3] int y; matrix[3, 2] x; } parameters { vector[3] a; matrix[2, 3] b; }
       model { a ~ normal(0, 1); to_vector(b) ~ normal(0, 1);
         for (n in 1:3) y[n] ~ categorical_logit(a + (x[n] * b)'); }`,
      {
        y: [1, 3, 2],
        x: [
          [0.5, -1],
          [2, 0.3],
          [-0.7, 1.1],
        ],
      },
    );
  });
});

describe('Stan: a matrix flattens column by column', () => {
  it('to_vector, to_row_vector and to_array_1d of a matrix are column-major, so to_matrix inverts them', () => {
    for (const f of ['to_vector', 'to_row_vector', 'to_array_1d']) {
      expect(
        valueOf(`parameters { real u; } model { target += ${f}([[1, 2], [3, 4]])[2]; }`),
        f,
      ).toBe(3);
    }
    same(
      `parameters { real x; } model { matrix[2, 3] m = [[1, x, 3], [4, 5, x]];
         target += -dot_self(to_vector(to_matrix(to_vector(m), 2, 3) - m)) - x^2 + to_vector(m)[3]; }`,
      'parameters { real x; } model { target += -x^2 + x; }',
    );
  });
});

describe('Stan: to_matrix fill order and to_array_2d', () => {
  it('to_matrix(v, m, n, 0) fills row by row, to_matrix(v, m, n) (or col_major 1) column by column; to_array_2d gives rows', () => {
    for (const [call, expected] of [
      ["to_matrix([1, 2, 3, 4]', 2, 2, 0)[1, 2]", 2],
      ["to_matrix([1, 2, 3, 4]', 2, 2, 1)[1, 2]", 3],
      ["to_matrix([1, 2, 3, 4]', 2, 2)[1, 2]", 3],
      ['to_array_2d([[1, 2], [3, 4]])[1, 2]', 2],
    ] as const) {
      expect(valueOf(`parameters { real u; } model { target += ${call}; }`), call).toBe(expected);
    }
  });
});

describe('Stan: offset and multiplier', () => {
  it('<offset=mu, multiplier=tau> is the non-centred program written by hand, reporting the parameter itself', () => {
    const data = { J: 3, y: [2, -1, 0.5] };
    const m = same(
      `data { int J; vector[J] y; }
       parameters { real mu; real<lower=0> tau; vector<offset=mu, multiplier=tau>[J] theta; }
       model { mu ~ normal(0, 5); tau ~ normal(0, 5); theta ~ normal(mu, tau); y ~ normal(theta, 1); }`,
      `data { int J; vector[J] y; }
       parameters { real mu; real<lower=0> tau; vector[J] theta_raw; }
       transformed parameters { vector[J] theta = mu + tau * theta_raw; }
       model { mu ~ normal(0, 5); tau ~ normal(0, 5); theta ~ normal(mu, tau); y ~ normal(theta, 1);
         target += J * log(tau); }`,
      data,
    );
    // theta = mu + tau u is what is reported (mu, tau, then theta).
    const z = point(m.dim, 1);
    const [mu, tau, theta1] = m.summarize(z);
    expect(theta1).toBeCloseTo(mu + tau * z[2], 12);
  });

  it('a parameter with bounds and an offset is refused', () => {
    expect(() =>
      stan('parameters { real<lower=0, offset=1> x; } model { x ~ normal(1, 1); }')
        .logDensityAndGradient!(Float64Array.of(0)),
    ).toThrow(/bounds or an offset and multiplier, not both/);
  });

  it('modified_bessel_first_kind against its integral, element-wise over int orders; log_modified_bessel_first_kind against the closed form at order 3/2', () => {
    // I_n(z) = (1/pi) int_0^pi e^(z cos t) cos(n t) dt; the trapezoid rule on 4,000 panels is
    // exact to rounding for this smooth periodic integrand.
    const besselI = (n: number, z: number) => {
      const m = 4000;
      let s = 0;
      for (let k = 0; k <= m; k++) {
        const t = (Math.PI * k) / m;
        s += (k === 0 || k === m ? 0.5 : 1) * Math.exp(z * Math.cos(t)) * Math.cos(n * t);
      }
      return s / m;
    };
    for (const [n, z] of [
      [0, 0.3],
      [1, 1.0],
      [2, 2.5],
      [3, -1.7],
      [5, 40],
    ]) {
      const v = valueOf(
        `parameters { real u; } model { target += modified_bessel_first_kind(${n}, ${z}); }`,
      );
      expect(v / besselI(n, z)).toBeCloseTo(1, 12);
    }
    // Element-wise over an int array, as posteriordb's periodic GP basis calls it; the
    // derivative in z is (I_{n-1} + I_{n+1}) / 2.
    const m = stan(
      `parameters { real<lower=0> w; }
       model { array[2] int n = {1, 3}; target += sum(log(to_vector(modified_bessel_first_kind(n, w)))); }`,
    );
    const w = Math.exp(0.4);
    const r = m.logDensityAndGradient!(Float64Array.of(0.4));
    expect(r.logp).toBeCloseTo(Math.log(besselI(1, w)) + Math.log(besselI(3, w)) + 0.4, 10);
    const dlog = (n: number) => (besselI(n - 1, w) + besselI(n + 1, w)) / (2 * besselI(n, w));
    // d/du at w = e^u: w (d log I_1 + d log I_3) + 1 (the log Jacobian of the lower bound).
    expect(r.grad[0]).toBeCloseTo(w * (dlog(1) + dlog(3)) + 1, 8);
    // I_{3/2}(z) = sqrt(2 / (pi z)) (cosh z - sinh z / z); d/dz log I_nu = I_{nu+1}/I_nu + nu/z.
    same(
      'parameters { real<lower=0> z; } model { z ~ exponential(1); target += log_modified_bessel_first_kind(1.5, z); }',
      'parameters { real<lower=0> z; } model { z ~ exponential(1); target += 0.5 * log(2 / (pi() * z)) + log(cosh(z) - sinh(z) / z); }',
      {},
      9,
    );
  });

  it('&& and || stop at their first operand when it decides (a while loop guarding its own index)', () => {
    // posteriordb's prophet: while (i <= S && t >= t_change[i]); i = 4 must not read v[4].
    const program = `functions {
        int first_above(vector v, real c) { int i = 1; while (i <= rows(v) && v[i] <= c) i += 1; return i; }
      }
      parameters { real u; }
      model { target += first_above([1, 2, 3]', 5) + (1 || v_missing()) + (0 && v_missing()) + (1 && 1); }`;
    // v_missing() is never called: an unknown function would otherwise be an error.
    expect(valueOf(program)).toBe(4 + 1 + 0 + 1);
  });

  it('target() is the log density accumulated so far, in the model block and in _lp functions', () => {
    // Doubling the target by adding target() to it gives twice the normal's log density
    // (and gradient); an _lp function reads the same sum, get_lp() is its old name.
    same(
      'parameters { real x; } model { x ~ normal(1, 2); target += target(); }',
      'parameters { real x; } model { target += 2 * normal_lpdf(x | 1, 2); }',
    );
    same(
      `functions { void twice_lp() { target += get_lp(); } }
      parameters { real x; } model { x ~ normal(1, 2); twice_lp(); }`,
      'parameters { real x; } model { target += 2 * normal_lpdf(x | 1, 2); }',
    );
    // A loop that reads target() runs pass by pass (the vectorised pass would read it once, as
    // 0, and give the plain sum): pass n adds its own term and doubles what was there.
    same(
      `data { int N; vector[N] y; }
      parameters { real x; } model { for (n in 1:N) target += normal_lpdf(y[n] | x, 1) + target(); }`,
      `data { int N; vector[N] y; } parameters { real x; }
      model { target += 4 * normal_lpdf(y[1] | x, 1) + 2 * normal_lpdf(y[2] | x, 1) + normal_lpdf(y[3] | x, 1); }`,
      { N: 3, y: [1, 2, 3] },
    );
    expect(() =>
      stan(
        'transformed data { real t = target(); } parameters { real x; } model { x ~ normal(0, 1); }',
      ),
    ).toThrow(/target\(\) reads the log density, which exists in the model block only/);
  });
});
