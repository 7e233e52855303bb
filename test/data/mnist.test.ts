import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeIdx } from '../../src/data/idx.js';
import { MNIST_FILES, loadMnist, packagedMnistDir } from '../../src/data/mnist.js';
import { MinibatchSampler } from '../../src/data/sampler.js';
import { scratchDir } from '../scratchDir.js';

const files = Object.values(MNIST_FILES).map((f) => f.name);

function copyOfMnist(): string {
  const dir = scratchDir('avb-mnist-');
  for (const f of files) copyFileSync(join(packagedMnistDir(), f), join(dir, f));
  return dir;
}

describe('MNIST', () => {
  const ds = loadMnist();

  it('has the 55k / 5k / 10k split with pixels in [0, 1]', () => {
    expect([ds.train.count, ds.validation?.count, ds.test?.count]).toEqual([55000, 5000, 10000]);
    expect(ds.exampleShape).toEqual([28, 28, 1]);
    expect(ds.train.x.length).toBe(55000 * 784);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ds.test!.x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect([min, max]).toEqual([0, 1]);
    // Known first test label of MNIST: 7.
    expect(ds.test!.labels![0]).toBe(7);
  });

  it('dynamic binarisation draws fresh 0/1 values with the pixel means', () => {
    const s = new MinibatchSampler(ds, ds.test!, { seed: 1, binarize: true });
    const a = s.nextArray(1000);
    expect(new Set(a).size).toBe(2);
    const s2 = new MinibatchSampler(ds, ds.test!, { seed: 2, binarize: false });
    const b = s2.nextArray(1000);
    const mean = (v: Float32Array) => v.reduce((x, y) => x + y, 0) / v.length;
    // Both are averages of 784k values with mean ~0.13: their difference is a few 1e-3.
    expect(Math.abs(mean(a) - mean(b))).toBeLessThan(0.01);
  });

  it('the same seed reads the same batches; the state resumes the stream', () => {
    const s1 = new MinibatchSampler(ds, ds.train, { seed: 9, binarize: true });
    const s2 = new MinibatchSampler(ds, ds.train, { seed: 9, binarize: true });
    s1.nextArray(64);
    const state = s1.state();
    const next1 = s1.nextArray(64);
    s2.restore(state);
    expect(Array.from(s2.nextArray(64))).toEqual(Array.from(next1));
  });

  it('a truncated file is a one-line error naming it', () => {
    const dir = copyOfMnist();
    const path = join(dir, MNIST_FILES.testImages.name);
    writeFileSync(path, readFileSync(path).subarray(0, 1000));
    expect(() => loadMnist(dir)).toThrow(
      /t10k-images-idx3-ubyte: truncated: header says shape \[10000, 28, 28\]/,
    );
  });

  it('a corrupt pixel fails the MD5 check', () => {
    const dir = copyOfMnist();
    const path = join(dir, MNIST_FILES.testImages.name);
    const bytes = readFileSync(path);
    bytes[5000] ^= 0xff;
    writeFileSync(path, bytes);
    expect(() => loadMnist(dir)).toThrow(
      /is corrupt: MD5 [0-9a-f]{32}, the official file has 2646ac647ad5339dbf082846283269ea/,
    );
  });

  it('image and label counts that disagree are reported', () => {
    const dir = copyOfMnist();
    writeFileSync(join(dir, MNIST_FILES.testLabels.name), encodeIdx([9999], new Uint8Array(9999)));
    expect(() => loadMnist(dir)).toThrow(
      /MNIST files disagree: .*t10k-images-idx3-ubyte has 10000 images but .*t10k-labels-idx1-ubyte has 9999 labels/,
    );
  });

  it('a missing file says how to restore it', () => {
    const dir = scratchDir('avb-mnist-empty-');
    expect(() => loadMnist(dir)).toThrow(
      /train-images-idx3-ubyte is missing; reinstall the data with `npm ci`/,
    );
  });
});
