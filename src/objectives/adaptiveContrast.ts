import * as tf from '../tf.js';
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
   * `samples` draws `momentSamples` extra z per x and takes their mean and variance. For models
   * without data (Bayesian inference: every x is the same empty one, so the batch is q's
   * sample): `batch` takes each coordinate's batch mean and sd, `batch-full` the batch mean and
   * covariance and whitens, zhat = L^-1 (z - mean) with L L^T the covariance, so that the
   * adversary faces only what is not Gaussian in q.
   */
  moments: 'encoder' | 'samples' | 'batch' | 'batch-full';
  momentSamples: number;
}

/**
 * q's samples normalised for the adversary, zhat `[n, L]`, and log r(z|x) `[n]` of the
 * moment-matched Gaussian r; `std` (per-example moments only) for the metrics log.
 */
function normalised(
  encoder: Encoder,
  x: tf.Tensor,
  sampled: { z: tf.Tensor2D; moments?: { mean: tf.Tensor2D; variance: tf.Tensor2D } },
  rng: Rng,
  o: AdaptiveContrastOptions,
): { zhat: tf.Tensor2D; logR: tf.Tensor1D; std?: tf.Tensor2D } {
  if (o.moments === 'batch' || o.moments === 'batch-full')
    return batchContrast(sampled.z, o.moments === 'batch' ? 'diagonal' : 'full');
  const { z } = sampled;
  const { mean, std } = contrastMoments(encoder, x, sampled, rng, o);
  const zhat = tf.div(tf.sub(z, mean), std) as tf.Tensor2D;
  const logR = tf.sub(
    tf.mul(tf.add(tf.sum(tf.square(zhat), 1), tf.sum(tf.mul(tf.log(std), 2), 1)), -0.5),
    z.shape[1] * HALF_LOG_2PI,
  ) as tf.Tensor1D;
  return { zhat, logR, std };
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
  if (o.moments === 'batch' || o.moments === 'batch-full') {
    throw new Error(`adaptive contrast moments '${o.moments}' are q's, not q(z|x)'s per example`);
  } else if (o.moments === 'encoder') {
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
 * Moment-matched Gaussian contrast for a batch z `[n, d]`: zhat `[n, d]` and log r(z) `[n]`,
 * with the moments treated as constants (stop-gradient; the variance floored, or the covariance's
 * diagonal raised, by the authors' 1e-4). Allocates inside the caller's tidy.
 */
export function batchContrast(z: tf.Tensor2D, kind: 'diagonal' | 'full') {
  const d = z.shape[1];
  const n = z.shape[0];
  const mean = stopGradient(tf.mean(z, 0));
  const centred = tf.sub(z, mean) as tf.Tensor2D;
  let zhat: tf.Tensor2D;
  let logDet: number | tf.Tensor; // sum_j log L_jj
  if (kind === 'diagonal') {
    const std = tf.sqrt(tf.maximum(stopGradient(tf.moments(z, 0).variance), AC_VARIANCE_FLOOR));
    zhat = tf.div(centred, std) as tf.Tensor2D;
    logDet = tf.sum(tf.log(std));
  } else {
    // The covariance is d x d: its Cholesky factor is computed in doubles on the CPU.
    const c = stopGradient(tf.matMul(centred, centred, true, false)).dataSync();
    const cov = Float64Array.from(c, (v) => v / (n - 1));
    for (let j = 0; j < d; j++) cov[j * d + j] += AC_VARIANCE_FLOOR;
    const { inverse, logDiagonalSum } = choleskyInverse(cov, d);
    zhat = tf.matMul(centred, tf.tensor2d(Float32Array.from(inverse), [d, d]), false, true);
    logDet = logDiagonalSum;
  }
  const logR = tf.sub(
    tf.mul(tf.sum(tf.square(zhat), 1), -0.5),
    tf.add(logDet, d * HALF_LOG_2PI),
  ) as tf.Tensor1D;
  return { zhat, logR };
}

/**
 * L^-1 for the Cholesky factor L of a symmetric positive-definite `d x d` matrix (row-major),
 * and sum_j log L_jj. Doubles throughout.
 */
export function choleskyInverse(a: Float64Array, d: number) {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j];
      for (let k = 0; k < j; k++) s -= l[i * d + k] * l[j * d + k];
      l[i * d + j] = i === j ? Math.sqrt(Math.max(s, 1e-300)) : s / l[j * d + j];
    }
  }
  const inv = new Float64Array(d * d);
  let logDiagonalSum = 0;
  for (let i = 0; i < d; i++) {
    logDiagonalSum += Math.log(l[i * d + i]);
    inv[i * d + i] = 1 / l[i * d + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= l[i * d + k] * inv[k * d + j];
      inv[i * d + j] = s / l[i * d + i];
    }
  }
  return { inverse: inv, logDiagonalSum };
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
    const { zhat, logR, std } = normalised(encoder, x, sampled, rng, o);
    const out: ObjectiveOutput = { metrics: {} };
    const features = sharedFeatures(adversary, x, select);
    if (select !== 'adversary') {
      const rec = decoder.logLikelihood(x, z);
      const logPrior = logStandardNormal(z);
      const t = adversary.frozen(() => adversary.logitFrom(features.primal, zhat));
      // KL(q || p) estimate = E[log q - log p] = E[T(x, zhat) + log r - log p].
      const klPerExample = tf.add(t, tf.sub(logR, logPrior));
      const reconstruction = tf.mean(rec) as tf.Scalar;
      const kl = tf.mean(klPerExample) as tf.Scalar;
      out.primal = tf.add(tf.neg(reconstruction), tf.mul(kl, klWeight)) as tf.Scalar;
      out.metrics.reconstruction = reconstruction;
      out.metrics.kl = kl;
      out.metrics.elbo = tf.sub(reconstruction, kl) as tf.Scalar;
      if (std) out.metrics.contrastStd = tf.mean(std) as tf.Scalar;
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
