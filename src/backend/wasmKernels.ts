import * as tf from '../tf.js';
import { adamUpdatePatch } from './kernels/adamUpdate.js';
import { batchMatMulPatch } from './kernels/batchMatMul.js';
import {
  bernoulliLogLikelihoodGradPatch,
  bernoulliLogLikelihoodPatch,
} from './kernels/bernoulliLogLikelihood.js';
import { castPatch } from './kernels/cast.js';
import { conv2DPatch } from './kernels/conv2D.js';
import { conv2DBackpropFilterPatch } from './kernels/conv2DBackpropFilter.js';
import { conv2DBackpropInputPatch } from './kernels/conv2DBackpropInput.js';
import { identityPatch } from './kernels/identity.js';
import { leakyReluGradPatch, leakyReluPatch } from './kernels/leakyRelu.js';
import type { KernelPatch } from './kernels/kit.js';
import { BACKEND, captureStock } from './kernels/kit.js';
import { softplusGradPatch, softplusPatch } from './kernels/softplus.js';
import { eluGradPatch, eluPatch } from './kernels/elu.js';
import { sumPatch } from './kernels/sum.js';
import { sumSquaresPatch } from './kernels/sumSquares.js';

/**
 * Kernels avb adds to, or replaces in, TensorFlow.js's wasm backend.
 *
 * Stock tfjs-backend-wasm 4.22 cannot train a conv net and trains an MLP slowly
 * (../shared/BACKEND.md has the measurements):
 * - `BatchMatMul` with `transposeA`/`transposeB` (emitted by every matMul gradient) is ~5x slower
 *   than the plain case. We transpose the operand explicitly and call the plain kernel.
 * - `Conv2DBackpropInput` is a naive loop (~10x the forward conv). We compute it as s*s stride-1
 *   convolutions of dy with sub-filters (one per output phase), interleaved afterwards, so all
 *   the arithmetic runs in the XNNPACK convolution.
 * - `Conv2DBackpropFilter` is missing (any conv filter gradient throws). We compute it as a
 *   dilated convolution of the transposed input with the transposed dy.
 *
 * - `Conv2D` with 'same' padding gives wrong results in some shapes (stride 2 with a filter of
 *   height or width 1 along a dimension whose TensorFlow padding is zero: XNNPACK's own SAME
 *   rule pads differently). We pass tfjs's explicit padding to the stock kernel instead.
 * - `Identity` (and a `Cast` to the same dtype) copies the data; tfjs clones every tensor an op
 *   saves for its gradient, so under a gradient tape that is one copy per saved tensor. Tensors
 *   are immutable, so we share the data and count the reference, as the cpu backend does.
 *   `Cast` to bool wraps values into a byte (-2.2 gives 254, 256 gives false); we compute x != 0.
 * - `Softplus` runs scalar libm code (~10x XNNPACK's sigmoid). Where WebAssembly SIMD is
 *   available we run our own 4-lane version (./simd/) on the backend's heap.
 * - `LeakyRelu` is a scalar loop and its gradient three more; a gradient's squared norm (read
 *   back each step) was Square then a Sum that adds one value at a time. One pass each, in the
 *   native addon where it is loaded (`nn/activations.ts`, `train/squaredNorm.ts` call them).
 * - Where the native addon is loaded, `Softplus` (and its gradient, one kernel), `Elu`,
 *   `EluGrad` and the fused Bernoulli log-likelihood run there, vectorised for the CPU.
 *
 * The replacements are registered in tfjs's kernel registry (the extension point tfjs itself
 * uses), composed from the stock wasm kernels, and tested against the cpu backend.
 *
 * One kernel, one file (./kernels/), each a {@link KernelPatch}; this list is the only place
 * they are named.
 */
export const WASM_KERNEL_PATCHES: KernelPatch[] = [
  batchMatMulPatch,
  conv2DPatch,
  conv2DBackpropInputPatch,
  conv2DBackpropFilterPatch,
  identityPatch,
  castPatch,
  sumPatch,
  softplusPatch,
  softplusGradPatch,
  eluPatch,
  eluGradPatch,
  leakyReluPatch,
  leakyReluGradPatch,
  sumSquaresPatch,
  bernoulliLogLikelihoodPatch,
  bernoulliLogLikelihoodGradPatch,
  adamUpdatePatch,
];

const PATCHED = Symbol.for('avb.wasmKernelsPatched');

/**
 * Registers avb's wasm kernels and returns their names. Call after the wasm backend is
 * initialised and selected (the stock kernels' setup must have run); calling it again registers
 * nothing and returns the same names.
 */
export function registerWasmKernels(): string[] {
  const g = globalThis as unknown as Record<symbol, string[] | undefined>;
  const done = g[PATCHED];
  if (done) return [...done];
  // Every stock kernel a patch composes from, captured before any replacement.
  for (const p of WASM_KERNEL_PATCHES) p.stock.forEach(captureStock);
  const backend = tf.findBackend(BACKEND);
  const patched: string[] = [];
  for (const p of WASM_KERNEL_PATCHES) {
    const kernel = p.make(backend);
    if (!kernel) continue; // e.g. no WebAssembly SIMD: the stock kernel stays
    if (tf.getKernel(p.name, BACKEND)) tf.unregisterKernel(p.name, BACKEND);
    tf.registerKernel({
      kernelName: p.name,
      backendName: BACKEND,
      kernelFunc: kernel as unknown as tf.KernelFunc,
    });
    patched.push(p.name);
  }
  g[PATCHED] = patched;
  return [...patched];
}
