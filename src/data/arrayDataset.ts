import { AvbUserError } from '../errors.js';
import type { Dataset, Scaling } from './dataset.js';

/** Fraction of a user's array held out as the test split (the last examples). */
export const USER_TEST_FRACTION = 0.1;

export function isIntegerArray(data: ArrayLike<number>): boolean {
  return (
    data instanceof Uint8Array ||
    data instanceof Int8Array ||
    data instanceof Int16Array ||
    data instanceof Uint16Array ||
    data instanceof Int32Array
  );
}

/**
 * How a user's values are scaled: by `scale` when given; integer values in {0, 1} (booleans,
 * masks) as they are; uint8 values reaching 128 or more as 8-bit intensities (divided by 255).
 * Any other integers (0..16 counts, a dark image set, int16 readings) are ambiguous: guessing 255
 * would squeeze 0..16 into [0, 0.063] unnoticed, so they are refused with the fix. Floats are
 * kept.
 */
export function scalingOf(
  path: string,
  data: ArrayLike<number>,
  integer: boolean,
  scale: number | undefined,
): Scaling {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = { min, max, integer };
  if (scale !== undefined) return { divisor: scale, reason: 'option', ...range };
  if (!integer || (min >= 0 && max <= 1)) return { divisor: 1, reason: 'none', ...range };
  if (data instanceof Uint8Array && min >= 0 && max >= 128)
    return { divisor: 255, reason: 'intensity', ...range };
  throw new AvbUserError(
    `${path}: integer values ${min}..${max} are neither 0/1 nor 8-bit intensities (0..255); ` +
      `add --scale ${Math.max(Math.abs(min), Math.abs(max))} to divide them into [${min < 0 ? -1 : 0}, 1], or --scale 1 to model them as they are`,
  );
}

/** The start-line note of a scaling, or undefined when the values are kept as read. */
export function describeScaling(s: Scaling): string | undefined {
  if (s.reason === 'none') return undefined;
  const what = `values ${s.min}..${s.max}`;
  return s.reason === 'intensity'
    ? `${what} read as 8-bit intensities: divided by 255 (--scale N to choose another divisor)`
    : s.reason === 'builtin'
      ? `${what} divided by ${s.divisor} (the data set's own scale)`
      : s.divisor === 1
        ? `${what} kept as they are (--scale 1)`
        : `${what} divided by ${s.divisor} (--scale ${s.divisor})`;
}

/**
 * Turns a user's array `[N, ...exampleShape]` into a data set, its values divided by
 * `scaling.divisor`. Values all in [0, 1] make a `binary` set (Bernoulli decoder), any other
 * finite values a `real` one (Gaussian decoder). NaN or Inf is an error.
 */
export function arrayToDataset(
  name: string,
  path: string,
  shape: number[],
  data: ArrayLike<number>,
  scaling: Scaling = { divisor: 1, reason: 'none', min: NaN, max: NaN, integer: false },
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
    const v = scaling.divisor === 1 ? data[i] : data[i] / scaling.divisor;
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
    ...(scaling.reason === 'none' ? {} : { scaling }),
  };
}
