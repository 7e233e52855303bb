import { nativeBlas } from '../nativeBlas.js';
import type { Info, KernelArgs, KernelPatch } from './kit.js';
import { heapOf, stockKernel } from './kit.js';

// ---------------------------------------------------------------------------------------------
// Leaky ReLU and its gradient, each one pass over the heap: the stock forward is a scalar loop
// (0.67 ms per 128 x 1024 values), and tfjs's gradient is Greater, Multiply and Select, three
// more scalar passes and two temporaries. On the adversary of avb-mlp (3 x FC1024 towers) the
// two took 19 ms of a 155 ms step (`npm run bench:profile`). The native addon runs them
// vectorised; without it (browsers) a JavaScript loop on the heap views, still one pass.

/** Kernel name: `{x, dy}` (float32, one shape) with attrs `{alpha}` -> dx. */
export const LEAKY_RELU_GRAD_KERNEL = 'AvbLeakyReluGrad';

function leakyRelu({ inputs, backend, attrs }: KernelArgs): Info {
  const { x } = inputs as { x: Info };
  if (x.dtype !== 'float32') return stockKernel('LeakyRelu')({ inputs, backend, attrs });
  const alpha = (attrs as { alpha: number }).alpha;
  const w = heapOf(backend);
  const out = w.makeOutput(x.shape, 'float32');
  const xs = w.typedArrayFromHeap(x);
  const ys = w.typedArrayFromHeap(out);
  const blas = nativeBlas();
  if (blas) blas.leakyRelu(alpha, xs, ys);
  else {
    // alpha in float32, as the stock kernel and the addon take it.
    const a = Math.fround(alpha);
    for (let i = 0; i < xs.length; i++) ys[i] = xs[i] > 0 ? xs[i] : a * xs[i];
  }
  return out;
}

function leakyReluGrad({ inputs, backend, attrs }: KernelArgs): Info {
  const { x, dy } = inputs as { x: Info; dy: Info };
  const alpha = (attrs as { alpha: number }).alpha;
  const w = heapOf(backend);
  const out = w.makeOutput(x.shape, 'float32');
  const xs = w.typedArrayFromHeap(x);
  const dys = w.typedArrayFromHeap(dy);
  const dxs = w.typedArrayFromHeap(out);
  const blas = nativeBlas();
  if (blas) blas.leakyRelu(alpha, xs, dxs, dys);
  else {
    const a = Math.fround(alpha);
    for (let i = 0; i < xs.length; i++) dxs[i] = xs[i] > 0 ? dys[i] : a * dys[i];
  }
  return out;
}

export const leakyReluPatch: KernelPatch = {
  name: 'LeakyRelu',
  stock: ['LeakyRelu'],
  make: () => leakyRelu,
};

export const leakyReluGradPatch: KernelPatch = {
  name: LEAKY_RELU_GRAD_KERNEL,
  stock: [],
  make: () => leakyReluGrad,
};
