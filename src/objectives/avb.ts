import * as tf from '../tf.js';
export { HALF_LOG_2PI, logStandardNormal } from '../math/gaussian.js';
import { stopGradient } from '../backend/stopGradient.js';
import { AvbUserError } from '../errors.js';
import type { Adversary } from '../nn/adversaries.js';
import type { Objective, ObjectiveOutput } from './objective.js';

/**
 * The adversary's logistic loss and accuracy for samples `pos` (label 1) and `neg` (label 0):
 * mean softplus(-T(x, pos)) + mean softplus(T(x, neg)), from the batch's data features
 * (`adversary.dataFeatures(x)`). `pos` must already be cut from the encoder's graph
 * (stop-gradient) by the caller.
 */
export function adversaryLoss(
  adversary: Adversary,
  features: tf.Tensor,
  pos: tf.Tensor,
  neg: tf.Tensor,
): { loss: tf.Scalar; accuracy: tf.Scalar; tPos: tf.Scalar; tNeg: tf.Scalar } {
  const t1 = adversary.logitFrom(features, pos);
  const t0 = adversary.logitFrom(features, neg);
  const loss = tf.add(tf.mean(tf.softplus(tf.neg(t1))), tf.mean(tf.softplus(t0))) as tf.Scalar;
  const accuracy = tf.mul(
    tf.add(
      tf.mean(tf.cast(tf.greater(t1, 0), 'float32')),
      tf.mean(tf.cast(tf.lessEqual(t0, 0), 'float32')),
    ),
    0.5,
  ) as tf.Scalar;
  return { loss, accuracy, tPos: tf.mean(t1) as tf.Scalar, tNeg: tf.mean(t0) as tf.Scalar };
}

/**
 * AVB, Algorithm 1 of the paper. Per example k of a batch of m:
 *   primal    = -log p(x_k | z_k) + T(x_k, z_k),  z_k = z_phi(x_k, eps_k)
 *   adversary = softplus(-T(x_k, z_k)) + softplus(T(x_k, z'_k)),  z'_k ~ N(0, I), z_k held constant
 * log p(x|z) is summed over pixels and T is per example; both are averaged over the batch.
 */
export const avbObjective: Objective = (parts, x, rng, { klWeight, select }) => {
  const { encoder, decoder, adversary } = parts;
  if (!adversary) throw new AvbUserError('the AVB objective needs an adversary');
  const { z } = encoder.sample(x, rng);
  const out: ObjectiveOutput = { metrics: {} };
  const features = sharedFeatures(adversary, x, select);
  if (select !== 'adversary') {
    const rec = decoder.logLikelihood(x, z);
    const tq = adversary.frozen(() => adversary.logitFrom(features.primal, z));
    const reconstruction = tf.mean(rec) as tf.Scalar;
    const kl = tf.mean(tq) as tf.Scalar;
    out.primal = tf.add(tf.neg(reconstruction), tf.mul(kl, klWeight)) as tf.Scalar;
    out.metrics.reconstruction = reconstruction;
    out.metrics.kl = kl;
    out.metrics.elbo = tf.sub(reconstruction, kl) as tf.Scalar;
  }
  if (select !== 'primal') {
    const prior = rng.normalTensor(z.shape);
    const adv = adversaryLoss(adversary, features.adversary!, stopGradient(z), prior);
    out.adversary = adv.loss;
    out.metrics.adversaryAccuracy = adv.accuracy;
    out.metrics.tPosterior = adv.tPos;
    out.metrics.tPrior = adv.tNeg;
  }
  return out;
};

/**
 * The adversary's data features for one step, computed once: with gradients for the adversary's
 * own loss, and through a stop-gradient for the primal loss (which must not train the
 * adversary). A primal-only step computes them with the adversary frozen.
 */
export function sharedFeatures(
  adversary: Adversary,
  x: tf.Tensor,
  select: 'both' | 'primal' | 'adversary',
): { primal: tf.Tensor; adversary?: tf.Tensor } {
  if (select === 'primal') return { primal: adversary.frozen(() => adversary.dataFeatures(x)) };
  const f = adversary.dataFeatures(x);
  return { primal: stopGradient(f), adversary: f };
}
