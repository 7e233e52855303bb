import { describe, expect, it } from 'vitest';
import type { DataInfo } from '../../src/data/dataset.js';
import { buildParts, disposeParts } from '../../src/experiments/buildParts.js';
import { resolveConfig, resolveConfigWithNotes } from '../../src/experiments/config.js';
import { Rng } from '../../src/random/rng.js';
import { useBackend } from '../helpers.js';

await useBackend();

function info(exampleShape: number[], kind: DataInfo['kind'], train = 900): DataInfo {
  return { name: 'user', exampleShape, kind, source: 'test', counts: { train, test: 100 } };
}

function weights(config: ReturnType<typeof resolveConfig>, data: DataInfo): number {
  const parts = buildParts(config, data, new Rng(0));
  const n = parts.encoder.size() + parts.decoder.size() + (parts.adversary?.size() ?? 0);
  disposeParts(parts);
  return n;
}

describe('configuration defaults sized to the data', () => {
  it("the paper's settings stay the defaults for MNIST and the synthetic data", () => {
    const mnist = resolveConfig({}, { experiment: 'mnist', method: 'avb-ac' });
    expect([mnist.latent, mnist.steps, mnist.binarize, mnist.adversary.hidden]).toEqual([
      32,
      100000,
      true,
      1024,
    ]);
    const synthetic = resolveConfig({}, { experiment: 'synthetic' });
    expect([synthetic.latent, synthetic.steps, synthetic.binarize]).toEqual([2, 10000, false]);
  });

  it('a 10-value data set gets a model of about 0.1M weights instead of 4.5M', () => {
    const data = info([10], 'real');
    const paper = resolveConfig({}, { experiment: 'npy:/x.npy', method: 'avb' });
    const { config, notes } = resolveConfigWithNotes(
      {},
      { experiment: 'npy:/x.npy', method: 'avb' },
      '--config',
      data,
    );
    expect(weights(paper, info([10], 'binary'))).toBeGreaterThan(4_000_000);
    expect(weights(config, data)).toBeLessThan(200_000);
    expect([config.latent, config.encoder.hidden, config.steps, config.decoder.type]).toEqual([
      5,
      [64, 64],
      20000,
      'gaussian',
    ]);
    expect(config.binarize).toBe(false);
    expect(notes.join('; ')).toMatch(/Gaussian decoder.*sized for 10-value examples/);
  });

  it('explicit settings win over sized defaults; 784-value data keeps the paper networks', () => {
    const { config } = resolveConfigWithNotes(
      { encoder: { hidden: [20] } },
      { experiment: 'npy:/x.npy', latent: 3, steps: 7, decoder: { type: 'bernoulli' } },
      '--config',
      info([10], 'binary'),
    );
    expect([config.latent, config.encoder.hidden, config.steps, config.decoder.type]).toEqual([
      3,
      [20],
      7,
      'bernoulli',
    ]);
    const big = resolveConfigWithNotes(
      {},
      { experiment: 'idx:/m' },
      '--config',
      info([28, 28, 1], 'binary'),
    );
    expect([big.config.latent, big.config.encoder.hidden, big.config.steps]).toEqual([
      32,
      [300, 300],
      100000,
    ]);
  });

  it('the batch never exceeds the training examples; unknown held-out fields are refused', () => {
    const { config } = resolveConfigWithNotes(
      {},
      { experiment: 'npy:/x.npy' },
      'c',
      info([10], 'real', 40),
    );
    expect(config.batch).toBe(40);
    expect(() => resolveConfig({ heldOut: { evry: 5 } }, {})).toThrow(
      /unknown field 'heldOut\.evry'/,
    );
    expect(() => resolveConfig({ heldOut: { every: -1 } }, {})).toThrow(/heldOut\.every must be/);
  });
});
