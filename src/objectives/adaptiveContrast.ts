import * as tf from '../tf.js';
import { stopGradient } from '../backend/stopGradient.js';
import { AvbUserError } from '../errors.js';
import { cholesky } from '../math/denseMatrix.js';
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
  /**
   * With per-example moments (`encoder`, `samples`): `diagonal` (the paper) normalises each
   * coordinate of z by its own mean and sd, leaving q(z|x)'s correlations for the adversary to
   * find; `full` whitens by the whole covariance, zhat = L_x^-1 (z - mu_x) with L_x L_x^T =
   * Cov[z|x], so that r(z|x) is the moment-matched Gaussian with correlations and log r pays for
   * them exactly. Correlations are where a diagonal contrast fails: on MNIST (CPU preset, 150,000
   * steps) the trained q(z|x) had correlations worth ~38 nats of KL against its diagonal r,
   * which the adversary, saturated, priced at ~12. Default `diagonal`.
   */
  covariance?: 'diagonal' | 'full';
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
  if (o.covariance === 'full') {
    const { mean, covariance } = fullContrastMoments(encoder, x, sampled, rng, o);
    return perExampleWhitening(z, mean, covariance);
  }
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
 * E[z|x] `[n, L]` and Cov[z|x] `[n, L, L]` for full adaptive contrast, constants (stop-gradient):
 * the basis-vector encoder's closed form, or the covariance of `momentSamples` extra draws per x.
 */
function fullContrastMoments(
  encoder: Encoder,
  x: tf.Tensor,
  sampled: { moments?: { mean: tf.Tensor2D; covariance?: () => tf.Tensor3D } },
  rng: Rng,
  o: AdaptiveContrastOptions,
): { mean: tf.Tensor2D; covariance: tf.Tensor3D } {
  const L = encoder.latentDim;
  if (o.moments === 'encoder') {
    if (!sampled.moments?.covariance) {
      throw new AvbUserError(
        "adaptive contrast with moments 'encoder' needs the basis-vector encoder; " +
          "use encoder type 'basis-vector' or set moments to 'samples'",
      );
    }
    return {
      mean: stopGradient(sampled.moments.mean) as tf.Tensor2D,
      covariance: stopGradient(sampled.moments.covariance()) as tf.Tensor3D,
    };
  }
  const k = o.momentSamples;
  const n = x.shape[0];
  const tiled = tf.tile(x, [k, ...Array<number>(x.rank - 1).fill(1)]); // [k*n, ...]
  const zs = tf.transpose(encoder.sample(tiled, rng).z.reshape([k, n, L]), [1, 0, 2]); // [n, k, L]
  const mean = tf.mean(zs, 1, true);
  const centred = tf.sub(zs, mean) as tf.Tensor3D;
  const covariance = tf.div(tf.matMul(centred, centred, true, false), Math.max(1, k - 1));
  return {
    mean: stopGradient(tf.reshape(mean, [n, L])) as tf.Tensor2D,
    covariance: stopGradient(covariance) as tf.Tensor3D,
  };
}

/**
 * Whitens each row of z `[n, L]` by its own Gaussian N(mean_i, cov_i) (`cov` `[n, L, L]`, its
 * diagonal raised by {@link AC_VARIANCE_FLOOR}): zhat_i = L_i^-1 (z_i - mean_i) and
 * log r(z_i) = -|zhat_i|^2 / 2 - log det L_i - L log(2 pi) / 2. The factors are computed in
 * doubles on the CPU (n small Cholesky factorisations) and enter as constants.
 */
export function perExampleWhitening(z: tf.Tensor2D, mean: tf.Tensor2D, cov: tf.Tensor3D) {
  const [n, L] = z.shape;
  const c = cov.dataSync();
  const inverses = new Float32Array(n * L * L);
  const logDets = new Float32Array(n);
  const sds = new Float32Array(n * L);
  for (let i = 0; i < n; i++) {
    const l = contrastFactor(c, i, L);
    inverses.set(lowerInverse(l, L), i * L * L);
    logDets[i] = logDiagonalSum(l, L);
    for (let j = 0; j < L; j++) sds[i * L + j] = Math.sqrt(c[i * L * L + j * L + j]);
  }
  const centred = tf.reshape(tf.sub(z, mean), [n, L, 1]) as tf.Tensor3D;
  const zhat = tf.reshape(tf.matMul(tf.tensor3d(inverses, [n, L, L]), centred), [n, L]);
  const logR = tf.sub(
    tf.mul(tf.sum(tf.square(zhat), 1), -0.5),
    tf.add(tf.tensor1d(logDets), L * HALF_LOG_2PI),
  ) as tf.Tensor1D;
  const std = tf.maximum(tf.tensor2d(sds, [n, L]), Math.sqrt(AC_VARIANCE_FLOOR)) as tf.Tensor2D;
  return { zhat: zhat as tf.Tensor2D, logR, std };
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
 * The lower Cholesky factor of example `i`'s covariance in `cov` (`[n, L, L]` values), its
 * diagonal raised by {@link AC_VARIANCE_FLOOR} as the contrast's r has it, in doubles.
 */
export function contrastFactor(cov: ArrayLike<number>, i: number, L: number): Float64Array {
  const a = new Float64Array(L * L);
  for (let j = 0; j < L * L; j++) a[j] = cov[i * L * L + j];
  for (let j = 0; j < L; j++) a[j * L + j] += AC_VARIANCE_FLOOR;
  // A sum of outer products plus the floor is positive definite; only a non-finite covariance
  // (a diverged step) fails, and its NaNs reach the loss, which the trainer then rolls back.
  return cholesky(a, L) ?? new Float64Array(L * L).fill(NaN);
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
  return { inverse: lowerInverse(l, d), logDiagonalSum: logDiagonalSum(l, d) };
}

/** The sum of log L_jj of a lower-triangular `d x d` matrix. */
export function logDiagonalSum(l: Float64Array, d: number): number {
  let s = 0;
  for (let i = 0; i < d; i++) s += Math.log(l[i * d + i]);
  return s;
}

/** L^-1 of a lower-triangular `d x d` matrix (row-major), by forward substitution. */
function lowerInverse(l: Float64Array, d: number): Float64Array {
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    inv[i * d + i] = 1 / l[i * d + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= l[i * d + k] * inv[k * d + j];
      inv[i * d + j] = s / l[i * d + i];
    }
  }
  return inv;
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
