import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/experiments/applyModel.js';
import { resolveConfig } from '../../src/experiments/config.js';
import { loadRun } from '../../src/experiments/loadRun.js';
import { trainRun } from '../../src/experiments/trainRun.js';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { Rng } from '../../src/random/rng.js';
import { useBackend } from '../helpers.js';
import { scratchDir } from '../scratchDir.js';

const base = scratchDir('avb-encode-');

/** The synthetic data's four points, repeated to `n` examples. */
function points(n: number) {
  const ds = syntheticDataset();
  const x = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) x.set(ds.train.x.subarray((i % 4) * 4, (i % 4) * 4 + 4), i * 4);
  return { x, count: n };
}

describe("encode: AVB+AC's moments of q(z|x) depend on neither batching nor seed", () => {
  let dir: string;
  beforeAll(async () => {
    await useBackend();
    dir = join(base, 'avb-ac');
    const config = resolveConfig(
      {},
      { experiment: 'synthetic', method: 'avb-ac', steps: 100, batch: 64 },
    );
    await trainRun(config, { out: dir });
  });

  it('the same example alone, in a 501-example file and with another seed has the same moments', () => {
    const run = loadRun(dir);
    try {
      const alone = encode(run, points(1), 1, new Rng(1));
      const many = encode(run, points(501), 1, new Rng(2));
      expect(alone.moments?.kind).toBe('basis');
      // Example 0 and example 500 are the same point: identical moments (the basis moments
      // are computed once per model from fixed draws; float32 sums may differ in the last bit).
      for (const e of [0, 500]) {
        for (let l = 0; l < 2; l++) {
          expect(many.mean![e * 2 + l]).toBeCloseTo(alone.mean![l], 5);
          expect(many.variance![e * 2 + l] / alone.variance![l]).toBeCloseTo(1, 5);
        }
      }
      expect(Math.min(...many.variance!)).toBeGreaterThan(0);
    } finally {
      run.dispose();
    }
  });

  it('the moments agree with 20,000 draws of z ~ q(z|x) within their Monte-Carlo error', () => {
    const run = loadRun(dir);
    try {
      const n = 20000;
      const e = encode(run, points(4), n, new Rng(7));
      if (e.moments?.kind !== 'basis') throw new Error('expected basis moments');
      for (let p = 0; p < 4; p++) {
        for (let l = 0; l < 2; l++) {
          let s = 0;
          let s2 = 0;
          for (let k = 0; k < n; k++) {
            const v = e.z[(p * n + k) * 2 + l];
            s += v;
            s2 += v * v;
          }
          const m = s / n;
          const v = s2 / n - m * m;
          const sd = Math.sqrt(e.variance![p * 2 + l]);
          // The draw mean's error is sd / sqrt(20,000) = 0.007 sd, the reported mean's 0.004 sd:
          // 5 combined standard errors (0.04 sd) bound the difference with room to spare.
          const seMean = sd * Math.sqrt(1 / n + e.moments.meanErrorSd ** 2);
          expect(Math.abs(m - e.mean![p * 2 + l])).toBeLessThan(5 * seMean);
          // A sample variance of 20,000 draws has relative error ~sqrt(2 / n) = 1% for a
          // Gaussian; implicit q has heavier tails, so 5% is ~5 standard errors.
          expect(Math.abs(v / e.variance![p * 2 + l] - 1)).toBeLessThan(0.05);
        }
      }
      expect(e.moments.meanErrorSd).toBeCloseTo(1 / 256, 6);
      expect(e.moments.varianceErrorRelative).toBeGreaterThan(0);
      expect(e.moments.varianceErrorRelative).toBeLessThan(0.05);
    } finally {
      run.dispose();
    }
  });
});
