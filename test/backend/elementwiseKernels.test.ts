import * as tf from '../../src/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/initBackend.js';
import { loadNativeBlas, nativeBlas } from '../../src/backend/nativeBlas.js';
import { bernoulliLogLikelihood } from '../../src/nn/bernoulliLogLikelihood.js';
import { leakyRelu, softplus } from '../../src/nn/activations.js';
import { squaredNorm } from '../../src/train/squaredNorm.js';
import { Rng } from '../../src/random/rng.js';
import { Adam } from '../../src/train/adam.js';

// avb's element-wise kernels on the wasm backend, each on both of its paths: the native addon
// (vectorised C, where it is built: CI builds it and sets AVB_REQUIRE_NATIVE=1) and the
// fallback a browser runs (WebAssembly SIMD or a JavaScript loop). Each is compared with the
// exact answer in double precision or with the cpu backend. Lengths such as 1003 run the
// vector loops and their scalar remainders.

/**
 * The addon on one thread and on two (softplus, ELU and the Bernoulli log-likelihood split a
 * large enough tensor across threads: the sizes below reach that), and off.
 */
const PATHS = [
  { name: 'native, 1 thread', native: true, threads: 1 },
  { name: 'native, 2 threads', native: true, threads: 2 },
  { name: 'fallback (no addon)', native: false, threads: 1 },
] as const;

/** Switches the addon on or off for the kernels (they look it up at each call). */
async function use(native: boolean, threads: number): Promise<boolean> {
  if (native) delete process.env.AVB_NO_NATIVE;
  else process.env.AVB_NO_NATIVE = '1';
  await loadNativeBlas(threads);
  return nativeBlas() !== undefined;
}

/** Sizes that run the vector loops, their remainders, and (natively) a split across threads. */
const SIZES = [1003, 1_100_003];

/** How many of `n` indices fail `ok`, and the first that does. */
function failures(n: number, ok: (i: number) => boolean): string {
  let count = 0;
  let first = -1;
  for (let i = 0; i < n; i++)
    if (!ok(i)) {
      count++;
      if (first < 0) first = i;
    }
  return count === 0 ? 'none' : `${count} of ${n}, first at ${first}`;
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
  await use(true, 1);
});

for (const path of PATHS) {
  describe(`element-wise kernels, ${path.name}`, () => {
    beforeAll(async () => {
      const loaded = await use(path.native, path.threads);
      if (path.native && process.env.AVB_REQUIRE_NATIVE === '1') expect(loaded).toBe(true);
      if (!path.native) expect(loaded).toBe(false);
    });

    for (const n of SIZES)
      it(`softplus and its gradient match double precision on ${n} values in [-90, 90]`, () => {
        const xs = values(n, 1, 180);
        const dys = values(n, 2, 2);
        const { value, grad } = valueAndGrad(softplus, xs, dys);
        const bad = failures(n, (i) =>
          xs[i] < -87
            ? // Inputs are clamped at |x| = 87: exp(-87) ~ 1.6e-38 instead of a smaller exp(x).
              value[i] < 2e-38
            : // Polynomials truncated below 2e-8 relative plus a few float32 roundings (ulp
              // 1.2e-7); measured at most 2.7e-7 on the SIMD path.
              Math.abs(value[i] - exactSoftplus(xs[i])) / exactSoftplus(xs[i]) < 4e-7 &&
              // dy sigmoid(x): a few ulps of a value below 1 in magnitude.
              Math.abs(grad[i] - dys[i] * exactSigmoid(xs[i])) < 1e-6,
        );
        expect(bad).toBe('none');
      });

    it('softplus keeps NaN and the infinities', () => {
      const got = tf.tidy(() => softplus(tf.tensor1d([NaN, Infinity, -Infinity, 0])).dataSync());
      expect(Number.isNaN(got[0])).toBe(true);
      expect(got[1]).toBe(Infinity);
      expect(got[2]).toBeLessThan(2e-38);
      expect(got[3]).toBeCloseTo(Math.LN2, 6);
    });

    for (const n of SIZES)
      it(`leaky ReLU and its gradient are exact on ${n} values, zero and NaN included`, () => {
        const xs = values(n, 3, 10);
        xs[5] = 0;
        xs[6] = NaN;
        const dys = values(n, 4, 2);
        const { value, grad } = valueAndGrad((t) => leakyRelu(t, 0.2), xs, dys);
        const f32 = Math.fround;
        const bad = failures(n, (i) =>
          Number.isNaN(xs[i])
            ? Number.isNaN(value[i])
            : // One float32 multiplication each: the same rounding as the cpu backend's.
              value[i] === (xs[i] > 0 ? xs[i] : f32(f32(0.2) * xs[i])) &&
              grad[i] === (xs[i] > 0 ? dys[i] : f32(f32(0.2) * dys[i])),
        );
        expect(bad).toBe('none');
      });

    it('ELU and its gradient match the cpu backend', () => {
      const n = SIZES[1];
      const xs = values(n, 5, 20);
      const dys = values(n, 6, 2);
      const f = (t: tf.Tensor) => tf.elu(t);
      const got = valueAndGrad(f, xs, dys);
      void tf.setBackend('cpu');
      const want = valueAndGrad(f, xs, dys);
      void tf.setBackend('wasm');
      const bad = failures(
        n,
        (i) =>
          // exp(x) - 1 from a polynomial exp: a few ulps of exp(x) <= 1, so ~1e-7 absolute.
          Math.abs(got.value[i] - want.value[i]) < 1e-6 * (1 + Math.abs(xs[i])) &&
          Math.abs(got.grad[i] - want.grad[i]) < 1e-6,
      );
      expect(bad).toBe('none');
    });

    it('an Adam update gives the per-op values (cpu backend) exactly', () => {
      // The fused kernels do train/adam.ts's float32 operations in its order, and +, *, / and
      // sqrt are correctly rounded everywhere: identical values, not merely close.
      const n = 600_001;
      const rng = new Rng(11);
      const w0 = rng.fillNormal(new Float32Array(n));
      const grads = [0, 1].map(() => rng.fillNormal(new Float32Array(n)));
      const run = (backend: string) => {
        void tf.setBackend(backend);
        const w = tf.variable(tf.tensor1d(w0));
        const adam = new Adam([w], { learningRate: 0.01, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 });
        for (const g of grads) tf.tidy(() => adam.apply([tf.tensor1d(g)]));
        const out = { w: w.dataSync().slice(), m: adam.state().m[0], v: adam.state().v[0] };
        adam.dispose();
        w.dispose();
        return out;
      };
      const want = run('cpu');
      const got = run('wasm');
      expect(failures(n, (i) => got.w[i] === want.w[i])).toBe('none');
      expect(failures(n, (i) => got.m[i] === want.m[i] && got.v[i] === want.v[i])).toBe('none');
    });

    it('a squared norm matches the sum in double precision', () => {
      for (const n of [1, 31, 1003, 70000, SIZES[1]]) {
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
      // 8,000 rows of 36: split across two threads natively (3,641 rows a thread at least).
      const [n, d] = [8000, 36];
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
      let [badRows, badGrad] = [0, 0];
      for (let r = 0; r < n; r++) {
        let want = 0;
        let scale = 0;
        for (let j = 0; j < d; j++) {
          const [xv, lv] = [xs[r * d + j], ls[r * d + j]];
          want += xv * lv - exactSoftplus(lv);
          scale += Math.abs(xv * lv) + exactSoftplus(lv);
          if (Math.abs(gs[r * d + j] - dys[r] * (xv - exactSigmoid(lv))) >= 1e-6) badGrad++;
        }
        // d float32 terms up to 30 in size, summed in float32: 1e-6 of their total size.
        if (Math.abs(perRow[r] - want) >= 1e-6 * scale + 1e-6) badRows++;
      }
      expect({ badRows, badGrad }).toEqual({ badRows: 0, badGrad: 0 });
      tf.dispose([x, l, dy, g]);
    });
  });
}
