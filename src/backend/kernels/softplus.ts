import { simdSoftplusKernel } from '../simd/simdKernels.js';
import { nativeBlas } from '../nativeBlas.js';
import type { Info, Kernel, KernelArgs, KernelPatch } from './kit.js';
import { Scratch, heapOf, stockKernel } from './kit.js';

// ---------------------------------------------------------------------------------------------
// Softplus and its gradient. The stock forward calls scalar libm (~14 ns a value). Ours runs in
// the native addon where it is loaded (the wasm SIMD algorithm 16 lanes wide on AVX-512: an AIS
// transition on MNIST spends 107 ms of 990 in softplus in 4-lane SIMD), else in 4-lane
// WebAssembly SIMD (../simd/), else the stock kernel. The gradient dy sigmoid(x), which tfjs
// composes of Sigmoid and Multiply, is one pass (`nn/activations.ts` calls it).

/** Kernel name: `{x, dy}` (float32, one shape) -> dy sigmoid(x), softplus's gradient. */
export const SOFTPLUS_GRAD_KERNEL = 'AvbSoftplusGrad';

export const softplusPatch: KernelPatch = {
  name: 'Softplus',
  stock: ['Softplus'],
  make: (backend) => {
    const simd = simdSoftplusKernel(backend, stockKernel('Softplus')) as unknown as
      Kernel | undefined;
    return (args: KernelArgs): Info => {
      const blas = nativeBlas();
      const { x } = args.inputs;
      if (!blas || x.dtype !== 'float32') return (simd ?? stockKernel('Softplus'))(args);
      const w = heapOf(backend);
      const out = w.makeOutput(x.shape, 'float32');
      blas.unary(0, w.typedArrayFromHeap(x), w.typedArrayFromHeap(out));
      return out;
    };
  },
};

function softplusGrad({ inputs, backend }: KernelArgs): Info {
  const { x, dy } = inputs as { x: Info; dy: Info };
  const blas = nativeBlas();
  if (!blas) {
    // Without the addon (browsers): tfjs's own composition, XNNPACK's vectorised sigmoid.
    const scratch = new Scratch(backend);
    return scratch.done(scratch.run('Multiply', { a: dy, b: scratch.run('Sigmoid', { x }) }));
  }
  const w = heapOf(backend);
  const out = w.makeOutput(x.shape, 'float32');
  blas.unary(1, w.typedArrayFromHeap(x), w.typedArrayFromHeap(out), w.typedArrayFromHeap(dy));
  return out;
}

export const softplusGradPatch: KernelPatch = {
  name: SOFTPLUS_GRAD_KERNEL,
  stock: ['Sigmoid', 'Multiply'],
  make: () => softplusGrad,
};
