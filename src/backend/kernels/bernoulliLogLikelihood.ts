import {
  BERNOULLI_LL_GRAD_KERNEL,
  BERNOULLI_LL_KERNEL,
  simdBernoulliKernels,
} from '../simd/simdKernels.js';
import { nativeBlas } from '../nativeBlas.js';
import type { Info, Kernel, KernelArgs, KernelPatch } from './kit.js';
import { heapOf } from './kit.js';

/**
 * avb's fused Bernoulli log-likelihood of logits (../../nn/bernoulliLogLikelihood.ts) and its
 * gradient: in the native addon where it is loaded (16 lanes on AVX-512: an AIS transition on
 * MNIST spent 243 ms of 990 in these two in 4-lane SIMD), else in WebAssembly SIMD.
 */
function nativeOr(simd: Kernel | undefined, gradient: boolean): Kernel | undefined {
  if (!simd) return undefined;
  return (args: KernelArgs): Info => {
    const blas = nativeBlas();
    const { x, logits, dy } = args.inputs;
    if (!blas) return simd(args);
    const [n, d] = logits.shape;
    if (logits.shape.length !== 2 || x.shape.join() !== logits.shape.join())
      throw new Error(`${BERNOULLI_LL_KERNEL} needs x and logits of one shape [n, d]`);
    const w = heapOf(args.backend);
    const out = w.makeOutput(gradient ? [n, d] : [n], 'float32');
    const at = (t: Info) => w.typedArrayFromHeap(t);
    // The addon counts an undefined argument as given: pass dy only for the gradient.
    if (gradient) blas.bernoulli(at(x), at(logits), at(out), n, d, at(dy));
    else blas.bernoulli(at(x), at(logits), at(out), n, d);
    return out;
  };
}

export const bernoulliLogLikelihoodPatch: KernelPatch = {
  name: BERNOULLI_LL_KERNEL,
  stock: [],
  make: (backend) => nativeOr(simdBernoulliKernels(backend)?.forward, false),
};

/** Its gradient with respect to the logits. */
export const bernoulliLogLikelihoodGradPatch: KernelPatch = {
  name: BERNOULLI_LL_GRAD_KERNEL,
  stock: [],
  make: (backend) => nativeOr(simdBernoulliKernels(backend)?.gradient, true),
};
