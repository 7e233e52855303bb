import { describe, expect, it } from 'vitest';
import * as ad from '../../src/modelling/autodiff.js';
import { erfc, logPhiOf } from '../../src/stan/cdfs.js';
import { SPECIAL_ELEMENTWISE } from '../../src/stan/mathFunctions.js';
import { point, same, stan } from './stanTestKit.js';

/** {@link same} to 9 decimals: LU, inverses and cdf differences round a little more. */
const agree = (a: string, b: string, data: unknown = {}) => same(a, b, data, 9);

/** The model's gradient against central differences (step 1e-6: error ~1e-9 on smooth densities). */
function gradientMatchesDifferences(source: string, data: unknown = {}) {
  const m = stan(source, data);
  const z = point(m.dim, 1);
  const { grad } = m.logDensityAndGradient!(z);
  for (let i = 0; i < m.dim; i++) {
    const [up, dn] = [z.slice(), z.slice()];
    up[i] += 1e-6;
    dn[i] -= 1e-6;
    const fd = (m.logDensityAndGradient!(up).logp - m.logDensityAndGradient!(dn).logp) / 2e-6;
    expect(grad[i]).toBeCloseTo(fd, 5);
  }
}

describe('Stan programs: cdfs and truncation', () => {
  it('erfc and log Φ to double precision, far into the tails', () => {
    // Reference values: CPython's math.erfc (the C library's, correctly rounded to ~1 ulp).
    const reference: [number, number][] = [
      [0.5, 0.4795001221869535],
      [1.9, 0.0072095707647425325],
      [2.1, 0.002979466656332984],
      [3, 2.2090496998585438e-5],
      [6, 2.1519736712498916e-17],
      [-1, 1.842700792949715],
    ];
    for (const [x, want] of reference) expect(Math.abs(erfc(x) / want - 1)).toBeLessThan(1e-13);
    // log Φ(−40) from the asymptotic series −z²/2 − log z − ½ log 2π + log(1 − z⁻² + 3z⁻⁴ − 15z⁻⁶),
    // whose next term (105 z⁻⁸) is 1.6e-11 at z = 40.
    const z = 40;
    const series = 1 - 1 / z ** 2 + 3 / z ** 4 - 15 / z ** 6;
    const want = -(z * z) / 2 - Math.log(z) - 0.5 * Math.log(2 * Math.PI) + Math.log(series);
    expect(logPhiOf(-z)).toBeCloseTo(want, 9);
    expect(logPhiOf(0)).toBeCloseTo(Math.log(0.5), 15);
  });

  it('T[L, U] subtracts the log probability of [L, U]; outside it the density is zero', () => {
    const m = stan(
      'parameters { real mu; real<lower=0> s; } model { 1.3 ~ normal(mu, s) T[0, 2]; 0.4 ~ normal(mu, s) T[0, ]; 0.1 ~ exponential(s) T[, 3]; }',
    );
    const [mu, logS] = [0.2, -0.3];
    const s = Math.exp(logS);
    const Phi = (x: number) => 0.5 * erfc(-x / Math.SQRT2);
    const lpdf = (y: number) =>
      -0.5 * ((y - mu) / s) ** 2 - Math.log(s) - 0.5 * Math.log(2 * Math.PI);
    const expected =
      lpdf(1.3) -
      Math.log(Phi((2 - mu) / s) - Phi((0 - mu) / s)) +
      lpdf(0.4) -
      Math.log(1 - Phi(-mu / s)) +
      (Math.log(s) - s * 0.1) -
      Math.log(1 - Math.exp(-3 * s)) +
      logS; // the log-Jacobian of s = exp(log s)
    expect(m.logDensityAndGradient!(Float64Array.of(mu, logS)).logp).toBeCloseTo(expected, 10);
    gradientMatchesDifferences(
      'parameters { real mu; real<lower=0> s; } model { 1.3 ~ normal(mu, s) T[0, 2]; 2.5 ~ cauchy(mu, s) T[mu - 1, ]; 0.7 ~ logistic(mu, s) T[, 1]; 0.2 ~ double_exponential(mu, s) T[-1, 1]; 1.5 ~ weibull(2, s) T[1, ]; 0.6 ~ lognormal(mu, s) T[0.5, 1]; }',
    );
    const outside = stan('parameters { real mu; } model { 3 ~ normal(mu, 1) T[0, 2]; }');
    expect(outside.logDensityAndGradient!(Float64Array.of(0)).logp).toBe(-Infinity);
    // Normalising with the _lcdf / _lccdf functions gives the same density.
    agree(
      'parameters { real mu; real<lower=0> s; } model { 1.3 ~ normal(mu, s) T[0, 2]; }',
      'parameters { real mu; real<lower=0> s; } model { target += normal_lpdf(1.3 | mu, s) - log_diff_exp(normal_lcdf(2 | mu, s), normal_lcdf(0 | mu, s)); }',
    );
    expect(() =>
      stan('parameters { real<lower=0> a; } model { 3 ~ skew_normal(a, 1, 2) T[1, ]; }')
        .logDensityAndGradient!(Float64Array.of(0)),
    ).toThrow(/truncating skew_normal is not supported yet/);
  });
});

describe('Stan programs: special functions', () => {
  it('each differentiable special function: its derivative against central differences', () => {
    const at: Record<string, number> = {
      acosh: 1.7,
      inv_Phi: 0.3,
      asin: 0.4,
      acos: 0.4,
      atanh: 0.4,
    };
    const flat = new Set(['floor', 'ceil', 'round', 'trunc', 'trigamma']);
    for (const [name, f] of Object.entries(SPECIAL_ELEMENTWISE)) {
      if (flat.has(name)) continue;
      const x = at[name] ?? 0.7;
      const { value, grad } = ad.gradient((v) => f(v), [x]);
      const h = 1e-6;
      const fd = (f(x + h).value[0] - f(x - h).value[0]) / (2 * h);
      // Central differences: truncation ~h² f''' and rounding ~1e-16/h, both below 1e-8 here.
      expect({ name, d: grad[0] }).toEqual({ name, d: expect.closeTo(fd, 7) as number });
      expect(Number.isFinite(value)).toBe(true);
    }
    // Values where they have closed forms.
    const v = (name: string, x: number) => SPECIAL_ELEMENTWISE[name](x).value[0];
    expect(v('Phi', 1.96)).toBeCloseTo(0.9750021048517795, 13);
    expect(v('inv_Phi', 0.975)).toBeCloseTo(1.959963984540054, 12);
    expect(v('tgamma', 5)).toBeCloseTo(24, 10);
    expect(v('inv_cloglog', 0)).toBeCloseTo(1 - Math.exp(-1), 14);
    expect(v('Phi_approx', 0)).toBe(0.5);
  });

  it('two-argument functions and array functions agree with their definitions', () => {
    agree(
      'parameters { real<lower=0> a; real<lower=0> b; } model { target += lbeta(a, b) + log_diff_exp(a + 1, a) + atan2(a, b) + hypot(a, b) + fma(a, b, 1) + lmultiply(a, b) + log_falling_factorial(a + 3, b); }',
      'parameters { real<lower=0> a; real<lower=0> b; } model { target += lgamma(a) + lgamma(b) - lgamma(a + b) + a + 1 + log1m(exp(-1)) + atan(a / b) + sqrt(a^2 + b^2) + a * b + 1 + a * log(b) + lgamma(a + 4) - lgamma(a + 4 - b); }',
    );
    const m = stan(
      `transformed data {
         array[2, 3] real x;
         vector[4] v = [3, 1, 2, 5]';
         if (dims(x)[1] != 2 || dims(x)[2] != 3) reject("dims");
         if (prod({2, 3, 4}) != 24) reject("prod");
         if (reverse(v)[1] != 5 || sort_asc(v)[1] != 1 || sort_desc(v)[1] != 5) reject("sort");
         if (sort_indices_asc(v)[1] != 2 || choose(5, 2) != 10) reject("indices");
         if (linspaced_vector(5, 0, 1)[2] != 0.25 || size(append_array({1, 2}, {3})) != 3) reject("misc");
       }
       parameters { real a; } model { a ~ normal(0, 1); }`,
    );
    expect(m.dim).toBe(1);
  });
});

describe('Stan programs: matrix functions', () => {
  const data = {
    A: [
      [4, 1, 0.5],
      [1, 3, 0.2],
      [0.5, 0.2, 2],
    ],
  };
  const head = 'data { matrix[3, 3] A; } parameters { vector[3] b; real<lower=0> s; }';

  it('products, slices and builders equal their element-wise definitions', () => {
    agree(
      `${head} model {
         matrix[3, 3] B = add_diag(A * s, s);
         target += quad_form(B, b) + sum(columns_dot_product(B, B)) + sum(rows_dot_self(B))
                   + trace(crossprod(B)) + sum(block(B, 2, 1, 2, 2)) + sum(col(B, 2)) + sum(row(B, 3))
                   + sum(to_matrix(b, 3, 1)) + sum(append_col(B, b)) + sum(quad_form_diag(B, b))
                   + sum(diag_post_multiply(B, b)) + sum(tcrossprod(B));
       }`,
      `${head} model {
         matrix[3, 3] B;
         real t = 0;
         for (i in 1:3) for (j in 1:3) B[i, j] = A[i, j] * s + (i == j ? s : 0);
         t += b' * B * b;
         for (i in 1:3) for (j in 1:3) for (k in 1:3) t += 2 * B[k, i] * B[k, j] * (i == j);
         for (i in 1:3) for (j in 1:3) t += B[i, j]^2;
         t += B[2, 1] + B[2, 2] + B[3, 1] + B[3, 2];
         t += sum(B[:, 2]) + sum(B[3]) + sum(b) + sum(B) + sum(b);
         for (i in 1:3) for (j in 1:3) t += B[i, j] * b[i] * b[j] + B[i, j] * b[j];
         for (i in 1:3) for (j in 1:3) for (k in 1:3) t += B[i, k] * B[j, k];
         target += t;
       }`,
      data,
    );
  });

  it('sub_col and sub_row take the cells down and across from a corner, and refuse to run off it', () => {
    // Weighted by b, so a cell read from the wrong place changes the density.
    agree(
      `${head} model {
         matrix[3, 3] B = A * s;
         target += dot_product(sub_col(B, 2, 3, 2), b[1:2]) + sub_row(B, 1, 2, 2) * b[2:3];
       }`,
      `${head} model {
         matrix[3, 3] B = A * s;
         target += B[2, 3] * b[1] + B[3, 3] * b[2] + B[1, 2] * b[2] + B[1, 3] * b[3];
       }`,
      data,
    );
    const off = stan(`${head} model { target += sum(sub_col(A * s, 2, 1, 3)); }`, data);
    expect(() => off.logDensityAndGradient!(new Float64Array(4))).toThrow(
      /sub_col\(2, 1, 3\) runs outside the 3 × 3 matrix/,
    );
  });

  it('solves, inverses and determinants satisfy their identities', () => {
    agree(
      `${head} model {
         matrix[3, 3] B = A * s;
         matrix[3, 3] L = cholesky_decompose(B);
         target += log_determinant(B) + determinant(B) + sum(inverse(B) * b) + sum(mdivide_left_tri_low(L, b))
                   + sum(mdivide_right_tri_low(b', L)) + sum(mdivide_left(B, b));
       }`,
      `${head} model {
         matrix[3, 3] B = A * s;
         matrix[3, 3] L = cholesky_decompose(B);
         real d = B[1,1] * (B[2,2] * B[3,3] - B[2,3] * B[3,2]) - B[1,2] * (B[2,1] * B[3,3] - B[2,3] * B[3,1])
                  + B[1,3] * (B[2,1] * B[3,2] - B[2,2] * B[3,1]);
         // B x = b through the Cholesky factor: L y = b, L' x = y.
         vector[3] y;
         vector[3] x;
         vector[3] w;
         for (i in 1:3) { y[i] = b[i]; for (j in 1:(i - 1)) y[i] -= L[i, j] * y[j]; y[i] /= L[i, i]; }
         for (k in 1:3) { int i = 4 - k; x[i] = y[i]; for (j in (i + 1):3) x[i] -= L[j, i] * x[j]; x[i] /= L[i, i]; }
         // w' = b' L^-1, i.e. L' w = b.
         for (k in 1:3) { int i = 4 - k; w[i] = b[i]; for (j in (i + 1):3) w[i] -= L[j, i] * w[j]; w[i] /= L[i, i]; }
         target += log(d) + d + sum(x) + sum(y) + sum(w) + sum(x);
       }`,
      data,
    );
  });
});
