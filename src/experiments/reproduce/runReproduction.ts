import { AvbUserError } from '../../errors.js';
import { availableParallelism } from 'node:os';
import { initBackend } from '../../backend/initBackend.js';
import type { BackendChoice } from '../../backend/initBackend.js';
import { makeOwnedFolder } from '../../io/ownedFolder.js';
import { writeReport } from '../../report/report.js';
import type { ReportDoc } from '../../report/report.js';
import { openState, saveState } from './common.js';
import type { Budget, Reproduction, ReproduceContext } from './common.js';
import { eightSchoolsReproduction } from './eightSchools.js';
import { coreSplit } from './coreSplit.js';
import { runJobs } from './jobQueue.js';
import type { Job, JobProgress } from './jobQueue.js';
import { mnistReproduction } from './mnist.js';
import { posteriordbReproduction } from './posteriordb.js';
import { syntheticReproduction } from './synthetic.js';

/**
 * The paper's experiments as data: each one's plan (the `avb` commands it runs, by budget) and
 * its report. Adding an experiment is a `Reproduction` in this folder and one entry here.
 */
export const REPRODUCTIONS: Record<string, Reproduction> = {
  synthetic: syntheticReproduction,
  'eight-schools': eightSchoolsReproduction,
  mnist: mnistReproduction,
  posteriordb: posteriordbReproduction,
};

export interface ReproduceOptions {
  out: string;
  budget: Budget;
  seed: number;
  /** Commands run at once (default: 2, or 1 on a single core). */
  jobs?: number;
  steps?: number;
  points?: number;
  /** Experiment-specific options (see `ReproduceContext.options`). */
  options?: Record<string, string>;
  /** Start over: replace `out` (only avb's own output). */
  force?: boolean;
  backend?: BackendChoice;
  /** The command line, as the report states it. */
  command: string;
  /** A line of progress for a person (start and end of each command, ETAs). */
  say?: (line: string) => void;
  onStart?: (job: Job) => void;
  onFinish?: (job: Job, seconds: number) => void;
  onProgress?: (running: JobProgress[]) => void;
  /** Polled every second: true stops every running command after its checkpoint. */
  shouldStop?: () => boolean;
}

export type ReproduceResult =
  | { status: 'stopped'; seconds: number }
  | {
      status: 'done';
      seconds: number;
      doc: ReportDoc;
      files: { markdown: string; html: string };
    };

/**
 * Runs what is left of an experiment's plan into `out` (a rerun continues: finished commands
 * are not run again, trainings resume from their checkpoints), then writes its report
 * (`report.md`, `report.html`). Callable from `avb/node`; `avb reproduce` is this plus options.
 */
export async function runReproduction(
  experiment: string,
  o: ReproduceOptions,
): Promise<ReproduceResult> {
  const repro = REPRODUCTIONS[experiment];
  const { jobs: parallel, threads } = coreSplit(availableParallelism(), o.jobs);
  const ctx: ReproduceContext = {
    out: o.out,
    budget: o.budget,
    seed: o.seed,
    steps: o.steps,
    points: o.points,
    options: o.options,
    command: o.command,
    threads,
  };
  if (!repro.budgets.includes(o.budget))
    throw new AvbUserError(
      `--budget ${o.budget} is not a budget of ${experiment}; use ${repro.budgets.join(', ')}`,
    );
  repro.validate?.(ctx);
  const state = openState(
    o.out,
    {
      experiment,
      budget: o.budget,
      seed: o.seed,
      steps: o.steps ?? null,
      points: o.points ?? null,
      options: o.options && Object.keys(o.options).length ? o.options : null,
    },
    o.force,
  );
  if (o.backend) process.env.AVB_BACKEND = o.backend;
  const backend = await initBackend(o.backend, { threads: 1 });
  makeOwnedFolder(o.out);
  saveState(o.out, state);
  const jobs = repro.jobs(ctx);
  const before = state.seconds;
  const began = performance.now();
  const elapsed = () => before + (performance.now() - began) / 1000;
  o.say?.(
    `reproduce ${experiment}, budget ${o.budget}, ${o.options?.seeds ? `seeds ${o.options.seeds}` : `seed ${o.seed}`}: ${jobs.length ? `${jobs.length} command${jobs.length === 1 ? '' : 's'} to run, ${parallel} at a time, ${threads} thread${threads === 1 ? '' : 's'} each` : 'every command has run'}; logs in ${o.out}/logs`,
  );
  try {
    const status = await runJobs(jobs, {
      parallel,
      threads,
      onStart: o.onStart,
      onFinish: o.onFinish,
      onProgress: o.onProgress,
      shouldStop: o.shouldStop,
    });
    if (status === 'stopped') return { status: 'stopped', seconds: elapsed() };
    const doc = await repro.report(ctx, { backend, seconds: elapsed(), parallel, threads });
    return { status: 'done', seconds: elapsed(), doc, files: writeReport(o.out, doc) };
  } finally {
    // Also on a failed command: the time spent so far counts when it resumes.
    state.seconds = elapsed();
    saveState(o.out, state);
  }
}
