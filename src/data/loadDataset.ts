import { AvbUserError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { readIdxFile } from './idx.js';
import { loadMnist } from './mnist.js';
import { readNpyFile } from './npy.js';
import { syntheticDataset } from './synthetic.js';

/** Data set names `loadDataset` accepts, besides `idx:PATH` and `npy:PATH`. */
export const DATASET_NAMES = ['synthetic', 'mnist'] as const;

/** Fraction of a user's array held out as the test split (the last examples). */
export const USER_TEST_FRACTION = 0.1;

/**
 * Resolves a data set name: `synthetic`, `mnist`, `idx:PATH` (plain or .gz) or `npy:PATH`.
 * Unknown names and unreadable files throw {@link AvbUserError}.
 */
export function loadDataset(spec: string): Dataset {
  if (spec === 'synthetic') return syntheticDataset();
  if (spec === 'mnist') return loadMnist();
  const m = /^(idx|npy):(.+)$/.exec(spec);
  if (m) {
    const [, format, path] = m;
    const arr = format === 'idx' ? readIdxFile(path) : readNpyFile(path);
    return arrayToDataset(spec, path, arr.shape, arr.data, arr.data instanceof Uint8Array);
  }
  throw new AvbUserError(
    `unknown data set '${spec}'; use one of: ${DATASET_NAMES.join(', ')}, idx:PATH, npy:PATH`,
  );
}

/**
 * Turns a user's array `[N, ...exampleShape]` into a data set. Bytes are scaled to [0, 1];
 * other values are kept. Values all in [0, 1] make a `binary` set (Bernoulli decoder), any
 * other finite values a `real` one (Gaussian decoder). NaN or Inf is an error.
 */
export function arrayToDataset(
  name: string,
  path: string,
  shape: number[],
  data: ArrayLike<number>,
  isBytes: boolean,
): Dataset {
  if (shape.length < 2 || shape[0] < 1) {
    throw new AvbUserError(
      `${path}: expected an array of examples [N, ...] with N >= 1, got shape [${shape.join(', ')}]`,
    );
  }
  const n = shape[0];
  const exampleShape = shape.length === 3 ? [shape[1], shape[2], 1] : shape.slice(1);
  const x = new Float32Array(data.length);
  let inUnit = true;
  for (let i = 0; i < x.length; i++) {
    const v = isBytes ? data[i] / 255 : data[i];
    if (!Number.isFinite(v)) {
      const d = x.length / n;
      throw new AvbUserError(
        `${path}: value ${v} at example ${Math.floor(i / d)}, position ${i % d}; ` +
          'remove or replace non-finite values before training',
      );
    }
    if (v < 0 || v > 1) inUnit = false;
    x[i] = v;
  }
  const d = x.length / n;
  const nTest = n >= 10 ? Math.max(1, Math.round(n * USER_TEST_FRACTION)) : 0;
  const nTrain = n - nTest;
  return {
    name,
    exampleShape,
    kind: inUnit ? 'binary' : 'real',
    train: { x: x.subarray(0, nTrain * d), count: nTrain },
    test: nTest ? { x: x.subarray(nTrain * d), count: nTest } : undefined,
    source: `${path} (${n} examples; last ${nTest} held out as test)`,
  };
}
