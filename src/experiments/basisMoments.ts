import * as tf from '../tf.js';
import type { BasisVectorEncoder } from '../nn/encoders.js';
import { Rng } from '../random/rng.js';

/**
 * Noise draws behind the moments of AVB+AC's basis-vector encoder that `avb encode` reports: the
 * means' Monte-Carlo error is then 1/sqrt(65,536) = 0.4% of q(z|x)'s sd, for every example.
 */
export const BASIS_MOMENT_DRAWS = 65536;
/** A fixed seed: the reported moments depend on the model only, not on `--seed` or batching. */
export const BASIS_MOMENT_SEED = 0x5eed;
const CHUNK = 4096;

/** E[v_i], Var[v_i] of each basis vector and coordinate, `[B * L]` row-major, in doubles. */
export interface BasisMoments {
  draws: number;
  mean: Float64Array;
  variance: Float64Array;
  /** The sampling variance of `variance` itself, (m4 - variance^2) / draws. */
  varianceOfVariance: Float64Array;
}

/**
 * Estimates the moments of the basis vectors v_i(eps_i) of `encoder`, which do not depend on x,
 * from `draws` fixed noise draws (accumulated in doubles, shifted by the first draw so that large
 * means lose no precision).
 */
export function basisMoments(
  encoder: BasisVectorEncoder,
  draws = BASIS_MOMENT_DRAWS,
  seed = BASIS_MOMENT_SEED,
): BasisMoments {
  const rng = new Rng(seed);
  let cells = 0;
  let shift: Float64Array | undefined;
  let s1: Float64Array, s2: Float64Array, s3: Float64Array, s4: Float64Array;
  s1 = s2 = s3 = s4 = new Float64Array(0);
  for (let done = 0; done < draws; done += CHUNK) {
    const n = Math.min(CHUNK, draws - done);
    const v = tf.tidy(() => encoder.basisDraws(rng, n)); // [B, n, L]
    const [B, , L] = v.shape;
    const data = v.dataSync();
    v.dispose();
    if (!shift) {
      cells = B * L;
      shift = new Float64Array(cells);
      for (let b = 0; b < B; b++)
        for (let l = 0; l < L; l++) shift[b * L + l] = data[b * n * L + l];
      [s1, s2, s3, s4] = [0, 0, 0, 0].map(() => new Float64Array(cells));
    }
    for (let b = 0; b < B; b++)
      for (let k = 0; k < n; k++)
        for (let l = 0; l < L; l++) {
          const c = b * L + l;
          const d = data[(b * n + k) * L + l] - shift[c];
          const d2 = d * d;
          s1[c] += d;
          s2[c] += d2;
          s3[c] += d2 * d;
          s4[c] += d2 * d2;
        }
  }
  const mean = new Float64Array(cells);
  const variance = new Float64Array(cells);
  const varianceOfVariance = new Float64Array(cells);
  for (let c = 0; c < cells; c++) {
    const m1 = s1[c] / draws;
    const m2 = s2[c] / draws;
    const m3 = s3[c] / draws;
    const m4 = s4[c] / draws;
    const v = Math.max(0, m2 - m1 * m1);
    // Fourth central moment from the shifted raw moments.
    const c4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1 ** 4;
    mean[c] = shift![c] + m1;
    variance[c] = v;
    varianceOfVariance[c] = Math.max(0, c4 - v * v) / draws;
  }
  return { draws, mean, variance, varianceOfVariance };
}
