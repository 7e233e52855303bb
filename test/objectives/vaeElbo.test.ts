import * as tf from '../../src/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { BernoulliDecoder } from '../../src/nn/decoders.js';
import { GaussianEncoder } from '../../src/nn/encoders.js';
import { gaussianKl, vaeObjective } from '../../src/objectives/vaeElbo.js';
import { Rng } from '../../src/random/rng.js';
import { useBackend } from '../helpers.js';

beforeAll(() => useBackend());

type Mat = number[][];
const matmul = (a: Mat, w: Mat, b: number[]): Mat =>
  a.map((row) => b.map((bj, j) => bj + row.reduce((s, v, i) => s + v * w[i][j], 0)));
const elu = (m: Mat): Mat => m.map((r) => r.map((v) => (v > 0 ? v : Math.exp(v) - 1)));

describe('VAE ELBO', () => {
  it('matches a hand computation on a tiny network', () => {
    const rng = new Rng(3);
    const exampleShape = [4];
    const common = {
      exampleShape,
      latentDim: 2,
      hidden: [3],
      activation: 'elu' as const,
      net: 'mlp' as const,
    };
    const encoder = new GaussianEncoder(rng, { ...common, noiseDim: 1, bases: 1 });
    const decoder = new BernoulliDecoder(rng, common);
    const xs = [
      [1, 0, 1, 1],
      [0, 0, 1, 0],
    ];
    const got = tf.tidy(() => {
      const out = vaeObjective({ encoder, decoder }, tf.tensor2d(xs), new Rng(5), {
        klWeight: 1,
        select: 'both',
      });
      return [out.metrics.elbo.dataSync()[0], out.primal!.dataSync()[0]];
    });

    // The same computation in float64 JavaScript, with the same noise.
    const w = (m: Map<string, tf.Variable>, k: string) => m.get(k)!.arraySync() as Mat & number[];
    const ew = encoder.namedWeights();
    const dw = decoder.namedWeights();
    const h = elu(matmul(xs, w(ew, 'mlp/fc0/w'), w(ew, 'mlp/fc0/b')));
    const out = matmul(h, w(ew, 'mlp/fc1/w'), w(ew, 'mlp/fc1/b'));
    const eps = new Rng(5).fillNormal(new Float32Array(4));
    let elbo = 0;
    xs.forEach((x, n) => {
      const mean = out[n].slice(0, 2);
      const logVar = out[n].slice(2, 4);
      const z = mean.map((m, j) => m + Math.exp(logVar[j] / 2) * eps[n * 2 + j]);
      const hd = elu(matmul([z], w(dw, 'net/mlp/fc0/w'), w(dw, 'net/mlp/fc0/b')));
      const logits = matmul(hd, w(dw, 'net/mlp/fc1/w'), w(dw, 'net/mlp/fc1/b'))[0];
      const rec = logits.reduce((s, l, i) => s + x[i] * l - Math.log1p(Math.exp(l)), 0);
      const kl = 0.5 * mean.reduce((s, m, j) => s + m * m + Math.exp(logVar[j]) - logVar[j] - 1, 0);
      elbo += (rec - kl) / xs.length;
    });
    // float32 arithmetic on O(1) values through two small layers: ~1e-6 relative error.
    expect(got[0]).toBeCloseTo(elbo, 4);
    expect(got[1]).toBeCloseTo(-elbo, 4);
  });

  it('analytic KL matches the closed form and is zero at the prior', () => {
    const kl = tf.tidy(() =>
      gaussianKl(
        tf.tensor2d([
          [0, 0],
          [1, -2],
        ]),
        tf.tensor2d([
          [0, 0],
          [Math.log(4), 0],
        ]),
      ).arraySync(),
    );
    expect(kl[0]).toBeCloseTo(0, 6);
    // 1/2 [(1 + 4 - log 4 - 1) + (4 + 1 - 0 - 1)]
    expect(kl[1]).toBeCloseTo(0.5 * (4 - Math.log(4) + 4), 5);
  });
});
