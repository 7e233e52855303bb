import { existsSync, readFileSync } from 'node:fs';
import { makeOwnedFolder, removeOwnedFolder } from '../../io/ownedFolder.js';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import type { BackendInfo } from '../../backend/initBackend.js';
import { AvbUserError } from '../../errors.js';
import type { RunConfig } from '../../experiments/schema.js';
import { readSummary } from '../../experiments/runFolder.js';
import type { TrainSummary } from '../../experiments/trainRun.js';
import { writeJsonAtomic } from '../../io/atomicFile.js';
import type { ReportDoc } from '../../report/report.js';
import type { Job } from './jobQueue.js';

/** Every budget of `--budget`; an experiment has those of its `budgets`. */
export const BUDGETS = ['quick', 'standard', 'long', 'conv', 'full'] as const;
export type Budget = (typeof BUDGETS)[number];

/** The budgets every experiment has (`long` and `conv` are MNIST's alone). */
export const COMMON_BUDGETS = ['quick', 'standard', 'full'] as const satisfies readonly Budget[];
export type CommonBudget = (typeof COMMON_BUDGETS)[number];

/** The context's budget, for an experiment with the common ones (checked before any job). */
export function commonBudget(ctx: ReproduceContext): CommonBudget {
  const b = ctx.budget;
  if (b === 'long' || b === 'conv')
    throw new Error(`reproduce: budget ${b} reached an experiment without it`);
  return b;
}

/** What every reproduction knows while it plans its jobs and writes its report. */
export interface ReproduceContext {
  out: string;
  budget: Budget;
  seed: number;
  /** Overrides of the budget's training steps and AIS test points (smoke runs). */
  steps?: number;
  points?: number;
  /** Experiment-specific options (posteriordb: path, models, posteriors, methods, seeds). */
  options?: Record<string, string>;
  /** The command line, as a user would type it to rerun this. */
  command: string;
  /** Threads each command runs with (`coreSplit.ts`). */
  threads: number;
}

/** One experiment's reproduction: its commands, then a report made from what they wrote. */
export interface Reproduction {
  /** The `--budget`s this experiment has. */
  budgets: readonly Budget[];
  /** Checks the context's settings before anything is written (throws an AvbUserError). */
  validate?(ctx: ReproduceContext): void;
  /** The commands still to run (finished ones are left out: rerunning resumes). */
  jobs(ctx: ReproduceContext): Job[];
  report(ctx: ReproduceContext, facts: RunFacts): ReportDoc | Promise<ReportDoc>;
}

/** How the whole reproduction ran, for the report's provenance table. */
export interface RunFacts {
  backend: BackendInfo;
  /** Wall-clock seconds over every segment of a resumed reproduction. */
  seconds: number;
  parallel: number;
  /** Threads of each command. */
  threads: number;
}

/** `reproduce.json`: which reproduction a folder holds, and the wall time spent on it so far. */
export interface ReproduceState {
  experiment: string;
  budget: Budget;
  seed: number;
  /** `--steps` and `--points` overrides (null: the budget's). */
  steps: number | null;
  points: number | null;
  /** Experiment-specific options, as given (null: none). */
  options?: Record<string, string> | null;
  seconds: number;
}

export const STATE_FILE = 'reproduce.json';

/**
 * Reads the folder's state, refusing a folder that holds another reproduction (another
 * experiment, budget or seed) or something else, unless `force` clears it first.
 */
export function openState(
  out: string,
  want: Omit<ReproduceState, 'seconds'>,
  force: boolean | undefined,
): ReproduceState {
  const path = join(out, STATE_FILE);
  if (force) removeOwnedFolder(out);
  if (!existsSync(out)) return { ...want, seconds: 0 };
  if (!existsSync(path)) {
    throw new AvbUserError(
      `${out} exists but is not a reproduction folder (no ${STATE_FILE}); choose another --out or add --force to replace it`,
    );
  }
  const have = JSON.parse(readFileSync(path, 'utf8')) as ReproduceState;
  const given = JSON.stringify(want.options ?? null);
  if (JSON.stringify(have.options ?? null) !== given)
    throw new AvbUserError(
      `${out} holds a reproduction with other options (${describeOptions(have.options)}), not ${describeOptions(want.options)}; rerun with its options to continue it, use another --out, or add --force to start over`,
    );
  for (const k of ['experiment', 'budget', 'seed', 'steps', 'points'] as const) {
    if ((have[k] ?? null) !== want[k]) {
      const how =
        k === 'experiment'
          ? 'use another --out'
          : have[k] === null
            ? `rerun without --${k}`
            : `rerun with --${k} ${have[k]}`;
      throw new AvbUserError(
        `${out} holds a reproduction with ${k} ${have[k] ?? "the budget's"}, not ${want[k] ?? "the budget's"}; ${how} to continue it, or add --force to start over`,
      );
    }
  }
  return have;
}

function describeOptions(o: Record<string, string> | null | undefined): string {
  const entries = Object.entries(o ?? {});
  return entries.length ? entries.map(([k, v]) => `--${k} ${v}`).join(' ') : 'none';
}

export function saveState(out: string, s: ReproduceState): void {
  writeJsonAtomic(join(out, STATE_FILE), s);
}

export function readJson<T>(path: string): T | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}

/** A run folder of the reproduction: `OUT/runs/<name>`. */
export function runDir(ctx: ReproduceContext, name: string): string {
  return join(ctx.out, 'runs', name);
}

export function logFile(ctx: ReproduceContext, name: string): string {
  return join(ctx.out, 'logs', `${name}.log`);
}

/**
 * The job that trains `config` into `OUT/runs/<name>`: nothing when the run has completed its
 * steps, `--resume` when it has a checkpoint, a fresh run (its config file written) otherwise.
 */
export function trainJob(ctx: ReproduceContext, name: string, config: RunConfig): Job | undefined {
  const dir = runDir(ctx, name);
  const summary = readSummary(dir) as TrainSummary | undefined;
  if (summary?.status === 'completed' && summary.steps >= config.steps) return undefined;
  const id = `train ${name}`;
  const log = logFile(ctx, name);
  if (existsSync(join(dir, 'checkpoint.avbckpt')))
    return { id, log, args: ['train', '--resume', '--out', dir, '--steps', String(config.steps)] };
  const file = join(ctx.out, 'configs', `${name}.json`);
  makeOwnedFolder(dirname(file));
  writeJsonAtomic(file, config);
  return { id, log, args: ['train', '--config', file, '--out', dir, '--force'] };
}

/** The training summary of a finished run (a reproduction's report needs every one). */
export function summaryOf(ctx: ReproduceContext, name: string): TrainSummary {
  const s = readSummary(runDir(ctx, name)) as TrainSummary | undefined;
  if (!s) throw new Error(`reproduce: ${name} has no summary.json after training`);
  return s;
}

/** The provenance rows every report ends with. */
export function provenance(
  ctx: ReproduceContext,
  facts: RunFacts,
  version: string,
): [string, string][] {
  const b = facts.backend;
  const cpu = cpus();
  return [
    ['command', `\`${ctx.command}\``],
    ['budget', ctx.budget],
    ['seed', String(ctx.seed)],
    ['wall time', formatDuration(facts.seconds)],
    [
      'processes',
      `${facts.parallel} at once, ${facts.threads === 1 ? 'one thread' : `${facts.threads} threads`} each`,
    ],
    ['avb', version],
    ['Node.js', process.version],
    ['backend', `${b.name} (${b.version})${b.blas ? `; native BLAS ${b.blas.library}` : ''}`],
    [
      'machine',
      `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${process.platform} ${process.arch}`,
    ],
    ['date', new Date().toISOString().slice(0, 10)],
  ];
}

export function formatDuration(seconds: number): string {
  const m = Math.round(seconds / 60);
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** A number to `digits` decimals with a typographic minus (report text). */
export function num(v: number | undefined, digits = 2): string {
  return v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits).replace('-', '−');
}
