import * as tf from '../tf.js';

/** log(2π), and half of it: the normalising constants of Gaussian log-densities. */
export const LOG_2PI = Math.log(2 * Math.PI);
export const HALF_LOG_2PI = 0.5 * LOG_2PI;

/** log N(z; 0, I) per row: `[n, L] -> [n]`. */
export function logStandardNormal(z: tf.Tensor): tf.Tensor1D {
  const L = z.shape[1] as number;
  return tf.sub(tf.mul(tf.sum(tf.square(z), 1), -0.5), L * HALF_LOG_2PI) as tf.Tensor1D;
}

/**
 * log N(mean + exp(logVar / 2) eps; mean, diag(exp(logVar))) per row, from the standardised
 * draw `eps`: `[n, L] -> [n]`.
 */
export function logDiagonalNormalOfStandardised(eps: tf.Tensor, logVar: tf.Tensor): tf.Tensor1D {
  return tf.mul(tf.sum(tf.add(tf.add(tf.square(eps), logVar), LOG_2PI), 1), -0.5) as tf.Tensor1D;
}

/**
 * Effective sample size of importance weights given as log weights: (Σw)² / Σw², between 1 (one
 * weight dominates) and the number of weights (all equal). Computed stably from the largest.
 */
export function importanceWeightEss(logW: ArrayLike<number>): number {
  let mx = -Infinity;
  for (let i = 0; i < logW.length; i++) mx = Math.max(mx, logW[i]);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < logW.length; i++) {
    const e = Math.exp(logW[i] - mx);
    s1 += e;
    s2 += e * e;
  }
  return (s1 * s1) / s2;
}
