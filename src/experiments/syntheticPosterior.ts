import * as tf from '../tf.js';
import type { Dataset } from '../data/dataset.js';
import { exampleSize } from '../data/dataset.js';
import type { Parts } from '../objectives/objective.js';
import type { Rng } from '../random/rng.js';

/** Samples of q(z|x) drawn per data point for the paper's figure. */
export const POSTERIOR_SAMPLES = 1000;

/** The best possible average log-likelihood of the four equally likely points: −log 4. */
export const SYNTHETIC_OPTIMUM = -Math.log(4);

/** Legend names of the data points: e₁..e₄ for the four one-hot vectors. */
export function pointNames(count: number): string[] {
  return count === 4
    ? ['e₁', 'e₂', 'e₃', 'e₄']
    : Array.from({ length: count }, (_, i) => `x${i + 1}`);
}

/**
 * `n` draws of q(z|x) for each training point, as flat `[z1, z2, ...]` arrays: what the paper's
 * synthetic figure shows (the CLI's PNGs, the reports and the browser demo).
 */
export function posteriorSamples(
  parts: Parts,
  ds: Dataset,
  rng: Rng,
  n = POSTERIOR_SAMPLES,
): Float32Array[] {
  const d = exampleSize(ds);
  const groups: Float32Array[] = [];
  for (let i = 0; i < ds.train.count; i++) {
    const z = tf.tidy(() => {
      const xi = tf.tensor(ds.train.x.slice(i * d, (i + 1) * d), [1, d]);
      return parts.encoder.sample(tf.tile(xi, [n, 1]), rng).z;
    });
    groups.push(z.dataSync() as Float32Array);
    z.dispose();
  }
  return groups;
}
