import { Argument, Option } from 'commander';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AvbUserError } from '../../errors.js';
import { markdownTable } from '../../report/report.js';
import { EXIT_SIGNAL, watchStopSignals } from '../interrupt.js';
import { backendOption, nonNegativeInt, positiveInt } from '../options.js';
import { checkOutputFolder } from '../outputFolder.js';
import { checkWritableFolder } from '../../io/atomicFile.js';
import { formatSeconds } from '../progress.js';
import { BUDGETS } from '../../experiments/reproduce/common.js';
import { REPRODUCTIONS, runReproduction } from '../../experiments/reproduce/runReproduction.js';
import type { ReproduceOptions } from '../../experiments/reproduce/runReproduction.js';
import type { JobProgress } from '../../experiments/reproduce/jobQueue.js';

/** What the options give: the run's settings; `out` has a default, the rest is the CLI's. */
type CliOptions = Pick<
  ReproduceOptions,
  'budget' | 'seed' | 'jobs' | 'steps' | 'points' | 'force' | 'backend'
> & { out?: string; centred?: boolean } & Partial<
    Record<(typeof POSTERIORDB_OPTIONS)[number], string>
  >;

/** Options of `reproduce posteriordb` only (passed to it as `ReproduceOptions.options`). */
const POSTERIORDB_OPTIONS = ['path', 'models', 'posteriors', 'methods', 'seeds'] as const;

export function addReproduceCommand(program: Command): void {
  program
    .command('reproduce')
    .description(
      "reproduce one of the paper's experiments: train, evaluate and write OUT/report.md and report.html (rerun the same command to resume)",
    )
    .addArgument(
      new Argument('<experiment>', 'which experiment').choices(Object.keys(REPRODUCTIONS)),
    )
    .addOption(
      new Option(
        '--budget <budget>',
        'quick (minutes; MNIST < 30 min on 2 cores), standard (MNIST: about 2 h on 2 cores, README’s MNIST table), long (MNIST only: the AVB+AC-32 / VAE-32 pair, 500,000 steps, AIS on 2,000 digits; about 7 h on 2 cores), conv (MNIST only: that pair with the paper’s conv encoder and decoder, 300,000 steps, AIS on 2,000 digits; about 9 h on 2 cores) or full (the paper’s settings; MNIST takes days)',
      )
        .choices(BUDGETS)
        .default('quick'),
    )
    .option('--out <dir>', 'output folder (default: runs/reproduce-<experiment>)')
    .option('--seed <n>', 'random seed of every run', nonNegativeInt, 1)
    .option(
      '--jobs <n>',
      'commands run at once, the cores shared between them (default: one per core on up to 2 cores, else about a third of the cores: 16 cores run 5 × 3 threads)',
      positiveInt,
    )
    .option(
      '--steps <n>',
      "train every model n steps instead of the budget's (a smoke run)",
      positiveInt,
    )
    .option(
      '--points <n>',
      "MNIST: AIS on n test digits instead of the budget's (10000: all; fewer than the budget's: a smoke run, its BDMC on n digits and its AIS ladder a tenth as long)",
      positiveInt,
    )
    .option(
      '--path <dir>',
      'posteriordb: a clone of posteriordb, or a folder of <posterior>/ folders (default: the eight shipped in examples/posteriordb)',
    )
    .option(
      '--models <dir>',
      'posteriordb: the model translations, <dir>/<model_name>.mjs (default: examples/posteriordb/models); a posterior without one runs its own Stan program',
    )
    .option(
      '--posteriors <a,b>',
      'posteriordb: run only these posteriors (default: all that can run)',
    )
    .option(
      '--methods <a,b>',
      'posteriordb: methods to run (default: nuts, advi-meanfield, advi-fullrank, avb-ac; full adds avb)',
    )
    .option(
      '--seeds <a,b>',
      'posteriordb: seeds of every fit (default: quick 1; standard and full 1,2,3); mnist: seeds of the AVB+AC-32 against VAE-32 comparison, each trained and evaluated (default: --seed alone)',
    )
    .option(
      '--centred',
      "posteriordb: fits of a posterior's own Stan program sample its hierarchical normals as written, not non-centred (avb infer --centred)",
    )
    .option('--force', 'start over: delete --out first')
    .addOption(backendOption())
    .action(reproduceAction);
}

/** Checks the options, then runs the reproduction with progress on stderr and Ctrl-C handling. */
async function reproduceAction(experiment: string, opts: CliOptions): Promise<void> {
  const out = opts.out ?? `runs/reproduce-${experiment}`;
  const options: Record<string, string> = {};
  for (const k of POSTERIORDB_OPTIONS) {
    const v = opts[k];
    if (v === undefined) continue;
    const mnistToo = k === 'seeds';
    if (experiment !== 'posteriordb' && !(mnistToo && experiment === 'mnist'))
      throw new AvbUserError(
        `--${k} applies to reproduce posteriordb${mnistToo ? ' and mnist' : ''} only; remove it`,
      );
    options[k] = k === 'path' || k === 'models' ? resolve(v) : v;
  }
  if (opts.centred) {
    if (experiment !== 'posteriordb')
      throw new AvbUserError('--centred applies to reproduce posteriordb only; remove it');
    options.centred = 'true';
  }
  if (opts.force || !existsSync(out)) checkOutputFolder(out, true);
  else checkWritableFolder(out);
  const stop = watchStopSignals('stopping: each running command writes its checkpoint');
  try {
    const r = await runReproduction(experiment, {
      ...opts,
      options,
      out,
      command: [
        `avb reproduce ${experiment} --budget ${opts.budget} --seed ${opts.seed}`,
        opts.steps ? ` --steps ${opts.steps}` : '',
        opts.points ? ` --points ${opts.points}` : '',
        opts.out ? ` --out ${opts.out}` : '',
        ...POSTERIORDB_OPTIONS.map((k) => (opts[k] ? ` --${k} ${opts[k]}` : '')),
      ].join(''),
      say,
      onStart: (job) => say(`start  ${job.id}`),
      onFinish: (job, s) => say(`done   ${job.id} (${formatSeconds(s)})`),
      onProgress: (running) => say(`       ${running.map(describe).join('; ')}`),
      shouldStop: () => stop.requested() !== undefined,
    });
    const signal = stop.requested();
    if (r.status === 'stopped') {
      say(`stopped after ${formatSeconds(r.seconds)} in all; rerun the same command to continue`);
      process.exitCode = EXIT_SIGNAL[signal ?? 'SIGTERM'];
      return;
    }
    process.stdout.write(
      `${markdownTable(r.doc.results)}\n\nreport: ${r.files.html} (and ${r.files.markdown})\n`,
    );
  } finally {
    stop.release();
  }
}

function say(line: string): void {
  const t = new Date().toTimeString().slice(0, 8);
  process.stderr.write(`[${t}] ${line}\n`);
}

function describe(p: JobProgress): string {
  if (!p.total) return `${p.id}: starting`;
  const eta = p.rate > 0 ? formatSeconds((p.total - p.done) / p.rate) : '?';
  return `${p.id}${p.phase ? ` ${p.phase}` : ''} ${p.done}/${p.total} (ETA ${eta})`;
}
