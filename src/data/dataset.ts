/**
 * In-memory data sets, the one shape every experiment consumes.
 *
 * A split holds `count` examples, each of `exampleShape` (e.g. `[28, 28, 1]` for MNIST or `[4]`
 * for the synthetic set), stored row-major in one `Float32Array` of length
 * `count * prod(exampleShape)`.
 */
export interface DataSplit {
  /** `[count, ...exampleShape]`, row-major. */
  x: Float32Array;
  count: number;
  /** Optional integer labels, one per example (MNIST digits). Never used for training. */
  labels?: Int32Array;
}

/** What a user's file's values are divided by, and why (said on the start line). */
export interface Scaling {
  divisor: number;
  /** `builtin`: a built-in set's own scale (digits8x8's counts by 16). */
  reason: 'none' | 'option' | 'intensity' | 'builtin';
  /** The values read, before scaling. */
  min: number;
  max: number;
  integer: boolean;
}

export interface Dataset {
  /** What the user named (`mnist`, `synthetic`, `idx:/path/file`, `npy:/path/file`). */
  name: string;
  /** Shape of one example, e.g. `[28, 28, 1]`. */
  exampleShape: number[];
  /**
   * `binary`: values in [0, 1] read as Bernoulli probabilities (dynamic binarisation draws a
   * fresh 0/1 per pixel per read); `real`: any finite values (Gaussian decoder).
   */
  kind: 'binary' | 'real';
  train: DataSplit;
  validation?: DataSplit;
  test?: DataSplit;
  /** Where the data came from (files read, checksums verified). */
  source: string;
  /** How a user's file's values were divided (absent: kept as read). */
  scaling?: Scaling;
}

/**
 * What a trained model needs to know of its data, kept in the run folder (`data.json`) so that
 * sampling and encoding work without the data file.
 */
export interface DataInfo {
  name: string;
  exampleShape: number[];
  kind: Dataset['kind'];
  source: string;
  /** Examples per split, `{train: 55000, validation: 5000, test: 10000}`. */
  counts: Partial<Record<'train' | 'validation' | 'test', number>>;
  scaling?: Scaling;
  /** The training values' range after scaling: what other data given to the model must match. */
  range?: [number, number];
}

export function dataInfo(ds: Dataset): DataInfo {
  const counts: DataInfo['counts'] = {};
  for (const k of ['train', 'validation', 'test'] as const) {
    const s = ds[k];
    if (s) counts[k] = s.count;
  }
  let min = Infinity;
  let max = -Infinity;
  for (const v of ds.train.x) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return {
    name: ds.name,
    exampleShape: ds.exampleShape,
    kind: ds.kind,
    source: ds.source,
    counts,
    ...(ds.scaling ? { scaling: ds.scaling } : {}),
    range: [min, max],
  };
}

/** Number of values in one example. */
export function exampleSize(ds: Pick<Dataset, 'exampleShape'>): number {
  return ds.exampleShape.reduce((a, b) => a * b, 1);
}

export interface SplitSummary {
  count: number;
  shape: number[];
  min: number;
  max: number;
  mean: number;
}

/** What `avb data info` prints of a data set. */
export interface DataSummary {
  name: string;
  kind: Dataset['kind'];
  exampleShape: number[];
  source: string;
  splits: Partial<Record<'train' | 'validation' | 'test', SplitSummary>>;
}

/** Counts, shapes and value ranges of each split (what `avb data info` prints). */
export function summarize(ds: Dataset): DataSummary {
  const splits: DataSummary['splits'] = {};
  for (const key of ['train', 'validation', 'test'] as const) {
    const s = ds[key];
    if (!s) continue;
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (let i = 0; i < s.x.length; i++) {
      const v = s.x[i];
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    splits[key] = {
      count: s.count,
      shape: [s.count, ...ds.exampleShape],
      min,
      max,
      mean: s.x.length ? sum / s.x.length : NaN,
    };
  }
  return { name: ds.name, kind: ds.kind, exampleShape: ds.exampleShape, source: ds.source, splits };
}
