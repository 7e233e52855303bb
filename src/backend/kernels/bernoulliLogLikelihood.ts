import {
  BERNOULLI_LL_GRAD_KERNEL,
  BERNOULLI_LL_KERNEL,
  simdBernoulliKernels,
} from '../simd/simdKernels.js';
import type { KernelPatch } from './kit.js';

/** avb's fused Bernoulli log-likelihood of logits (../../nn/bernoulliLogLikelihood.ts), in SIMD. */
export const bernoulliLogLikelihoodPatch: KernelPatch = {
  name: BERNOULLI_LL_KERNEL,
  stock: [],
  make: (backend) => simdBernoulliKernels(backend)?.forward,
};

/** Its gradient with respect to the logits. */
export const bernoulliLogLikelihoodGradPatch: KernelPatch = {
  name: BERNOULLI_LL_GRAD_KERNEL,
  stock: [],
  make: (backend) => simdBernoulliKernels(backend)?.gradient,
};
