import { PNG } from 'pngjs';
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy } from '../../src/data/npy.js';
import { avb, expectUserError, signalAfter } from './runCli.js';
import { scratchDir } from '../scratchDir.js';

const dir = scratchDir('avb-use-');

/** 40 "images" of 4 x 4 bytes, values 0..255: scaled to [0, 1] as intensities. */
function writeByteImages(path: string): void {
  const header = "{'descr': '|u1', 'fortran_order': False, 'shape': (40, 4, 4), }";
  const padded = header + ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const bytes = new Uint8Array(10 + padded.length + 640);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(bytes.buffer).setUint16(8, padded.length, true);
  bytes.set(new TextEncoder().encode(padded), 10);
  for (let i = 0; i < 640; i++) bytes[10 + padded.length + i] = (i * 37) % 256;
  writeFileSync(path, bytes);
}

function npyShape(path: string): number[] {
  return parseNpy(new Uint8Array(readFileSync(path)), path).shape;
}

describe('using a trained run without its data', () => {
  it('sample, reconstruct and encode work after the data file was moved away', () => {
    const data = join(dir, 'images.npy');
    writeByteImages(data);
    const run = join(dir, 'vae-run');
    // A relative data path: stored absolute, so the run works from any folder.
    const train = avb(
      'train',
      '--experiment',
      `npy:${relative(process.cwd(), data)}`,
      '--method',
      'vae',
      '--steps',
      '20',
      '--latent',
      '3',
      '--out',
      run,
    );
    expect(train.code, train.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as {
      experiment: string;
    };
    expect(config.experiment).toBe(`npy:${data}`);
    const moved = join(dir, 'moved.npy');
    renameSync(data, moved);

    const png = join(dir, 'samples.png');
    const s = avb('sample', '--run', run, '--n', '9', '--out', png);
    expect(s.code, s.stderr).toBe(0);
    const image = PNG.sync.read(readFileSync(png));
    // 3 x 3 grid of 4 x 4 images drawn 12x (at least 48 px each) with 2-pixel gaps:
    // 3 * (48 + 2) + 2 = 152.
    expect([image.width, image.height]).toEqual([152, 152]);
    expect(avb('sample', '--run', run, '--n', '5', '--out', join(dir, 's.npy')).code).toBe(0);
    expect(npyShape(join(dir, 's.npy'))).toEqual([5, 4, 4, 1]);

    expectUserError(
      avb('reconstruct', '--run', run),
      /the run's own data .*images\.npy cannot be read .*give --data/,
    );
    const rec = avb('reconstruct', '--run', run, '--data', `npy:${moved}`, '--n', '6');
    expect(rec.code, rec.stderr).toBe(0);
    expect(existsSync(join(run, 'reconstructions.png'))).toBe(true);
    const recNpy = join(dir, 'rec.npy');
    expect(avb('reconstruct', '--run', run, '--data', `npy:${moved}`, '--out', recNpy).code).toBe(
      0,
    );
    expect(npyShape(recNpy)).toEqual([2, 16, 4, 4, 1]);

    const z = join(dir, 'z.npy');
    const e = avb('encode', '--run', run, '--data', `npy:${moved}`, '--out', z);
    expect(e.code, e.stderr).toBe(0);
    expect(npyShape(z)).toEqual([40, 3]);
    expect(npyShape(join(dir, 'z-mean.npy'))).toEqual([40, 3]);
    const variance = parseNpy(new Uint8Array(readFileSync(join(dir, 'z-variance.npy'))), 'v');
    expect(Array.from(variance.data).every((v) => v > 0)).toBe(true);
    // z.npy is now a file of the user's folder that avb wrote but did not record: a rerun needs
    // --force (see force.test.ts).
    expect(
      avb('encode', '--run', run, '--data', `npy:${moved}`, '--out', z, '--samples', '4').code,
    ).toBe(2);
    expect(
      avb('encode', '--run', run, '--data', `npy:${moved}`, '--out', z, '--samples', '4', '--force')
        .code,
    ).toBe(0);
    expect(npyShape(z)).toEqual([40, 4, 3]);

    const wrong = join(dir, 'wrong.npy');
    writeFileSync(wrong, encodeNpy(new Float32Array(30), [3, 10]));
    expectUserError(
      avb('encode', '--run', run, '--data', `npy:${wrong}`, '--out', join(dir, 'z2.npy')),
      /examples of shape \[10\] but the run was trained on \[4, 4, 1\]/,
    );
    expectUserError(avb('sample', '--run', join(dir, 'nothing')), /is not a run folder/);
  });

  it('a 10-value data set gets a small model sized to it, a Gaussian decoder and no binarisation', () => {
    const data = join(dir, 'tabular.npy');
    writeFileSync(
      data,
      encodeNpy(
        Float32Array.from({ length: 500 }, (_, i) => Math.sin(i) * 3),
        [50, 10],
      ),
    );
    const run = join(dir, 'tabular-run');
    const r = avb('train', '--experiment', `npy:${data}`, '--steps', '3', '--out', run, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/gaussian decoder, data not binarised, latent 3/);
    expect(r.stderr).toMatch(
      /default sized for 10-value examples: latent 3, hidden \[32, 32\], adversary 64 wide/,
    );
    const summary = JSON.parse(r.stdout) as { parameters: number };
    // The paper's MNIST networks on 10 values: 4.5M weights. Sized: ~20k.
    expect(summary.parameters).toBeLessThan(50_000);
    // Not a picture: the default outputs are .npy.
    expect(avb('sample', '--run', run, '--n', '7').code).toBe(0);
    expect(npyShape(join(run, 'generated.npy'))).toEqual([7, 10]);
    expectUserError(
      avb('sample', '--run', run, '--out', join(dir, 'x.png')),
      /not an image; use --out FILE\.npy/,
    );
  });
});

describe('data is never silently changed', () => {
  it('float data in [0, 1] is binarised only with --binarize; mnist by default', () => {
    const data = join(dir, 'probs.npy');
    writeFileSync(
      data,
      encodeNpy(
        Float32Array.from({ length: 200 }, (_, i) => (i % 10) / 10),
        [20, 10],
      ),
    );
    const plain = avb(
      'train',
      '--experiment',
      `npy:${data}`,
      '--steps',
      '2',
      '--out',
      join(dir, 'p1'),
    );
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/bernoulli decoder, data not binarised/);
    const asked = avb(
      'train',
      '--experiment',
      `npy:${data}`,
      '--steps',
      '2',
      '--binarize',
      '--out',
      join(dir, 'p2'),
    );
    expect(asked.stderr).toMatch(/data dynamically binarised/);
    const cfg = (d: string) =>
      (JSON.parse(readFileSync(join(dir, d, 'config.json'), 'utf8')) as { binarize: boolean })
        .binarize;
    expect([cfg('p1'), cfg('p2')]).toEqual([false, true]);
  });
});

describe('outputs and interruptions', () => {
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, 'x');

  it('an unwritable --out exits 2 with one line before any computing, in every command', () => {
    const run = join(dir, 'small');
    expect(avb('train', '--steps', '2', '--batch', '8', '--out', run).code).toBe(0);
    for (const bad of ['/proc/avb-out', join(blocker, 'sub')]) {
      const t = avb('train', '--steps', '2', '--out', bad);
      expectUserError(t, /cannot write to|is a file/);
      expectUserError(
        avb('eval', '--run', run, '--points', '2', '--out', join(bad, 'e.json')),
        /--out/,
      );
      expectUserError(
        avb('infer', 'eight-schools', '--method', 'nuts', '--out', bad),
        /cannot write|is a file/,
      );
      expectUserError(avb('sample', '--run', run, '--out', join(bad, 's.npy')), /--out/);
      expectUserError(
        avb('encode', '--run', run, '--data', 'synthetic', '--out', join(bad, 'z.npy')),
        /--out/,
      );
    }
    expect(readdirSync('/proc').includes('avb-out')).toBe(false);
  });

  it('eval --out writes where asked and leaves eval.json alone', () => {
    const run = join(dir, 'small');
    const out = join(dir, 'eval-elsewhere.json');
    const r = avb(
      'eval',
      '--run',
      run,
      '--points',
      '2',
      '--ais-steps',
      '5',
      '--iwae',
      '0',
      '--out',
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(existsSync(join(run, 'eval.json'))).toBe(false);
  });

  it('--resume on a finished run says so and changes nothing', () => {
    const run = join(dir, 'small');
    const before = readFileSync(join(run, 'metrics.jsonl'), 'utf8');
    const r = avb('train', '--out', run, '--resume');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/nothing to do: .* already completed 2 steps; add --steps N/);
    expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8')).toBe(before);
  });

  it('SIGTERM stops like Ctrl-C: checkpoint and summary, exit 143; resume counts all the time', async () => {
    const out = join(dir, 'sigterm');
    const { code, stderr } = await signalAfter(
      ['train', '--steps', '100000', '--batch', '16'],
      out,
      5,
      'SIGTERM',
    );
    expect(code, stderr).toBe(143);
    const first = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      status: string;
      steps: number;
      seconds: number;
    };
    expect(first.status).toBe('interrupted');
    const r = avb('train', '--out', out, '--resume', '--steps', String(first.steps + 2), '--json');
    expect(r.code, r.stderr).toBe(0);
    const second = JSON.parse(r.stdout) as { steps: number; seconds: number };
    expect(second.steps).toBe(first.steps + 2);
    // Two more steps add time to the first segment's instead of starting from zero.
    expect(second.seconds).toBeGreaterThan(first.seconds);
  });
});
