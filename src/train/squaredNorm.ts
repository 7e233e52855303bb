import * as tf from '../tf.js';
import { SUM_SQUARES_KERNEL } from '../backend/kernels/sumSquares.js';

/**
 * sum(g²) as a scalar: the squared norm of a gradient that every update reads back to refuse a
 * non-finite step. One pass on the wasm backend with avb's kernels
 * (`backend/kernels/sumSquares.ts`), `tf.sum(tf.square(g))` elsewhere.
 */
export function squaredNorm(g: tf.Tensor): tf.Scalar {
  if (g.dtype === 'float32' && tf.getKernel(SUM_SQUARES_KERNEL, tf.getBackend()) !== undefined)
    return tf.engine().runKernel(SUM_SQUARES_KERNEL, { x: g }) as tf.Scalar;
  return tf.sum(tf.square(g));
}
