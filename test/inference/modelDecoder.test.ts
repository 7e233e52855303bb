import { beforeAll, describe, expect, it } from 'vitest';
import { ModelDecoder } from '../../src/inference/modelDecoder.js';
import { logStandardNormal } from '../../src/math/gaussian.js';
import * as tf from '../../src/tf.js';
import { stan } from '../stan/stanTestKit.js';
import { useBackend } from '../helpers.js';

beforeAll(() => useBackend());

// A posterior N(50, 0.1²) per coordinate: its draws lie far from the whitened origin, where
// |z|² / 2 is ~2,500 nats a row (two coordinates of ~1,250), as on the 2PL IRT posterior that
// exposed the noise.
const model = stan('parameters { vector[2] x; } model { x ~ normal(50, 0.1); }');

/** 8 rows near the posterior, deterministic. */
const rows = () =>
  tf.tensor2d(
    Array.from({ length: 16 }, (_, i) => 50 + 0.1 * Math.sin(1.3 * i + 0.4)),
    [8, 2],
  );

/** log p(x|z) + log N(z; 0, I) row by row: what the objectives' ELBO adds up. */
function joined(decoder: ModelDecoder, z: tf.Tensor2D): number[] {
  return Array.from(
    tf.add(decoder.logLikelihood(tf.zeros([8, 0]), z), logStandardNormal(z)).dataSync(),
  );
}

describe("the model as AVB's decoder", () => {
  it('with every row evaluated, log p(x|z) + log N(z) is the log joint of each row', () => {
    const z = rows();
    const logJoint = Array.from(model.logJoint(z).dataSync());
    // To 0.5 nats: float32 terms of ~2,500 (|z|² / 2) round at 2.4e-4, far inside it.
    joined(new ModelDecoder(model, 8), z).forEach((v, i) => expect(v).toBeCloseTo(logJoint[i], 0));
  });

  it('with 2 of 8 rows evaluated, the prior cancels on every row, not only on average', () => {
    const z = rows();
    const logJoint = Array.from(model.logJoint(z).dataSync());
    const v = joined(new ModelDecoder(model, 2), z);
    // The 2 evaluated rows carry 8 / 2 of the log joint each, the other 6 nothing: the batch
    // mean is unbiased, and has none of |z|²'s noise. Subsampling log N(z) with the log joint
    // (as before) left the 2 rows ~7,500 nats too high and the other 6 ~2,500 too low.
    for (let i = 0; i < 2; i++) expect(v[i]).toBeCloseTo(4 * logJoint[i], 0);
    for (let i = 2; i < 8; i++) expect(Math.abs(v[i])).toBeLessThan(1e-2);
  });
});
