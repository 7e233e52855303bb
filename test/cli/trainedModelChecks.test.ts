import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../../src/data/npy.js';
import { digits8x8Counts } from '../../src/data/digits8x8.js';
import type { TrainSummary } from '../../src/experiments/trainRun.js';
import { avb, expectUserError } from './runCli.js';
import { scratchDir } from '../scratchDir.js';

const dir = scratchDir('avb-checks-');
const summaryOf = (run: string) =>
  JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as TrainSummary;

describe('a trained model is checked: warnings when it learned nothing, none when it did', () => {
  it('identical examples: the latent cannot be used and nothing beats the mean: two warnings', () => {
    const data = join(dir, 'same.npy');
    const one = Float32Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 0.9 : 0.2));
    const x = new Float32Array(60 * 12);
    for (let i = 0; i < 60; i++) x.set(one, i * 12);
    writeFileSync(data, encodeNpy(x, [60, 12]));
    const run = join(dir, 'same');
    const r = avb(
      'train',
      '--experiment',
      `npy:${data}`,
      '--method',
      'vae',
      '--steps',
      '200',
      '--out',
      run,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^completed with 2 warnings \(below\): 200 steps/m);
    expect(r.stderr).toMatch(/^warning: the latent is unused: none of its 3 units is active/m);
    expect(r.stderr).toMatch(/^warning: the model is no better than the per-value mean/m);
    const s = summaryOf(run);
    expect(s.status).toBe('completed');
    expect(s.warnings).toHaveLength(2);
    expect(s.diagnostics?.activeUnits).toBe(0);
    // The examples are identical, so Var_x E[z|x] is 0 for every unit up to float32 rounding:
    // a matrix-product kernel may sum a block's rows in another order than its tail's (seen on
    // this machine: 8e-16), so an ulp of an O(1) mean (1e-7) squared, far below the 0.01 that
    // makes a unit active.
    expect(s.diagnostics?.activity).toHaveLength(3);
    for (const a of s.diagnostics!.activity) expect(a).toBeLessThan(1e-12);
  });

  it('AVB+AC with defaults on 8 x 8 digits (0..16, --scale 16): a useful model, no warning', () => {
    const counts = digits8x8Counts();
    const data = join(dir, 'digits.npy');
    writeFileSync(data, encodeNpy(counts, [counts.length / 64, 8, 8]));
    // 0..16 integers have no evident scale: refused with the fix, before anything is written.
    const run = join(dir, 'digits');
    expectUserError(
      avb('train', '--experiment', `npy:${data}`, '--method', 'avb-ac', '--out', run),
      /integer values 0\.\.16 are neither 0\/1 nor 8-bit intensities \(0\.\.255\); add --scale 16/,
    );
    const r = avb(
      'train',
      '--experiment',
      `npy:${data}`,
      '--scale',
      '16',
      '--method',
      'avb-ac',
      '--out',
      run,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^ {2}data values 0\.\.16 divided by 16 \(--scale 16\)$/m);
    expect(r.stderr).toMatch(/^completed: 5000 steps/m);
    expect(r.stderr).not.toMatch(/warning/);
    const s = summaryOf(run);
    expect(s.warnings).toEqual([]);
    const d = s.diagnostics!;
    // Measured on seed 1: IWAE -20.79 against the mean model's -21.76, 14 of 16 units active.
    // The warning's own threshold (0.32 nats for 64 values) is the bound: what matters is
    // that the check passes, and 0.97 nats clear it by 3 times.
    expect(d.heldOutLogLikelihood - d.meanModelLogLikelihood).toBeGreaterThan(0.32);
    expect(d.activeUnits).toBeGreaterThan(4);
    // The diagonal contrast's check ran and found the adversary's KL estimate above the floor
    // that q's correlations set (the warning's absence above says the same).
    expect(d.contrast!.correlationKl).toBeGreaterThanOrEqual(0);
    expect(d.contrast!.correlationKl - d.contrast!.adversaryKl).toBeLessThan(1);

    // Samples differ from each other: the mean image is not all the model draws.
    const samples = join(dir, 'samples.npy');
    expect(avb('sample', '--run', run, '--n', '16', '--out', samples).code).toBe(0);
    const x = parseNpy(new Uint8Array(readFileSync(samples)), samples).data;
    let far = 0;
    for (let a = 0; a < 16; a++)
      for (let b = a + 1; b < 16; b++) {
        let diff = 0;
        for (let j = 0; j < 64; j++) diff += Math.abs(x[a * 64 + j] - x[b * 64 + j]);
        if (diff / 64 > 0.05) far++;
      }
    expect(far).toBeGreaterThan(100); // of 120 pairs

    // The run reads other files the way it was trained: the same counts are scaled by 16 ...
    const z = join(dir, 'z.npy');
    const e = avb('encode', '--run', run, '--data', `npy:${data}`, '--out', z);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/from 65,536 fixed noise draws/);
    // ... and the same digits divided by 255 instead (values in [0, 0.063], then by the run's
    // 16) are refused.
    const squeezed = join(dir, 'digits-255.npy');
    writeFileSync(
      squeezed,
      encodeNpy(
        Float32Array.from(counts, (v) => v / 255),
        [counts.length / 64, 8, 8],
      ),
    );
    expectUserError(
      avb('encode', '--run', run, '--data', `npy:${squeezed}`, '--out', join(dir, 'z2.npy')),
      /has values in \[0, 0\.003922\] \(after dividing by 16\) but the run was trained on values in \[0, 1\]; put them on the training scale \(--scale\)/,
    );
    // 5,000 training steps: ~100 s alone on this machine, up to ~1.5× that while another test
    // file's child processes share the cores, so a timeout well above both.
  }, 300_000);

  it('a model trained on floats in [0, 1] refuses a file of 0..16 counts', () => {
    const data = join(dir, 'floats.npy');
    writeFileSync(
      data,
      encodeNpy(
        Float32Array.from({ length: 40 * 6 }, (_, i) => (i % 5) / 4),
        [40, 6],
      ),
    );
    const run = join(dir, 'floats');
    expect(
      avb('train', '--experiment', `npy:${data}`, '--method', 'vae', '--steps', '3', '--out', run)
        .code,
    ).toBe(0);
    const ints = join(dir, 'ints.npy');
    writeFileSync(
      ints,
      encodeNpy(
        Uint8Array.from({ length: 10 * 6 }, (_, i) => i % 17),
        [10, 6],
      ),
    );
    expectUserError(
      avb('encode', '--run', run, '--data', `npy:${ints}`, '--out', join(dir, 'zi.npy')),
      /integer values 0\.\.16 are neither 0\/1 nor 8-bit intensities/,
    );
    // --resume --steps: config.json records the steps the run now goes to.
    expect(avb('train', '--out', run, '--resume', '--steps', '5').code).toBe(0);
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { steps: number };
    expect(config.steps).toBe(5);
  });
});
