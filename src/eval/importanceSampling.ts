import * as tf from '../tf.js';
import {
  importanceWeightEss,
  logDiagonalNormalOfStandardised,
  logStandardNormal,
} from '../math/gaussian.js';
import type { Decoder } from '../nn/decoders.js';
import type { Encoder } from '../nn/encoders.js';
import { AC_VARIANCE_FLOOR, contrastFactor } from '../objectives/adaptiveContrast.js';
import type { Rng } from '../random/rng.js';
import { logMeanExp, meanAndStderr } from './stats.js';

/** A Gaussian proposal per data point: `mean`, `logVar` are `[n, L]` row-major. */
export interface GaussianProposal {
  mean: Float32Array;
  logVar: Float32Array;
  /**
   * With a full covariance (full adaptive contrast's r): its lower Cholesky factors `[n, L, L]`,
   * which draws and densities then use; `logVar` still holds the variances.
   */
  factor?: Float32Array;
}

export interface ImportanceResult {
  perPoint: Float64Array;
  mean: number;
  stderr: number;
  /** Effective sample size of the importance weights per point (1..k). */
  ess: Float64Array;
}

/**
 * The importance-weighted bound (IWAE, Burda et al. 2016) with k samples from a Gaussian proposal:
 *   log p(x) >= E log (1/k) sum_j p(x|z_j) p(z_j) / q(z_j|x),  z_j ~ q(z|x)
 * for encoders with a density (the VAE's Gaussian, or AVB+AC's moment-matched Gaussian r(z|x)).
 * Samples are drawn in chunks of `chunk` per point to bound memory; weights are combined in float64.
 */
export function importanceSampledLogLikelihood(
  decoder: Decoder,
  x: tf.Tensor,
  proposal: GaussianProposal,
  k: number,
  rng: Rng,
  chunk = 100,
): ImportanceResult {
  const n = x.shape[0];
  const L = proposal.mean.length / n;
  const logW: number[][] = Array.from({ length: n }, () => []);
  // A full proposal's log det per point, sum_j log F_jj, once for every chunk.
  const factor = proposal.factor;
  const logDets =
    factor &&
    Float32Array.from({ length: n }, (_, i) => {
      let s = 0;
      for (let j = 0; j < L; j++) s += Math.log(factor[i * L * L + j * L + j]);
      return s;
    });
  for (let done = 0; done < k; done += chunk) {
    const m = Math.min(chunk, k - done);
    const w = tf.tidy(() => {
      const xs = tf.tile(x, [m, ...Array<number>(x.rank - 1).fill(1)]);
      const mean = tf.tile(tf.tensor2d(proposal.mean, [n, L]), [m, 1]);
      const logVar = tf.tile(tf.tensor2d(proposal.logVar, [n, L]), [m, 1]);
      const eps = rng.normalTensor([m * n, L]);
      let z: tf.Tensor;
      let logQ: tf.Tensor;
      if (factor && logDets) {
        // Row j * n + i is point i's draw j: F_i eps for every i at once, as [n, L, m] products.
        const f = tf.tensor3d(factor, [n, L, L]);
        const byPoint = tf.transpose(tf.reshape(eps, [m, n, L]), [1, 2, 0]);
        const scaled = tf.reshape(tf.transpose(tf.matMul(f, byPoint), [2, 0, 1]), [m * n, L]);
        z = tf.add(mean, scaled);
        logQ = tf.sub(logStandardNormal(eps), tf.tile(tf.tensor1d(logDets), [m]));
      } else {
        z = tf.add(mean, tf.mul(tf.exp(tf.mul(logVar, 0.5)), eps));
        logQ = logDiagonalNormalOfStandardised(eps, logVar);
      }
      const logP = logStandardNormal(z);
      return tf.sub(tf.add(logP, decoder.logLikelihood(xs, z)), logQ);
    });
    const v = w.dataSync();
    w.dispose();
    for (let j = 0; j < m; j++) for (let i = 0; i < n; i++) logW[i].push(v[j * n + i]);
  }
  const perPoint = Float64Array.from(logW, (w) => logMeanExp(w));
  const ess = Float64Array.from(logW, importanceWeightEss);
  return { perPoint, ess, ...meanAndStderr(perPoint) };
}

/**
 * A Gaussian per point from the encoder, when it has one: the VAE's q(z|x), or the basis-vector
 * encoder's exact moments (the adaptive-contrast Gaussian r(z|x), variance floored as in
 * training; with `covariance` `full`, the run's full adaptive contrast, r has q's whole
 * covariance, its diagonal raised by the floor).
 * Implicit encoders have none.
 */
export function encoderProposal(
  encoder: Encoder,
  x: tf.Tensor,
  rng: Rng,
  covariance: 'diagonal' | 'full' = 'diagonal',
): GaussianProposal | undefined {
  return tf.tidy(() => {
    const s = encoder.sample(x, rng);
    if (s.gaussian)
      return {
        mean: s.gaussian.mean.dataSync() as Float32Array,
        logVar: s.gaussian.logVar.dataSync() as Float32Array,
      };
    if (s.moments?.covariance && covariance === 'full') {
      const cov = s.moments.covariance();
      const [n, L] = [cov.shape[0], cov.shape[1]];
      const c = cov.dataSync();
      const factor = new Float32Array(n * L * L);
      for (let i = 0; i < n; i++) factor.set(contrastFactor(c, i, L), i * L * L);
      const logVar = new Float32Array(n * L);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < L; j++)
          logVar[i * L + j] = Math.log(c[i * L * L + j * L + j] + AC_VARIANCE_FLOOR);
      return { mean: s.moments.mean.dataSync() as Float32Array, logVar, factor };
    }
    if (s.moments) {
      return {
        mean: s.moments.mean.dataSync() as Float32Array,
        logVar: tf
          .log(tf.maximum(s.moments.variance, AC_VARIANCE_FLOOR))
          .dataSync() as Float32Array,
      };
    }
    return undefined;
  });
}
