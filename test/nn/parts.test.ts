import { describe, expect, it } from 'vitest';
import * as tf from '../../src/tf.js';
import { makeAdversary } from '../../src/nn/adversaries.js';
import { makeDecoder } from '../../src/nn/decoders.js';
import { BasisVectorEncoder, makeEncoder } from '../../src/nn/encoders.js';
import { ENCODER_TYPES } from '../../src/nn/encoders.js';
import { Rng } from '../../src/random/rng.js';
import { moments, useBackend } from '../helpers.js';

await useBackend();

const imageShape = [28, 28, 1];

describe('part shapes', () => {
  it('every encoder maps [n, ...example] to z [n, latent], MLP and conv', () => {
    for (const net of ['mlp', 'conv'] as const)
      for (const type of ENCODER_TYPES) {
        const enc = makeEncoder(type, new Rng(1), {
          exampleShape: imageShape,
          latentDim: 8,
          hidden: net === 'conv' ? [4, 8, 16] : [16],
          activation: 'elu',
          net,
          noiseDim: 6,
          bases: 5,
        });
        const s = tf.tidy(() => {
          const out = enc.sample(tf.zeros([3, ...imageShape]), new Rng(2));
          return {
            z: out.z.shape,
            g: out.gaussian?.mean.shape,
            m: out.moments?.variance.shape,
          };
        });
        expect(s.z, `${net} ${type}`).toEqual([3, 8]);
        if (type === 'gaussian') expect(s.g).toEqual([3, 8]);
        if (type === 'basis-vector') expect(s.m).toEqual([3, 8]);
        enc.dispose();
      }
  });

  it('decoders give one log-likelihood per example and means of the example shape', () => {
    for (const type of ['bernoulli', 'gaussian'] as const)
      for (const net of ['mlp', 'conv'] as const) {
        const dec = makeDecoder(type, new Rng(1), {
          exampleShape: imageShape,
          latentDim: 4,
          hidden: net === 'conv' ? [8, 4] : [16],
          activation: 'elu',
          net,
        });
        const [ll, mean] = tf.tidy(() => {
          const z = tf.zeros([5, 4]);
          return [dec.logLikelihood(tf.fill([5, ...imageShape], 0.5), z).shape, dec.mean(z).shape];
        });
        expect(ll, `${type} ${net}`).toEqual([5]);
        expect(mean).toEqual([5, ...imageShape]);
        dec.dispose();
      }
  });

  it('every adversary type gives one logit per example', () => {
    const common = { dataDim: 784, latentDim: 4, hidden: 8, activation: 'elu' as const };
    for (const o of [
      { type: 'concat-mlp' as const, layers: 2, ...common },
      { type: 'residual-mlp' as const, blocks: 1, ...common },
      { type: 'inner-product' as const, depth: 2, innerDim: 3, ...common },
    ]) {
      const adv = makeAdversary(new Rng(1), o);
      const shape = tf.tidy(() => adv.logit(tf.zeros([6, ...imageShape]), tf.zeros([6, 4])).shape);
      expect(shape, o.type).toEqual([6]);
      adv.dispose();
    }
  });
});

describe('basis-vector encoder', () => {
  it('its exact moments match the moments of its samples', () => {
    const enc = new BasisVectorEncoder(new Rng(3), {
      exampleShape: [4],
      latentDim: 2,
      hidden: [16],
      activation: 'elu',
      net: 'mlp',
      noiseDim: 4,
      bases: 6,
    });
    const n = 20000;
    const x = tf.tensor2d([[1, 0, 0, 0]]);
    const r = tf.tidy(() => {
      const s = enc.sample(tf.tile(x, [n, 1]), new Rng(4));
      return {
        z: s.z.arraySync(),
        mean: s.moments!.mean.arraySync()[0],
        variance: s.moments!.variance.arraySync()[0],
      };
    });
    for (let k = 0; k < 2; k++) {
      const m = moments(r.z, k);
      // Monte Carlo error of the mean is sd / sqrt(n) (< 1% of sd here): 5 standard errors.
      expect(Math.abs(m.mean - r.mean[k])).toBeLessThan(5 * Math.sqrt(r.variance[k] / n));
      // Relative error of a sample variance is about sqrt(2 / n) = 1% (plus the noise's
      // kurtosis): 6% is several standard errors.
      expect(Math.abs(m.sd ** 2 / r.variance[k] - 1)).toBeLessThan(0.06);
    }
    x.dispose();
    enc.dispose();
  });
});
