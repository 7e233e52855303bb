import * as tf from '../tf.js';
import type { Dataset } from '../data/dataset.js';
import { exampleSize } from '../data/dataset.js';
import { encoderProposal, importanceSampledLogLikelihood } from '../eval/importanceSampling.js';
import type { Objective, Parts } from '../objectives/objective.js';
import { Rng } from '../random/rng.js';

/** Fewest draws of q(z|x) a held-out estimate averages. */
const MIN_DRAWS = 256;

/** Examples a run is checked on while it trains: a fixed subset of its held-out split. */
export interface HeldOutSet {
  split: 'validation' | 'test' | 'train';
  /** The examples, each repeated `draws` times in a row when there are few of them. */
  x: Float32Array;
  /** Distinct examples. */
  count: number;
  /** Rows of `x`: `count` x the draws per example. */
  rows: number;
  exampleShape: number[];
}

/** One held-out estimate, as logged in `metrics.jsonl` and `summary.json` (nats per example). */
export interface HeldOutEstimate {
  /** The objective's ELBO estimate (for AVB: reconstruction minus the adversary's KL estimate). */
  elbo: number;
  /** The importance-weighted bound, for encoders with a Gaussian (VAE, AVB+AC's r(z|x)). */
  iwae?: number;
}

/**
 * The first `points` examples of the validation split, else the test split, else the training
 * set (the synthetic data), binarised once from `seed` when the run binarises its data: the
 * same examples at every step, so the estimates form a curve.
 */
export function heldOutSet(
  ds: Dataset,
  points: number,
  binarize: boolean,
  seed: number,
): HeldOutSet {
  const [split, s] = ds.validation
    ? (['validation', ds.validation] as const)
    : ds.test
      ? (['test', ds.test] as const)
      : (['train', ds.train] as const);
  const count = Math.min(points, s.count);
  const raw = s.x.subarray(0, count * exampleSize(ds));
  const rng = new Rng(seed);
  const once =
    binarize && ds.kind === 'binary'
      ? Float32Array.from(raw, (p) => (rng.uniform() < p ? 1 : 0))
      : Float32Array.from(raw);
  // A few examples (the 4 synthetic points) would give a one-draw, noisy estimate: repeat each
  // so that at least MIN_DRAWS draws of q(z|x) are averaged, every example equally often.
  const draws = Math.ceil(MIN_DRAWS / count);
  const d = exampleSize(ds);
  const x = new Float32Array(count * draws * d);
  for (let i = 0; i < count; i++)
    for (let r = 0; r < draws; r++) x.set(once.subarray(i * d, (i + 1) * d), (i * draws + r) * d);
  return { split, x, count, rows: count * draws, exampleShape: ds.exampleShape };
}

/**
 * Estimates the ELBO (and the IWAE bound with `iwaeSamples` samples where the encoder has a
 * Gaussian) on a held-out set, in chunks of `batch` examples, from a fixed seed: two calls on
 * the same weights give the same numbers. No gradients, no state changes.
 */
export function estimateHeldOut(
  parts: Parts,
  objective: Objective,
  set: HeldOutSet,
  o: {
    batch: number;
    iwaeSamples: number;
    seed: number;
    /** AVB+AC's contrast: IWAE's proposal is the run's r, with q's whole covariance if `full`. */
    covariance?: 'diagonal' | 'full';
  },
): HeldOutEstimate {
  const rng = new Rng(o.seed);
  const d = exampleSize(set);
  let elbo = 0;
  let iwae = 0;
  let hasIwae = o.iwaeSamples > 0;
  for (let from = 0; from < set.rows; from += o.batch) {
    const m = Math.min(o.batch, set.rows - from);
    const x = tf.tensor(set.x.subarray(from * d, (from + m) * d), [m, ...set.exampleShape]);
    try {
      elbo +=
        m *
        tf.tidy(() => {
          const out = objective(parts, x, rng, { klWeight: 1, select: 'primal' });
          return out.metrics.elbo.dataSync()[0];
        });
      if (hasIwae) {
        const proposal = encoderProposal(parts.encoder, x, rng, o.covariance);
        if (proposal) {
          const r = importanceSampledLogLikelihood(parts.decoder, x, proposal, o.iwaeSamples, rng);
          iwae += r.mean * m;
        } else hasIwae = false;
      }
    } finally {
      x.dispose();
    }
  }
  return hasIwae ? { elbo: elbo / set.rows, iwae: iwae / set.rows } : { elbo: elbo / set.rows };
}
