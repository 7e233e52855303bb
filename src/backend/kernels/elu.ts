import { nativeBlas } from '../nativeBlas.js';
import type { Info, KernelArgs, KernelPatch } from './kit.js';
import { heapOf, stockKernel } from './kit.js';

// ---------------------------------------------------------------------------------------------
// ELU and its gradient (tfjs's EluGrad, from the output y: dy for y > 0, dy (y + 1) below) in
// the native addon, vectorised, where it is loaded; the stock kernels otherwise. The synthetic
// model's step (3 x FC64 ELU parts) spent 1.9 ms of 24 in them.

function nativeOr(stock: string, op: 2 | 3) {
  return ({ inputs, backend, attrs }: KernelArgs): Info => {
    const blas = nativeBlas();
    const first = (op === 2 ? inputs.x : inputs.y) as Info;
    if (!blas || first.dtype !== 'float32') return stockKernel(stock)({ inputs, backend, attrs });
    const w = heapOf(backend);
    const out = w.makeOutput(first.shape, 'float32');
    // The addon counts an undefined argument as given: pass dy only for the gradient.
    if (op === 3)
      blas.unary(
        op,
        w.typedArrayFromHeap(first),
        w.typedArrayFromHeap(out),
        w.typedArrayFromHeap(inputs.dy),
      );
    else blas.unary(op, w.typedArrayFromHeap(first), w.typedArrayFromHeap(out));
    return out;
  };
}

export const eluPatch: KernelPatch = {
  name: 'Elu',
  stock: ['Elu'],
  make: () => nativeOr('Elu', 2),
};

export const eluGradPatch: KernelPatch = {
  name: 'EluGrad',
  stock: ['EluGrad'],
  make: () => nativeOr('EluGrad', 3),
};
