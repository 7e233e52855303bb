import type * as tf from '../../tf.js';
import { ADAM_KERNEL, simdAdamKernel } from '../simd/simdKernels.js';
import type { AdamKernelAttrs } from '../simd/simdKernels.js';
import { nativeBlas } from '../nativeBlas.js';
import type { Kernel, KernelPatch } from './kit.js';
import { heapOf } from './kit.js';

/**
 * One fused Adam update per weight (../../train/adam.ts): in the native addon where it is loaded
 * (vectorised for the CPU, and split across threads for large weights), else in WebAssembly
 * SIMD. Both give the per-op update's float32 values exactly.
 */
export const adamUpdatePatch: KernelPatch = {
  name: ADAM_KERNEL,
  stock: [],
  make: (backend) => {
    const simd = simdAdamKernel(backend);
    if (!simd) return undefined;
    const w = heapOf(backend);
    return ((args: { inputs: Record<string, tf.TensorInfo>; attrs?: unknown }) => {
      const blas = nativeBlas();
      if (!blas) return simd(args);
      const { inputs, attrs } = args;
      const a = attrs as AdamKernelAttrs;
      const outs = [inputs.w, inputs.m, inputs.v].map((t) => w.makeOutput(t.shape, 'float32'));
      // Views after every allocation: an allocation may grow the heap and detach older views.
      const [W, G, M, V, WO, MO, VO] = [inputs.w, inputs.g, inputs.m, inputs.v, ...outs].map((t) =>
        w.typedArrayFromHeap(t),
      );
      const k = Float32Array.of(a.alpha, a.beta1, a.c1, a.beta2, a.c2, a.epsilon);
      blas.adam(W, G, M, V, WO, MO, VO, k);
      return outs;
    }) as unknown as Kernel;
  },
};
