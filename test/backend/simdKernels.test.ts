import * as tf from '../../src/tf.js';
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/initBackend.js';
import { Rng } from '../../src/random/rng.js';
import { assembleWat, wasmModuleSource } from '../../scripts/assemble-wat.mjs';
import { bernoulliLogLikelihood } from '../../src/nn/bernoulliLogLikelihood.js';
import { ADAM_KERNEL } from '../../src/backend/simd/simdKernels.js';
import { Adam } from '../../src/train/adam.js';

let patched: string[] = [];
beforeAll(async () => {
  patched = (await initBackend('wasm')).patchedKernels;
});

/** softplus in double precision: the exact answer the float32 kernel is compared with. */
const exact = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

describe('SIMD Softplus on the wasm backend', () => {
  it('is registered', () => {
    expect(patched).toContain('Softplus');
  });

  // Lengths 0..3 run only the scalar tail; 1003 runs the 4-lane loop and a 3-value tail.
  for (const n of [0, 1, 3, 8, 1003]) {
    it(`matches softplus in double precision on ${n} values in [-90, 90]`, () => {
      const rng = new Rng(n + 1);
      const xs = Float32Array.from({ length: n }, () => (rng.uniform() - 0.5) * 180);
      const got = tf.tidy(() => tf.softplus(tf.tensor1d(xs)).dataSync());
      for (let i = 0; i < n; i++) {
        const want = exact(xs[i]);
        if (xs[i] < -87) {
          // Inputs are clamped at |x| = 87, so the result is exp(-87) ~ 1.6e-38 instead of
          // exp(x) < 1.6e-38: both are zero next to anything they are added to.
          expect(got[i]).toBeLessThan(2e-38);
          expect(got[i]).toBeGreaterThanOrEqual(0);
        } else {
          // Polynomial truncation is < 2e-8 relative; the rest is float32 rounding in about
          // ten multiply-adds (a few ulps of 1.2e-7). 4e-7 is ~3 ulps; measured max 2.7e-7.
          expect(Math.abs(got[i] - want) / want).toBeLessThan(4e-7);
        }
      }
    });
  }

  it('keeps NaN and the infinities', () => {
    const got = tf.tidy(() =>
      tf.softplus(tf.tensor1d([NaN, Infinity, -Infinity, 0, NaN, 5, -5, 1e-30])).dataSync(),
    );
    expect(Number.isNaN(got[0])).toBe(true);
    expect(got[1]).toBe(Infinity);
    expect(got[2]).toBeLessThan(2e-38);
    expect(got[3]).toBeCloseTo(Math.LN2, 6);
    expect(Number.isNaN(got[4])).toBe(true);
    expect(got[5]).toBeCloseTo(exact(5), 5);
    expect(got[6]).toBeCloseTo(exact(-5), 7);
    expect(got[7]).toBeCloseTo(Math.LN2, 6);
  });

  it('keeps the gradient of softplus (the sigmoid)', () => {
    const x = tf.tensor1d([-3, -0.5, 0, 2, 10]);
    const g = tf
      .grad((v: tf.Tensor) => tf.sum(tf.softplus(v)))(x)
      .dataSync();
    [-3, -0.5, 0, 2, 10].forEach((v, i) => expect(g[i]).toBeCloseTo(1 / (1 + Math.exp(-v)), 6));
    x.dispose();
  });

  it('the committed module is the assembled .wat (run `npm run assemble-wat` after editing)', async () => {
    const dir = 'src/backend/simd';
    const bytes = await assembleWat(`${dir}/simdMath.wat`);
    expect(fs.readFileSync(`${dir}/simdMath.wasm.ts`, 'utf8')).toBe(
      wasmModuleSource('simdMath', bytes),
    );
  });
});

describe('Identity and same-dtype Cast share data on the wasm backend', () => {
  it('a clone keeps its values after the original is disposed, and memory is returned', () => {
    expect(patched).toEqual(expect.arrayContaining(['Identity', 'Cast']));
    const before = tf.memory().numDataBuffers;
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const b = tf.clone(a);
    const c = tf.cast(a, 'float32');
    // Sharing: one data buffer for the three tensors.
    expect(tf.memory().numDataBuffers - before).toBe(1);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4]);
    b.dispose();
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3, 4]);
    c.dispose();
    expect(tf.memory().numDataBuffers).toBe(before);
  });

  it('a variable assigned after cloning leaves the clone unchanged', () => {
    const v = tf.variable(tf.tensor1d([1, 2]));
    const snapshot = tf.clone(v);
    v.assign(tf.tensor1d([5, 6]));
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2]);
    expect(Array.from(v.dataSync())).toEqual([5, 6]);
    tf.dispose([v, snapshot]);
  });

  it('casts between dtypes still convert, and to bool as x != 0', () => {
    // Stock wasm Cast to bool wraps the value into a byte (-2.2 -> 254, 256 -> 0).
    const t = tf.tensor1d([1.7, -2.2, 0, 256, 0.4, NaN]);
    expect(Array.from(tf.cast(t, 'int32').dataSync()).slice(0, 5)).toEqual([1, -2, 0, 256, 0]);
    expect(Array.from(tf.cast(t, 'bool').dataSync())).toEqual([1, 1, 0, 1, 1, 1]);
    t.dispose();
  });
});

describe('fused Bernoulli log-likelihood on the wasm backend', () => {
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

  // d = 12 runs the fused kernels; d = 5 (not a multiple of 4) the tfjs-ops fallback.
  for (const [n, d] of [
    [7, 12],
    [3, 5],
  ]) {
    it(`value and gradient match double precision, [${n}, ${d}], binary and grey x`, () => {
      expect(patched).toContain('AvbBernoulliLogLikelihood');
      const rng = new Rng(d);
      const xs = Float32Array.from({ length: n * d }, (_, i) =>
        i % 3 === 0 ? rng.uniform() : rng.uniform() < 0.5 ? 0 : 1,
      );
      const ls = Float32Array.from({ length: n * d }, () => (rng.uniform() - 0.5) * 60);
      const dys = Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1);
      const x = tf.tensor2d(xs, [n, d]);
      const l = tf.tensor2d(ls, [n, d]);
      const dy = tf.tensor1d(dys);
      const { value, grads } = tf.valueAndGrads((lt: tf.Tensor) =>
        tf.sum(tf.mul(bernoulliLogLikelihood(x, lt as tf.Tensor2D), dy)),
      )([l]);
      const perRow = tf.tidy(() => bernoulliLogLikelihood(x, l).dataSync());
      const g = grads[0].dataSync();
      let total = 0;
      for (let r = 0; r < n; r++) {
        let want = 0;
        let scale = 0;
        for (let j = 0; j < d; j++) {
          const [xv, lv] = [xs[r * d + j], ls[r * d + j]];
          const term = xv * lv - exact(lv);
          want += term;
          scale += Math.abs(xv * lv) + exact(lv);
          // Each gradient value: a few ulps of sigmoid, times |dy| <= 1.
          expect(Math.abs(g[r * d + j] - dys[r] * (xv - sigmoid(lv)))).toBeLessThan(1e-6);
        }
        // d float32 terms of magnitude up to 30, each rounded a few times, summed in float32:
        // 1e-6 of the sum of magnitudes bounds that rounding (a wrong term is off by O(1)).
        expect(Math.abs(perRow[r] - want)).toBeLessThan(1e-6 * scale + 1e-6);
        total += dys[r] * want;
      }
      expect(Math.abs(value.dataSync()[0] - total)).toBeLessThan(1e-3);
      tf.dispose([x, l, dy, value, ...grads]);
    });
  }
});

describe('fused Adam update on the wasm backend', () => {
  it('is registered', () => {
    expect(patched).toContain(ADAM_KERNEL);
  });

  // The fused kernel does the per-op version's float32 operations in the same order, and
  // float32 +, *, / and sqrt are correctly rounded on both backends: the values are identical,
  // not merely close. Lengths cover the scalar tail alone, the 4-lane loop, and both.
  for (const n of [1, 3, 4, 301]) {
    it(`gives exactly the per-op update (cpu backend) on ${n} values, over 3 steps`, () => {
      const rng = new Rng(40 + n);
      const start = () => ({
        w: rng.fillNormal(new Float32Array(n)),
        grads: [0, 1, 2].map(() => rng.fillNormal(new Float32Array(n))),
      });
      const init = start();
      const run = (backend: string) => {
        void tf.setBackend(backend);
        const w = tf.variable(tf.tensor1d(init.w));
        const adam = new Adam([w], { learningRate: 0.01, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 });
        for (const g of init.grads) {
          const gt = tf.tensor1d(g);
          adam.apply([gt]);
          gt.dispose();
        }
        const out = { w: w.dataSync().slice(), state: adam.state() };
        adam.dispose();
        w.dispose();
        return out;
      };
      const want = run('cpu');
      const got = run('wasm');
      expect(Array.from(got.w)).toEqual(Array.from(want.w));
      expect(Array.from(got.state.m[0])).toEqual(Array.from(want.state.m[0]));
      expect(Array.from(got.state.v[0])).toEqual(Array.from(want.state.v[0]));
    });
  }
});
