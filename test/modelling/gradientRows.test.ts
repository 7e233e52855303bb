import { afterEach, describe, expect, it } from 'vitest';
import * as ad from '../../src/modelling/autodiff.js';
import type { MatrixProduct, Node } from '../../src/modelling/autodiff.js';
import { normal, normalElementwise, studentT } from '../../src/modelling/distributions.js';
import { cholesky } from '../../src/modelling/cholesky.js';
import { simplex, vector, real } from '../../src/modelling/constraints.js';
import { declareModel } from '../../src/inference/declaredModel.js';
import { whitenedModel, type LaplaceFit } from '../../src/inference/laplace.js';
import type { BayesianModel } from '../../src/inference/model.js';
import * as tf from '../../src/tf.js';
import { Rng } from '../../src/random/rng.js';
import { loadNativeBlas, nativeBlas } from '../../src/backend/nativeBlas.js';
import { loadModel } from '../../src/inference/loadModel.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../scratchDir.js';

// A constant design matrix of 9 × 5 (rows: the backward pass's four-row blocks and a remainder).
const X = Array.from({ length: 45 }, (_, i) => Math.sin(1.7 * i + 0.3));
const Y = Array.from({ length: 9 }, (_, i) => Math.cos(i));

// Each case: a scalar function of a 5-vector built from operations that have a batched form.
const CASES: [string, (x: Node) => ad.Val][] = [
  [
    'add/sub/mul with a scalar and a constant',
    (x) => ad.sum(ad.mul(ad.sub(x, x.at(0)), ad.add([1, 2, 3, 4, 5], x))),
  ],
  [
    'div/pow/unary functions',
    (x) => ad.sum(ad.add(ad.div(ad.exp(x), ad.add(ad.square(x), 1)), ad.pow(ad.log1pExp(x), 1.5))),
  ],
  [
    'logistic family and tanh',
    (x) => ad.sum(ad.mul(ad.logInvLogit(x), ad.add(ad.log1mInvLogit(x), ad.tanh(x)))),
  ],
  [
    'index/slice/concat with a constant part',
    (x) => ad.dot(ad.concat(ad.slice(x, 1, 3), [0.5], x.at(0)), x),
  ],
  ['matVec of a constant matrix, normal', (x) => normal(Y, ad.matVec(X, 9, 5, x), ad.exp(x.at(4)))],
  [
    'normal with a vector scale, studentT',
    (x) => ad.add(normal(x, 0, ad.exp(x)), studentT(x, 3, x.at(1), 2)),
  ],
  [
    'logSumExp, logMix, total',
    (x) => ad.total(ad.logSumExp(x), ad.logMix(0.3, x.at(0), x.at(2)), [1, 2], ad.sum(x)),
  ],
  [
    'logMix of element-wise normals, every operand a row of its own',
    (x) =>
      ad.sum(
        ad.logMix(
          ad.invLogit(x.at(0)),
          normalElementwise(Y, x.at(1), ad.exp(x.at(2))),
          normalElementwise(Y, x.at(3), 1),
        ),
      ),
  ],
  [
    'gather (a hierarchical index) into a normal',
    (x) => normal(Y, ad.gather(x, [0, 4, 4, 1, 0, 2, 3, 3, 4]), ad.exp(x.at(2))),
  ],
  [
    'cholesky of a 3 × 3 covariance of the row',
    (x) =>
      ad.sum(
        ad.mul(
          cholesky(
            ad.concat(
              ...[0, 1, 2].flatMap((i) =>
                [0, 1, 2].map((j) =>
                  i === j
                    ? ad.add(ad.exp(x.at(i)), 1)
                    : ad.mul(ad.tanh(x.at(3 + Math.min(i, j))), 0.3),
                ),
              ),
            ),
            3,
          ),
          [1, 0, 0, -2, 0.5, 0, 3, 1, -1],
        ),
      ),
  ],
];

/** n points of dimension 5 as rows, from a seeded generator. */
function points(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n * 5 }, () => rng.normal());
}

/**
 * Batched and pointwise evaluation run the same arithmetic; a broadcast operand's adjoint is
 * summed in another order (a few roundings of the gradient's size), so 1e-12 relative.
 */
function expectSameAsPointwise(f: (x: Node) => ad.Val, xs: Float64Array, n: number): void {
  const { values, grads } = ad.gradientRows(f, xs, n);
  for (let r = 0; r < n; r++) {
    const one = ad.gradient(f, xs.subarray(r * 5, (r + 1) * 5));
    expect(Math.abs(values[r] - one.value)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(one.value)));
    one.grad.forEach((g, j) =>
      expect(Math.abs(grads[r * 5 + j] - g)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(g))),
    );
  }
}

/** A plain triple loop: what the native dgemm computes, for checking the arguments passed. */
const naiveProduct: MatrixProduct = (ta, tb, m, n, k, a, b, c, acc) => {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++)
        s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = (acc ? c[i * n + j] : 0) + s;
    }
};

afterEach(() => ad.useMatrixProduct(undefined));

describe('batched evaluation (gradientRows)', () => {
  it.each(CASES)('%s: every row as its own evaluation', (_name, f) => {
    expectSameAsPointwise(f, points(7, 1), 7);
  });

  it('a matrix product installed for batches gives the same rows', () => {
    ad.useMatrixProduct(naiveProduct);
    expectSameAsPointwise(CASES[4][1], points(6, 2), 6);
  });

  it('one row is an ordinary evaluation', () => {
    expectSameAsPointwise(CASES[4][1], points(1, 3), 1);
  });

  it('a value that does not depend on the point is every row’s, with zero gradient', () => {
    const { values, grads } = ad.gradientRows(() => 2.5, points(3, 4), 3);
    expect(Array.from(values)).toEqual([2.5, 2.5, 2.5]);
    expect(grads.every((g) => g === 0)).toBe(true);
  });

  it('code for one point (a read of a value, an operation without a batched form) throws BatchedReadError', () => {
    const reads = (x: Node) => (x.at(0).value[0] > 0 ? ad.sum(x) : ad.sum(ad.square(x)));
    expect(() => ad.gradientRows(reads, points(3, 5), 3)).toThrow(ad.BatchedReadError);
    const custom = (x: Node) =>
      ad.custom(Float64Array.of(1), [x], (g) => [new Float64Array(5).fill(g[0])]);
    expect(() => ad.gradientRows(custom, points(3, 6), 3)).toThrow(ad.BatchedReadError);
    // Both still work one point at a time.
    expect(Number.isFinite(ad.gradient(reads, points(1, 5)).value)).toBe(true);
  });
});

describe('a declared model’s logJoint evaluates its batch together where it can', () => {
  /** logJoint and its tfjs gradient at the rows, against logDensityAndGradient row by row. */
  function expectLogJointIsPointwise(
    model: ReturnType<typeof declareModel>,
    n: number,
    seed: number,
  ) {
    const rng = new Rng(seed);
    const rows = Array.from({ length: n }, () =>
      Array.from({ length: model.dim }, () => rng.normal()),
    );
    const z = tf.tensor2d(rows);
    const [values, grads] = tf.tidy(() => {
      const g = tf.grad((x: tf.Tensor) => tf.sum(model.logJoint(x as tf.Tensor2D)));
      return [model.logJoint(z).arraySync(), g(z).arraySync() as number[][]];
    });
    z.dispose();
    rows.forEach((row, r) => {
      const one = model.logDensityAndGradient!(Float64Array.from(Float32Array.from(row)));
      // logJoint hands float32 values to tfjs: equal to the double evaluation to float32 rounding.
      if (Number.isFinite(one.logp))
        expect(Math.abs(values[r] - one.logp)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(one.logp)));
      else expect(values[r]).toBe(one.logp);
      one.grad.forEach((g, j) =>
        expect(Math.abs(grads[r][j] - g)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(g))),
      );
    });
  }

  const regression = () =>
    declareModel({
      name: 'regression',
      parameters: { beta: vector(5), sigma: real({ lower: 0 }), w: simplex(3) },
      logDensity: ({ beta, sigma, w }) =>
        ad.total(
          normal(beta, 0, 2),
          studentT(sigma, 3, 0, 1),
          normal(Y, ad.add(ad.matVec(X, 9, 5, beta), ad.logSumExp(w)), sigma),
        ),
    });

  it('a model of batched operations: 40 rows (three chunks) as the model evaluates each', () => {
    expectLogJointIsPointwise(regression(), 40, 7);
    // The product is used only by batched evaluations: its calls show the batch went together.
    let products = 0;
    ad.useMatrixProduct((...args) => {
      products++;
      naiveProduct(...args);
    });
    expectLogJointIsPointwise(regression(), 40, 8);
    expect(products).toBeGreaterThan(0);
  });

  it('logDensityAndGradientRows is logDensityAndGradient at each point, also whitened', () => {
    const model = regression();
    const d = model.dim;
    // A whitening map z = mode + L u with a lower-triangular L of positive diagonal.
    const rng = new Rng(13);
    const chol = Float64Array.from({ length: d * d }, (_, k) =>
      k % (d + 1) === 0 ? 0.5 + rng.uniform() : k % d < Math.floor(k / d) ? 0.3 * rng.normal() : 0,
    );
    const fit = { mode: Float64Array.from({ length: d }, () => rng.normal()), chol } as LaplaceFit;
    const whitened = whitenedModel(model, fit);
    const check = (m: BayesianModel) => {
      const n = 21;
      const zs = Float64Array.from({ length: n * d }, () => rng.normal());
      const { values, grads } = m.logDensityAndGradientRows!(zs, n);
      for (let r = 0; r < n; r++) {
        const one = m.logDensityAndGradient!(zs.slice(r * d, (r + 1) * d));
        // The same arithmetic but for summation order in the whitening's products: 1e-12.
        expect(Math.abs(values[r] - one.logp)).toBeLessThanOrEqual(
          1e-12 * (1 + Math.abs(one.logp)),
        );
        one.grad.forEach((g, j) =>
          expect(Math.abs(grads[r * d + j] - g)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(g))),
        );
      }
    };
    check(model);
    check(whitened.model);
    whitened.dispose();
  });

  it('a model that branches on a parameter’s value falls back to one point at a time', () => {
    const branching = declareModel({
      name: 'branching',
      parameters: { x: vector(2) },
      logDensity: ({ x }) => (x.at(0).value[0] > 0 ? normal(x, 1, 1) : ad.mul(normal(x, -1, 2), 2)),
    });
    expectLogJointIsPointwise(branching, 20, 9);
    expectLogJointIsPointwise(branching, 20, 10);
  });

  it('a model whose batched values differ from its own (it reads a row’s raw data) is caught by the first chunk’s comparison', () => {
    // `data` is the unguarded store: read here, every row of a batch would get the first row's
    // location, which the comparison with the pointwise evaluation sees.
    const rawReader = declareModel({
      name: 'raw reader',
      parameters: { x: vector(2) },
      logDensity: ({ x }) => normal(x, Math.sign(x.data[0]), 1),
    });
    expectLogJointIsPointwise(rawReader, 20, 14);
    expectLogJointIsPointwise(rawReader, 20, 15);
  });

  it('a point outside a function’s domain has zero density; the other rows are unaffected', () => {
    // [[1, x], [x, 1]] is positive definite only for |x| < 1: a standard normal x is outside
    // about a third of the time, where cholesky rejects the point (Stan: the draw is rejected).
    const correlation = declareModel({
      name: 'correlation',
      parameters: { x: vector(2) },
      logDensity: ({ x }) =>
        ad.add(normal(x, 0, 1), ad.sum(cholesky(ad.concat(1, x.at(0), x.at(0), 1), 2))),
    });
    expectLogJointIsPointwise(correlation, 20, 11);
    const logp = tf.tidy(() =>
      correlation
        .logJoint(
          tf.tensor2d([
            [0.5, 0],
            [3, 0],
          ]),
        )
        .arraySync(),
    );
    expect(Number.isFinite(logp[0])).toBe(true);
    expect(logp[1]).toBe(-Infinity);
  });
});

describe('a Stan program’s rows', () => {
  // A regression, and a program that branches on a parameter's value (which a batched
  // evaluation cannot follow row by row: it must fall back, not take row 0's branch for all).
  const programs = {
    regression: `data { int N; vector[N] x; vector[N] y; }
      parameters { real a; real b; real<lower=0> sigma; }
      model { a ~ normal(0, 5); b ~ normal(0, 5); sigma ~ normal(0, 2);
              y ~ normal(a + b * x, sigma); }`,
    branching: `data { int N; vector[N] x; vector[N] y; }
      parameters { real a; real b; real<lower=0> sigma; }
      model { a ~ normal(0, 5); b ~ normal(0, 5); sigma ~ normal(0, 2);
              if (a > 0) y ~ normal(a + b * x, sigma); else y ~ student_t(3, a + b * x, sigma); }`,
  };
  const data = { N: 6, x: [0, 1, 2, 3, 4, 5], y: [0.2, 1.1, 1.9, 3.2, 3.8, 5.1] };
  const dir = scratchDir('avb-rows-');

  it.each(Object.entries(programs))(
    '%s: every row as the program evaluates it alone',
    async (name, code) => {
      const file = join(dir, `${name}.stan`);
      writeFileSync(file, code);
      const model = await loadModel(file, undefined, data);
      const rng = new Rng(16);
      // 40 points (three chunks), a's sign varying between rows.
      const n = 40;
      const zs = Float64Array.from({ length: n * model.dim }, () => rng.normal());
      // Twice: the first call compares its first chunk, the second runs as that decided.
      for (let call = 0; call < 2; call++) {
        const { values, grads } = model.logDensityAndGradientRows!(zs, n);
        for (let r = 0; r < n; r++) {
          const one = model.logDensityAndGradient!(zs.slice(r * model.dim, (r + 1) * model.dim));
          expect(Math.abs(values[r] - one.logp)).toBeLessThanOrEqual(
            1e-12 * (1 + Math.abs(one.logp)),
          );
          one.grad.forEach((g, j) =>
            expect(Math.abs(grads[r * model.dim + j] - g)).toBeLessThanOrEqual(
              1e-12 * (1 + Math.abs(g)),
            ),
          );
        }
      }
    },
  );
});

describe('the native matrix product (dgemm) of batched evaluations', () => {
  it('is installed with the addon and equals the plain product, transposed or not, added or not', async () => {
    delete process.env.AVB_NO_NATIVE;
    await loadNativeBlas(1);
    const addon = nativeBlas();
    // CI builds the addon and requires it; elsewhere without it, the loops run (tested above).
    if (process.env.AVB_REQUIRE_NATIVE === '1') expect(addon).toBeDefined();
    if (!addon) return;
    const rng = new Rng(12);
    const fill = (n: number) => Float64Array.from({ length: n }, () => rng.normal());
    for (const [ta, tb, acc] of [
      [false, false, 0],
      [false, true, 0],
      [true, false, 1],
      [true, true, 1],
    ] as const) {
      const [m, n, k] = [7, 5, 13];
      const a = fill(m * k);
      const b = fill(k * n);
      const start = fill(m * n);
      const want = Float64Array.from(start);
      naiveProduct(ta, tb, m, n, k, a, b, want, acc);
      const got = Float64Array.from(start);
      addon.dgemm(ta, tb, m, n, k, a, b, got, acc);
      // Sums of 13 products of standard normals in another order: ~1e-15 apart.
      got.forEach((x, i) => expect(Math.abs(x - want[i])).toBeLessThan(1e-12));
    }
    expect(() =>
      addon.dgemm(
        false,
        false,
        7,
        5,
        13,
        new Float64Array(3),
        new Float64Array(65),
        new Float64Array(35),
        0,
      ),
    ).toThrow(/smaller/);
  });
});
