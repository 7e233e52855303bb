import { simdSoftplusKernel } from '../simd/simdKernels.js';
import type { Kernel, KernelPatch } from './kit.js';
import { stockKernel } from './kit.js';

/** Softplus in 4-lane WebAssembly SIMD (../simd/) where the browser or Node has SIMD. */
export const softplusPatch: KernelPatch = {
  name: 'Softplus',
  stock: ['Softplus'],
  make: (backend) =>
    simdSoftplusKernel(backend, stockKernel('Softplus')) as unknown as Kernel | undefined,
};
