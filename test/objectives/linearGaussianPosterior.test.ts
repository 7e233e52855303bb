import * as tf from '../../src/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.js';
import { MinibatchSampler } from '../../src/data/sampler.js';
import { ResidualMlpAdversary } from '../../src/nn/adversaries.js';
import { LinearGaussianDecoder } from '../../src/nn/decoders.js';
import { BasisVectorEncoder, ConcatNoiseEncoder } from '../../src/nn/encoders.js';
import type { Encoder } from '../../src/nn/encoders.js';
import { adaptiveContrastObjective } from '../../src/objectives/adaptiveContrast.js';
import { avbObjective } from '../../src/objectives/avb.js';
import type { Objective } from '../../src/objectives/objective.js';
import { Rng } from '../../src/random/rng.js';
import { fit } from '../../src/train/fit.js';
import { Trainer } from '../../src/train/trainer.js';
import { testTrainerConfig, useBackend } from '../helpers.js';

beforeAll(() => useBackend());

/**
 * p(z) = N(0, I_2), p(x|z) = N(z W + b, s^2 I_4) with a fixed decoder: the posterior of one
 * observed x is Gaussian with covariance S = (I + W W^T / s^2)^-1 and mean S W (x - b) / s^2.
 * AVB trains only the implicit encoder and the adversary here, so q(z|x) must approach it.
 */
function problem(seed: number) {
  const rng = new Rng(seed);
  const L = 2;
  const D = 4;
  const s = 0.7;
  const W = Float32Array.from({ length: L * D }, () => 0.8 * rng.normal());
  const b = Float32Array.from({ length: D }, () => rng.normal());
  const z0 = [rng.normal(), rng.normal()];
  const x = Float32Array.from(
    { length: D },
    (_, j) => z0[0] * W[j] + z0[1] * W[D + j] + b[j] + s * rng.normal(),
  );
  // Precision P = I + W W^T / s^2 (2x2), covariance = P^-1.
  const dot = (i: number, k: number) =>
    W.slice(i * D, i * D + D).reduce((a, v, j) => a + v * W[k * D + j], 0);
  const P = [1 + dot(0, 0) / (s * s), dot(0, 1) / (s * s), dot(1, 1) / (s * s) + 1];
  const det = P[0] * P[2] - P[1] * P[1];
  const cov = [P[2] / det, -P[1] / det, P[0] / det]; // [S00, S01, S11]
  const r = Array.from({ length: L }, (_, i) =>
    W.slice(i * D, i * D + D).reduce((a, v, j) => a + (v * (x[j] - b[j])) / (s * s), 0),
  );
  const mean = [cov[0] * r[0] + cov[1] * r[1], cov[1] * r[0] + cov[2] * r[1]];
  const decoder = new LinearGaussianDecoder(W, b, s, L);
  const ds: Dataset = {
    name: 'linear-gaussian',
    exampleShape: [D],
    kind: 'real',
    train: { x, count: 1 },
    source: 'test',
  };
  return { decoder, ds, mean, cov, x, D };
}

async function trainAndMoments(encoder: Encoder, objective: Objective, seed: number) {
  const { decoder, ds, mean, cov, x, D } = problem(seed);
  const rng = new Rng(seed + 1);
  const adversary = new ResidualMlpAdversary(rng, {
    dataDim: D,
    latentDim: 2,
    hidden: 128,
    blocks: 1,
    activation: 'elu',
  });
  const trainer = new Trainer(
    { encoder, decoder, adversary },
    objective,
    new MinibatchSampler(ds, ds.train, { seed, binarize: false }),
    testTrainerConfig(5e-4, {
      batch: 128,
      adversary: { learningRate: 1e-3, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 },
      // The last 300 steps at a fifth of the rates average out minibatch noise in q.
      lrSchedule: { kind: 'drop', at: 1200, factor: 0.2 },
    }),
    rng,
  );
  const fitted = await fit(trainer, { until: 1500, onNan: 'stop' });
  if (fitted.status !== 'completed') throw new Error(`diverged at ${fitted.divergence?.step}`);
  const n = 20000;
  const z = tf.tidy(() =>
    encoder.sample(tf.tile(tf.tensor2d(x, [1, D]), [n, 1]), rng).z.dataSync(),
  );
  const m = [0, 0];
  for (let i = 0; i < n; i++) for (let j = 0; j < 2; j++) m[j] += z[2 * i + j] / n;
  const c = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const a = z[2 * i] - m[0];
    const bb = z[2 * i + 1] - m[1];
    c[0] += (a * a) / n;
    c[1] += (a * bb) / n;
    c[2] += (bb * bb) / n;
  }
  trainer.dispose();
  return { got: { mean: m, cov: c }, want: { mean, cov } };
}

function expectClose(r: Awaited<ReturnType<typeof trainAndMoments>>) {
  const sd = [Math.sqrt(r.want.cov[0]), Math.sqrt(r.want.cov[2])];
  // Tolerances in units of the true posterior sd: AVB's q is fitted through a learned density
  // ratio, so it carries the adversary's estimation error (a few percent, see adversary.test.ts)
  // plus SGD noise. Mean within 0.2 sd, sds within 20%, correlation within 0.15. An objective with
  // a wrong sign or scale lands far outside (e.g. q collapsing to the mode or widening to the prior).
  for (let j = 0; j < 2; j++) {
    expect(Math.abs(r.got.mean[j] - r.want.mean[j]) / sd[j], `mean ${j}`).toBeLessThan(0.2);
  }
  expect(Math.abs(Math.sqrt(r.got.cov[0]) / sd[0] - 1), 'sd 0').toBeLessThan(0.2);
  expect(Math.abs(Math.sqrt(r.got.cov[2]) / sd[1] - 1), 'sd 1').toBeLessThan(0.2);
  const corr = (c: number[]) => c[1] / Math.sqrt(c[0] * c[2]);
  expect(Math.abs(corr(r.got.cov) - corr(r.want.cov)), 'correlation').toBeLessThan(0.15);
}

describe('AVB recovers a known Gaussian posterior', () => {
  it('AVB with an implicit encoder', { timeout: 400_000 }, async () => {
    const rng = new Rng(100);
    const encoder = new ConcatNoiseEncoder(rng, {
      exampleShape: [4],
      latentDim: 2,
      hidden: [64, 64],
      activation: 'elu',
      net: 'mlp',
      noiseDim: 16,
      bases: 1,
    });
    const r = await trainAndMoments(encoder, avbObjective, 7);
    expectClose(r);
  });

  // The paper's contrast (each coordinate normalised) and the full one (whitened by Cov[z|x]).
  it.each(['diagonal', 'full'] as const)(
    'AVB with %s adaptive contrast and the basis-vector encoder',
    { timeout: 400_000 },
    async (covariance) => {
      const rng = new Rng(200);
      const encoder = new BasisVectorEncoder(rng, {
        exampleShape: [4],
        latentDim: 2,
        hidden: [64, 64],
        activation: 'elu',
        net: 'mlp',
        noiseDim: 8,
        bases: 8,
      });
      const r = await trainAndMoments(
        encoder,
        adaptiveContrastObjective({ moments: 'encoder', momentSamples: 8, covariance }),
        7,
      );
      expectClose(r);
    },
  );
});
