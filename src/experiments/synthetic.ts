import * as tf from '../tf.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { gridLogLikelihood } from '../eval/gridLogLikelihood.js';
import type { Parts } from '../objectives/objective.js';
import { Rng } from '../random/rng.js';
import { scatterPng } from '../viz/scatterPng.js';

/** Samples of q(z|x) drawn per data point for the paper's figure. */
export const POSTERIOR_SAMPLES = 1000;

/**
 * The synthetic experiment's evaluation: the exact average log-likelihood of the four points
 * (grid integration over the 2-D latent; optimum -log 4 = -1.386) and the figure of q(z|x)
 * samples coloured by data point.
 */
export function evaluateSynthetic(parts: Parts, ds: Dataset, outDir: string, seed: number) {
  const x = tf.tensor(ds.train.x, [ds.train.count, ...ds.exampleShape]);
  const perPoint = gridLogLikelihood(parts.decoder, x);
  x.dispose();
  const logLikelihood = perPoint.reduce((a, b) => a + b, 0) / perPoint.length;
  const rng = new Rng(seed);
  const groups: Float32Array[] = [];
  for (let i = 0; i < ds.train.count; i++) {
    const z = tf.tidy(() => {
      const xi = tf.tensor(ds.train.x.slice(i * 4, i * 4 + 4), [1, 4]);
      return parts.encoder.sample(tf.tile(xi, [POSTERIOR_SAMPLES, 1]), rng).z;
    });
    groups.push(z.dataSync() as Float32Array);
    z.dispose();
  }
  const samplesPng = 'samples.png';
  writeFileSync(join(outDir, samplesPng), scatterPng(groups));
  return {
    logLikelihood,
    logLikelihoodPerPoint: Array.from(perPoint),
    optimum: -Math.log(4),
    samplesPng,
  };
}
