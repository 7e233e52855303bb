import type * as tf from '@tensorflow/tfjs';

/**
 * A Bayesian model for variational inference or MCMC: an unnormalised log density over an
 * unconstrained parameter vector z in R^dim.
 *
 * ```ts
 * const model: BayesianModel = {
 *   name: 'gaussian', dim: 1, parameterNames: ['x'],
 *   logJoint: (z) => tf.mul(tf.sum(tf.square(z), 1), -0.5),
 *   summaryNames: ['x'], summarize: (z) => [z[0]],
 * };
 * ```
 */
export interface BayesianModel {
  name: string;
  dim: number;
  /** Names of the unconstrained coordinates of z. */
  parameterNames: string[];
  /** log p(z, data) up to a constant, batched: `z [n, dim] -> [n]` (tfjs ops, differentiable). */
  logJoint: (z: tf.Tensor2D) => tf.Tensor1D;
  /** Names of the reported quantities (e.g. mu, tau, theta_1..8). */
  summaryNames: string[];
  /** Reported quantities of one draw z (constrained and derived parameters), in doubles. */
  summarize: (z: ArrayLike<number>) => number[];
}

/** Draws of a model's reported quantities: `values[i]` is draw i, in `names` order. */
export interface Draws {
  names: string[];
  values: number[][];
}
