import type * as tf from '@tensorflow/tfjs-core';

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
  /**
   * Optional: log p(z, data) and its gradient at one point in JS doubles, equal (up to float32
   * rounding) to `logJoint`. MCMC uses it when present: one call costs microseconds instead of
   * a tfjs graph per leapfrog step, and it is exact in double precision.
   */
  logDensityAndGradient?: (z: Float64Array) => { logp: number; grad: Float64Array };
  /**
   * Optional: {@link logDensityAndGradient} at n points at once (`zs` holds them as rows,
   * `n × dim`), the same values as one call per row. The variational methods' checks use it
   * (a declared model evaluates points together: `declaredModel.ts`).
   */
  logDensityAndGradientRows?: (zs: Float64Array, n: number) => RowsEvaluation;
  /**
   * Optional: an exact symmetry of the posterior, on the reported quantities of a draw (e.g.
   * tau -> -tau for the paper's eight schools). Used to symmetrise MCMC reference draws whose
   * chains need not cross between mirror modes.
   */
  mirror?: (summary: number[]) => number[];
  /**
   * Optional: parameters sampled as a centred hierarchy (a Stan program's `b ~ normal(mu,
   * sigma)` run with `avb infer --centred`), which avb would otherwise non-centre. A fit that
   * warns says so.
   */
  centredHierarchies?: readonly string[];
  /**
   * Optional: parameters sampled as written (`avb infer --centred`) whose normal's location,
   * but not its scale, is another parameter (`y ~ normal(-b * (square(x) - v), 1)`, posteriordb's
   * banana): not a funnel, but a curved ridge that avb would otherwise take out by non-centring.
   */
  centredLocations?: readonly string[];
  /**
   * Optional: how avb samples the model where that differs from how it is written (a Stan
   * program's parameter declared with the support its uniform prior implies, a hierarchy
   * sampled non-centred; a density not finite at z = 0). `avb infer` prints them as it starts,
   * and `summary.json` keeps them.
   */
  notes?: readonly string[];
  /**
   * Optional: the reported quantities generated per draw (Stan's generated quantities, a model
   * module's `generated`), the last of {@link summaryNames}. A draw where the generator threw
   * reports them as NaN; `lastError` is the latest such error's message (a draw's, once the draws
   * are summarised).
   */
  generatedQuantities?: { names: readonly string[]; lastError: () => string | undefined };
}

/** Draws of a model's reported quantities: `values[i]` is draw i, in `names` order. */
export interface Draws {
  names: string[];
  values: number[][];
  /** MCMC: the chain (0, 1, ...) each draw came from; absent for independent draws. */
  chain?: number[];
  /** MCMC: the sampler's own columns per draw (CmdStan's `lp__`, `accept_stat__`, ...). */
  sampler?: { names: string[]; values: number[][] };
}

/** Log densities `values[i]` and gradients (`grads`, row i at i·dim) of n points. */
export interface RowsEvaluation {
  values: Float64Array;
  grads: Float64Array;
}
