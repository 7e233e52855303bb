import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { DataInfo } from '../../src/data/dataset.js';
import { buildParts, disposeParts } from '../../src/experiments/buildParts.js';
import {
  METHODS,
  RunConfigSchema,
  defaultConfig,
  resolveConfig,
  resolveConfigWithNotes,
} from '../../src/experiments/config.js';
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

  it("examples/mnist-avb-ac-conv-cpu.json: the paper's conv networks at the CPU preset's rates", () => {
    const file = 'examples/mnist-avb-ac-conv-cpu.json';
    const c = resolveConfig(JSON.parse(readFileSync(file, 'utf8')), {}, file);
    expect([c.encoder.net, c.decoder.net, c.adversary.type, c.adversary.hidden]).toEqual([
      'conv',
      'conv',
      'inner-product',
      1024,
    ]);
    expect([c.batch, c.lr, c.lrAdversary, c.lrSchedule, c.steps]).toEqual([
      64,
      3e-4,
      1e-3,
      'cosine',
      25000,
    ]);
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
      3,
      [32, 32],
      5000,
      'gaussian',
    ]);
    expect([config.adversary.hidden, config.batch, config.lr, config.lrSchedule]).toEqual([
      64,
      64,
      1e-3,
      'cosine',
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

describe('one schema for the configuration', () => {
  /** Every leaf field of the schema, as `a.b`. */
  function leaves(shape: Record<string, unknown>, prefix = ''): string[] {
    return Object.entries(shape).flatMap(([k, v]) => {
      const inner = (v as { shape?: Record<string, unknown> }).shape;
      return inner ? leaves(inner, `${prefix}${k}.`) : [`${prefix}${k}`];
    });
  }

  it('the README documents every field of the schema, and the presets satisfy it', () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Data'));
    const fields = leaves(RunConfigSchema.shape);
    expect(fields.length).toBeGreaterThan(30);
    for (const f of fields) expect(section, f).toContain(`\`${f}\``);
    for (const experiment of ['synthetic', 'mnist', 'npy:/x.npy'])
      for (const method of METHODS)
        expect(() => RunConfigSchema.parse(defaultConfig(experiment, method))).not.toThrow();
  });

  it('bad values are one-line errors naming the field, the rule and the value', () => {
    const cases: [unknown, RegExp][] = [
      [{ encoder: { widht: 3 } }, /^f: unknown field 'encoder\.widht'; see README/],
      [{ lr: 'fast' }, /^f: field 'lr' must be a number, got "fast"$/],
      [{ latent: 0 }, /^f: latent must be a positive integer, got 0$/],
      [{ beta1: 1 }, /^f: beta1 must be in \[0, 1\), got 1$/],
      [
        { schedule: 'sometimes' },
        /^f: schedule must be one of simultaneous, alternating, got "sometimes"$/,
      ],
      [
        { encoder: { hidden: [10, -1] } },
        /^f: encoder\.hidden\.1 must be a positive integer, got -1$/,
      ],
      [
        { method: 'vae', encoder: { type: 'basis-vector' } },
        /^method vae needs encoder\.type 'gaussian'/,
      ],
    ];
    for (const [file, message] of cases)
      expect(() => resolveConfig(file, {}, 'f')).toThrow(message);
  });
});
