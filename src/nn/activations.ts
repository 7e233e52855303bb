import * as tf from '../tf.js';
import { LEAKY_RELU_GRAD_KERNEL } from '../backend/kernels/leakyRelu.js';
import { SOFTPLUS_GRAD_KERNEL } from '../backend/kernels/softplus.js';

/**
 * `forward(x)` with its gradient computed by the one kernel `gradKernel` `{x, dy}` -> dx, where
 * the current backend has it (the wasm backend with avb's kernels); elsewhere `forward` with
 * tfjs's own gradient. tfjs composes these gradients of two or three element-wise kernels.
 */
function withFusedGradient(
  x: tf.Tensor,
  forward: (t: tf.Tensor) => tf.Tensor,
  gradKernel: string,
  attrs: Record<string, number> = {},
): tf.Tensor {
  if (x.dtype !== 'float32' || tf.getKernel(gradKernel, tf.getBackend()) === undefined)
    return forward(x);
  const run = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input]);
    return {
      value: forward(input),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(gradKernel, { x: saved[0], dy }, attrs) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (t: tf.Tensor) => tf.Tensor;
  return run(x);
}

/** Leaky ReLU, x > 0 ? x : alpha x. */
export function leakyRelu(x: tf.Tensor, alpha: number): tf.Tensor {
  return withFusedGradient(x, (t) => tf.leakyRelu(t, alpha), LEAKY_RELU_GRAD_KERNEL, { alpha });
}

/** Softplus, log(1 + e^x); its gradient is sigmoid(x). */
export function softplus(x: tf.Tensor): tf.Tensor {
  return withFusedGradient(x, (t) => tf.softplus(t), SOFTPLUS_GRAD_KERNEL);
}
