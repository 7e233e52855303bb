import * as tf from '../tf.js';
import { basisCovariance, covarianceGiven } from '../nn/encoders.js';
import type { BasisVectorEncoder } from '../nn/encoders.js';
import {
  AC_VARIANCE_FLOOR,
  contrastFactor,
  logDiagonalSum,
} from '../objectives/adaptiveContrast.js';
import { Rng } from '../random/rng.js';
import type { HeldOutSet } from './heldOut.js';

/** Noise draws of each basis vector behind the check's covariances (a fixed seed: `seed`). */
const BASIS_DRAWS = 4096;
/** Distinct held-out examples the check averages over, at most. */
const MAX_EXAMPLES = 256;
/**
 * The adversary counts as underpricing q's correlations when their KL exceeds its whole KL
 * estimate by more than this many nats (the estimate is a mean over the last steps, its noise a
 * few tenths of a nat on MNIST).
 */
export const UNDERPRICED_MARGIN_NATS = 1;

/** What `summary.json` records about a diagonal adaptive contrast (`diagnostics.contrast`). */
export interface ContrastCheck {
  /**
   * Mean over held-out x of -1/2 log det Corr[z|x] (q(z|x)'s correlation matrix, each variance
   * raised by the contrast's floor): the KL of a Gaussian with those correlations from N(0, I),
   * a lower bound on the KL(q^ || N(0, I)) that the adversary estimates, since of all
   * distributions with one covariance the Gaussian is closest to N(0, I).
   */
  correlationKl: number;
  /** The adversary's estimate of that KL: its mean logit on q's draws over the last steps. */
  adversaryKl: number;
}

/**
 * Checks a diagonal adaptive contrast (the paper's): the adversary must estimate KL(q^ ||
 * N(0, I)) of q's coordinate-wise normalised draws, and that KL is at least the Gaussian KL of
 * their correlations, which the basis-vector encoder gives in closed form. An estimate below it
 * is provably low: the encoder is buying reconstruction with correlations the adversary does not
 * charge for, and `ac.covariance: full` charges for them exactly. Returns the figures and, when
 * the estimate is more than {@link UNDERPRICED_MARGIN_NATS} below the bound, the warning.
 */
export function contrastCheck(
  encoder: BasisVectorEncoder,
  set: HeldOutSet,
  adversaryKl: number,
  seed: number,
): { check: ContrastCheck; warning?: string } {
  const L = encoder.latentDim;
  const d = set.exampleShape.reduce((a, b) => a * b, 1);
  const perExample = set.rows / set.count;
  const n = Math.min(set.count, MAX_EXAMPLES);
  const xs = new Float32Array(n * d);
  for (let i = 0; i < n; i++)
    xs.set(set.x.subarray(i * perExample * d, (i * perExample + 1) * d), i * d);
  const cov = tf.tidy(() => {
    const v = encoder.basisDraws(new Rng(seed), BASIS_DRAWS);
    const m = tf.moments(v, 1);
    const { a } = encoder.momentsOf(tf.tensor(xs, [n, ...set.exampleShape]), m.mean, m.variance);
    return covarianceGiven(a, basisCovariance(v)).dataSync();
  });
  // log det Corr = log det(Cov + floor) - sum_j log(Cov_jj + floor), the floored covariance being
  // what the normalised draws are scaled by; a non-finite one (NaN factor) says nothing.
  let total = 0;
  for (let i = 0; i < n; i++) {
    let logDet = 2 * logDiagonalSum(contrastFactor(cov, i, L), L);
    for (let j = 0; j < L; j++) logDet -= Math.log(cov[i * L * L + j * L + j] + AC_VARIANCE_FLOOR);
    if (Number.isFinite(logDet)) total += -0.5 * logDet;
  }
  const check = {
    correlationKl: Number((total / n).toPrecision(4)),
    adversaryKl: Number(adversaryKl.toPrecision(4)),
  };
  const gap = check.correlationKl - check.adversaryKl;
  if (!(gap > UNDERPRICED_MARGIN_NATS)) return { check };
  return {
    check,
    warning:
      `the adversary underestimates the KL: it prices q(z|x)'s departure from its diagonal Gaussian r at ${check.adversaryKl.toFixed(1)} nats, ` +
      `but q's correlations alone are worth at least ${check.correlationKl.toFixed(1)} (held-out mean), so the ELBO estimate is at least ${gap.toFixed(1)} nats too high ` +
      `and the encoder is exploiting it; train with full adaptive contrast (ac.covariance: full in the config)`,
  };
}
