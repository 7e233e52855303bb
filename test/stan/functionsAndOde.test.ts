import { describe, expect, it } from 'vitest';
import { lift } from '../../src/modelling/autodiff.js';
import { corrMatrix, lowerTriangular } from '../../src/modelling/constraints.js';
import { same, stan } from './stanTestKit.js';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

describe('Stan programs: user-defined functions', () => {
  it('functions, recursion, early returns, user densities and _lp functions give the plain program', () => {
    const functions = `functions {
      real twice(real x) { return 2 * x; }
      int fact(int n) { if (n <= 1) return 1; return n * fact(n - 1); }
      // The first k with v[k] > c (an early return from inside a loop).
      int first_above(vector v, real c) {
        for (k in 1:rows(v)) if (v[k] > c) return k;
        return 0;
      }
      vector scaled(vector v, real s);
      vector scaled(vector v, real s) { vector[rows(v)] out = v * s; return out; }
      real mynormal_lpdf(real y, real mu, real sigma) {
        return -0.5 * square((y - mu) / sigma) - log(sigma) - 0.5 * log(2 * pi());
      }
      void shrink_lp(vector b) { target += -0.5 * dot_self(b); }
    }`;
    same(
      `${functions}
       data { vector[3] x; }
       parameters { real mu; real<lower=0> sigma; vector[2] b; }
       model {
         mu ~ mynormal(0, twice(1.5));
         target += mynormal_lupdf(sigma | 1, fact(3));
         x[first_above(x, 0.5)] ~ normal(mu, sigma);
         shrink_lp(scaled(b, 2));
       }`,
      `data { vector[3] x; }
       parameters { real mu; real<lower=0> sigma; vector[2] b; }
       model {
         mu ~ normal(0, 3);
         sigma ~ normal(1, 6);
         x[2] ~ normal(mu, sigma);
         target += -2 * dot_self(b);
       }`,
      { x: [0.1, 0.9, 2] },
    );
  });

  it('blocks and loops end their variables: siblings may reuse a name, and it is gone after', () => {
    same(
      `parameters { real a; } model {
         { real t = 2 * a; target += -t^2; }
         { real t = a; target += -t^2; }
         for (i in 1:2) { real u = i * a; target += -u^2; }
         for (i in 1:3) target += -0.5 * a^2;
       }`,
      'parameters { real a; } model { target += -4 * a^2 - a^2 - a^2 - 4 * a^2 - 1.5 * a^2; }',
    );
    const m = stan('parameters { real a; } model { for (i in 1:2) target += -a^2; target += i; }');
    expect(() => m.logDensityAndGradient!(new Float64Array(1))).toThrow(/'i' is not declared/);
  });

  it('a function called with the wrong number of arguments is named', () => {
    const m = stan(
      'functions { real f(real x) { return x; } } parameters { real a; } model { target += f(a, 1); }',
    );
    expect(() => m.logDensityAndGradient!(new Float64Array(1))).toThrow(
      /f takes 1 arguments, got 2/,
    );
  });
});

describe('Stan programs: ODE solvers', () => {
  // Exponential decay y' = -k y (closed form y0 e^{-kt}) and a rotation u' = -w v, v' = w u
  // (closed form (cos wt, sin wt) from (1, 0)), observed with unit-sd normal noise.
  const ts = [0.5, 1, 2, 3.5];
  const obs = [1.2, 0.8, 0.5, 0.2];
  const exact = (k: number, y0: number, w: number) => {
    let logp = -0.5 * (k * k + y0 * y0 + w * w) - 3 * LOG_SQRT_2PI;
    const grad = [-k, -y0, -w];
    ts.forEach((t, i) => {
      const y = y0 * Math.exp(-k * t);
      const [u, v] = [Math.cos(w * t), Math.sin(w * t)];
      logp += -0.5 * ((obs[i] - y) ** 2 + (obs[i] - u) ** 2 + (obs[i] - v) ** 2) - 3 * LOG_SQRT_2PI;
      grad[0] += (obs[i] - y) * -t * y;
      grad[1] += (obs[i] - y) * Math.exp(-k * t);
      grad[2] += (obs[i] - u) * -t * v + (obs[i] - v) * t * u;
    });
    return { logp, grad };
  };
  const head = `data { int T; array[T] real ts; array[T] real obs; }
    parameters { real k; real y0; real w; }`;
  const priors = 'k ~ normal(0, 1); y0 ~ normal(0, 1); w ~ normal(0, 1);';

  it.each([
    [
      'integrate_ode_rk45 (array states)',
      `functions {
        array[] real decay(real t, array[] real y, array[] real th, array[] real xr, array[] int xi) {
          return { -th[1] * y[1] };
        }
        array[] real rotate(real t, array[] real y, array[] real th, array[] real xr, array[] int xi) {
          return { -th[1] * y[2], th[1] * y[1] };
        }
      }
      ${head}
      model {
        array[T, 1] real y = integrate_ode_rk45(decay, {y0}, 0, ts, {k}, rep_array(0.0, 0), rep_array(0, 0));
        array[T, 2] real uv = integrate_ode_bdf(rotate, {1.0, 0.0}, 0.0, ts, {w}, rep_array(0.0, 0), rep_array(0, 0), 1e-8, 1e-8, 10000);
        ${priors}
        obs ~ normal(y[:, 1], 1);
        obs ~ normal(uv[:, 1], 1);
        obs ~ normal(uv[:, 2], 1);
      }`,
    ],
    [
      'ode_rk45 and ode_adams_tol (vector states, variadic arguments)',
      `functions {
        vector decay(real t, vector y, real k) { return -k * y; }
        vector rotate(real t, vector y, real w, int sign) {
          return [sign * w * y[2], -sign * w * y[1]]';
        }
      }
      ${head}
      model {
        array[T] vector[1] y = ode_rk45(decay, [y0]', 0, ts, k);
        array[T] vector[2] uv = ode_adams_tol(rotate, [1, 0]', 0, ts, 1e-8, 1e-8, 10000, w, -1);
        ${priors}
        for (i in 1:T) {
          obs[i] ~ normal(y[i, 1], 1);
          obs[i] ~ normal(uv[i], 1);
        }
      }`,
    ],
  ])('%s: the closed-form solution and its gradient', (_name, source) => {
    const m = stan(source, { T: ts.length, ts, obs });
    for (const z of [
      [0.4, 1.5, 0.7],
      [1.1, -0.5, 2.0],
    ]) {
      const got = m.logDensityAndGradient!(Float64Array.from(z));
      const want = exact(z[0], z[1], z[2]);
      // The default tolerances (1e-6 relative and absolute) bound the states' errors; the
      // log density and gradient inherit errors of that order times |obs - y| ≤ 3.
      expect(Math.abs(got.logp - want.logp)).toBeLessThan(1e-4);
      got.grad.forEach((g, i) => expect(Math.abs(g - want.grad[i])).toBeLessThan(1e-4));
    }
  });

  it('a solve that needs more than MOST_ODE_STEPS steps rejects its point instead of filling the heap', () => {
    // y' = -k (y - 1) from 0 is stiff for large k: the explicit method's stable step is ~3/k, so
    // k = 1e7 needs ~3e6 steps to t = 1, beyond Stan's default max_num_steps (1e6): before the cap the
    // kit's tape of those steps ran the process out of memory. k = 1 needs a few dozen.
    const m = stan(
      `functions { vector f(real t, vector y, real k) { return -k * (y - 1); } }
      parameters { real<lower=0> k; }
      model { array[1] vector[1] y = ode_bdf(f, [0]', 0, {1.0}, k); 0.5 ~ normal(y[1, 1], 0.1); }`,
    );
    const at = (k: number) => m.logDensityAndGradient!(Float64Array.of(Math.log(k))).logp;
    expect(at(1)).toBeGreaterThan(-10);
    expect(at(1e7)).toBe(-Infinity);
  });

  it('refuses output times that do not increase, and a first argument that is not a function', () => {
    const bad = (call: string) =>
      stan(`functions { vector f(real t, vector y) { return -y; } }
        parameters { real a; } model { array[2] vector[1] y = ${call}; a ~ normal(0, 1); }`);
    expect(() =>
      bad("ode_rk45(f, [1]', 0, {2.0, 1.0})").logDensityAndGradient!(new Float64Array(1)),
    ).toThrow(/output times must increase/);
    expect(() =>
      bad("ode_rk45(g, [1]', 0, {1.0, 2.0})").logDensityAndGradient!(new Float64Array(1)),
    ).toThrow(/first argument must name a user-defined function/);
  });
});

/**
 * log |det ∂f/∂u| of a map R³ → R³ at `u`, by central differences (step 1e-6: truncation ~1e-12,
 * rounding ~1e-10 on values of order 1).
 */
function logAbsDetOfDifferences(f: (u: number[]) => number[], u: number[]): number {
  const h = 1e-6;
  const J = u.map((_, j) => {
    const [up, dn] = [[...u], [...u]];
    up[j] += h;
    dn[j] -= h;
    const [a, b] = [f(up), f(dn)];
    return a.map((x, i) => (x - b[i]) / (2 * h));
  });
  const det =
    J[0][0] * (J[1][1] * J[2][2] - J[1][2] * J[2][1]) -
    J[0][1] * (J[1][0] * J[2][2] - J[1][2] * J[2][0]) +
    J[0][2] * (J[1][0] * J[2][1] - J[1][1] * J[2][0]);
  return Math.log(Math.abs(det));
}

describe('Stan programs: covariance matrices', () => {
  it('cov_matrix: Σ = L Lᵀ and its log-Jacobian is the log-determinant of d(Σ11, Σ21, Σ22)/du', () => {
    const block = lowerTriangular(2, true);
    const sigmaOf = (u: number[]) => {
      const v = block.constrain(lift(Float64Array.from(u)), {}).value.value;
      return [v[0], v[2], v[3]];
    };
    const u = [0.3, -0.7, 0.2];
    const { value, logJacobian } = block.constrain(lift(Float64Array.from(u)), {});
    expect(value.value[1]).toBeCloseTo(value.value[2], 14); // symmetric
    expect(logJacobian.value[0]).toBeCloseTo(logAbsDetOfDifferences(sigmaOf, u), 7);
    expect(Array.from(block.unconstrain(value.value, {}))).toEqual(
      u.map((x) => expect.closeTo(x, 12) as number),
    );
  });

  it('corr_matrix: Ω = L Lᵀ with a unit diagonal, and its log-Jacobian is the log-determinant of d(Ω21, Ω31, Ω32)/du', () => {
    const block = corrMatrix(3);
    const offDiagonal = (u: number[]) => {
      const v = block.constrain(lift(Float64Array.from(u)), {}).value.value;
      return [v[3], v[6], v[7]];
    };
    const u = [0.4, -0.9, 0.6];
    const { value, logJacobian } = block.constrain(lift(Float64Array.from(u)), {});
    const O = value.value;
    [0, 4, 8].forEach((i) => expect(O[i]).toBeCloseTo(1, 14));
    [
      [1, 3],
      [2, 6],
      [5, 7],
    ].forEach(([a, b]) => expect(O[a]).toBeCloseTo(O[b], 14));
    expect(logJacobian.value[0]).toBeCloseTo(logAbsDetOfDifferences(offDiagonal, u), 7);
    expect(Array.from(block.unconstrain(O, {}))).toEqual(
      u.map((x) => expect.closeTo(x, 12) as number),
    );
  });

  it('lkj_corr on a corr_matrix is lkj_corr_cholesky on its factor, in the same coordinates', () => {
    // Both programs put LKJ(η) on the same correlation matrix through the same free numbers:
    // their log densities, Jacobians included, are one function (to rounding).
    for (const K of [2, 4])
      same(
        `parameters { corr_matrix[${K}] O; } model { O ~ lkj_corr(2.5); }`,
        `parameters { cholesky_factor_corr[${K}] L; } model { L ~ lkj_corr_cholesky(2.5); }`,
        {},
        9,
      );
  });

  it('Wishart and inverse Wishart against their 2 × 2 closed forms; multi_normal with one mean per outcome', () => {
    // W = [[2, 0.5], [0.5, 1]], S = [[1, 0.3], [0.3, 2]], nu = 5: written out with 2 × 2
    // determinants and inverses, independent of the Cholesky-based implementation.
    const [W, S, nu] = [[2, 0.5, 0.5, 1], [1, 0.3, 0.3, 2], 5];
    const det = (m: number[]) => m[0] * m[3] - m[1] * m[2];
    const inv = (m: number[]) => [m[3], -m[1], -m[2], m[0]].map((x) => x / det(m));
    const tr = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[2] + a[2] * b[1] + a[3] * b[3];
    const lgamma = (x: number) => (x === 2.5 ? Math.log(1.329340388179137) : Math.log(1)); // Γ(2.5), Γ(2)
    const logGamma2 = Math.log(Math.PI) / 2 + lgamma(2.5) + lgamma(2);
    const norm = nu * Math.LN2 + logGamma2;
    const wishart =
      ((nu - 3) / 2) * Math.log(det(W)) - 0.5 * tr(inv(S), W) - (nu / 2) * Math.log(det(S)) - norm;
    const invWishart =
      (nu / 2) * Math.log(det(S)) - ((nu + 3) / 2) * Math.log(det(W)) - 0.5 * tr(S, inv(W)) - norm;
    const data = { W: [W.slice(0, 2), W.slice(2)], S: [S.slice(0, 2), S.slice(2)] };
    const lp = (family: string) =>
      stan(
        `data { matrix[2, 2] W; matrix[2, 2] S; } parameters { real a; }
         model { target += ${family}_lpdf(W | 5, S); }`,
        data,
      ).logDensityAndGradient!(new Float64Array(1)).logp;
    expect(lp('wishart')).toBeCloseTo(wishart, 10);
    expect(lp('inv_wishart')).toBeCloseTo(invWishart, 10);

    const d =
      'data { array[3] vector[2] y; } parameters { array[3] vector[2] mu; cov_matrix[2] Sigma; }';
    same(
      `${d} model { y ~ multi_normal(mu, Sigma); Sigma ~ inv_wishart(4, diag_matrix(rep_vector(1, 2))); }`,
      `${d} model { for (i in 1:3) y[i] ~ multi_normal(mu[i], Sigma); Sigma ~ inv_wishart(4, diag_matrix(rep_vector(1, 2))); }`,
      {
        y: [
          [0.1, 0.2],
          [-0.3, 0.5],
          [1, -1],
        ],
      },
    );
  });
});
