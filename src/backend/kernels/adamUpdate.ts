import { ADAM_KERNEL, simdAdamKernel } from '../simd/simdKernels.js';
import type { Kernel, KernelPatch } from './kit.js';

/** One fused Adam update per weight (../../train/adam.ts), in SIMD. */
export const adamUpdatePatch: KernelPatch = {
  name: ADAM_KERNEL,
  stock: [],
  make: (backend) => simdAdamKernel(backend) as unknown as Kernel | undefined,
};
