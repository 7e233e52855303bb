import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/npy.js';
import { avb, expectUserError } from './runCli.js';
import { scratchDir } from '../scratchDir.js';

const dir = scratchDir('avb-force-');

/** A small 0/1 data set of 40 six-value examples, written to `path`. */
function writeData(path: string): void {
  const x = Uint8Array.from({ length: 40 * 6 }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0));
  writeFileSync(path, encodeNpy(x, [40, 6]));
}

const quickTrain = ['train', '--method', 'vae', '--steps', '3'];
const quickInfer = ['--method', 'advi-meanfield', '--iterations', '50'];

describe('--force deletes only what avb wrote', () => {
  it('avb train: refuses a folder holding its data file, a foreign file, or the working folder', () => {
    const f2 = join(dir, 'f2');
    mkdirSync(f2);
    writeData(join(f2, 'd.npy'));
    const inside = avb(
      ...quickTrain,
      '--experiment',
      `npy:${join(f2, 'd.npy')}`,
      '--out',
      f2,
      '--force',
    );
    expectUserError(inside, /holds .*d\.npy, which this run reads; --force would delete it/);
    expect(existsSync(join(f2, 'd.npy'))).toBe(true);

    const data = join(dir, 'd.npy');
    writeData(data);
    const run = join(dir, 'run');
    expect(avb(...quickTrain, '--experiment', `npy:${data}`, '--out', run).code).toBe(0);
    writeFileSync(join(run, 'notes.txt'), 'mine');
    expectUserError(
      avb(...quickTrain, '--experiment', `npy:${data}`, '--out', run, '--force'),
      /--out .*run holds files avb did not write \(notes\.txt\); --force deletes only avb's own output/,
    );
    expect(readFileSync(join(run, 'notes.txt'), 'utf8')).toBe('mine');
    // A run folder holding only avb's files is replaced.
    const cleaned = join(dir, 'run-clean');
    expect(avb(...quickTrain, '--experiment', `npy:${data}`, '--out', cleaned).code).toBe(0);
    const again = avb(...quickTrain, '--experiment', `npy:${data}`, '--out', cleaned, '--force');
    expect(again.code, again.stderr).toBe(0);

    expectUserError(
      avb(...quickTrain, '--experiment', `npy:${data}`, '--out', '.', '--force'),
      /--out \. is the working folder or holds it/,
    );
  });

  it('avb train: a file or a folder that takes no files is named as what it is', () => {
    const data = join(dir, 'd2.npy');
    writeData(data);
    expectUserError(
      avb(...quickTrain, '--experiment', `npy:${data}`, '--out', data),
      /--out .*d2\.npy is a file, not a folder; choose another path/,
    );
    expectUserError(
      avb(...quickTrain, '--experiment', `npy:${data}`, '--out', '/proc/nope'),
      /cannot write to \/proc \(--out\): it does not accept new files/,
    );
  });

  it('avb infer: refuses a folder holding the model module or a foreign file', () => {
    const proj = join(dir, 'proj');
    mkdirSync(proj);
    const model = join(proj, 'banana.mjs');
    writeFileSync(model, readFileSync('examples/banana.mjs'));
    expectUserError(
      avb('infer', model, ...quickInfer, '--out', proj, '--force'),
      /holds .*banana\.mjs, which this run reads/,
    );
    expect(existsSync(model)).toBe(true);
    const out = join(dir, 'infer');
    expect(avb('infer', model, ...quickInfer, '--out', out).code).toBe(0);
    const again = avb('infer', model, ...quickInfer, '--out', out, '--force');
    expect(again.code, again.stderr).toBe(0);
    writeFileSync(join(out, 'plot.py'), 'mine');
    expectUserError(
      avb('infer', model, ...quickInfer, '--out', out, '--force'),
      /holds files avb did not write \(plot\.py\)/,
    );
    expect(existsSync(join(out, 'plot.py'))).toBe(true);
  });

  it('avb reproduce: refuses a folder avb did not write', () => {
    const theirs = join(dir, 'theirs');
    mkdirSync(theirs);
    writeFileSync(join(theirs, 'thesis.tex'), 'mine');
    expectUserError(
      avb('reproduce', 'synthetic', '--steps', '5', '--out', theirs, '--force'),
      /--out .*theirs was not written by avb .* and is not empty; --force deletes only avb's own output/,
    );
    expect(existsSync(join(theirs, 'thesis.tex'))).toBe(true);
  });

  it('eval, sample and encode: replace their own files, refuse a file of the user’s unless --force', () => {
    const data = join(dir, 'd3.npy');
    writeData(data);
    const run = join(dir, 'run-files');
    expect(avb(...quickTrain, '--experiment', `npy:${data}`, '--out', run).code).toBe(0);
    // avb's own outputs in its run folder: written, then replaced on a rerun.
    const evalArgs = ['eval', '--run', run, '--points', '2', '--ais-steps', '3', '--iwae', '0'];
    for (let k = 0; k < 2; k++) expect(avb(...evalArgs).code).toBe(0);
    for (let k = 0; k < 2; k++) expect(avb('sample', '--run', run, '--n', '2').code).toBe(0);
    // --out naming the user's data: refused before anything is computed, the file untouched.
    const before = readFileSync(data);
    expectUserError(
      avb('sample', '--run', run, '--n', '2', '--out', data),
      /--out .*d3\.npy exists and avb did not write it; choose another name, or add --force/,
    );
    expectUserError(
      avb(...evalArgs, '--out', data),
      /--out .*d3\.npy exists and avb did not write it/,
    );
    // encode's moments beside --out count too.
    const codes = join(dir, 'codes.npy');
    writeFileSync(join(dir, 'codes-mean.npy'), 'mine');
    expectUserError(
      avb('encode', '--run', run, '--data', `npy:${data}`, '--out', codes),
      /codes-mean\.npy exists and avb did not write it/,
    );
    expect(readFileSync(join(dir, 'codes-mean.npy'), 'utf8')).toBe('mine');
    expect(existsSync(codes)).toBe(false);
    expect(readFileSync(data)).toEqual(before);
    // --force: the user asked for it.
    const forced = avb('sample', '--run', run, '--n', '2', '--out', data, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(data)).not.toEqual(before);
  });
});
