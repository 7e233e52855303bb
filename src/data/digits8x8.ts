import type { Dataset } from './dataset.js';
import { arrayToDataset } from './arrayDataset.js';
import { loadMnist } from './mnist.js';

/** As many examples as scikit-learn's 8 x 8 digits (UCI "optdigits" test set). */
export const DIGITS8X8_COUNT = 1797;

/**
 * A digits data set of another scale than MNIST, made the way the UCI/scikit-learn 8 x 8 digits
 * were (no download): the central 24 x 24 pixels of each of the first `count` MNIST training
 * digits (where the ink is) are binarised at 0.5 and stretched to a 32 x 32 bitmap (nearest
 * pixel), cut into 4 x 4 blocks whose count of ink pixels, 0..16, is one value.
 * Returns `[count, 8, 8]` row-major uint8 counts.
 */
export function digits8x8Counts(count = DIGITS8X8_COUNT): Uint8Array {
  const mnist = loadMnist();
  const n = Math.min(count, mnist.train.count);
  const out = new Uint8Array(n * 64);
  for (let k = 0; k < n; k++) {
    const img = mnist.train.x.subarray(k * 784, (k + 1) * 784);
    for (let r = 0; r < 32; r++)
      for (let c = 0; c < 32; c++) {
        const src = (2 + Math.floor((r * 24) / 32)) * 28 + 2 + Math.floor((c * 24) / 32);
        if (img[src] >= 0.5) out[k * 64 + (r >> 2) * 8 + (c >> 2)]++;
      }
  }
  return out;
}

/** {@link digits8x8Counts} as a data set: values divided by 16 into [0, 1], the last 10% as test. */
export function digits8x8Dataset(): Dataset {
  const counts = digits8x8Counts();
  const ds = arrayToDataset('digits8x8', 'digits8x8', [counts.length / 64, 8, 8], counts, {
    divisor: 16,
    reason: 'builtin',
    min: 0,
    max: 16,
    integer: true,
  });
  return {
    ...ds,
    source: `the first ${ds.train.count + (ds.test?.count ?? 0)} MNIST training digits (central 24 x 24) as 8 x 8 block counts 0..16, divided by 16 (last 10% held out as test)`,
  };
}
