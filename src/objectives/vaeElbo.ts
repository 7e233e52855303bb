import * as tf from '../tf.js';
import { AvbUserError } from '../errors.js';
import type { Objective, ObjectiveOutput } from './objective.js';

/**
 * KL(N(mean, exp(logVar)) || N(0, I)) per row, in closed form: `[n, L] -> [n]`.
 *   KL = 1/2 sum_j (mean_j^2 + exp(logVar_j) - logVar_j - 1)
 */
export function gaussianKl(mean: tf.Tensor, logVar: tf.Tensor): tf.Tensor1D {
  return tf.mul(
    tf.sum(tf.sub(tf.add(tf.square(mean), tf.exp(logVar)), tf.add(logVar, 1)), 1),
    0.5,
  ) as tf.Tensor1D;
}

/**
 * The VAE's evidence lower bound with the analytic KL (Kingma & Welling 2014):
 *   primal = mean over the batch of -log p(x|z) + KL(q(z|x) || p(z)),  z = mean + sigma * eps.
 */
export const vaeObjective: Objective = (parts, x, rng, { klWeight, select }): ObjectiveOutput => {
  if (select === 'adversary') return { metrics: {} };
  const { z, gaussian } = parts.encoder.sample(x, rng);
  if (!gaussian) {
    throw new AvbUserError(
      "the VAE objective needs a Gaussian encoder; use encoder type 'gaussian'",
    );
  }
  const reconstruction = tf.mean(parts.decoder.logLikelihood(x, z)) as tf.Scalar;
  const kl = tf.mean(gaussianKl(gaussian.mean, gaussian.logVar)) as tf.Scalar;
  return {
    primal: tf.add(tf.neg(reconstruction), tf.mul(kl, klWeight)) as tf.Scalar,
    metrics: { reconstruction, kl, elbo: tf.sub(reconstruction, kl) as tf.Scalar },
  };
};
