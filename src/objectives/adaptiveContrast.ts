import * as tf from '@tensorflow/tfjs';
import { stopGradient } from '../backend/stopGradient.js';
import { AvbUserError } from '../errors.js';
import type { Encoder } from '../nn/encoders.js';
import type { Rng } from '../random/rng.js';
import { HALF_LOG_2PI, adversaryLoss, logStandardNormal, sharedFeatures } from './avb.js';
import type { Objective, ObjectiveOutput } from './objective.js';

/** The authors' floor on the variance of the adaptive-contrast Gaussian r(z|x). */
export const AC_VARIANCE_FLOOR = 1e-4;

export interface AdaptiveContrastOptions {
  /**
   * How E[z|x] and Var[z|x] are obtained: `encoder` uses the basis-vector encoder's closed form;
   * `samples` draws `momentSamples` extra z per x and takes their mean and variance.
   */
  moments: 'encoder' | 'samples';
  momentSamples: number;
}

/**
 * Moments of q(z|x) for adaptive contrast, each `[n, L]`, treated as constants (stop-gradient)
 * and with the variance floored at {@link AC_VARIANCE_FLOOR}.
 */
export function contrastMoments(
  encoder: Encoder,
  x: tf.Tensor,
  sampled: { moments?: { mean: tf.Tensor2D; variance: tf.Tensor2D } },
  rng: Rng,
  o: AdaptiveContrastOptions,
): { mean: tf.Tensor2D; std: tf.Tensor2D } {
  let mean: tf.Tensor2D;
  let variance: tf.Tensor2D;
  if (o.moments === 'encoder') {
    if (!sampled.moments) {
      throw new AvbUserError(
        "adaptive contrast with moments 'encoder' needs the basis-vector encoder; " +
          "use encoder type 'basis-vector' or set moments to 'samples'",
      );
    }
    ({ mean, variance } = sampled.moments);
  } else {
    const k = o.momentSamples;
    const n = x.shape[0];
    const tiled = tf.tile(x, [k, ...Array<number>(x.rank - 1).fill(1)]); // [k*n, ...]
    const zs = encoder.sample(tiled, rng).z.reshape([k, n, encoder.latentDim]);
    ({ mean, variance } = tf.moments(zs, 0) as { mean: tf.Tensor2D; variance: tf.Tensor2D });
  }
  const std = tf.sqrt(tf.maximum(stopGradient(variance), AC_VARIANCE_FLOOR)) as tf.Tensor2D;
  return { mean: stopGradient(mean) as tf.Tensor2D, std };
}

/**
 * AVB with adaptive contrast (paper section 4, Algorithm 2). With r(z|x) = N(mu(x), sigma(x)^2)
 * matching q's moments and zhat = (z - mu) / sigma:
 *   adversary: label 1 for (x, zhat), label 0 for (x, eta ~ N(0, I))
 *   primal per example: -log p(x|z) - log p(z) + log r(z|x) + T(x, zhat)
 *   log r(z|x) = -1/2 sum_j [zhat_j^2 + log sigma_j^2 + log 2 pi]
 */
export function adaptiveContrastObjective(o: AdaptiveContrastOptions): Objective {
  return (parts, x, rng, { klWeight, select }) => {
    const { encoder, decoder, adversary } = parts;
    if (!adversary) throw new AvbUserError('the AVB+AC objective needs an adversary');
    const sampled = encoder.sample(x, rng);
    const { z } = sampled;
    const { mean, std } = contrastMoments(encoder, x, sampled, rng, o);
    const zhat = tf.div(tf.sub(z, mean), std) as tf.Tensor2D;
    const out: ObjectiveOutput = { metrics: {} };
    const features = sharedFeatures(adversary, x, select);
    if (select !== 'adversary') {
      const rec = decoder.logLikelihood(x, z);
      const logPrior = logStandardNormal(z);
      const L = z.shape[1];
      const logR = tf.sub(
        tf.mul(tf.add(tf.sum(tf.square(zhat), 1), tf.sum(tf.mul(tf.log(std), 2), 1)), -0.5),
        L * HALF_LOG_2PI,
      );
      const t = adversary.frozen(() => adversary.logitFrom(features.primal, zhat));
      // KL(q || p) estimate = E[log q - log p] = E[T(x, zhat) + log r - log p].
      const klPerExample = tf.add(t, tf.sub(logR, logPrior));
      const reconstruction = tf.mean(rec) as tf.Scalar;
      const kl = tf.mean(klPerExample) as tf.Scalar;
      out.primal = tf.add(tf.neg(reconstruction), tf.mul(kl, klWeight)) as tf.Scalar;
      out.metrics.reconstruction = reconstruction;
      out.metrics.kl = kl;
      out.metrics.elbo = tf.sub(reconstruction, kl) as tf.Scalar;
      out.metrics.contrastStd = tf.mean(std) as tf.Scalar;
    }
    if (select !== 'primal') {
      const eta = rng.normalTensor(zhat.shape);
      const adv = adversaryLoss(adversary, features.adversary!, stopGradient(zhat), eta);
      out.adversary = adv.loss;
      out.metrics.adversaryAccuracy = adv.accuracy;
      out.metrics.tPosterior = adv.tPos;
      out.metrics.tPrior = adv.tNeg;
    }
    return out;
  };
}
