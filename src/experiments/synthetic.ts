import * as tf from '../tf.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { gridLogLikelihood } from '../eval/gridLogLikelihood.js';
import type { Parts } from '../objectives/objective.js';
import { Rng } from '../random/rng.js';
import { plotPng, posteriorScatterSpec } from '../viz/plotPng.js';

/** Samples of q(z|x) drawn per data point for the paper's figure. */
export const POSTERIOR_SAMPLES = 1000;

/**
 * The synthetic experiment's evaluation: the exact average log-likelihood of the four points
 * (grid integration over the 2-D latent; optimum -log 4 = -1.386) and the figure of q(z|x)
 * samples coloured by data point.
 */
export async function evaluateSynthetic(
  parts: Parts,
  ds: Dataset,
  outDir: string,
  seed: number,
  label: string,
) {
  const x = tf.tensor(ds.train.x, [ds.train.count, ...ds.exampleShape]);
  const perPoint = gridLogLikelihood(parts.decoder, x);
  x.dispose();
  const logLikelihood = perPoint.reduce((a, b) => a + b, 0) / perPoint.length;
  const groups = posteriorSamples(parts, ds, seed);
  const samplesPng = 'samples.png';
  const optimum = SYNTHETIC_OPTIMUM;
  const spec = posteriorScatterSpec(groups, {
    title: `${label}: samples of q(z|x) per data point`,
    subtitle: [
      `log-likelihood ${minus(logLikelihood)} nats per point (optimum −log 4 = ${minus(optimum)})`,
      "dashed: the prior's 2σ circle",
    ],
    groupNames: pointNames(ds.train.count),
    range: 4,
    circle: 2,
  });
  writeFileSync(join(outDir, samplesPng), await plotPng(spec));
  return {
    logLikelihood,
    logLikelihoodPerPoint: Array.from(perPoint),
    optimum,
    samplesPng,
  };
}

/** The best possible average log-likelihood of the four equally likely points: −log 4. */
export const SYNTHETIC_OPTIMUM = -Math.log(4);

/** Legend names of the data points: e₁..e₄ for the four one-hot vectors. */
export function pointNames(count: number): string[] {
  return count === 4
    ? ['e₁', 'e₂', 'e₃', 'e₄']
    : Array.from({ length: count }, (_, i) => `x${i + 1}`);
}

/**
 * {@link POSTERIOR_SAMPLES} draws of q(z|x) for each training point, as flat `[z1, z2, ...]`
 * arrays, from `seed`.
 */
export function posteriorSamples(parts: Parts, ds: Dataset, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  const d = ds.exampleShape.reduce((a, b) => a * b, 1);
  const groups: Float32Array[] = [];
  for (let i = 0; i < ds.train.count; i++) {
    const z = tf.tidy(() => {
      const xi = tf.tensor(ds.train.x.slice(i * d, (i + 1) * d), [1, d]);
      return parts.encoder.sample(tf.tile(xi, [POSTERIOR_SAMPLES, 1]), rng).z;
    });
    groups.push(z.dataSync() as Float32Array);
    z.dispose();
  }
  return groups;
}

/** A number with a typographic minus sign, for figure text. */
export function minus(v: number): string {
  return v.toFixed(3).replace('-', '−');
}
