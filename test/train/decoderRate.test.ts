import * as tf from '../../src/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/loadDataset.js';
import { buildTrainer } from '../../src/experiments/buildTrainer.js';
import { resolveConfig } from '../../src/experiments/config.js';
import { Adam } from '../../src/train/adam.js';
import { useBackend } from '../helpers.js';

beforeAll(() => useBackend());

const ADAM = { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-12 };

describe('Adam with a learning rate per weight', () => {
  it('moves each weight by its own rate: on a constant gradient by factor × rate a step', () => {
    // A constant gradient makes Adam's bias-corrected m̂ / √v̂ exactly 1, so each step moves a
    // weight by its learning rate: after t steps w = −rate × factor × t (float32: 1e-5 relative).
    const a = tf.variable(tf.zeros([4]));
    const b = tf.variable(tf.zeros([2, 3]));
    const adam = new Adam([a, b], ADAM, [1, 3]);
    const t = 50;
    for (let i = 0; i < t; i++) adam.apply([tf.onesLike(a), tf.onesLike(b)]);
    for (const v of a.dataSync()) expect(v).toBeCloseTo(-0.01 * t, 4);
    for (const v of b.dataSync()) expect(v).toBeCloseTo(-0.03 * t, 4);
    expect(() => new Adam([a, b], ADAM, [1])).toThrow(/1 rate factors for 2 weights/);
    adam.dispose();
    tf.dispose([a, b]);
  });

  it('lrDecoder speeds the decoder alone: its first step is that factor larger, the encoder’s unchanged', () => {
    // Adam's first step moves each weight by rate × g / |g| (ε is negligible against the
    // gradients of a fresh network), so from the same seed the decoder's first step with
    // lrDecoder = 2 lr is twice that without, element by element, and every other weight moves
    // exactly as before (the same batch and noise: the rate changes no random draw).
    const ds = loadDataset('synthetic');
    const firstStep = (lrDecoder?: number) => {
      const cfg = resolveConfig(
        { batch: 16, lr: 1e-3, ...(lrDecoder !== undefined ? { lrDecoder } : {}) },
        { experiment: 'synthetic', method: 'avb-ac', steps: 5, seed: 3 },
      );
      const { parts, trainer } = buildTrainer(cfg, ds);
      const read = (part: 'encoder' | 'decoder') =>
        [...parts[part].namedWeights().values()].map((w) => w.dataSync().slice());
      const before = { encoder: read('encoder'), decoder: read('decoder') };
      expect(trainer.step().ok).toBe(true);
      const delta = (part: 'encoder' | 'decoder') =>
        read(part).map((w, i) => w.map((v, j) => v - before[part][i][j]));
      return { encoder: delta('encoder'), decoder: delta('decoder') };
    };
    const plain = firstStep();
    const fast = firstStep(2e-3);
    expect(fast.encoder).toEqual(plain.encoder);
    let moved = 0;
    fast.decoder.forEach((w, i) =>
      w.forEach((v, j) => {
        const p = plain.decoder[i][j];
        // Float32 weights near 1 resolve steps of 1e-3 to about 1e-7: 1e-3 relative.
        if (Math.abs(p) > 1e-5) {
          expect(Math.abs(v / p - 2)).toBeLessThan(1e-3);
          moved++;
        }
      }),
    );
    expect(moved).toBeGreaterThan(100);
  });
});
