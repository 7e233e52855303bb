import { Argument, Option } from 'commander';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { initBackend } from '../../backend/initBackend.js';
import type { BackendChoice } from '../../backend/initBackend.js';
import { markdownTable, writeReport } from '../../report/report.js';
import { EXIT_SIGNAL, watchStopSignals } from '../interrupt.js';
import { backendOption, nonNegativeInt, positiveInt } from '../options.js';
import { checkOutputFolder } from '../outputFolder.js';
import { checkWritableFolder } from '../../io/atomicFile.js';
import { makeOwnedFolder } from '../../io/ownedFolder.js';
import { formatSeconds } from '../progress.js';
import { BUDGETS, openState, saveState } from './common.js';
import type { Budget, Reproduction, ReproduceContext } from './common.js';
import { eightSchoolsReproduction } from './eightSchools.js';
import { runJobs } from './jobQueue.js';
import type { JobProgress } from './jobQueue.js';
import { mnistReproduction } from './mnist.js';
import { syntheticReproduction } from './synthetic.js';

const REPRODUCTIONS: Record<string, Reproduction> = {
  synthetic: syntheticReproduction,
  'eight-schools': eightSchoolsReproduction,
  mnist: mnistReproduction,
};

interface ReproduceOptions {
  budget: Budget;
  out?: string;
  seed: number;
  jobs?: number;
  steps?: number;
  points?: number;
  force?: boolean;
  backend?: BackendChoice;
}

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
        'quick (minutes; MNIST < 30 min on 2 cores), standard (MNIST: 1.5 h on 2 cores, README’s MNIST table) or full (the paper’s settings; MNIST takes days)',
      )
        .choices(BUDGETS)
        .default('quick'),
    )
    .option('--out <dir>', 'output folder (default: runs/reproduce-<experiment>)')
    .option('--seed <n>', 'random seed of every run', nonNegativeInt, 1)
    .option(
      '--jobs <n>',
      'commands run at once, one thread each (default: 2, or 1 on a single core)',
      positiveInt,
    )
    .option(
      '--steps <n>',
      "train every model n steps instead of the budget's (a smoke run)",
      positiveInt,
    )
    .option('--points <n>', "MNIST: AIS on n test digits instead of the budget's", positiveInt)
    .option('--force', 'start over: delete --out first')
    .addOption(backendOption())
    .action(runReproduction);
}

/** Plans the experiment's commands, runs what is left of them, then writes the report. */
async function runReproduction(experiment: string, opts: ReproduceOptions): Promise<void> {
  const out = opts.out ?? `runs/reproduce-${experiment}`;
  if (opts.force || !existsSync(out)) checkOutputFolder(out, true);
  else checkWritableFolder(out);
  const state = openState(
    out,
    {
      experiment,
      budget: opts.budget,
      seed: opts.seed,
      steps: opts.steps ?? null,
      points: opts.points ?? null,
    },
    opts.force,
  );
  const parallel = opts.jobs ?? Math.min(2, availableParallelism());
  const ctx: ReproduceContext = {
    out,
    budget: opts.budget,
    seed: opts.seed,
    steps: opts.steps,
    points: opts.points,
    command: [
      `avb reproduce ${experiment} --budget ${opts.budget} --seed ${opts.seed}`,
      opts.steps ? ` --steps ${opts.steps}` : '',
      opts.points ? ` --points ${opts.points}` : '',
      opts.out ? ` --out ${opts.out}` : '',
    ].join(''),
  };
  if (opts.backend) process.env.AVB_BACKEND = opts.backend;
  const backend = await initBackend(opts.backend, { threads: 1 });
  makeOwnedFolder(out);
  saveState(out, state);
  const repro = REPRODUCTIONS[experiment];
  const jobs = repro.jobs(ctx);
  const before = state.seconds;
  const began = performance.now();
  const elapsed = () => before + (performance.now() - began) / 1000;
  say(
    `reproduce ${experiment}, budget ${opts.budget}, seed ${opts.seed}: ${jobs.length ? `${jobs.length} command${jobs.length === 1 ? '' : 's'} to run, ${parallel} at a time` : 'every command has run'}; logs in ${out}/logs`,
  );
  const stop = watchStopSignals('stopping: each running command writes its checkpoint');
  try {
    const status = await runJobs(jobs, {
      parallel,
      onStart: (job) => say(`start  ${job.id}`),
      onFinish: (job, s) => say(`done   ${job.id} (${formatSeconds(s)})`),
      onProgress: (running) => say(`       ${running.map(describe).join('; ')}`),
      shouldStop: () => stop.requested() !== undefined,
    });
    const signal = stop.requested();
    if (status === 'stopped' && signal) {
      say(`stopped after ${formatSeconds(elapsed())} in all; rerun the same command to continue`);
      process.exitCode = EXIT_SIGNAL[signal];
      return;
    }
    const doc = await repro.report(ctx, { backend, seconds: elapsed(), parallel });
    const files = writeReport(out, doc);
    process.stdout.write(
      `${markdownTable(doc.results)}\n\nreport: ${files.html} (and ${files.markdown})\n`,
    );
  } finally {
    // Also on a failed command: the time spent so far counts when it resumes.
    state.seconds = elapsed();
    saveState(out, state);
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
  return `${p.id} ${p.done}/${p.total} (ETA ${eta})`;
}
