import * as tf from '../tf.js';

/**
 * Identity in the forward pass, zero gradient in the backward pass (tfjs has no `stopGradient`).
 * Built with `tf.customGrad`, so it works on every backend.
 *
 * ```ts
 * const mu = stopGradient(mean); // treated as a constant by tf.grads
 * ```
 */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: x.clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
