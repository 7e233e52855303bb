import * as tf from '../tf.js';
import type { Decoder } from '../nn/decoders.js';
import type { Progress } from '../progress.js';
import type { Rng } from '../random/rng.js';
import { aisLogLikelihood, reverseAisLogLikelihood } from './ais.js';
import type { AisOptions, AisStart } from './ais.js';
import { meanAndStderr } from './stats.js';

/** A BDMC sandwich on simulated data: AIS's lower and reverse AIS's upper bound, in nats. */
export interface BdmcResult {
  points: number;
  /** Forward AIS: a stochastic lower bound on log p(x), mean and se over points. */
  lower: { mean: number; stderr: number };
  /** Reverse AIS from the exact posterior sample: a stochastic upper bound. */
  upper: { mean: number; stderr: number };
  /** Upper minus lower, per point: what AIS with these settings may still be off by. */
  gap: { mean: number; stderr: number };
  seconds: number;
}

/**
 * Bidirectional Monte Carlo (Grosse, Ghahramani & Adams 2015; for decoders, Wu, Burda,
 * Salakhutdinov & Grosse 2017): `points` pairs (z, x) simulated from the model (z ~ N(0, I),
 * x ~ p(x|z)), so that each z is an exact sample of p(z|x); forward AIS on x gives a stochastic
 * lower bound on log p(x), reverse AIS started at z an upper one, with the same schedule, chains
 * and step sizes. Their gap measures how far AIS with these settings is from converged on data
 * like the model's own, which no held-out estimate can show. `startFor` gives the start density
 * of the simulated points (the encoder's Gaussian, when the estimate being checked starts
 * there): forward AIS anneals from it, reverse AIS toward it. Default: the prior.
 */
export async function bidirectionalMonteCarlo(
  decoder: Decoder,
  latentDim: number,
  points: number,
  options: AisOptions,
  rng: Rng,
  onProgress?: Progress,
  startFor: (x: tf.Tensor) => AisStart = () => ({ kind: 'prior' }),
): Promise<BdmcResult> {
  const began = performance.now();
  const z = rng.normalTensor([points, latentDim]);
  const x = decoder.sample(z, rng.fork());
  const zValues = z.dataSync() as Float32Array;
  try {
    const start = startFor(x);
    const total = 3 * options.steps; // the pilot, the forward and the reverse pass
    const lower = await aisLogLikelihood(decoder, x, latentDim, options, rng.fork(), start, (t) =>
      onProgress?.(t, total),
    );
    const upper = await reverseAisLogLikelihood(
      decoder,
      x,
      zValues,
      latentDim,
      options,
      lower.stepSizes,
      rng.fork(),
      (t) => onProgress?.(2 * options.steps + t, total),
      start,
    );
    const gaps = upper.perPoint.map((u, i) => u - lower.perPoint[i]);
    return {
      points,
      lower: meanAndStderr(lower.perPoint),
      upper: meanAndStderr(upper.perPoint),
      gap: meanAndStderr(gaps),
      seconds: (performance.now() - began) / 1000,
    };
  } finally {
    tf.dispose([z, x]);
  }
}
