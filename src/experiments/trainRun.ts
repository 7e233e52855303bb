import { appendFileSync, existsSync } from 'node:fs';
import type { Dataset, DataInfo } from '../data/dataset.js';
import { dataInfo } from '../data/dataset.js';
import { dataFileOf, loadDataset } from '../data/loadDataset.js';
import { AvbUserError } from '../errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomicFile.js';
import { makeOwnedFolder, removeOwnedFolder } from '../io/ownedFolder.js';
import { BasisVectorEncoder } from '../nn/encoders.js';
import type { Parts } from '../objectives/objective.js';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import type { LoadedCheckpoint } from '../train/checkpoint.js';
import { describeDivergence, fit } from '../train/fit.js';
import { Trainer } from '../train/trainer.js';
import type { StepMetrics, TrainingSnapshot } from '../train/trainer.js';
import { disposeParts, objectiveFor } from './buildParts.js';
import { buildTrainer } from './buildTrainer.js';
import { resolveConfig } from './config.js';
import type { RunConfig } from './config.js';
import { estimateHeldOut, heldOutSet } from './heldOut.js';
import type { HeldOutEstimate, HeldOutSet } from './heldOut.js';
import { contrastCheck } from './contrastCheck.js';
import { diagnoseTraining } from './trainingDiagnostics.js';
import type { TrainingDiagnostics } from './trainingDiagnostics.js';
import { lossHistory, readSummary, runPaths, truncateMetrics } from './runFolder.js';
import type { RunPaths } from './runFolder.js';
import { experimentHooks } from './experimentHooks.js';

export { RUN_FILES } from './runFolder.js';
export { MAX_ROLLBACKS } from '../train/fit.js';

/**
 * The adversary counts as saturated when its accuracy, averaged over the last
 * {@link SATURATION_WINDOW} steps, exceeds this: T then separates q from the prior almost
 * perfectly, its logits grow without bound and the primal gradient through T degrades.
 */
export const SATURATION_ACCURACY = 0.99;
export const SATURATION_WINDOW = 100;

export interface TrainRunOptions {
  out: string;
  /** Continue the run in `out` from its checkpoint. */
  resume?: boolean;
  /**
   * Replace an existing `out` folder: only if avb wrote everything in it, and it holds neither
   * the data file nor `protect` (see `io/ownedFolder.ts`).
   */
  force?: boolean;
  /** Files the run reads besides its data (e.g. the config file), which `force` must not delete. */
  protect?: string[];
  /** With `resume`: a new total number of steps (to extend a finished run). */
  steps?: number;
  /** With `resume`: a new divergence policy. */
  onNan?: RunConfig['onNan'];
  /** The data set of `config.experiment`, when the caller has loaded it already. */
  dataset?: Dataset;
  /** Called once before the first step. */
  onStart?: (info: {
    config: RunConfig;
    startStep: number;
    parameters: number;
    data: DataInfo;
  }) => void;
  onStep?: (m: StepMetrics) => void;
  /** Called after each held-out estimate. */
  onHeldOut?: (step: number, estimate: HeldOutEstimate) => void;
  /** Warnings and notices (rollbacks, saturation). */
  onNotice?: (message: string) => void;
  /** Polled after every step; true stops the run after writing a checkpoint (SIGINT, SIGTERM). */
  shouldStop?: () => boolean;
}

/** What `summary.json` holds. */
export interface TrainSummary {
  experiment: string;
  method: RunConfig['method'];
  status: 'completed' | 'interrupted' | 'diverged';
  steps: number;
  /** Wall-clock seconds of training over all segments of a resumed run. */
  seconds: number;
  parameters: number;
  /** Metrics averaged over the last {@link SATURATION_WINDOW} steps. */
  finalMetrics: Record<string, number>;
  /** The last held-out estimate. */
  heldOut?: HeldOutEstimate & { split: HeldOutSet['split']; points: number; step: number };
  divergence?: string;
  /**
   * What a user must not miss about a completed run, also printed: an unused latent, a model no
   * better than the per-value mean, a saturated adversary, divergences rolled back. Empty when
   * the run can be vouched for.
   */
  warnings: string[];
  /** The figures behind the first two warnings (completed runs). */
  diagnostics?: TrainingDiagnostics;
}
// An experiment's hooks (`experimentHooks.ts`) add their own fields to `summary.json`: read a
// synthetic run's as `TrainSummary & SyntheticResults`.

export interface TrainRunResult {
  /** `already-complete`: a resumed run had nothing left to do; nothing was written. */
  status: TrainSummary['status'] | 'already-complete';
  summary: TrainSummary;
}

/** Everything a run folder's training loop works on. */
interface RunState {
  cfg: RunConfig;
  ds: Dataset;
  paths: RunPaths;
  parts: Parts;
  trainer: Trainer;
  heldOut?: HeldOutSet;
  /** Seconds of training before this segment. */
  secondsBefore: number;
  /** The state of the last checkpoint: where a divergence rolls back to, without reading it. */
  lastGood?: TrainingSnapshot;
  /** A resumed run's primal losses, step 1 first, from its log (the spike guard's history). */
  lossHistory?: number[];
}

/**
 * Trains one run into a folder: `config.json`, `data.json`, `metrics.jsonl` (one line per
 * step, held-out estimates on their steps), `checkpoint.avbckpt` (every `checkpointEvery`
 * steps and at the end), `summary.json` (and experiment figures). Everything that can be wrong
 * with the input is checked before the folder is created, so bad input leaves nothing behind.
 */
export async function trainRun(
  config: RunConfig | undefined,
  o: TrainRunOptions,
): Promise<TrainRunResult> {
  const paths = runPaths(o.out);
  const checkpoint = o.resume ? loadResumable(paths) : undefined;
  const cfg = checkpoint
    ? resolveConfig(checkpoint.config, { steps: o.steps, onNan: o.onNan }, paths.checkpoint)
    : newRunConfig(config, o);
  if (checkpoint && checkpoint.step >= cfg.steps) {
    const summary = readSummary(o.out) as TrainSummary | undefined;
    if (summary) return { status: 'already-complete', summary };
  }
  const ds = o.dataset ?? loadDataset(cfg.experiment, { scale: cfg.scale });
  const state = buildRunState(cfg, ds, paths, checkpoint);
  try {
    if (checkpoint) {
      checkpoint.apply(state.trainer);
      state.lastGood = checkpoint.snapshot;
      truncateMetrics(paths.metrics, checkpoint.step);
      state.lossHistory = lossHistory(paths.metrics, checkpoint.step);
      // --steps / --on-nan on resume: config.json says what the run now does.
      writeJsonAtomic(paths.config, cfg);
    } else createRunFolder(o, state);
    const parameters =
      state.parts.encoder.size() +
      state.parts.decoder.size() +
      (state.parts.adversary?.size() ?? 0);
    o.onStart?.({
      config: cfg,
      startStep: state.trainer.completedSteps,
      parameters,
      data: dataInfo(ds),
    });
    const loop = await trainLoop(state, o);
    const summary: TrainSummary = {
      experiment: cfg.experiment,
      method: cfg.method,
      status: loop.status,
      steps: state.trainer.completedSteps,
      seconds: loop.seconds,
      parameters,
      finalMetrics: meanMetrics(loop.recent),
      warnings: loop.warnings,
    };
    if (loop.heldOut) summary.heldOut = loop.heldOut;
    if (loop.divergence) summary.divergence = loop.divergence;
    if (loop.status === 'completed') checkTrainedModel(state, summary);
    const after = experimentHooks(cfg.experiment).afterTraining;
    if (loop.status === 'completed' && after)
      Object.assign(summary, await after({ parts: state.parts, ds, out: o.out, config: cfg }));
    writeJsonAtomic(paths.summary, summary);
    return { status: loop.status, summary };
  } finally {
    state.trainer.dispose();
    disposeParts(state.parts);
  }
}

function loadResumable(paths: RunPaths): LoadedCheckpoint {
  if (!existsSync(paths.checkpoint)) {
    throw new AvbUserError(
      `cannot resume: ${paths.checkpoint} does not exist; start the run without --resume`,
    );
  }
  return loadCheckpoint(paths.checkpoint);
}

function newRunConfig(config: RunConfig | undefined, o: TrainRunOptions): RunConfig {
  if (!config) throw new Error('trainRun: a configuration is required for a new run');
  if (existsSync(o.out) && !o.force) {
    throw new AvbUserError(
      `output folder ${o.out} already exists; add --resume to continue it or --force to replace it`,
    );
  }
  return config;
}

/** Builds parts, sampler and trainer from the configuration (weights from its seed). */
function buildRunState(
  cfg: RunConfig,
  ds: Dataset,
  paths: RunPaths,
  checkpoint: LoadedCheckpoint | undefined,
): RunState {
  const { parts, trainer } = buildTrainer(cfg, ds);
  const heldOut =
    cfg.heldOut.every > 0
      ? heldOutSet(ds, cfg.heldOut.points, cfg.binarize, cfg.seed + 1)
      : undefined;
  return {
    cfg,
    ds,
    paths,
    parts,
    trainer,
    heldOut,
    secondsBefore: checkpoint?.seconds ?? 0,
  };
}

function createRunFolder(o: TrainRunOptions, s: RunState): void {
  const dataFile = dataFileOf(s.cfg.experiment);
  const protect = [...(dataFile ? [dataFile] : []), ...(o.protect ?? [])];
  if (o.force) removeOwnedFolder(o.out, protect);
  makeOwnedFolder(o.out);
  writeJsonAtomic(s.paths.config, s.cfg);
  writeJsonAtomic(s.paths.data, dataInfo(s.ds));
  writeFileAtomic(s.paths.metrics, '');
  // Step 0: the rollback point of last resort.
  checkpointNow(s, 0);
}

/**
 * Adds the checks of a completed run to its summary: active units and the held-out likelihood
 * against the per-value mean model (on the held-out set, estimated now if the run logged none
 * at its last step), and a saturated adversary over the last steps.
 */
function checkTrainedModel(s: RunState, summary: TrainSummary): void {
  const { cfg, ds, parts } = s;
  const set = s.heldOut ?? heldOutSet(ds, cfg.heldOut.points, cfg.binarize, cfg.seed + 1);
  const estimate =
    summary.heldOut?.step === summary.steps
      ? summary.heldOut
      : estimateHeldOut(parts, objectiveFor(cfg), set, {
          batch: cfg.batch,
          iwaeSamples: cfg.heldOut.iwaeSamples,
          seed: cfg.seed + 2,
          covariance: cfg.ac.covariance,
        });
  const train = ds.train;
  const { diagnostics, warnings } = diagnoseTraining(
    parts,
    train,
    parts.decoder.likelihood,
    set,
    estimate,
    cfg.seed + 3,
  );
  summary.diagnostics = diagnostics;
  summary.warnings.push(...warnings);
  const tPosterior = summary.finalMetrics.tPosterior;
  if (
    cfg.method === 'avb-ac' &&
    cfg.ac.covariance === 'diagonal' &&
    parts.encoder instanceof BasisVectorEncoder &&
    tPosterior !== undefined
  ) {
    const { check, warning } = contrastCheck(parts.encoder, set, tPosterior, cfg.seed + 4);
    diagnostics.contrast = check;
    if (warning) summary.warnings.push(warning);
  }
  const acc = summary.finalMetrics.adversaryAccuracy;
  if (acc !== undefined && acc > SATURATION_ACCURACY)
    summary.warnings.push(saturationMessage(cfg.method, acc, 'at the end'));
}

interface LoopResult {
  status: TrainSummary['status'];
  warnings: string[];
  seconds: number;
  recent: StepMetrics[];
  heldOut?: TrainSummary['heldOut'];
  divergence?: string;
}

/**
 * Trains to the configured total on {@link fit}, with this run's hooks: a line of
 * `metrics.jsonl` per step, the held-out estimate every `heldOut.every` steps, the saturation
 * watch, a checkpoint at every snapshot, and on a rollback the log and the running averages
 * taken back to the restored step.
 */
async function trainLoop(s: RunState, o: TrainRunOptions): Promise<LoopResult> {
  const { cfg, trainer, paths } = s;
  const started = performance.now();
  const seconds = () => s.secondsBefore + (performance.now() - started) / 1000;
  const result: LoopResult = { status: 'completed', seconds: 0, recent: [], warnings: [] };
  let saturation = new SaturationWatch(cfg.method, o.onNotice);
  const fitted = await fit(trainer, {
    until: cfg.steps,
    onNan: cfg.onNan,
    snapshotEvery: cfg.checkpointEvery,
    lastGood: s.lastGood,
    shouldStop: o.shouldStop,
    onStep: (m) => {
      const line: Record<string, number> = roundMetrics(m);
      const done = m.step >= cfg.steps;
      if (s.heldOut && (done || m.step % cfg.heldOut.every === 0)) {
        const est = estimateHeldOut(s.parts, objectiveFor(cfg), s.heldOut, {
          batch: cfg.batch,
          iwaeSamples: cfg.heldOut.iwaeSamples,
          seed: cfg.seed + 2,
          covariance: cfg.ac.covariance,
        });
        line.heldOutElbo = round6(est.elbo);
        if (est.iwae !== undefined) line.heldOutIwae = round6(est.iwae);
        result.heldOut = { ...est, split: s.heldOut.split, points: s.heldOut.count, step: m.step };
        o.onHeldOut?.(m.step, est);
      }
      appendFileSync(paths.metrics, JSON.stringify(line) + '\n');
      result.recent.push(m);
      if (result.recent.length > SATURATION_WINDOW) result.recent.shift();
      saturation.check(m.step, result.recent);
      o.onStep?.(m);
    },
    onSnapshot: (snapshot) => {
      // The summary's time is the checkpoint's: a resumed run continues from exactly it.
      result.seconds = seconds();
      saveCheckpoint(paths.checkpoint, snapshot, cfg, result.seconds);
    },
    // The loss watched for a finite blow-up, as metrics.jsonl has it: a resumed run's guard
    // replays the log and judges as an uninterrupted run's did.
    spikes: {
      lossOf: (m) => (m.primalLoss === undefined ? undefined : round6(m.primalLoss)),
      history: s.lossHistory,
    },
    onRollback: ({ divergence, backTo, scale }) => {
      const what = describeDivergence(divergence);
      truncateMetrics(paths.metrics, backTo);
      // What was averaged or watched since the checkpoint is gone with the steps.
      result.recent = [];
      saturation = new SaturationWatch(cfg.method, o.onNotice);
      o.onNotice?.(`${what}; rolled back to step ${backTo} with learning rates x${scale}`);
      result.warnings = [
        `training diverged and was rolled back (last: ${what}); it went on with learning rates x${scale} of the configured ones`,
      ];
    },
  });
  if (fitted.status === 'diverged') {
    const d = fitted.divergence!;
    result.divergence = `${describeDivergence(d)}; stopped ${d.spike ? 'there' : 'before updating the weights'} (last good checkpoint kept: ${paths.checkpoint})`;
    result.status = 'diverged';
  } else if (fitted.status === 'stopped') result.status = 'interrupted';
  if (result.status === 'diverged' || result.seconds === 0) result.seconds = seconds();
  return result;
}

/** Writes the trainer's snapshot as the run's checkpoint and keeps it as the rollback point. */
function checkpointNow(s: RunState, seconds: number): void {
  s.lastGood = s.trainer.snapshot();
  saveCheckpoint(s.paths.checkpoint, s.lastGood, s.cfg, seconds);
}

/** Warns (at most every 1,000 steps) while the adversary separates q from the prior almost perfectly. */
class SaturationWatch {
  private last = -Infinity;
  constructor(
    private readonly method: RunConfig['method'],
    private readonly notify?: (message: string) => void,
  ) {}

  check(step: number, recent: StepMetrics[]): void {
    if (recent.length < SATURATION_WINDOW || step - this.last < 1000) return;
    const acc = meanMetrics(recent).adversaryAccuracy;
    if (acc === undefined || acc <= SATURATION_ACCURACY) return;
    this.last = step;
    this.notify?.(saturationMessage(this.method, acc, `step ${step}`));
  }
}

function saturationMessage(method: RunConfig['method'], accuracy: number, when: string): string {
  return (
    `${when}: the adversary is saturated (accuracy ${accuracy.toFixed(3)} over the last ${SATURATION_WINDOW} steps); ` +
    `the KL estimate is unreliable: consider ${method === 'avb' ? 'adaptive contrast (--method avb-ac), ' : ''}a lower adversary learning rate or more adversary steps`
  );
}

function round6(v: number): number {
  return Number(v.toPrecision(6));
}

/** Rounds to 6 significant digits; step time is not part of the reproducible record. */
function roundMetrics(m: StepMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m))
    if (v !== undefined) out[k] = k === 'step' ? v : round6(v);
  return out;
}

function meanMetrics(ms: StepMetrics[]): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const m of ms)
    for (const [k, v] of Object.entries(m))
      if (v !== undefined && k !== 'step') sums[k] = (sums[k] ?? 0) + v;
  for (const k of Object.keys(sums)) sums[k] /= ms.length;
  return sums;
}
