import type * as tf from '../../tf.js';
import { nativeBlas } from '../nativeBlas.js';
import type { Info, KernelArgs, KernelPatch } from './kit.js';
import { BLAS_MIN_WORK, heapOf, Scratch, stockKernel } from './kit.js';

// ---------------------------------------------------------------------------------------------
// BatchMatMul: explicit transposes, then the plain (fast) kernel.

function batchMatMul({ inputs, backend, attrs }: KernelArgs): Info {
  const { a, b } = inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  const viaBlas = blasMatMul(backend, a, b, transposeA, transposeB);
  if (viaBlas) return viaBlas;
  if (!transposeA && !transposeB) {
    return stockKernel('BatchMatMul')({ inputs, backend, attrs });
  }
  const s = new Scratch(backend);
  if (!transposeA && transposeB && swapPays(a.shape, b.shape)) {
    // a b^T = (b a^T)^T: b goes in as the left operand, so XNNPACK packs the small a^T instead
    // of a transposed copy of the (weight) matrix b.
    const [m, k] = a.shape.slice(-2);
    const n = b.shape[b.shape.length - 2];
    const aT = s.run(
      'Transpose',
      { x: s.run('Reshape', { x: a }, { shape: [m, k] }) },
      { perm: [1, 0] },
    );
    const b2 = s.run('Reshape', { x: b }, { shape: [n, k] });
    const outT = s.run('BatchMatMul', { a: b2, b: aT }, { transposeA: false, transposeB: false });
    const out = s.run('Transpose', { x: outT }, { perm: [1, 0] });
    return s.done(s.run('Reshape', { x: out }, { shape: [...a.shape.slice(0, -2), m, n] }));
  }
  const a2 = transposeA ? s.run('Transpose', { x: a }, { perm: swapLast2(a.shape.length) }) : a;
  const b2 = transposeB ? s.run('Transpose', { x: b }, { perm: swapLast2(b.shape.length) }) : b;
  const out = s.run('BatchMatMul', { a: a2, b: b2 }, { transposeA: false, transposeB: false });
  return s.done(out);
}

/**
 * The product through the native BLAS addon, reading and writing the wasm heap in place; the
 * transposes are BLAS's own (no copies). Undefined when the addon is not loaded, the dtype is not
 * float32, the batch dimensions do not match (or broadcast from 1), or the product is tiny.
 */
function blasMatMul(
  backend: tf.KernelBackend,
  a: Info,
  b: Info,
  transposeA: boolean,
  transposeB: boolean,
): Info | undefined {
  const blas = nativeBlas();
  if (!blas || a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [m, k] = transposeA
    ? [a.shape[ra - 1], a.shape[ra - 2]]
    : [a.shape[ra - 2], a.shape[ra - 1]];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batchA = a.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const batchB = b.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const batch = Math.max(batchA, batchB);
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
  if (ra !== rb || m * n * k < BLAS_MIN_WORK) return undefined;
  const w = heapOf(backend);
  const outShape = [...(batchA >= batchB ? a.shape : b.shape).slice(0, -2), m, n];
  const out = w.makeOutput(outShape, 'float32');
  // Views taken after the output's allocation (which may grow the heap and detach older views).
  blas.sgemm(
    transposeA,
    transposeB,
    batch,
    m,
    n,
    k,
    w.typedArrayFromHeap(a),
    batchA === 1 ? 0 : m * k,
    w.typedArrayFromHeap(b),
    batchB === 1 ? 0 : k * n,
    w.typedArrayFromHeap(out),
  );
  return out;
}

/**
 * Whether a [m, k] b^T for b [n, k] (no batch) is cheaper swapped. The stock kernel hands its
 * right operand to XNNPACK's fully connected operator, which packs (copies, transposing) it on
 * every new tensor: the direct way transposes b and packs it (2 n k values moved), the swapped
 * way transposes a, packs it and transposes the output (m (2 k + n)). For a gradient through a
 * 1024 x 1024 layer at batch 64 that is 2.1M against 0.2M values; for large batches (AIS: 4000
 * rows) the direct way wins.
 */
function swapPays(aShape: number[], bShape: number[]): boolean {
  const batch = (shape: number[]) => shape.slice(0, -2).reduce((p, d) => p * d, 1);
  if (batch(aShape) !== 1 || batch(bShape) !== 1) return false;
  const [m, k] = aShape.slice(-2);
  const n = bShape[bShape.length - 2];
  return m * (2 * k + n) < 2 * n * k;
}

function swapLast2(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

export const batchMatMulPatch: KernelPatch = {
  name: 'BatchMatMul',
  stock: ['BatchMatMul', 'Transpose', 'Reshape'],
  make: () => batchMatMul,
};
