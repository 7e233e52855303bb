import * as tf from '../tf.js';
import { writeFileAtomic } from '../io/atomicFile.js';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { gridLogLikelihood } from '../eval/gridLogLikelihood.js';
import type { Parts } from '../objectives/objective.js';
import { Rng } from '../random/rng.js';
import { plotPng, posteriorScatterSpec } from '../viz/plotPng.js';
import { pointNames, posteriorSamples, SYNTHETIC_OPTIMUM } from './syntheticPosterior.js';

/** What the synthetic experiment adds to a completed run's `summary.json`. */
export interface SyntheticResults {
  /** Exact average log p(x) of the four points (grid integration over the 2-D latent). */
  logLikelihood: number;
  logLikelihoodPerPoint: number[];
  /** -log 4: every point equally likely. */
  optimum: number;
  /** The figure of q(z|x)'s samples per point, in the run folder. */
  samplesPng: string;
}

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
): Promise<SyntheticResults> {
  const x = tf.tensor(ds.train.x, [ds.train.count, ...ds.exampleShape]);
  const perPoint = gridLogLikelihood(parts.decoder, x);
  x.dispose();
  const logLikelihood = perPoint.reduce((a, b) => a + b, 0) / perPoint.length;
  const groups = posteriorSamples(parts, ds, new Rng(seed));
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
  writeFileAtomic(join(outDir, samplesPng), await plotPng(spec));
  return {
    logLikelihood,
    logLikelihoodPerPoint: Array.from(perPoint),
    optimum,
    samplesPng,
  };
}

/** A number with a typographic minus sign, for figure text. */
export function minus(v: number): string {
  return v.toFixed(3).replace('-', '−');
}
