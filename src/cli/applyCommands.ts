import type { Command } from 'commander';
import { extname, join } from 'node:path';
import { initBackend } from '../backend/initBackend.js';
import type { BackendChoice } from '../backend/initBackend.js';
import { dataInfo, exampleSize } from '../data/dataset.js';
import type { DataSplit } from '../data/dataset.js';
import { absoluteDataSpec, loadExamples } from '../data/loadDataset.js';
import { encodeNpy } from '../data/npy.js';
import { AvbUserError } from '../errors.js';
import { checkExamplesFit, encode, generate, reconstruct } from '../experiments/applyModel.js';
import { loadRun } from '../experiments/loadRun.js';
import type { LoadedRun } from '../experiments/loadRun.js';
import { requireRunFolder } from '../experiments/runFolder.js';
import { checkWritableFile, writeFileAtomic } from '../io/atomicFile.js';
import { Rng } from '../random/rng.js';
import { imageGridPng, isImageShape } from '../viz/imageGrid.js';
import {
  backendOption,
  threadsOption,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
} from './options.js';

interface ApplyOptions {
  run: string;
  out?: string;
  force?: boolean;
  seed: number;
  backend?: BackendChoice;
  threads?: number;
}

/** `--force` of the commands that write one file (or a few) rather than a folder. */
export const FORCE_FILE_HELP = 'replace an --out file that avb did not write';

const SCALE_HELP =
  "divide the data file's values by n (default: the run's own --scale, else as avb train reads files)";

/** `avb sample`, `avb reconstruct` and `avb encode`: using a trained run, without its data. */
export function addApplyCommands(program: Command): void {
  program
    .command('sample')
    .description(
      'draw examples from a trained model (z from the prior, the mean of p(x|z)); writes a PNG grid or .npy',
    )
    .requiredOption('--run <dir>', 'run folder written by avb train')
    .option('--n <count>', 'examples to draw', positiveInt, 64)
    .option(
      '--out <file>',
      'FILE.png (image data) or FILE.npy [n, ...example shape] (default: RUN/generated.png, or .npy for non-image data)',
    )
    .option('--seed <n>', 'random seed', nonNegativeInt, 1)
    .option('--force', FORCE_FILE_HELP)
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts: ApplyOptions & { n: number }) => {
      const run = await openRun(opts, 'generated');
      try {
        const x = generate(run.loaded, opts.n, new Rng(opts.seed));
        writeExamples(run.out, x, opts.n, run.loaded.data.exampleShape, run.loaded.data.kind);
        process.stdout.write(`${opts.n} samples written to ${run.out}\n`);
      } finally {
        run.loaded.dispose();
      }
    });

  program
    .command('reconstruct')
    .description(
      'reconstruct examples through q(z|x) and p(x|z); writes inputs beside reconstructions (PNG) or both as .npy',
    )
    .requiredOption('--run <dir>', 'run folder written by avb train')
    .option(
      '--data <spec>',
      "examples: mnist (its test set), synthetic, idx:PATH or npy:PATH (every example) (default: the run's own test split)",
    )
    .option('--n <count>', 'examples to reconstruct (the first n)', positiveInt, 16)
    .option(
      '--out <file>',
      'FILE.png (rows of inputs, each above its reconstructions) or FILE.npy [2, n, ...example shape] (default: RUN/reconstructions.png or .npy)',
    )
    .option('--seed <n>', 'random seed', nonNegativeInt, 1)
    .option('--force', FORCE_FILE_HELP)
    .option('--scale <n>', SCALE_HELP, positiveNumber)
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts: ApplyOptions & { n: number; data?: string; scale?: number }) => {
      const run = await openRun(opts, 'reconstructions');
      try {
        const all = examplesFor(run.loaded, opts.data, opts.scale);
        const split = firstExamples(all, Math.min(opts.n, all.count), exampleSize(run.loaded.data));
        const recon = reconstruct(run.loaded, split, new Rng(opts.seed));
        const shape = run.loaded.data.exampleShape;
        if (extname(run.out) === '.png') {
          writeFileAtomic(run.out, pairsPng(split, recon, shape, run.loaded.data.kind));
        } else {
          const both = new Float32Array(2 * recon.length);
          both.set(split.x);
          both.set(recon, split.x.length);
          writeFileAtomic(run.out, encodeNpy(both, [2, split.count, ...shape]));
        }
        process.stdout.write(`${split.count} reconstructions written to ${run.out}\n`);
      } finally {
        run.loaded.dispose();
      }
    });

  program
    .command('encode')
    .description(
      'encode examples: draws of z ~ q(z|x), and the mean and variance of q(z|x) where the encoder gives them (vae: exact; avb-ac: to 0.4% of an sd)',
    )
    .requiredOption('--run <dir>', 'run folder written by avb train')
    .requiredOption(
      '--data <spec>',
      'examples: mnist (its test set), synthetic, idx:PATH or npy:PATH (every example)',
    )
    .requiredOption(
      '--out <file.npy>',
      'codes [N, latent] (or [N, samples, latent]); moments go beside it as FILE-mean.npy and FILE-variance.npy',
    )
    .option('--samples <k>', 'draws of z per example', positiveInt, 1)
    .option('--seed <n>', 'random seed', nonNegativeInt, 1)
    .option('--force', FORCE_FILE_HELP)
    .option('--scale <n>', SCALE_HELP, positiveNumber)
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts: ApplyOptions & { data: string; samples: number; scale?: number }) => {
      if (extname(opts.out ?? '') !== '.npy')
        throw new AvbUserError(`--out ${opts.out} must name a .npy file`);
      const stem = opts.out!.slice(0, -'.npy'.length);
      const files = [opts.out!, `${stem}-mean.npy`, `${stem}-variance.npy`];
      const run = await openRun(opts, 'codes', files.slice(1));
      try {
        const split = examplesFor(run.loaded, opts.data, opts.scale);
        const e = encode(run.loaded, split, opts.samples, new Rng(opts.seed));
        const L = run.loaded.config.latent;
        const zShape = opts.samples === 1 ? [split.count, L] : [split.count, opts.samples, L];
        writeFileAtomic(files[0], encodeNpy(e.z, zShape));
        const lines = [`codes of ${plural(split.count, 'example')} written to ${files[0]}`];
        if (e.mean && e.variance) {
          writeFileAtomic(files[1], encodeNpy(e.mean, [split.count, L]));
          writeFileAtomic(files[2], encodeNpy(e.variance, [split.count, L]));
          lines.push(`the mean and variance of q(z|x): ${files[1]}, ${files[2]}`);
          if (e.moments?.kind === 'basis')
            lines.push(
              `  (from ${e.moments.draws.toLocaleString('en-US')} fixed noise draws of the basis vectors, the same for every example, batch and seed: ` +
                `Monte-Carlo error ${(100 * e.moments.meanErrorSd).toFixed(1)}% of an sd for the means, ` +
                `at most ${(100 * e.moments.varianceErrorRelative).toFixed(1)}% for the variances)`,
            );
          else lines.push('  (exact: the Gaussian encoder gives them)');
        }
        process.stdout.write(lines.join('\n') + '\n');
      } finally {
        run.loaded.dispose();
      }
    });
}

/**
 * Checks the run folder and every output path before any computing, then loads the run.
 * `stem` names the default output in the run folder (`.png` for image data, else `.npy`).
 */
async function openRun(
  opts: ApplyOptions,
  stem: string,
  alsoWritten: string[] = [],
): Promise<{ loaded: LoadedRun; out: string }> {
  requireRunFolder(opts.run);
  await initBackend(opts.backend, { threads: opts.threads });
  const loaded = loadRun(opts.run);
  try {
    const image = isImageShape(loaded.data.exampleShape);
    const out = opts.out ?? join(opts.run, `${stem}.${image ? 'png' : 'npy'}`);
    const ext = extname(out);
    if (ext !== '.png' && ext !== '.npy')
      throw new AvbUserError(`--out ${out} must end in .png or .npy`);
    if (ext === '.png' && !image) {
      throw new AvbUserError(
        `the run's examples have shape [${loaded.data.exampleShape.join(', ')}], not an image; use --out FILE.npy`,
      );
    }
    for (const f of [out, ...alsoWritten]) checkWritableFile(f, '--out', opts.force);
    return { loaded, out };
  } catch (e) {
    loaded.dispose();
    throw e;
  }
}

/** The examples of `--data`, or the run's own test split (whose file must still exist). */
function examplesFor(run: LoadedRun, spec: string | undefined, scale?: number): DataSplit {
  let loaded;
  try {
    // The run's own --scale applies to other files too: the model reads them as it was trained.
    loaded = loadExamples(absoluteDataSpec(spec ?? run.config.experiment), {
      scale: scale ?? run.config.scale,
    });
  } catch (e) {
    if (spec !== undefined || !(e instanceof AvbUserError)) throw e;
    throw new AvbUserError(
      `the run's own data ${run.config.experiment} cannot be read (${e.message.split(';')[0]}); give --data with examples to reconstruct`,
    );
  }
  const { ds, split } = loaded;
  checkExamplesFit(run, { ...dataInfo(ds), range: rangeOfValues(split.x), count: split.count });
  if (spec === undefined && ds.test) return ds.test;
  return split;
}

function firstExamples(s: DataSplit, n: number, d: number): DataSplit {
  return { x: s.x.subarray(0, n * d), count: n };
}

function writeExamples(
  out: string,
  x: Float32Array,
  n: number,
  shape: number[],
  kind: 'binary' | 'real',
): void {
  if (extname(out) === '.png')
    writeFileAtomic(out, imageGridPng(x, n, shape, { range: rangeOf(x, kind) }));
  else writeFileAtomic(out, encodeNpy(x, [n, ...shape]));
}

/** Rows of up to 8 inputs, each row followed by a row of their reconstructions. */
function pairsPng(
  inputs: DataSplit,
  recon: Float32Array,
  shape: number[],
  kind: 'binary' | 'real',
): Buffer {
  const d = exampleSize({ exampleShape: shape });
  const columns = Math.min(8, inputs.count);
  const rows = Math.ceil(inputs.count / columns);
  const grid = new Float32Array(2 * rows * columns * d).fill(NaN);
  for (let i = 0; i < inputs.count; i++) {
    const r = Math.floor(i / columns);
    const c = i % columns;
    grid.set(inputs.x.subarray(i * d, (i + 1) * d), (2 * r * columns + c) * d);
    grid.set(recon.subarray(i * d, (i + 1) * d), ((2 * r + 1) * columns + c) * d);
  }
  const range = rangeOf(Float32Array.from([...inputs.x, ...recon]), kind);
  return imageGridPng(grid, 2 * rows * columns, shape, { columns, range });
}

/** Probabilities span [0, 1]; real values are scaled from their own minimum to maximum. */
function rangeOf(x: Float32Array, kind: 'binary' | 'real'): [number, number] {
  if (kind === 'binary') return [0, 1];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return hi > lo ? [lo, hi] : [lo - 1, lo + 1];
}

/** `1 example`, `3 examples`. */
function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function rangeOfValues(x: Float32Array): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of x) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}
