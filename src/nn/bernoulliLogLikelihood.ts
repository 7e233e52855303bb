import * as tf from '../tf.js';
import { BERNOULLI_LL_GRAD_KERNEL, BERNOULLI_LL_KERNEL } from '../backend/simd/simdKernels.js';

/**
 * log Bern(x; sigmoid(l)) summed over each row: sum_j x_j l_j - softplus(l_j), stable for any
 * logit. `x`, `logits` `[n, d]` -> `[n]`. Differentiable in `logits` (x is data: no gradient
 * flows to it).
 *
 * On the wasm backend with SIMD this is one fused kernel forward and one backward (avb's
 * simdMath.wat); elsewhere, or for d not a multiple of 4, the same formula in tfjs ops.
 */
export function bernoulliLogLikelihood(x: tf.Tensor, logits: tf.Tensor2D): tf.Tensor1D {
  const fused =
    x.dtype === 'float32' &&
    logits.dtype === 'float32' &&
    logits.shape[1] % 4 === 0 &&
    tf.getKernel(BERNOULLI_LL_KERNEL, tf.getBackend()) !== undefined;
  if (!fused) {
    return tf.sum(tf.sub(tf.mul(x, logits), tf.softplus(logits)), 1) as tf.Tensor1D;
  }
  const run = tf.customGrad(((l: tf.Tensor, save: tf.GradSaveFunc) => {
    save([l]);
    return {
      value: tf.engine().runKernel(BERNOULLI_LL_KERNEL, { x, logits: l }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(BERNOULLI_LL_GRAD_KERNEL, { x, logits: saved[0], dy }) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (l: tf.Tensor) => tf.Tensor;
  return run(logits) as tf.Tensor1D;
}
