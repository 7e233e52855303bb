import { isAbsolute, resolve } from 'node:path';
import { AvbUserError } from '../errors.js';
import type { Dataset, DataSplit } from './dataset.js';
import { exampleSize } from './dataset.js';
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
    return arrayToDataset(spec, path, arr.shape, arr.data, isByteIntensity(arr.data));
  }
  throw new AvbUserError(
    `unknown data set '${spec}'; use one of: ${DATASET_NAMES.join(', ')}, idx:PATH, npy:PATH`,
  );
}

/** Whether a data spec names a user's file (`idx:PATH`, `npy:PATH`) rather than a built-in set. */
export function isUserData(spec: string): boolean {
  return /^(idx|npy):/.test(spec);
}

/** The file a user's data spec (`idx:PATH`, `npy:PATH`) reads; undefined for built-in sets. */
export function dataFileOf(spec: string): string | undefined {
  return /^(idx|npy):(.+)$/.exec(spec)?.[2];
}

/**
 * The spec with its file path made absolute, so that a run folder keeps working from any
 * working directory (`avb eval --run` from elsewhere).
 */
export function absoluteDataSpec(spec: string): string {
  const m = /^(idx|npy):(.+)$/.exec(spec);
  return m && !isAbsolute(m[2]) ? `${m[1]}:${resolve(m[2])}` : spec;
}

/**
 * The examples a command applies a trained model to (`avb encode`, `avb reconstruct`): every
 * example of a user's file, in file order, or the test split of a built-in set.
 */
export function loadExamples(spec: string): { ds: Dataset; split: DataSplit } {
  const ds = loadDataset(spec);
  if (!isUserData(spec)) return { ds, split: ds.test ?? ds.train };
  const parts = [ds.train, ds.test].filter((s): s is DataSplit => s !== undefined);
  const count = parts.reduce((a, s) => a + s.count, 0);
  const x = new Float32Array(count * exampleSize(ds));
  let off = 0;
  for (const s of parts) {
    x.set(s.x, off);
    off += s.x.length;
  }
  return { ds, split: { x, count } };
}

/**
 * Whether byte values are 8-bit intensities to scale by 1/255: a byte array holding any value
 * above 1. Booleans and byte masks holding only 0 and 1 are 0/1 data as they are.
 */
export function isByteIntensity(data: ArrayLike<number>): boolean {
  if (!(data instanceof Uint8Array)) return false;
  for (let i = 0; i < data.length; i++) if (data[i] > 1) return true;
  return false;
}

/**
 * Turns a user's array `[N, ...exampleShape]` into a data set. 8-bit intensities
 * (`scaleBytes`) are scaled to [0, 1]; other values are kept. Values all in [0, 1] make a `binary` set (Bernoulli decoder), any
 * other finite values a `real` one (Gaussian decoder). NaN or Inf is an error.
 */
export function arrayToDataset(
  name: string,
  path: string,
  shape: number[],
  data: ArrayLike<number>,
  scaleBytes: boolean,
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
    const v = scaleBytes ? data[i] / 255 : data[i];
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
