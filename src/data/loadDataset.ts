import { isAbsolute, resolve } from 'node:path';
import { AvbUserError } from '../errors.js';
import type { Dataset, DataSplit } from './dataset.js';
import { arrayToDataset, isIntegerArray, scalingOf } from './arrayDataset.js';
import { exampleSize } from './dataset.js';
import { readIdxFile } from './idx.js';
import { loadMnist } from './mnist.js';
import { readNpyFile } from './npy.js';
import { syntheticDataset } from './synthetic.js';
import { digits8x8Dataset } from './digits8x8.js';

/** Data set names `loadDataset` accepts, besides `idx:PATH` and `npy:PATH`. */
export const DATASET_NAMES = ['synthetic', 'mnist', 'digits8x8'] as const;

/** How a user's file is read (`--scale`). */
export interface LoadOptions {
  /** Divide every value of a user's file by this (`--scale N`; 1 keeps the values). */
  scale?: number;
}

/**
 * Resolves a data set name: `synthetic`, `mnist`, `digits8x8`, `idx:PATH` (plain or .gz) or
 * `npy:PATH`. Unknown names, unreadable files and integer values whose scale is unclear (see
 * {@link scalingOf}) throw {@link AvbUserError}.
 */
export function loadDataset(spec: string, o: LoadOptions = {}): Dataset {
  if (spec === 'synthetic') return syntheticDataset();
  if (spec === 'mnist') return loadMnist();
  if (spec === 'digits8x8') return digits8x8Dataset();
  const m = /^(idx|npy):(.+)$/.exec(spec);
  if (m) {
    const [, format, path] = m;
    const arr = format === 'idx' ? readIdxFile(path) : readNpyFile(path);
    const integer = isIntegerArray(arr.data) || ('descr' in arr && arr.descr === '<i8');
    const scaling = scalingOf(path, arr.data, integer, o.scale);
    return arrayToDataset(spec, path, arr.shape, arr.data, scaling);
  }
  throw new AvbUserError(
    `unknown data set '${spec}'; use one of: ${DATASET_NAMES.join(', ')}, idx:PATH, npy:PATH`,
  );
}

/** Whether a data spec names a user's file (`idx:PATH`, `npy:PATH`) rather than a built-in set. */
function isUserData(spec: string): boolean {
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
export function loadExamples(spec: string, o: LoadOptions = {}): { ds: Dataset; split: DataSplit } {
  const ds = loadDataset(spec, o);
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

export { arrayToDataset, describeScaling, scalingOf, USER_TEST_FRACTION } from './arrayDataset.js';
