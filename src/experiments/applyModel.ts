import * as tf from '../tf.js';
import type { DataInfo, DataSplit } from '../data/dataset.js';
import { exampleSize } from '../data/dataset.js';
import { AvbUserError } from '../errors.js';
import type { Rng } from '../random/rng.js';
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
  /** The exact mean and variance of q(z|x) (`[count, latent]`), for encoders that have them. */
  mean?: Float32Array;
  variance?: Float32Array;
}

/**
 * Encodes examples: `samples` draws of z ~ q(z|x) each, and where the encoder knows them (the
 * VAE's Gaussian, AVB+AC's basis-vector encoder) the exact moments of q(z|x).
 */
export function encode(run: LoadedRun, split: DataSplit, samples: number, rng: Rng): Encoding {
  const L = run.config.latent;
  const z = new Float32Array(split.count * samples * L);
  let mean: Float32Array | undefined;
  let variance: Float32Array | undefined;
  const chunk = Math.max(1, Math.floor(CHUNK / samples));
  forChunks(run, split, chunk, (x, from, m) => {
    const tiled = tf.tidy(() =>
      samples === 1
        ? x.clone()
        : tf.reshape(
            tf.tile(tf.expandDims(x, 1), [1, samples, ...Array<number>(x.rank - 1).fill(1)]),
            [m * samples, ...x.shape.slice(1)],
          ),
    );
    const s = tf.tidy(() => {
      const draw = run.parts.encoder.sample(tiled, rng);
      const moments = draw.gaussian
        ? { mean: draw.gaussian.mean, variance: tf.exp(draw.gaussian.logVar) }
        : draw.moments;
      return { z: draw.z, ...(moments ? { mean: moments.mean, variance: moments.variance } : {}) };
    });
    tiled.dispose();
    z.set(s.z.dataSync(), from * samples * L);
    if (s.mean && s.variance) {
      mean ??= new Float32Array(split.count * L);
      variance ??= new Float32Array(split.count * L);
      // With several draws per example the moments repeat: keep the first of each.
      const mu = s.mean.dataSync();
      const va = s.variance.dataSync();
      for (let i = 0; i < m; i++) {
        mean.set(mu.subarray(i * samples * L, i * samples * L + L), (from + i) * L);
        variance.set(va.subarray(i * samples * L, i * samples * L + L), (from + i) * L);
      }
    }
    tf.dispose([s.z, s.mean, s.variance].filter((t): t is tf.Tensor2D => t !== undefined));
  });
  return mean && variance ? { z, mean, variance } : { z };
}

/**
 * Checks that examples from `data` can go through the run's model: the same example shape, and
 * values in [0, 1] for a model trained on such data (a Bernoulli decoder).
 */
export function checkExamplesFit(
  run: LoadedRun,
  data: Pick<DataInfo, 'name' | 'exampleShape' | 'kind'>,
): void {
  const want = run.data.exampleShape.join(', ');
  if (data.exampleShape.join(', ') !== want) {
    throw new AvbUserError(
      `${data.name} has examples of shape [${data.exampleShape.join(', ')}] but the run was trained on [${want}]; give --data with examples of that shape`,
    );
  }
  if (run.data.kind === 'binary' && data.kind !== 'binary') {
    throw new AvbUserError(
      `${data.name} has values outside [0, 1] but the run was trained on data in [0, 1]; rescale the data the way the training data was`,
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
