import { existsSync, readFileSync } from 'node:fs';
import { Option } from 'commander';
import type { Command } from 'commander';
import { initBackend } from '../backend/initBackend.js';
import type { BackendChoice, BackendInfo } from '../backend/initBackend.js';
import type { DataInfo } from '../data/dataset.js';
import { dataInfo } from '../data/dataset.js';
import { absoluteDataSpec, dataFileOf, describeScaling, loadDataset } from '../data/loadDataset.js';
import { DECODER_TYPES } from '../nn/decoders.js';
import type { DecoderType } from '../nn/decoders.js';
import { AvbUserError } from '../errors.js';
import { METHODS, resolveConfig, resolveConfigWithNotes } from '../experiments/config.js';
import type { ConfigOverrides, Method, RunConfig } from '../experiments/config.js';
import { trainRun } from '../experiments/trainRun.js';
import type { TrainSummary } from '../experiments/trainRun.js';
import type { SyntheticResults } from '../experiments/synthetic.js';
import { checkWritableFolder } from '../io/atomicFile.js';
import { EXIT_SIGNAL, watchStopSignals } from './interrupt.js';
import { printJson } from './output.js';
import { checkOutputFolder } from './outputFolder.js';
import {
  backendOption,
  threadsOption,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
} from './options.js';
import { TrainingProgress } from './progress.js';

interface TrainOptions {
  experiment?: string;
  method?: Method;
  latent?: number;
  steps?: number;
  batch?: number;
  lr?: number;
  lrAdversary?: number;
  lrDecoder?: number;
  seed?: number;
  decoder?: DecoderType;
  binarize?: boolean;
  scale?: number;
  out: string;
  resume?: boolean;
  force?: boolean;
  config?: string;
  onNan?: 'rollback' | 'stop';
  backend?: BackendChoice;
  threads?: number;
  json?: boolean;
}

/** Exit code of a run stopped by a non-finite loss (`--on-nan stop`, or too many rollbacks). */
export const EXIT_DIVERGED = 3;

export function addTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'train a model with AVB, AVB with adaptive contrast, or a VAE; writes a run folder',
    )
    .option(
      '--experiment <name>',
      'synthetic | mnist | digits8x8 | idx:PATH | npy:PATH (default: synthetic)',
    )
    .option(
      '--scale <n>',
      "divide a data file's values by n (integers other than 0/1 and 8-bit intensities need it; 1 keeps them)",
      positiveNumber,
    )
    .addOption(new Option('--method <method>', 'training method (default: avb)').choices(METHODS))
    .option(
      '--latent <n>',
      'latent dimension (default: 2 synthetic, 32 mnist, sized to smaller user data)',
      positiveInt,
    )
    .option(
      '--steps <n>',
      'training iterations (default: 10000 synthetic, 100000 mnist, 20000 for user data under 75 values per example)',
      positiveInt,
    )
    .option(
      '--batch <n>',
      'minibatch size (default: 256 synthetic; otherwise 128, or 64 for vae)',
      positiveInt,
    )
    .option('--lr <rate>', 'primal (encoder and decoder) Adam learning rate', positiveNumber)
    .option('--lr-adversary <rate>', 'adversary Adam learning rate', positiveNumber)
    .option(
      '--lr-decoder <rate>',
      'the decoder’s own Adam learning rate (default: --lr)',
      positiveNumber,
    )
    .option('--seed <n>', 'random seed (default: 1)', nonNegativeInt)
    .addOption(
      new Option(
        '--decoder <type>',
        'likelihood p(x|z) (default: bernoulli for data in [0, 1], gaussian otherwise)',
      ).choices(DECODER_TYPES),
    )
    .option(
      '--binarize',
      'dynamic binarisation: train on a fresh 0/1 draw of data in [0, 1] at every read (default: on for mnist only)',
    )
    .option('--no-binarize', 'train on the values as they are (also for mnist)')
    .requiredOption('--out <dir>', 'run folder to write')
    .option('--resume', 'continue the run in --out from its checkpoint')
    .option('--force', 'replace --out if it exists')
    .option(
      '--config <file>',
      'JSON file of settings (fields as in the run folder\u2019s config.json)',
    )
    .addOption(
      new Option(
        '--on-nan <action>',
        'when a loss or gradient is NaN/Inf: roll back to the last checkpoint with halved learning rates, or stop (default: rollback)',
      ).choices(['rollback', 'stop']),
    )
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print summary.json on stdout at the end')
    .action(trainAction);
}

async function trainAction(opts: TrainOptions): Promise<void> {
  if (opts.resume && opts.force)
    throw new AvbUserError('--resume and --force contradict each other; use one');
  const cli: ConfigOverrides = {
    experiment: opts.experiment === undefined ? undefined : absoluteDataSpec(opts.experiment),
    method: opts.method,
    latent: opts.latent,
    steps: opts.steps,
    batch: opts.batch,
    lr: opts.lr,
    lrAdversary: opts.lrAdversary,
    lrDecoder: opts.lrDecoder,
    seed: opts.seed,
    onNan: opts.onNan,
    binarize: opts.binarize,
    scale: opts.scale,
    decoder: opts.decoder ? { type: opts.decoder } : undefined,
  };
  let fresh:
    { config: RunConfig; notes: string[]; dataset: ReturnType<typeof loadDataset> } | undefined;
  if (opts.resume) {
    const others = Object.entries(cli).filter(
      ([k, v]) => v !== undefined && k !== 'steps' && k !== 'onNan',
    );
    if (others.length || opts.config) {
      throw new AvbUserError(
        `--resume continues with the run's own config.json; only --steps and --on-nan may change (got --${others.map(([k]) => k).join(', --') || 'config'})`,
      );
    }
    // The checkpoint is rewritten in the run folder: it must accept new files.
    if (existsSync(opts.out)) checkWritableFolder(opts.out);
  } else {
    fresh = newRun(readConfigFile(opts.config), cli, opts.config);
    const reads = [dataFileOf(fresh.config.experiment), opts.config];
    checkOutputFolder(
      opts.out,
      opts.force,
      'add --resume to continue it or --force to replace it',
      reads.filter((f): f is string => f !== undefined),
    );
  }
  const backend = await initBackend(opts.backend, { threads: opts.threads });
  const stop = watchStopSignals('stopping after this step and writing a checkpoint');
  try {
    await runWithProgress(opts, fresh, backend, () => stop.requested() !== undefined);
    const signal = stop.requested();
    if (process.exitCode === undefined && signal) process.exitCode = EXIT_SIGNAL[signal];
  } finally {
    stop.release();
  }
}

/** Runs the training with progress on stderr and reports the outcome. */
async function runWithProgress(
  opts: TrainOptions,
  fresh: ReturnType<typeof newRun> | undefined,
  backend: BackendInfo,
  shouldStop: () => boolean,
): Promise<void> {
  let progress: TrainingProgress | undefined;
  try {
    const result = await trainRun(fresh?.config, {
      out: opts.out,
      resume: opts.resume,
      force: opts.force,
      protect: opts.config ? [opts.config] : [],
      dataset: fresh?.dataset,
      steps: opts.resume ? opts.steps : undefined,
      onNan: opts.resume ? opts.onNan : undefined,
      onStart: ({ config: c, startStep, parameters, data }) => {
        process.stderr.write(
          startLine(c, data, startStep, parameters, backend, opts.out, fresh?.notes ?? []),
        );
        progress = new TrainingProgress(c.steps);
        progress.start(startStep);
      },
      onStep: (m) => progress?.update(m),
      onHeldOut: (step, est) =>
        progress?.info(
          `step ${step}: held-out ELBO ${est.elbo.toFixed(3)}` +
            (est.iwae === undefined ? '' : `, IWAE ${est.iwae.toFixed(3)}`) +
            ' nats per example',
        ),
      onNotice: (msg) =>
        progress ? progress.notice(msg) : process.stderr.write(`warning: ${msg}\n`),
      shouldStop,
    });
    progress?.stop();
    if (result.status === 'already-complete') {
      process.stderr.write(
        `nothing to do: ${opts.out} already completed ${result.summary.steps} steps; ` +
          `add --steps N (more than ${result.summary.steps}) to train it further\n`,
      );
      if (opts.json) printJson(result.summary);
      return;
    }
    if (opts.json) printJson(result.summary);
    else describeResult(result.summary, opts.out);
    if (result.status === 'diverged') {
      process.stderr.write(`error: ${String(result.summary.divergence)}\n`);
      process.exitCode = EXIT_DIVERGED;
    }
  } finally {
    progress?.stop();
  }
}

/** Loads the data of a new run and resolves its configuration, sized to the data. */
function newRun(file: unknown, cli: ConfigOverrides, source?: string) {
  // First without the data: bad settings are reported before a data file is read.
  const experiment = absoluteDataSpec(resolveConfig(file, cli, source).experiment);
  const dataset = loadDataset(experiment, {
    scale: cli.scale ?? (file as ConfigOverrides | undefined)?.scale,
  });
  const { config, notes } = resolveConfigWithNotes(
    file,
    { ...cli, experiment },
    source,
    dataInfo(dataset),
  );
  return { config, notes, dataset };
}

/** The first line of a run: what trains on what, and every choice made for the user. */
function startLine(
  c: RunConfig,
  data: DataInfo,
  startStep: number,
  parameters: number,
  backend: BackendInfo,
  out: string,
  notes: string[],
): string {
  const binarised = c.binarize ? 'dynamically binarised' : 'not binarised';
  const lines = [
    `${startStep > 0 ? 'resuming' : 'training'} ${c.method} on ${c.experiment} ` +
      `(examples [${data.exampleShape.join(', ')}], ${data.counts.train} for training): ` +
      `${c.decoder.type} decoder, data ${binarised}, latent ${c.latent}, ${parameters} weights, ` +
      `steps ${startStep + 1}..${c.steps}; backend ${backend.name}, ${backend.threads} thread${backend.threads === 1 ? '' : 's'}; run folder ${out}`,
  ];
  const scaling = data.scaling && describeScaling(data.scaling);
  if (scaling) lines.push(`  data ${scaling}`);
  for (const n of notes) lines.push(`  default ${n}`);
  return lines.join('\n') + '\n';
}

function readConfigFile(path?: string): unknown {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new AvbUserError(`config file ${path} cannot be read; check the path`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AvbUserError(`config file ${path} is not valid JSON (${(e as Error).message})`);
  }
}

function describeResult(s: TrainSummary & Partial<SyntheticResults>, out: string): void {
  const warned =
    s.status === 'completed' && s.warnings?.length
      ? ` with ${s.warnings.length} warning${s.warnings.length === 1 ? '' : 's'} (below)`
      : '';
  const lines = [
    `${s.status}${warned}: ${s.steps} steps in ${s.seconds.toFixed(1)} s; run folder ${out}`,
  ];
  if (s.heldOut) {
    lines.push(
      `held-out ELBO ${s.heldOut.elbo.toFixed(3)}` +
        (s.heldOut.iwae === undefined ? '' : `, IWAE ${s.heldOut.iwae.toFixed(3)}`) +
        ` nats per example (${s.heldOut.points} ${s.heldOut.split} examples, step ${s.heldOut.step})`,
    );
  }
  if (typeof s.logLikelihood === 'number') {
    lines.push(
      `log-likelihood ${s.logLikelihood.toFixed(4)} nats per point (optimum ${(s.optimum ?? NaN).toFixed(4)}); samples: ${out}/${String(s.samplesPng)}`,
    );
  }
  if (s.diagnostics)
    lines.push(
      `active latent units ${s.diagnostics.activeUnits} of ${s.diagnostics.latent}; ` +
        `per-value mean model ${s.diagnostics.meanModelLogLikelihood.toFixed(3)} nats per example`,
    );
  // A run that diverged or was stopped ends with its own message; warnings vouch for models.
  if (s.status === 'completed') for (const w of s.warnings ?? []) lines.push(`warning: ${w}`);
  process.stderr.write(lines.join('\n') + '\n');
}
