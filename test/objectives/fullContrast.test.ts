import * as tf from '../../src/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/experiments/config.js';
import { BasisVectorEncoder, basisCovariance, covarianceGiven } from '../../src/nn/encoders.js';
import { AC_VARIANCE_FLOOR, perExampleWhitening } from '../../src/objectives/adaptiveContrast.js';
import { Rng } from '../../src/random/rng.js';
import { useBackend } from '../helpers.js';

beforeAll(() => useBackend());

describe('full adaptive contrast', () => {
  it('whitens each example by its own covariance and gives the Gaussian log density', () => {
    // Two examples in 2-D, each with its own mean and correlated covariance: log r against the
    // closed-form bivariate normal density (with the floor added to the variances, as r has it).
    const means = [
      [0.5, -1],
      [3, 2],
    ];
    const covs = [
      [4, 1.8, 1],
      [0.01, -0.0099, 0.0101],
    ]; // [s11, s12, s22]; the second has correlation -0.98
    const zs = [
      [1.5, 0.2],
      [2.95, 2.06],
    ];
    const out = tf.tidy(() => {
      const cov = tf.tensor3d(
        covs.map(([a, b, c]) => [
          [a, b],
          [b, c],
        ]),
      );
      const w = perExampleWhitening(tf.tensor2d(zs), tf.tensor2d(means), cov);
      return { zhat: w.zhat.arraySync(), logR: Array.from(w.logR.dataSync()) };
    });
    for (let i = 0; i < 2; i++) {
      const [a0, b, c0] = covs[i];
      const a = a0 + AC_VARIANCE_FLOOR;
      const c = c0 + AC_VARIANCE_FLOOR;
      const det = a * c - b * b;
      const d0 = zs[i][0] - means[i][0];
      const d1 = zs[i][1] - means[i][1];
      const quad = (c * d0 * d0 - 2 * b * d0 * d1 + a * d1 * d1) / det;
      const want = -0.5 * quad - 0.5 * Math.log(det) - Math.log(2 * Math.PI);
      // float32 arithmetic on a quadratic form of size ~10: 1e-4 absolute.
      expect(out.logR[i]).toBeCloseTo(want, 4);
      // |zhat|^2 is the Mahalanobis distance whatever the factor's rotation.
      expect(out.zhat[i][0] ** 2 + out.zhat[i][1] ** 2).toBeCloseTo(quad, 3);
    }
  });

  it("draws whitened by their covariance have the identity's covariance", () => {
    // 20,000 draws of a correlated 4-D Gaussian z = A eps: whitened by Cov = A A^T, their sample
    // covariance is I up to sampling error (sd ~ 1/sqrt(20,000) = 0.007 per entry; 0.04 is 5.7 sd).
    const rng = new Rng(3);
    const L = 4;
    const n = 20000;
    const A = Array.from({ length: L * L }, (_, k) =>
      k % (L + 1) === 0 ? 1 + rng.uniform() : rng.normal(),
    );
    const covArr: number[][] = Array.from({ length: L }, (_, i) =>
      Array.from({ length: L }, (_, j) => {
        let s = 0;
        for (let k = 0; k < L; k++) s += A[i * L + k] * A[j * L + k];
        return s;
      }),
    );
    const c = tf.tidy(() => {
      const eps = rng.normalTensor([n, L]);
      const z = tf.matMul(eps, tf.tensor2d(A, [L, L]), false, true) as tf.Tensor2D;
      const cov = tf.tile(tf.tensor3d([covArr]), [n, 1, 1]) as tf.Tensor3D;
      const { zhat } = perExampleWhitening(z, tf.zeros([n, L]), cov);
      return tf.div(tf.matMul(zhat, zhat, true, false), n).arraySync() as number[][];
    });
    for (let i = 0; i < L; i++)
      for (let j = 0; j < L; j++) expect(Math.abs(c[i][j] - (i === j ? 1 : 0))).toBeLessThan(0.04);
  });

  it('the basis-vector encoder has the covariance its draws have', () => {
    // Closed form sum_i diag(a_i) Cov[v_i] diag(a_i) (v_i's covariance from 200,000 draws)
    // against the sample covariance of 50,000 draws of z for one x, on the correlation scale:
    // each estimate's sd is about 1/sqrt(50,000) = 0.0045, so 0.03 is over 4 sd of the difference.
    const rng = new Rng(11);
    const L = 3;
    const enc = new BasisVectorEncoder(rng, {
      exampleShape: [5],
      latentDim: L,
      hidden: [16],
      activation: 'softplus',
      net: 'mlp',
      noiseDim: 4,
      bases: 4,
    });
    const n = 50000;
    const x = tf.tensor2d([[0.3, -1, 2, 0.5, 1.2]]);
    const [closed, empirical] = tf.tidy(() => {
      const v = enc.basisDraws(new Rng(12), 200000);
      const m = tf.moments(v, 1);
      const { a } = enc.momentsOf(x, m.mean, m.variance);
      const cf = covarianceGiven(a, basisCovariance(v)).reshape([L, L]);
      const z = enc.sample(tf.tile(x, [n, 1]), new Rng(13)).z;
      const centred = tf.sub(z, tf.mean(z, 0, true));
      const emp = tf.div(tf.matMul(centred, centred, true, false), n - 1);
      return [cf.arraySync(), emp.arraySync()] as number[][][];
    });
    for (let i = 0; i < L; i++)
      for (let j = 0; j < L; j++) {
        const scale = Math.sqrt(empirical[i][i] * empirical[j][j]);
        expect(Math.abs(closed[i][j] - empirical[i][j]) / scale, `cov ${i},${j}`).toBeLessThan(
          0.03,
        );
      }
    // A check that could fail: the draws are correlated (else a diagonal formula would pass too).
    const corr = (i: number, j: number) =>
      empirical[i][j] / Math.sqrt(empirical[i][i] * empirical[j][j]);
    expect(
      Math.max(Math.abs(corr(0, 1)), Math.abs(corr(0, 2)), Math.abs(corr(1, 2))),
    ).toBeGreaterThan(0.1);
  });

  it('a non-finite covariance (a diverged step) gives NaNs for the trainer to roll back, not an error', () => {
    const logR = tf.tidy(() => {
      const cov = tf.tensor3d([
        [
          [1, 0],
          [0, 1],
        ],
        [
          [NaN, 0],
          [0, 1],
        ],
      ]);
      return Array.from(
        perExampleWhitening(tf.ones([2, 2]), tf.zeros([2, 2]), cov).logR.dataSync(),
      );
    });
    expect(Number.isFinite(logR[0])).toBe(true);
    expect(logR[1]).toBeNaN();
  });

  it('refuses a full covariance from too few draws per example', () => {
    expect(() =>
      resolveConfig(
        { experiment: 'mnist', method: 'avb-ac', latent: 8 },
        { ac: { moments: 'samples', momentSamples: 8, covariance: 'full' } },
      ),
    ).toThrow(/momentSamples above the latent dimension \(8\), not 8/);
    expect(() =>
      resolveConfig(
        { experiment: 'mnist', method: 'avb-ac', latent: 8 },
        { ac: { moments: 'samples', momentSamples: 9, covariance: 'full' } },
      ),
    ).not.toThrow();
  });
});
