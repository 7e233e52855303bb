import * as tf from '../../src/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/initBackend.js';
import { loadNativeBlas, nativeBlas } from '../../src/backend/nativeBlas.js';
import { bernoulliLogLikelihood } from '../../src/nn/bernoulliLogLikelihood.js';
import { leakyRelu, softplus } from '../../src/nn/activations.js';
import { squaredNorm } from '../../src/train/squaredNorm.js';
import { Rng } from '../../src/random/rng.js';

// avb's element-wise kernels on the wasm backend, each on both of its paths: the native addon
// (vectorised C, where it is built: CI builds it and sets AVB_REQUIRE_NATIVE=1) and the
// fallback a browser runs (WebAssembly SIMD or a JavaScript loop). Each is compared with the
// exact answer in double precision or with the cpu backend. Lengths such as 1003 run the
// vector loops and their scalar remainders.

const PATHS = ['native', 'fallback'] as const;

/** Switches the addon on or off for the kernels (they look it up at each call). */
async function use(path: (typeof PATHS)[number]): Promise<boolean> {
  if (path === 'fallback') process.env.AVB_NO_NATIVE = '1';
  else delete process.env.AVB_NO_NATIVE;
  await loadNativeBlas(1);
  return nativeBlas() !== undefined;
}

const exactSoftplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
const exactSigmoid = (v: number) => 1 / (1 + Math.exp(-v));

function values(n: number, seed: number, spread: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => (rng.uniform() - 0.5) * spread);
}

/** f's value and its gradient against dy, both read back. */
function valueAndGrad(f: (x: tf.Tensor) => tf.Tensor, xs: Float32Array, dys: Float32Array) {
  const x = tf.tensor1d(xs);
  const dy = tf.tensor1d(dys);
  const value = tf.tidy(() => f(x).dataSync() as Float32Array);
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dy)))(x);
  const grad = g.dataSync() as Float32Array;
  tf.dispose([x, dy, g]);
  return { value, grad };
}

beforeAll(async () => {
  await initBackend('wasm');
});

afterAll(async () => {
  await use('native');
});

for (const path of PATHS) {
  describe(`element-wise kernels, ${path} path`, () => {
    beforeAll(async () => {
      const loaded = await use(path);
      if (path === 'native' && process.env.AVB_REQUIRE_NATIVE === '1') expect(loaded).toBe(true);
      if (path === 'fallback') expect(loaded).toBe(false);
    });

    it('softplus and its gradient match double precision on 1003 values in [-90, 90]', () => {
      const xs = values(1003, 1, 180);
      const dys = values(1003, 2, 2);
      const { value, grad } = valueAndGrad(softplus, xs, dys);
      for (let i = 0; i < xs.length; i++) {
        if (xs[i] < -87) {
          // Inputs are clamped at |x| = 87: exp(-87) ~ 1.6e-38 instead of a smaller exp(x).
          expect(value[i]).toBeLessThan(2e-38);
        } else {
          // Polynomials truncated below 2e-8 relative plus a few float32 roundings (ulp 1.2e-7);
          // measured at most 2.7e-7 on the SIMD path.
          expect(Math.abs(value[i] - exactSoftplus(xs[i])) / exactSoftplus(xs[i])).toBeLessThan(
            4e-7,
          );
        }
        // dy sigmoid(x): a few ulps of a value below 1 in magnitude.
        expect(Math.abs(grad[i] - dys[i] * exactSigmoid(xs[i]))).toBeLessThan(1e-6);
      }
    });

    it('softplus keeps NaN and the infinities', () => {
      const got = tf.tidy(() => softplus(tf.tensor1d([NaN, Infinity, -Infinity, 0])).dataSync());
      expect(Number.isNaN(got[0])).toBe(true);
      expect(got[1]).toBe(Infinity);
      expect(got[2]).toBeLessThan(2e-38);
      expect(got[3]).toBeCloseTo(Math.LN2, 6);
    });

    it('leaky ReLU and its gradient are exact, zero and NaN included', () => {
      const xs = values(1003, 3, 10);
      xs[5] = 0;
      xs[6] = NaN;
      const dys = values(1003, 4, 2);
      const { value, grad } = valueAndGrad((t) => leakyRelu(t, 0.2), xs, dys);
      const f32 = Math.fround;
      for (let i = 0; i < xs.length; i++) {
        if (Number.isNaN(xs[i])) {
          expect(Number.isNaN(value[i])).toBe(true);
          continue;
        }
        // One float32 multiplication each: the same rounding as the cpu backend's.
        expect(value[i]).toBe(xs[i] > 0 ? xs[i] : f32(f32(0.2) * xs[i]));
        expect(grad[i]).toBe(xs[i] > 0 ? dys[i] : f32(f32(0.2) * dys[i]));
      }
    });

    it('ELU and its gradient match the cpu backend', () => {
      const xs = values(1003, 5, 20);
      const dys = values(1003, 6, 2);
      const f = (t: tf.Tensor) => tf.elu(t);
      const got = valueAndGrad(f, xs, dys);
      void tf.setBackend('cpu');
      const want = valueAndGrad(f, xs, dys);
      void tf.setBackend('wasm');
      for (let i = 0; i < xs.length; i++) {
        // exp(x) - 1 from a polynomial exp: a few ulps of exp(x) <= 1, so ~1e-7 absolute.
        expect(Math.abs(got.value[i] - want.value[i])).toBeLessThan(1e-6 * (1 + Math.abs(xs[i])));
        expect(Math.abs(got.grad[i] - want.grad[i])).toBeLessThan(1e-6);
      }
    });

    it('a squared norm matches the sum in double precision', () => {
      for (const n of [1, 31, 1003, 70000]) {
        const xs = values(n, n, 4);
        let want = 0;
        for (const v of xs) want += v * v;
        const got = tf.tidy(() => squaredNorm(tf.tensor1d(xs)).dataSync()[0]);
        // n float32 additions in partial sums: rounding ~ sqrt(n) ulps of the total at worst
        // n ulps; 1e-5 relative is far above it and far below a lost or doubled term.
        expect(Math.abs(got - want) / want, `n = ${n}`).toBeLessThan(1e-5);
      }
    });

    it('the Bernoulli log-likelihood and its gradient match double precision', () => {
      const [n, d] = [5, 36];
      const rng = new Rng(7);
      const xs = Float32Array.from({ length: n * d }, () => (rng.uniform() < 0.5 ? 0 : 1));
      const ls = values(n * d, 8, 60);
      const dys = values(n, 9, 2);
      const x = tf.tensor2d(xs, [n, d]);
      const l = tf.tensor2d(ls, [n, d]);
      const dy = tf.tensor1d(dys);
      const perRow = tf.tidy(() => bernoulliLogLikelihood(x, l).dataSync());
      const g = tf.grad((lt: tf.Tensor) =>
        tf.sum(tf.mul(bernoulliLogLikelihood(x, lt as tf.Tensor2D), dy)),
      )(l);
      const gs = g.dataSync();
      for (let r = 0; r < n; r++) {
        let want = 0;
        let scale = 0;
        for (let j = 0; j < d; j++) {
          const [xv, lv] = [xs[r * d + j], ls[r * d + j]];
          want += xv * lv - exactSoftplus(lv);
          scale += Math.abs(xv * lv) + exactSoftplus(lv);
          expect(Math.abs(gs[r * d + j] - dys[r] * (xv - exactSigmoid(lv)))).toBeLessThan(1e-6);
        }
        // d float32 terms up to 30 in size, summed in float32: 1e-6 of their total size.
        expect(Math.abs(perRow[r] - want)).toBeLessThan(1e-6 * scale + 1e-6);
      }
      tf.dispose([x, l, dy, g]);
    });
  });
}
