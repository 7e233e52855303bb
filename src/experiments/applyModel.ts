import * as tf from '../tf.js';
import type { DataInfo, DataSplit } from '../data/dataset.js';
import { exampleSize } from '../data/dataset.js';
import { AvbUserError } from '../errors.js';
import { BasisVectorEncoder } from '../nn/encoders.js';
import { Rng } from '../random/rng.js';
import { basisMoments } from './basisMoments.js';
import type { LoadedRun } from './loadRun.js';

/** Examples per forward pass: bounds memory for any number of examples. */
const CHUNK = 500;

/**
 * Draws `n` examples from the model: z ~ N(0, I), then the mean of p(x|z) (pixel probabilities
 * for a Bernoulli decoder). Returns `[n, ...exampleShape]` row-major.
 */
export function generate(run: LoadedRun, n: number, rng: Rng): Float32Array {
  const d = exampleSize(run.data);
  const out = new Float32Array(n * d);
  for (let from = 0; from < n; from += CHUNK) {
    const m = Math.min(CHUNK, n - from);
    const x = tf.tidy(() => run.parts.decoder.mean(rng.normalTensor([m, run.config.latent])));
    out.set(x.dataSync(), from * d);
    x.dispose();
  }
  return out;
}

/**
 * Reconstructs examples: one z ~ q(z|x) per example, then the mean of p(x|z).
 * Returns `[count, ...exampleShape]` row-major.
 */
export function reconstruct(run: LoadedRun, split: DataSplit, rng: Rng): Float32Array {
  const d = exampleSize(run.data);
  const out = new Float32Array(split.count * d);
  forChunks(run, split, CHUNK, (x, from) => {
    const r = tf.tidy(() => run.parts.decoder.mean(run.parts.encoder.sample(x, rng).z));
    out.set(r.dataSync(), from * d);
    r.dispose();
  });
  return out;
}

export interface Encoding {
  /** `samples` draws of z ~ q(z|x) per example: `[count, samples, latent]` row-major. */
  z: Float32Array;
  /** The mean and variance of q(z|x) (`[count, latent]`), for encoders that have them. */
  mean?: Float32Array;
  variance?: Float32Array;
  /**
   * How the moments were computed: `exact` (a Gaussian encoder's own), or `basis` (AVB+AC:
   * exact in x, with E[v_i], Var[v_i] from {@link BASIS_MOMENT_DRAWS} fixed noise draws), with
   * their largest Monte-Carlo standard errors: of a mean in units of q(z|x)'s sd, and of a
   * variance relative to it.
   */
  moments?:
    | { kind: 'exact' }
    | { kind: 'basis'; draws: number; meanErrorSd: number; varianceErrorRelative: number };
}

/**
 * Encodes examples: `samples` draws of z ~ q(z|x) each (from `rng`), and where the encoder's
 * form gives them the moments of q(z|x), which depend on neither `rng` nor how examples are
 * batched: exact for the VAE's Gaussian; for AVB+AC's basis-vector encoder exact functions of x
 * and of the basis vectors' moments, estimated once from fixed noise draws (see `moments`).
 */
export function encode(run: LoadedRun, split: DataSplit, samples: number, rng: Rng): Encoding {
  const L = run.config.latent;
  const encoder = run.parts.encoder;
  const z = new Float32Array(split.count * samples * L);
  const basis = encoder instanceof BasisVectorEncoder ? basisMoments(encoder) : undefined;
  const vMean = basis && tf.tensor2d(Float32Array.from(basis.mean), [basis.mean.length / L, L]);
  const vVar = basis && tf.tensor2d(Float32Array.from(basis.variance), [basis.mean.length / L, L]);
  const vVarVar = basis && tf.tensor2d(Float32Array.from(basis.varianceOfVariance), vVar!.shape);
  let mean: Float32Array | undefined;
  let variance: Float32Array | undefined;
  let varianceErrorRelative = 0;
  const chunk = Math.max(1, Math.floor(CHUNK / samples));
  try {
    forChunks(run, split, chunk, (x, from) => {
      const draws = tf.tidy(() => encoder.sample(tileRows(x, samples), rng).z);
      z.set(draws.dataSync(), from * samples * L);
      draws.dispose();
      const moments = tf.tidy(() => {
        if (basis) {
          const q = (encoder as BasisVectorEncoder).momentsOf(x, vMean!, vVar!);
          // se of sum_i a_i^2 Var[v_i] is sqrt(sum_i a_i^4 Var[Var-hat[v_i]]).
          const se = tf.sqrt(tf.sum(tf.mul(tf.pow(q.a, 4), vVarVar!), 1));
          return [q.mean, q.variance, tf.max(tf.div(se, tf.maximum(q.variance, 1e-30)))];
        }
        const g = encoder.sample(x, new Rng(0)).gaussian; // the Gaussian's moments use no noise
        return g ? [g.mean, tf.exp(g.logVar)] : [];
      });
      if (moments.length) {
        mean ??= new Float32Array(split.count * L);
        variance ??= new Float32Array(split.count * L);
        mean.set(moments[0].dataSync(), from * L);
        variance.set(moments[1].dataSync(), from * L);
        if (moments[2])
          varianceErrorRelative = Math.max(varianceErrorRelative, moments[2].dataSync()[0]);
      }
      tf.dispose(moments);
    });
  } finally {
    tf.dispose([vMean, vVar, vVarVar].filter((t): t is tf.Tensor2D => t !== undefined));
  }
  if (!mean || !variance) return { z };
  return {
    z,
    mean,
    variance,
    moments: basis
      ? {
          kind: 'basis',
          draws: basis.draws,
          meanErrorSd: 1 / Math.sqrt(basis.draws),
          varianceErrorRelative,
        }
      : { kind: 'exact' },
  };
}

/** Each row of `x` repeated `samples` times in place: `[n * samples, ...]`. */
function tileRows(x: tf.Tensor, samples: number): tf.Tensor {
  if (samples === 1) return x.clone();
  return tf.reshape(
    tf.tile(tf.expandDims(x, 1), [1, samples, ...Array<number>(x.rank - 1).fill(1)]),
    [x.shape[0] * samples, ...x.shape.slice(1)],
  );
}

/**
 * Checks that examples from `data` can go through the run's model: the same example shape,
 * values in [0, 1] for a model trained on such data (a Bernoulli decoder), and (where the run
 * recorded its training range) values on the training scale: not reaching a training range's
 * width beyond it, nor (with 10 or more examples) spanning less than a tenth of it.
 */
export function checkExamplesFit(
  run: LoadedRun,
  data: Pick<DataInfo, 'name' | 'exampleShape' | 'kind' | 'range' | 'scaling'> & {
    count?: number;
  },
): void {
  const want = run.data.exampleShape.join(', ');
  if (data.exampleShape.join(', ') !== want) {
    throw new AvbUserError(
      `${data.name} has examples of shape [${data.exampleShape.join(', ')}] but the run was trained on [${want}]; give --data with examples of that shape`,
    );
  }
  if (run.data.kind === 'binary' && data.kind !== 'binary') {
    throw new AvbUserError(
      `${data.name} has values outside [0, 1] but the run was trained on data in [0, 1]; rescale the data the way the training data was (--scale)`,
    );
  }
  const [lo, hi] = run.data.range ?? [NaN, NaN];
  const [min, max] = data.range ?? [NaN, NaN];
  const width = hi - lo;
  if (!(width > 0) || !Number.isFinite(min)) return;
  const beyond = min < lo - width || max > hi + width;
  const squeezed = (data.count ?? 0) >= 10 && max - min < width / 10;
  if (beyond || squeezed) {
    throw new AvbUserError(
      `${data.name} has values in [${round4(min)}, ${round4(max)}]${data.scaling ? ` (after dividing by ${data.scaling.divisor})` : ''} but the run was trained on values in [${round4(lo)}, ${round4(hi)}]; put them on the training scale (--scale)`,
    );
  }
}

function forChunks(
  run: LoadedRun,
  split: DataSplit,
  chunk: number,
  f: (x: tf.Tensor, from: number, m: number) => void,
): void {
  const d = exampleSize(run.data);
  for (let from = 0; from < split.count; from += chunk) {
    const m = Math.min(chunk, split.count - from);
    const x = tf.tensor(split.x.subarray(from * d, (from + m) * d), [m, ...run.data.exampleShape]);
    try {
      f(x, from, m);
    } finally {
      x.dispose();
    }
  }
}

function round4(v: number): number {
  return Number(v.toPrecision(4));
}
