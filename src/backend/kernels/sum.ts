import * as tf from '../../tf.js';
import { nativeBlas } from '../nativeBlas.js';
import type { Info, KernelArgs, KernelPatch } from './kit.js';
import { heapOf, stockKernel } from './kit.js';

// ---------------------------------------------------------------------------------------------
// Sum over leading axes (bias gradients, means over a batch): the stock kernel transposes the
// reduced axes to the end first, a full copy; the native addon sums rows in place.

function sum({ inputs, backend, attrs }: KernelArgs): Info {
  const { x } = inputs as { x: Info };
  const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
  const blas = nativeBlas();
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.every((a, i) => a === i);
  if (!blas || x.dtype !== 'float32' || !leading || axes.length === 0) {
    return stockKernel('Sum')({ inputs, backend, attrs });
  }
  const rows = x.shape.slice(0, axes.length).reduce((p, d) => p * d, 1);
  const kept = x.shape.slice(axes.length);
  const d = kept.reduce((p, n) => p * n, 1);
  const w = heapOf(backend);
  const out = w.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
  blas.sumRows(w.typedArrayFromHeap(x), rows, d, w.typedArrayFromHeap(out));
  return out;
}

export const sumPatch: KernelPatch = {
  name: 'Sum',
  stock: ['Sum'],
  make: () => sum,
};
