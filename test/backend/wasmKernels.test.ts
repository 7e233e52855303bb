import * as tf from '../../src/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend/initBackend.js';
import { nativeBlasInfo } from '../../src/backend/nativeBlas.js';
import { Rng } from '../../src/random/rng.js';
import { maxRelErr } from '../helpers.js';

// Each replaced wasm kernel is compared with the pure-JS cpu backend on random shapes. Both
// compute in float32; sums of up to a few hundred products of O(1) numbers carry rounding
// errors around 1e-6 relative, so 1e-4 (relative to 1 + |value|) separates rounding from bugs
// (a wrong index or padding gives O(1) errors).
const TOL = 1e-4;

/** Runs `f` on `backend` with inputs rebuilt there from plain arrays; returns flat results. */
function on(backend: string, f: () => tf.Tensor[]): Float32Array[] {
  // Both backends are initialised already (beforeAll): switching between them is immediate.
  void tf.setBackend(backend);
  return tf.tidy(f).map((t) => {
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return v;
  });
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe('BatchMatMul with transposes', () => {
  const rng = new Rng(7);
  for (const [ta, tb] of [
    [true, false],
    [false, true],
    [true, true],
    [false, false],
  ] as const) {
    it(`transposeA=${ta} transposeB=${tb} on random shapes`, () => {
      for (let trial = 0; trial < 4; trial++) {
        const [bt, m, k, n] = [1 + rng.int(3), 1 + rng.int(17), 1 + rng.int(33), 1 + rng.int(9)];
        const aShape = ta ? [bt, k, m] : [bt, m, k];
        const bShape = tb ? [bt, n, k] : [bt, k, n];
        const av = rng.fillNormal(new Float32Array(bt * m * k));
        const bv = rng.fillNormal(new Float32Array(bt * k * n));
        const f = () => [tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), ta, tb)];
        const [want] = on('cpu', f);
        const [got] = on('wasm', f);
        expect(maxRelErr(got, want)).toBeLessThan(TOL);
      }
    });
  }

  // Few rows against a large right operand: a b^T is computed swapped, (b a^T)^T.
  for (const shapes of [
    [
      [3, 40],
      [50, 40],
    ],
    [
      [1, 2, 40],
      [1, 50, 40],
    ],
  ]) {
    it(`a b^T with a ${shapes[0].join('x')} and b ${shapes[1].join('x')} (the swapped path)`, () => {
      const av = rng.fillNormal(new Float32Array(shapes[0].reduce((p, d) => p * d, 1)));
      const bv = rng.fillNormal(new Float32Array(shapes[1].reduce((p, d) => p * d, 1)));
      const f = () => [tf.matMul(tf.tensor(av, shapes[0]), tf.tensor(bv, shapes[1]), false, true)];
      const [want] = on('cpu', f);
      const [got] = on('wasm', f);
      expect(got.length).toBe(want.length);
      expect(maxRelErr(got, want)).toBeLessThan(TOL);
    });
  }

  it('gradients of a 2-D matMul match', () => {
    const av = rng.fillNormal(new Float32Array(5 * 7));
    const bv = rng.fillNormal(new Float32Array(7 * 3));
    const f = () => {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.matMul(a, b).square().sum());
      return g([tf.tensor(av, [5, 7]), tf.tensor(bv, [7, 3])]);
    };
    const want = on('cpu', f);
    const got = on('wasm', f);
    for (let i = 0; i < 2; i++) expect(maxRelErr(got[i], want[i])).toBeLessThan(TOL);
  });
});

describe('BatchMatMul through the native BLAS addon', () => {
  const rng = new Rng(13);
  // The addon is built at install where a C compiler and OpenBLAS exist (CI installs them);
  // elsewhere the same products run on XNNPACK and must agree with the cpu backend all the same.
  it('products large enough for BLAS, with transposes and batch broadcasting, match the cpu backend', () => {
    const info = nativeBlasInfo();
    if (process.env.AVB_REQUIRE_NATIVE === '1') expect(info.core, info.library).toBeDefined();
    for (const [ta, tb, aBatch, bBatch] of [
      [false, false, 1, 1],
      [true, false, 3, 3],
      [false, true, 3, 1],
      [true, true, 1, 2],
    ] as const) {
      const [m, k, n] = [20 + rng.int(40), 30 + rng.int(60), 20 + rng.int(40)];
      const aShape = ta ? [aBatch, k, m] : [aBatch, m, k];
      const bShape = tb ? [bBatch, n, k] : [bBatch, k, n];
      const av = rng.fillNormal(new Float32Array(aShape.reduce((p, d) => p * d, 1)));
      const bv = rng.fillNormal(new Float32Array(bShape.reduce((p, d) => p * d, 1)));
      const f = () => [tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), ta, tb)];
      const [want] = on('cpu', f);
      const [got] = on('wasm', f);
      expect(got.length).toBe(want.length);
      expect(maxRelErr(got, want), `${ta} ${tb} ${aBatch} ${bBatch}`).toBeLessThan(TOL);
    }
  });
});

describe('Sum over leading axes', () => {
  it('matches the cpu backend for leading, trailing and all axes, with and without keepDims', () => {
    const rng = new Rng(19);
    const xv = rng.fillNormal(new Float32Array(6 * 50 * 7));
    for (const axis of [0, [0, 1], [0, 1, 2], 2, [1, 2], undefined] as (number | number[])[])
      for (const keepDims of [false, true]) {
        const f = () => [tf.sum(tf.tensor3d(xv, [6, 50, 7]), axis, keepDims)];
        const [want] = on('cpu', f);
        const [got] = on('wasm', f);
        const shape = tf.tidy(() => tf.sum(tf.zeros([6, 50, 7]), axis, keepDims).shape);
        expect(got.length, `${String(axis)} ${keepDims} ${shape.join('x')}`).toBe(want.length);
        // Sums of up to 2100 N(0, 1) values in another order: rounding ~1e-6 of their size.
        expect(maxRelErr(got, want)).toBeLessThan(TOL);
      }
  });
});

describe('Conv2D through the native BLAS addon', () => {
  it('a convolution and both its gradients match the cpu backend', () => {
    // 3 x 64 x 64 output positions times 5*5*16 filter taps: an im2col matrix of 4.9M values,
    // over the addon's blocks of 4M, so the seam between blocks is exercised in all three modes.
    const rng = new Rng(17);
    const xv = rng.fillNormal(new Float32Array(3 * 64 * 64 * 16));
    const wv = rng.fillNormal(new Float32Array(5 * 5 * 16 * 8));
    const f = () => {
      const x = tf.tensor4d(xv, [3, 64, 64, 16]);
      const w = tf.tensor4d(wv, [5, 5, 16, 8]);
      const y = tf.conv2d(x, w, 1, 'same');
      // dy = sin(position): O(1) like the other gradient tests (a squared loss would make dy
      // as large as y, and the comparison one of y's rounding rather than of the kernels).
      const loss = (a: tf.Tensor4D, b: tf.Tensor4D) => {
        const out = tf.conv2d(a, b, 1, 'same');
        return out.mul(tf.range(0, out.size).reshape(out.shape).sin()).sum();
      };
      const [dx, dw] = tf.grads(loss as (...args: tf.Tensor[]) => tf.Tensor)([x, w]);
      return [y, dx, dw];
    };
    const want = on('cpu', f);
    const got = on('wasm', f);
    // y: sums of 400 products of N(0, 1) values; dx and dW sum thousands of such products.
    // float32 rounding stays near 1e-5 relative to their size; 1e-4 separates it from bugs.
    for (let i = 0; i < 3; i++)
      expect(maxRelErr(got[i], want[i]), ['y', 'dx', 'dW'][i]).toBeLessThan(TOL);
  });
});

describe('conv2d gradients and conv2dTranspose', () => {
  const rng = new Rng(11);
  it('forward conv2d with a 1-wide filter, stride 2, same padding (stock XNNPACK bug)', () => {
    const xv = rng.fillNormal(new Float32Array(16 * 8 * 2));
    const wv = rng.fillNormal(new Float32Array(1 * 2 * 2 * 3));
    const f = () => [
      tf.conv2d(tf.tensor4d(xv, [1, 16, 8, 2]), tf.tensor4d(wv, [1, 2, 2, 3]), 2, 'same'),
    ];
    expect(maxRelErr(on('wasm', f)[0], on('cpu', f)[0])).toBeLessThan(TOL);
  });

  const cases: { stride: 1 | 2; pad: 'same' | 'valid' }[] = [
    { stride: 1, pad: 'same' },
    { stride: 1, pad: 'valid' },
    { stride: 2, pad: 'same' },
    { stride: 2, pad: 'valid' },
  ];
  for (const { stride, pad } of cases) {
    it(`stride ${stride}, padding '${pad}', odd and even sizes`, () => {
      for (let trial = 0; trial < 5; trial++) {
        const n = 1 + rng.int(3);
        const h = 5 + rng.int(9); // 5..13: odd and even
        const w = 5 + rng.int(9);
        const fh = 1 + rng.int(5); // 1..5
        const fw = 1 + rng.int(5);
        const ci = 1 + rng.int(4);
        const co = 1 + rng.int(5);
        const xv = rng.fillNormal(new Float32Array(n * h * w * ci));
        const wv = rng.fillNormal(new Float32Array(fh * fw * ci * co));
        const f = () => {
          const x = tf.tensor4d(xv, [n, h, w, ci]);
          const filt = tf.tensor4d(wv, [fh, fw, ci, co]);
          // A non-uniform upstream gradient (weights by position) exercises every index.
          const loss = (a: tf.Tensor4D, b: tf.Tensor4D) => {
            const y = tf.conv2d(a, b, stride, pad);
            const weights = tf.range(0, y.size).reshape(y.shape).sin();
            return y.mul(weights).sum();
          };
          const y = tf.conv2d(x, filt, stride, pad);
          const [dx, dw] = tf.grads(loss as (...args: tf.Tensor[]) => tf.Tensor)([x, filt]);
          return [dx, dw, y];
        };
        const want = on('cpu', f);
        const got = on('wasm', f);
        const shape = `x ${[n, h, w, ci].join('x')} filter ${[fh, fw, ci, co].join('x')}`;
        expect(maxRelErr(got[2], want[2]), `y, ${shape}`).toBeLessThan(TOL);
        expect(maxRelErr(got[0], want[0]), `dx, ${shape}`).toBeLessThan(TOL);
        expect(maxRelErr(got[1], want[1]), `dW, ${shape}`).toBeLessThan(TOL);
      }
    });

    it(`conv2dTranspose and its gradients, stride ${stride}, padding '${pad}'`, () => {
      for (let trial = 0; trial < 3; trial++) {
        const n = 1 + rng.int(2);
        const h = 3 + rng.int(6);
        const w = 3 + rng.int(6);
        const fh = 1 + rng.int(5);
        const fw = 1 + rng.int(5);
        const ci = 1 + rng.int(4); // channels of the transposed conv's input
        const co = 1 + rng.int(4);
        const outH = pad === 'same' ? h * stride : (h - 1) * stride + fh;
        const outW = pad === 'same' ? w * stride : (w - 1) * stride + fw;
        const xv = rng.fillNormal(new Float32Array(n * h * w * ci));
        const wv = rng.fillNormal(new Float32Array(fh * fw * co * ci));
        const f = () => {
          const loss = (a: tf.Tensor4D, b: tf.Tensor4D) => {
            const y = tf.conv2dTranspose(a, b, [n, outH, outW, co], stride, pad);
            return y.mul(tf.range(0, y.size).reshape(y.shape).cos()).sum();
          };
          const x = tf.tensor4d(xv, [n, h, w, ci]);
          const filt = tf.tensor4d(wv, [fh, fw, co, ci]);
          const y = tf.conv2dTranspose(x, filt, [n, outH, outW, co], stride, pad);
          const [dx, dw] = tf.grads(loss as (...args: tf.Tensor[]) => tf.Tensor)([x, filt]);
          return [y, dx, dw];
        };
        const want = on('cpu', f);
        const got = on('wasm', f);
        for (let i = 0; i < 3; i++) {
          const what = `${['y', 'dx', 'dW'][i]} x ${[n, h, w, ci].join('x')} filter ${[fh, fw, co, ci].join('x')}`;
          expect(maxRelErr(got[i], want[i]), what).toBeLessThan(TOL);
        }
      }
    });
  }
});
