import type * as tf from '@tensorflow/tfjs-core';
import type { Adversary } from '../nn/adversaries.js';
import type { Decoder } from '../nn/decoders.js';
import type { Encoder } from '../nn/encoders.js';
import type { Rng } from '../random/rng.js';

/** The trainable parts of a latent-variable model trained by one of avb's objectives. */
export interface Parts {
  encoder: Encoder;
  decoder: Decoder;
  /** Present for AVB and AVB+AC. */
  adversary?: Adversary;
}

/** Which losses the trainer needs this call (adversary-only steps skip the primal work). */
export type LossSelection = 'both' | 'primal' | 'adversary';

export interface ObjectiveOptions {
  /** Weight of the KL (or T) term, for KL annealing; 1 is the true objective. */
  klWeight: number;
  select: LossSelection;
}

/**
 * What an objective returns for one minibatch. The two losses are gradient-isolated: `primal`
 * has zero gradient with respect to the adversary's weights (the adversary is read frozen) and
 * `adversary` has zero gradient with respect to the encoder and decoder (z enters it through a
 * stop-gradient). So the gradient of `primal + adversary` gives each group its own loss's
 * gradient, from a single backward pass.
 */
export interface ObjectiveOutput {
  /** Mean over the batch of -log p(x|z) + (KL or T term): minimised by encoder and decoder. */
  primal?: tf.Scalar;
  /** Mean logistic loss of the adversary: minimised by the adversary. */
  adversary?: tf.Scalar;
  /**
   * Scalars for the metrics log: `reconstruction` (mean log p(x|z), nats), `kl` (estimate of
   * KL(q(z|x) || p(z)), T-based for AVB), `elbo` (reconstruction - kl: an estimate, not a bound,
   * when T-based), and for AVB `adversaryAccuracy` and `tPosterior`/`tPrior` (mean T on each class).
   */
  metrics: Record<string, tf.Scalar>;
}

/**
 * An objective: a pure function of the parts, a batch `x [n, ...exampleShape]` and a random
 * source, returning losses. Call inside `tf.tidy` (or a gradient function).
 */
export type Objective = (
  parts: Parts,
  x: tf.Tensor,
  rng: Rng,
  options: ObjectiveOptions,
) => ObjectiveOutput;
