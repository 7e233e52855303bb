import * as tf from '../tf.js';
import type { DataSplit } from '../data/dataset.js';
import type { Parts } from '../objectives/objective.js';
import { Rng } from '../random/rng.js';
import type { ContrastCheck } from './contrastCheck.js';
import type { HeldOutEstimate, HeldOutSet } from './heldOut.js';

/**
 * A latent unit is active when the mean of q(z_u|x) varies across examples with variance above
 * this (Burda, Grosse & Salakhutdinov 2016, "active units"): a unit below it carries no
 * information about x.
 */
export const ACTIVE_UNIT_THRESHOLD = 0.01;
/** Draws per example that estimate E[z|x] for an implicit encoder (AVB) with no moments. */
const IMPLICIT_MEAN_DRAWS = 64;
/**
 * The held-out log-likelihood must beat the per-value mean model by this many nats per value of
 * an example (or {@link MIN_GAIN_NATS}, whichever is larger) to count as having learned
 * something: a decoder that ignores z reaches the mean model exactly, with KL 0. Per value, not
 * a fraction of the likelihood: a Gaussian likelihood's level is arbitrary. For scale: 8 x 8
 * digits models gain ~1 nat (threshold 0.32), MNIST models ~100 (threshold 3.9).
 */
export const MIN_GAIN_PER_VALUE = 0.005;
export const MIN_GAIN_NATS = 0.1;

/** What `summary.json` records about whether a trained model is any use. */
export interface TrainingDiagnostics {
  /** Latent units whose E[z_u|x] varies across held-out examples (variance > 0.01). */
  activeUnits: number;
  latent: number;
  /** Var_x E[z_u|x] for each unit, over the held-out examples. */
  activity: number[];
  /**
   * Held-out log-likelihood (nats per example) of the best model that ignores z: independent
   * values with the training data's means (Bernoulli) or means and variances (Gaussian).
   */
  meanModelLogLikelihood: number;
  /** The run's held-out estimate compared with it: the IWAE bound where there is one, else the ELBO. */
  heldOutLogLikelihood: number;
  heldOutKind: 'iwae' | 'elbo';
  /** AVB+AC with the diagonal contrast: q's correlations against the adversary's KL estimate. */
  contrast?: ContrastCheck;
}

/**
 * Checks a trained model on its held-out set: how many latent units it uses, and whether its
 * held-out likelihood beats the per-value mean model. Returns the figures and the warnings a
 * user must not miss (an unused latent, a model no better than the mean).
 */
export function diagnoseTraining(
  parts: Parts,
  train: DataSplit,
  likelihood: 'bernoulli' | 'gaussian',
  set: HeldOutSet,
  estimate: HeldOutEstimate,
  seed: number,
): { diagnostics: TrainingDiagnostics; warnings: string[] } {
  const activity = latentActivity(parts, set, seed);
  const activeUnits = activity.filter((a) => a > ACTIVE_UNIT_THRESHOLD).length;
  const meanModel = meanModelLogLikelihood(train, set, likelihood);
  const heldOutKind = estimate.iwae !== undefined ? 'iwae' : 'elbo';
  const heldOut = estimate.iwae ?? estimate.elbo;
  const diagnostics: TrainingDiagnostics = {
    activeUnits,
    latent: activity.length,
    activity: activity.map((a) => Number(a.toPrecision(4))),
    meanModelLogLikelihood: Number(meanModel.toPrecision(6)),
    heldOutLogLikelihood: Number(heldOut.toPrecision(6)),
    heldOutKind,
  };
  const warnings: string[] = [];
  if (activeUnits === 0) {
    warnings.push(
      `the latent is unused: none of its ${activity.length} units is active (Var_x E[z|x] <= ${ACTIVE_UNIT_THRESHOLD} for every unit), so q(z|x) ignores x; train longer or with a higher learning rate`,
    );
  }
  const gain = heldOut - meanModel;
  const values = set.exampleShape.reduce((a, b) => a * b, 1);
  if (gain < Math.max(MIN_GAIN_NATS, MIN_GAIN_PER_VALUE * values)) {
    warnings.push(
      `the model is no better than the per-value mean: held-out ${heldOutKind === 'iwae' ? 'IWAE' : 'ELBO'} ${heldOut.toFixed(3)} against ${meanModel.toFixed(3)} nats per example for independent values with the training means; train longer or with a higher learning rate`,
    );
  }
  return { diagnostics, warnings };
}

/**
 * Var_x E[z_u|x] over the distinct held-out examples. E[z|x] is the encoder's own mean where
 * it has one (VAE, AVB+AC); for an implicit encoder the mean of {@link IMPLICIT_MEAN_DRAWS}
 * draws, whose Monte-Carlo variance (E_x Var[z_u|x] / draws) is subtracted so that a unit that
 * is pure noise does not look active.
 */
export function latentActivity(parts: Parts, set: HeldOutSet, seed: number): number[] {
  const d = set.exampleShape.reduce((a, b) => a * b, 1);
  const perExample = set.rows / set.count;
  const xs = new Float32Array(set.count * d);
  for (let i = 0; i < set.count; i++)
    xs.set(set.x.subarray(i * perExample * d, (i * perExample + 1) * d), i * d);
  const rng = new Rng(seed);
  const L = parts.encoder.latentDim;
  const means = new Float64Array(set.count * L);
  let implicit = false;
  // Sum over x of the Monte-Carlo variance Var[z_u|x] / draws of each implicit mean.
  const noisePerUnit = new Float64Array(L);
  const chunk = 256;
  for (let from = 0; from < set.count; from += chunk) {
    const m = Math.min(chunk, set.count - from);
    const x = tf.tensor(xs.subarray(from * d, (from + m) * d), [m, ...set.exampleShape]);
    const own = tf.tidy(() => {
      const s = parts.encoder.sample(x, rng);
      return s.gaussian?.mean ?? s.moments?.mean;
    });
    if (own) {
      means.set(own.dataSync(), from * L);
      own.dispose();
    } else {
      const k = IMPLICIT_MEAN_DRAWS;
      const z = tf.tidy(() => {
        const tiled = tf.tile(x, [k, ...Array<number>(x.rank - 1).fill(1)]);
        return parts.encoder.sample(tiled, rng).z; // [k * m, L]: draw j of example i at j * m + i
      });
      const v = z.dataSync();
      z.dispose();
      for (let i = 0; i < m; i++)
        for (let u = 0; u < L; u++) {
          let s = 0;
          let s2 = 0;
          for (let j = 0; j < k; j++) {
            const val = v[(j * m + i) * L + u];
            s += val;
            s2 += val * val;
          }
          const mean = s / k;
          means[(from + i) * L + u] = mean;
          noisePerUnit[u] += (s2 / k - mean * mean) / (k - 1); // unbiased Var / k
        }
      implicit = true;
    }
    x.dispose();
  }
  return Array.from({ length: L }, (_, u) => {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < set.count; i++) {
      s += means[i * L + u];
      s2 += means[i * L + u] ** 2;
    }
    const mean = s / set.count;
    const between = s2 / set.count - mean * mean;
    return Math.max(0, between - (implicit ? noisePerUnit[u] / set.count : 0));
  });
}

/**
 * Held-out log-likelihood (nats per example) of independent values with the training split's
 * means (Bernoulli, probabilities clamped to [1e-6, 1 - 1e-6]) or means and variances
 * (Gaussian, variance floored at 1e-6): what a decoder that ignores z reaches at best.
 */
export function meanModelLogLikelihood(
  train: DataSplit,
  set: HeldOutSet,
  likelihood: 'bernoulli' | 'gaussian',
): number {
  const d = train.x.length / train.count;
  const mu = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < train.count; i++)
    for (let j = 0; j < d; j++) {
      const v = train.x[i * d + j];
      mu[j] += v;
      sq[j] += v * v;
    }
  let total = 0;
  for (let j = 0; j < d; j++) {
    mu[j] /= train.count;
    const variance = Math.max(1e-6, sq[j] / train.count - mu[j] ** 2);
    const p = Math.min(1 - 1e-6, Math.max(1e-6, mu[j]));
    for (let r = 0; r < set.rows; r++) {
      const x = set.x[r * d + j];
      total +=
        likelihood === 'bernoulli'
          ? x * Math.log(p) + (1 - x) * Math.log(1 - p)
          : -0.5 * (Math.log(2 * Math.PI * variance) + (x - mu[j]) ** 2 / variance);
    }
  }
  return total / set.rows;
}
