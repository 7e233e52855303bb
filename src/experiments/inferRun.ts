import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AvbUserError } from '../errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomicFile.js';
import { makeOwnedFolder, removeOwnedFolder } from '../io/ownedFolder.js';
import { parseTyped, stringifyTyped } from '../io/typedJson.js';
import { methodSummary, runInference } from '../inference/compare.js';
import type { Spent } from '../inference/compare.js';
import type { InferenceMethod, InferOptions, MethodResult } from '../inference/compare.js';
import { drawsToCsv } from '../inference/draws.js';
import type { BayesianModel } from '../inference/model.js';
import type { NutsAttempt, NutsChain } from '../inference/nuts.js';
import type { StepMetrics } from '../train/fit.js';
import { truncateMetrics } from './runFolder.js';
import { curvesSpec, plotPng, tracePlotSpec } from '../viz/plotPng.js';

/** Files of an inference run folder (`avb infer --out`). */
export const INFER_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  checkpoint: 'checkpoint.json',
  summary: 'summary.json',
  draws: 'draws.csv',
  /** NUTS: trace plots of the first quantities; AVB and ADVI: the ELBO against iteration. */
  traces: 'trace.png',
  elbo: 'elbo.png',
} as const;

/** Quantities shown in `trace.png` (the first ones reported). */
const TRACED = 6;

/** What `config.json` of an inference run holds: enough to run it again or continue it. */
export interface InferRunConfig {
  /** `eight-schools`, or the absolute path of the model module. */
  model: string;
  variant?: string;
  /** The absolute path of the `--data` file, if any. */
  data?: string;
  /**
   * A Stan program's hierarchical normals non-centred (the default) or as written (false:
   * `--centred`); set for every Stan program.
   */
  noncentre?: boolean;
  method: InferenceMethod;
  options: Pick<
    InferOptions,
    | 'samples'
    | 'seed'
    | 'iterations'
    | 'stopWhenConverged'
    | 'modeStarts'
    | 'precondition'
    | 'polish'
    | 'nuts'
    | 'avb'
  >;
}

/** The checkpoint: a variational fit's snapshot, or NUTS's finished chains. */
type InferCheckpoint =
  | { kind: 'fit'; iteration: number; snapshot: unknown }
  // Chains run in parallel finish in any order: one not yet finished is null (a hole).
  // `attempts`: samplings rejected for their divergences (absent: none yet).
  // `spent`: the run's time and evaluations up to it (absent in older checkpoints: not counted).
  | { kind: 'nuts'; chains: (NutsChain | null)[]; attempts?: NutsAttempt[]; spent?: Spent };

export interface InferRunOptions {
  out: string;
  /** Continue the run in `out` from its checkpoint (its own config.json). */
  resume?: boolean;
  /** Replace `out` (only avb's own output; never `protect`). */
  force?: boolean;
  protect?: string[];
  /** Iterations between a variational fit's checkpoints (default 1,000). */
  checkpointEvery?: number;
  onProgress?: InferOptions['onProgress'];
  /** NUTS: where the chains run (`parallelChains.ts`); absent: here, in turn. */
  chainPool?: InferOptions['chainPool'];
  /** Polled between iterations: true stops after a checkpoint (Ctrl-C, SIGTERM). */
  shouldStop?: () => boolean;
}

export type InferRunResult =
  | { status: 'completed'; result: MethodResult; summary: ReturnType<typeof methodSummary> }
  | { status: 'interrupted' };

/**
 * Runs one inference method into a run folder, as `trainRun` does for training: `config.json`,
 * `metrics.jsonl` (a line per iteration of a variational fit, per chain of NUTS),
 * `checkpoint.json` (every `checkpointEvery` iterations, after each NUTS chain, and when
 * stopped), then `summary.json` and `draws.csv`. A stopped run continues with `resume` and ends
 * with the same draws as an uninterrupted one.
 */
export async function inferRun(
  model: BayesianModel,
  config: InferRunConfig,
  o: InferRunOptions,
): Promise<InferRunResult> {
  const path = (f: keyof typeof INFER_FILES) => join(o.out, INFER_FILES[f]);
  let checkpoint: InferCheckpoint | undefined;
  if (o.resume) {
    if (existsSync(path('checkpoint'))) {
      checkpoint = parseTyped(readFileSync(path('checkpoint'), 'utf8')) as InferCheckpoint;
      // The log then holds exactly what the checkpoint did.
      if (checkpoint.kind === 'fit') truncateMetrics(path('metrics'), checkpoint.iteration);
      else rewriteChainLines(path('metrics'), checkpoint.chains, checkpoint.attempts ?? []);
    } else writeFileAtomic(path('metrics'), '');
  } else {
    if (o.force) removeOwnedFolder(o.out, o.protect);
    makeOwnedFolder(o.out);
    writeJsonAtomic(path('config'), config);
    writeFileAtomic(path('metrics'), '');
  }
  const save = (c: InferCheckpoint) => writeFileAtomic(path('checkpoint'), stringifyTyped(c));
  const chains: (NutsChain | null)[] = checkpoint?.kind === 'nuts' ? [...checkpoint.chains] : [];
  const attempts: NutsAttempt[] =
    checkpoint?.kind === 'nuts' ? [...(checkpoint.attempts ?? [])] : [];
  let spent = checkpoint?.kind === 'nuts' ? checkpoint.spent : undefined;
  // A fresh run that the model or its options make impossible (no start with a finite
  // gradient, say) leaves no folder behind: there is nothing in it to resume.
  const r = await runInference(model, config.method, {
    ...config.options,
    onProgress: o.onProgress,
    chainPool: o.chainPool,
    persistence: {
      fit: {
        resumeFrom: checkpoint?.kind === 'fit' ? checkpoint.snapshot : undefined,
        snapshotEvery: o.checkpointEvery ?? 1000,
        onSnapshot: (snapshot, iteration) => save({ kind: 'fit', iteration, snapshot }),
        onStep: (m) => appendFileSync(path('metrics'), JSON.stringify(metricsLine(m)) + '\n'),
        shouldStop: o.shouldStop,
      },
      nuts: {
        done: chains,
        attempts,
        spent,
        onSpent: (s) => (spent = s),
        onChain: (chain, index) => {
          for (let c = chains.length; c < index; c++) chains[c] = null;
          chains[index] = chain;
          save({ kind: 'nuts', chains, attempts, spent });
          appendFileSync(path('metrics'), JSON.stringify(chainLine(chain, index)) + '\n');
        },
        // A rejected sampling leaves its record (checkpoint and a metrics line), not its chains.
        onAttempt: (attempt) => {
          attempts.push(attempt);
          chains.length = 0;
          save({ kind: 'nuts', chains, attempts, spent });
          rewriteChainLines(path('metrics'), chains, attempts);
        },
        shouldStop: o.shouldStop,
      },
    },
  }).catch((e: unknown) => {
    if (e instanceof AvbUserError && !o.resume) removeOwnedFolder(o.out, o.protect);
    throw e;
  });
  if (r.status === 'interrupted') return { status: 'interrupted' };
  const summary = methodSummary(model, r);
  writeJsonAtomic(path('summary'), summary);
  writeFileAtomic(path('draws'), drawsToCsv(r.draws));
  await writePlot(o.out, r);
  return { status: 'completed', result: r, summary };
}

/** `trace.png` for NUTS (a panel per quantity, a colour per chain), `elbo.png` for a fit. */
async function writePlot(out: string, r: MethodResult): Promise<void> {
  const d = r.draws;
  if (d.chain) {
    const names = d.names.slice(0, TRACED);
    // A reduce, not Math.max(...): a long run has more draws than a call takes arguments.
    const chains = d.chain.reduce((a, c) => Math.max(a, c), 0) + 1;
    const traces = names.map((_, q) =>
      Array.from({ length: chains }, (_, c) =>
        d.values.filter((_, i) => d.chain![i] === c).map((v) => v[q]),
      ),
    );
    writeFileAtomic(join(out, INFER_FILES.traces), await plotPng(tracePlotSpec(names, traces)));
  } else if (r.elboTrace?.length) {
    // Steps 1, 101, 201, ... and the last (a fit that converged stops between them).
    const last = r.elboTrace.length - 1;
    const points = r.elboTrace.map((value, i) => ({
      series: r.method,
      measure: 'ELBO estimate',
      step: i === last && r.iterations !== undefined ? r.iterations : i * 100 + 1,
      value,
    }));
    const spec = curvesSpec(
      `${r.method}: the ELBO during the fit`,
      'ELBO estimate (nats)',
      points,
      [
        r.method.startsWith('avb')
          ? "AVB's ELBO uses its adversary's estimate of log q: an estimate, not a bound"
          : 'a Monte-Carlo estimate every 100 iterations',
      ],
    );
    writeFileAtomic(join(out, INFER_FILES.elbo), await plotPng(spec));
  }
}

/** Reads an inference run's `config.json`, for `--resume`. */
export function readInferConfig(out: string): InferRunConfig {
  const file = join(out, INFER_FILES.config);
  if (!existsSync(file))
    throw new AvbUserError(`cannot resume: ${file} does not exist; start the run without --resume`);
  let config: InferRunConfig;
  try {
    config = JSON.parse(readFileSync(file, 'utf8')) as InferRunConfig;
  } catch {
    throw new AvbUserError(`${file} is not valid JSON; the run folder is damaged`);
  }
  // Runs written before non-centring became avb's default recorded only `noncentre: true`: a
  // Stan program without the field was sampled as written.
  if (config.model.endsWith('.stan') && config.noncentre === undefined)
    return { ...config, noncentre: false };
  return config;
}

/** A fit's metrics line: the step and each figure to 6 significant digits (no wall time). */
function metricsLine(m: StepMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m))
    if (v !== undefined && k !== 'stepMs') out[k] = k === 'step' ? v : Number(v.toPrecision(6));
  return out;
}

function chainLine(chain: NutsChain, index: number): Record<string, number> {
  return {
    chain: index + 1,
    stepSize: Number(chain.stepSize.toPrecision(6)),
    divergences: chain.divergences,
    gradientEvaluations: chain.gradientEvaluations,
    ...(chain.targetAccept !== undefined ? { targetAccept: chain.targetAccept } : {}),
  };
}

/**
 * NUTS's metrics: exactly what the checkpoint holds, a line per rejected sampling
 * (`rejectedSampling`: its number from 1) and then a line per finished chain.
 */
function rewriteChainLines(
  file: string,
  chains: (NutsChain | null)[],
  attempts: readonly NutsAttempt[],
): void {
  const rejected = attempts.map((a, i) => JSON.stringify({ rejectedSampling: i + 1, ...a }) + '\n');
  // Chains run in parallel finish in any order: a checkpoint may lack an earlier one (null).
  const lines = chains.map((ch, i) => (ch ? JSON.stringify(chainLine(ch, i)) + '\n' : ''));
  writeFileAtomic(file, [...rejected, ...lines].join(''));
}
