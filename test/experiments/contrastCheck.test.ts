import * as tf from '../../src/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { contrastCheck, UNDERPRICED_MARGIN_NATS } from '../../src/experiments/contrastCheck.js';
import type { HeldOutSet } from '../../src/experiments/heldOut.js';
import { BasisVectorEncoder } from '../../src/nn/encoders.js';
import { Rng } from '../../src/random/rng.js';
import { useBackend } from '../helpers.js';

beforeAll(() => useBackend());

/** A basis-vector encoder on 3-value examples with coefficients a ~ elu(5) + 1 = 6 (not ~0.007). */
function encoder(o: { bases: number; noiseDim: number; activation: 'linear' | 'softplus' }) {
  const enc = new BasisVectorEncoder(new Rng(21), {
    exampleShape: [3],
    latentDim: 2,
    hidden: [8],
    net: 'mlp',
    ...o,
  });
  for (const [name, w] of enc.namedWeights()) if (name === 'a/b') w.assign(tf.fill(w.shape, 10));
  return enc;
}

const set: HeldOutSet = {
  split: 'test',
  x: Float32Array.from([0.2, -1, 0.5, 1.5, 0.3, -0.7]),
  count: 2,
  rows: 2,
  exampleShape: [3],
};

describe("the diagonal contrast's check of q's correlations", () => {
  it('warns when the adversary prices q below what its correlations alone cost, and not when above', () => {
    // One basis vector on one linear noise coordinate: z = z0 + a * (w eps + b), a line, so the
    // two coordinates are perfectly correlated up to the contrast's variance floor. Against the
    // same encoder's draws: -1/2 log(1 - rho^2) of 20,000 draws, within 5% (rho near 1 makes the
    // figure sensitive; the floor is in both).
    const enc = encoder({ bases: 1, noiseDim: 1, activation: 'linear' });
    const low = contrastCheck(enc, set, 0.5, 3);
    const z = tf.tidy(() =>
      enc
        .sample(tf.tile(tf.tensor2d(set.x.subarray(0, 3), [1, 3]), [20000, 1]), new Rng(4))
        .z.arraySync(),
    );
    const m = [0, 1].map((j) => z.reduce((a, r) => a + r[j], 0) / z.length);
    const c = (j: number, k: number) =>
      z.reduce((a, r) => a + (r[j] - m[j]) * (r[k] - m[k]), 0) / (z.length - 1) +
      (j === k ? 1e-4 : 0);
    const rho = c(0, 1) / Math.sqrt(c(0, 0) * c(1, 1));
    const exact = -0.5 * Math.log(1 - rho * rho);
    expect(exact).toBeGreaterThan(3); // the case is the one meant: strongly correlated
    expect(Math.abs(low.check.correlationKl - exact) / exact).toBeLessThan(0.05);
    expect(low.warning).toMatch(/underestimates the KL.*at 0\.5 nats.*ac\.covariance: full/);
    const high = contrastCheck(enc, set, low.check.correlationKl + 0.5, 3);
    expect(high.warning).toBeUndefined();
    expect(high.check.correlationKl).toBe(low.check.correlationKl);
  });

  it('finds little to say about a q with nearly uncorrelated coordinates', () => {
    // Sixteen basis vectors with their own noise: their sum's correlation is whatever the random
    // weights give, small here; no warning even with the adversary pricing q at 0.
    const enc = encoder({ bases: 16, noiseDim: 4, activation: 'softplus' });
    const r = contrastCheck(enc, set, 0, 3);
    expect(r.check.correlationKl).toBeLessThan(UNDERPRICED_MARGIN_NATS);
    expect(r.check.correlationKl).toBeGreaterThanOrEqual(0);
    expect(r.warning).toBeUndefined();
  });
});
