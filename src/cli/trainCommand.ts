import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import type { Command } from 'commander';
import { initBackend } from '../backend/initBackend.js';
import type { BackendChoice } from '../backend/initBackend.js';
import { AvbUserError } from '../errors.js';
import { METHODS, resolveConfig } from '../experiments/config.js';
import type { ConfigOverrides, Method } from '../experiments/config.js';
import { trainRun } from '../experiments/trainRun.js';
import { printJson } from './output.js';
import { backendOption, nonNegativeInt, positiveInt, positiveNumber } from './program.js';
import { TrainingProgress } from './progress.js';

interface TrainOptions {
  experiment?: string;
  method?: Method;
  latent?: number;
  steps?: number;
  batch?: number;
  lr?: number;
  lrAdversary?: number;
  seed?: number;
  out: string;
  resume?: boolean;
  force?: boolean;
  config?: string;
  onNan?: 'rollback' | 'stop';
  backend?: BackendChoice;
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
    .option('--experiment <name>', 'synthetic | mnist | idx:PATH | npy:PATH (default: synthetic)')
    .addOption(new Option('--method <method>', 'training method (default: avb)').choices(METHODS))
    .option('--latent <n>', 'latent dimension (default: 2 synthetic, 32 otherwise)', positiveInt)
    .option(
      '--steps <n>',
      'training iterations (default: 10000 synthetic, 100000 otherwise)',
      positiveInt,
    )
    .option(
      '--batch <n>',
      'minibatch size (default: 256 synthetic; otherwise 128, or 64 for vae)',
      positiveInt,
    )
    .option('--lr <rate>', 'primal (encoder and decoder) Adam learning rate', positiveNumber)
    .option('--lr-adversary <rate>', 'adversary Adam learning rate', positiveNumber)
    .option('--seed <n>', 'random seed (default: 1)', nonNegativeInt)
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
    .option('--json', 'print summary.json on stdout at the end')
    .action(async (opts: TrainOptions) => {
      if (opts.resume && opts.force)
        throw new AvbUserError('--resume and --force contradict each other; use one');
      const cli: ConfigOverrides = {
        experiment: opts.experiment,
        method: opts.method,
        latent: opts.latent,
        steps: opts.steps,
        batch: opts.batch,
        lr: opts.lr,
        lrAdversary: opts.lrAdversary,
        seed: opts.seed,
        onNan: opts.onNan,
      };
      let config;
      if (opts.resume) {
        const others = Object.entries(cli).filter(
          ([k, v]) => v !== undefined && k !== 'steps' && k !== 'onNan',
        );
        if (others.length || opts.config) {
          throw new AvbUserError(
            `--resume continues with the run's own config.json; only --steps and --on-nan may change (got --${others.map(([k]) => k).join(', --') || 'config'})`,
          );
        }
      } else {
        config = resolveConfig(readConfigFile(opts.config), cli, opts.config);
      }
      await initBackend(opts.backend);
      let stopRequested = false;
      const onSigint = () => {
        if (stopRequested) process.exit(130);
        stopRequested = true;
        process.stderr.write(
          '\nstopping after this step and writing a checkpoint (Ctrl-C again to abort)\n',
        );
      };
      process.on('SIGINT', onSigint);
      let progress: TrainingProgress | undefined;
      try {
        const result = await trainRun(config, {
          out: opts.out,
          resume: opts.resume,
          force: opts.force,
          steps: opts.resume ? opts.steps : undefined,
          onNan: opts.resume ? opts.onNan : undefined,
          onStart: ({ config: c, startStep, parameters }) => {
            process.stderr.write(
              `${startStep > 0 ? 'resuming' : 'training'} ${c.method} on ${c.experiment}: ${parameters} weights, ` +
                `steps ${startStep + 1}..${c.steps}, run folder ${opts.out}\n`,
            );
            progress = new TrainingProgress(c.steps);
            progress.start(startStep);
          },
          onStep: (m) => progress?.update(m),
          onNotice: (msg) =>
            progress ? progress.notice(msg) : process.stderr.write(`warning: ${msg}\n`),
          shouldStop: () => stopRequested,
        });
        progress?.stop();
        if (opts.json) printJson(result.summary);
        else describeResult(result.summary, opts.out);
        if (result.status === 'diverged') {
          process.stderr.write(`error: ${String(result.summary.divergence)}\n`);
          process.exitCode = EXIT_DIVERGED;
        }
      } finally {
        progress?.stop();
        process.off('SIGINT', onSigint);
      }
    });
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

function describeResult(s: Record<string, unknown>, out: string): void {
  const lines = [
    `${s.status}: ${s.steps} steps in ${(s.seconds as number).toFixed(1)} s; run folder ${out}`,
  ];
  if (typeof s.logLikelihood === 'number') {
    lines.push(
      `log-likelihood ${s.logLikelihood.toFixed(4)} nats per point (optimum ${(s.optimum as number).toFixed(4)}); samples: ${out}/${String(s.samplesPng)}`,
    );
  }
  process.stderr.write(lines.join('\n') + '\n');
}
