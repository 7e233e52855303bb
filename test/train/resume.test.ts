import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/loadDataset.js';
import { MinibatchSampler } from '../../src/data/sampler.js';
import { buildParts, objectiveFor } from '../../src/experiments/buildParts.js';
import { resolveConfig } from '../../src/experiments/config.js';
import { Rng } from '../../src/random/rng.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { scheduleFactor, Trainer } from '../../src/train/trainer.js';
import { trainRun } from '../../src/experiments/trainRun.js';
import { metricsOf, testTrainerConfig, useBackend } from '../helpers.js';
import { scratchDir } from '../scratchDir.js';

beforeAll(() => useBackend());

describe('checkpoint and resume', () => {
  const base = scratchDir('avb-resume-');
  const cases = [
    ['avb', 'constant'],
    ['avb-ac', 'constant'],
    ['vae', 'constant'],
    // The schedule's factor depends on the step: a resumed run must continue it, not restart it.
    ['avb-ac', 'cosine'],
    // Full adaptive contrast whitens on the CPU, outside tfjs: its numbers must resume too.
    ['avb-ac', 'constant', 'full'],
  ] as const;
  for (const [method, lrSchedule, covariance] of cases) {
    const name = `${method}${covariance ? ` (${covariance} contrast)` : ''}`;
    it(`${name}, ${lrSchedule} learning rate: a run stopped at step 7 and resumed matches an uninterrupted run exactly`, async () => {
      const config = resolveConfig(
        {
          checkpointEvery: 5,
          batch: 32,
          lrSchedule,
          ...(covariance ? { ac: { covariance } } : {}),
        },
        { experiment: 'synthetic', method, steps: 16, seed: 4 },
      );
      expect(config.ac.covariance).toBe(covariance ?? 'diagonal');
      const tag = `${method}-${lrSchedule}${covariance ? `-${covariance}` : ''}`;
      const full = join(base, `${tag}-full`);
      await trainRun(config, { out: full });
      const parted = join(base, `${tag}-parted`);
      let steps = 0;
      const first = await trainRun(config, { out: parted, shouldStop: () => ++steps >= 7 });
      expect(first.status).toBe('interrupted');
      expect(metricsOf(parted)).toHaveLength(7);
      const second = await trainRun(undefined, { out: parted, resume: true });
      expect(second.status).toBe('completed');
      expect(metricsOf(parted)).toEqual(metricsOf(full));
      const a = JSON.parse(readFileSync(join(full, 'summary.json'), 'utf8')) as {
        logLikelihood: number;
      };
      const b = JSON.parse(readFileSync(join(parted, 'summary.json'), 'utf8')) as {
        logLikelihood: number;
      };
      expect(b.logLikelihood).toBe(a.logLikelihood);
    });
  }

  it('cosine schedule: factor 1 at the start, 1/2 halfway, 0 at the end; the first step equals the constant run', async () => {
    const s = { kind: 'cosine', totalSteps: 8 } as const;
    expect([0, 4, 8, 9].map((t) => scheduleFactor(s, t))).toEqual([1, 0.5, 0, 0]);
    expect(scheduleFactor({ kind: 'constant' }, 5)).toBe(1);
    const tail = { kind: 'linearTail', totalSteps: 8, final: 0.2 } as const;
    const tailFactors = [0, 4, 6, 8, 9].map((t) => scheduleFactor(tail, t));
    [1, 1, 0.6, 0.2, 0.2].forEach((f, i) => expect(tailFactors[i]).toBeCloseTo(f, 12));
    const drop = { kind: 'drop', at: 3, factor: 0.1 } as const;
    expect([0, 2, 3, 9].map((t) => scheduleFactor(drop, t))).toEqual([1, 1, 0.1, 0.1]);
    const run = async (lrSchedule: 'constant' | 'cosine') => {
      const config = resolveConfig(
        { batch: 32, lrSchedule },
        { experiment: 'synthetic', method: 'vae', steps: 3, seed: 4 },
      );
      const out = join(base, `schedule-${lrSchedule}`);
      await trainRun(config, { out, force: true });
      return metricsOf(out).map((m) => m.primalLoss);
    };
    const [constant, cosine] = [await run('constant'), await run('cosine')];
    // Step 1 computes its loss before any update; step 2's loss follows an identical first
    // update (factor 1); step 3's follows a smaller second one (factor 3/4).
    expect(cosine.slice(0, 2)).toEqual(constant.slice(0, 2));
    expect(cosine[2]).not.toBe(constant[2]);
  });

  it('the same seed gives identical runs; another seed a different one', async () => {
    const mk = (seed: number) =>
      resolveConfig({ batch: 16 }, { experiment: 'synthetic', method: 'avb', steps: 5, seed });
    await trainRun(mk(1), { out: join(base, 's1a') });
    await trainRun(mk(1), { out: join(base, 's1b') });
    await trainRun(mk(2), { out: join(base, 's2') });
    expect(metricsOf(join(base, 's1b'))).toEqual(metricsOf(join(base, 's1a')));
    expect(metricsOf(join(base, 's2'))).not.toEqual(metricsOf(join(base, 's1a')));
  });

  it('refuses to overwrite an existing run folder without --force', async () => {
    const config = resolveConfig({}, { experiment: 'synthetic', steps: 2 });
    const out = join(base, 's1a');
    await expect(trainRun(config, { out })).rejects.toThrow(
      /already exists; add --resume to continue it or --force to replace it/,
    );
  });

  it('Trainer.restore(snapshot) returns to the snapshot exactly, in memory', () => {
    const config = resolveConfig({ batch: 16 }, { experiment: 'synthetic', method: 'avb-ac' });
    const ds = loadDataset('synthetic');
    const trainer = new Trainer(
      buildParts(config, ds, new Rng(1)),
      objectiveFor(config),
      new MinibatchSampler(ds, ds.train, { seed: 1, binarize: false }),
      testTrainerConfig(1e-3, { batch: 16 }),
      new Rng(2),
    );
    const run = (n: number) =>
      Array.from({ length: n }, () => {
        const r = trainer.step();
        if (!r.ok) throw new Error('diverged');
        return { ...r.metrics, stepMs: 0 };
      });
    run(3);
    const snapshot = trainer.snapshot();
    const first = run(4);
    trainer.restore(snapshot);
    expect(trainer.completedSteps).toBe(3);
    // Same weights, Adam moments, random state and minibatch position: the same four steps.
    expect(run(4)).toEqual(first);
    trainer.dispose();
  });

  it('a checkpoint of another architecture is refused', async () => {
    const out = join(base, 'arch');
    await trainRun(resolveConfig({ batch: 8 }, { experiment: 'synthetic', steps: 2 }), { out });
    const ck = loadCheckpoint(join(out, 'checkpoint.avbckpt'));
    expect(ck.step).toBe(2);
    const other = resolveConfig({ adversary: { hidden: 128 } }, { experiment: 'synthetic' });
    const ds = loadDataset('synthetic');
    const parts = buildParts(other, ds, new Rng(1));
    const trainer = new Trainer(
      parts,
      objectiveFor(other),
      new MinibatchSampler(ds, ds.train, { seed: 1, binarize: false }),
      testTrainerConfig(1e-3, { batch: 8 }),
      new Rng(2),
    );
    expect(() => ck.apply(trainer)).toThrow(/was written for a different architecture/);
  });

  it('a checkpoint from a newer format or a truncated one is refused', () => {
    const path = join(base, 'arch', 'checkpoint.avbckpt');
    const bytes = readFileSync(path);
    const truncated = join(base, 'truncated.avbckpt');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 10));
    expect(() => loadCheckpoint(truncated)).toThrow(/truncated or corrupt tensor data/);
    const len = bytes.readUInt32LE(8);
    const header = bytes.toString('utf8', 12, 12 + len).replace('"format":1', '"format":9');
    const newer = join(base, 'newer.avbckpt');
    writeFileSync(
      newer,
      Buffer.concat([bytes.subarray(0, 12), Buffer.from(header, 'utf8'), bytes.subarray(12 + len)]),
    );
    expect(() => loadCheckpoint(newer)).toThrow(/written by a newer avb \(format 9/);
  });
});

describe('checkpoint writes', () => {
  it('a failed write is a user error naming the file and leaves no temporary file', async () => {
    const { writeFileAtomic } = await import('../../src/io/atomicFile.js');
    const base = scratchDir('avb-write-');
    writeFileSync(join(base, 'file'), 'x');
    // A path below a regular file cannot be created (ENOTDIR), whatever the user's rights.
    const target = join(base, 'file', 'checkpoint.avbckpt');
    expect(() => writeFileAtomic(target, [new Uint8Array(4)])).toThrow(
      /cannot write .*file\/checkpoint\.avbckpt: a part of the path is a file/,
    );
    const ok = join(base, 'ok.bin');
    writeFileAtomic(ok, [Uint8Array.from([1, 2]), Uint8Array.from([3])]);
    expect(Array.from(readFileSync(ok))).toEqual([1, 2, 3]);
    expect(readdirSync(base).sort()).toEqual(['file', 'ok.bin']);
  });
});
