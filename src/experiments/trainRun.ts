import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../data/loadDataset.js';
import { MinibatchSampler } from '../data/sampler.js';
import { AvbUserError } from '../errors.js';
import { Rng } from '../random/rng.js';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { Trainer } from '../train/trainer.js';
import type { StepMetrics } from '../train/trainer.js';
import { buildParts, disposeParts, objectiveFor } from './buildParts.js';
import { resolveConfig } from './config.js';
import type { RunConfig } from './config.js';
import { evaluateSynthetic } from './synthetic.js';

/** Files of a run folder. */
export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  checkpoint: 'checkpoint.avbckpt',
  summary: 'summary.json',
} as const;

/** Largest number of divergence rollbacks before a run gives up. */
export const MAX_ROLLBACKS = 5;

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
  /** Replace an existing `out` folder. */
  force?: boolean;
  /** With `resume`: a new total number of steps (to extend a finished run). */
  steps?: number;
  /** With `resume`: a new divergence policy. */
  onNan?: RunConfig['onNan'];
  /** Called once before the first step. */
  onStart?: (info: { config: RunConfig; startStep: number; parameters: number }) => void;
  onStep?: (m: StepMetrics) => void;
  /** Warnings and notices (rollbacks, saturation). */
  onNotice?: (message: string) => void;
  /** Polled after every step; true stops the run after writing a checkpoint (SIGINT). */
  shouldStop?: () => boolean;
}

export interface TrainRunResult {
  status: 'completed' | 'interrupted' | 'diverged';
  summary: Record<string, unknown>;
}

/**
 * Trains one run into a folder: `config.json`, `metrics.jsonl` (one line per step),
 * `checkpoint.avbckpt` (every `checkpointEvery` steps and at the end), `summary.json`
 * (and experiment figures). Everything that can be wrong with the input is checked before the
 * folder is created, so bad input leaves nothing behind.
 */
export async function trainRun(
  config: RunConfig | undefined,
  o: TrainRunOptions,
): Promise<TrainRunResult> {
  const paths = {
    config: join(o.out, RUN_FILES.config),
    metrics: join(o.out, RUN_FILES.metrics),
    checkpoint: join(o.out, RUN_FILES.checkpoint),
    summary: join(o.out, RUN_FILES.summary),
  };
  let cfg: RunConfig;
  let checkpoint: ReturnType<typeof loadCheckpoint> | undefined;
  if (o.resume) {
    if (!existsSync(paths.checkpoint)) {
      throw new AvbUserError(
        `cannot resume: ${paths.checkpoint} does not exist; start the run without --resume`,
      );
    }
    checkpoint = loadCheckpoint(paths.checkpoint);
    cfg = resolveConfig(checkpoint.config, { steps: o.steps, onNan: o.onNan }, paths.checkpoint);
  } else {
    if (!config) throw new Error('trainRun: a configuration is required for a new run');
    cfg = config;
    if (existsSync(o.out) && !o.force) {
      throw new AvbUserError(
        `output folder ${o.out} already exists; add --resume to continue it or --force to replace it`,
      );
    }
  }

  // Build everything before touching the disk.
  const ds = loadDataset(cfg.experiment);
  const root = new Rng(cfg.seed);
  const parts = buildParts(cfg, ds, root.fork());
  const sampler = new MinibatchSampler(ds, ds.train, {
    seed: root.uint32(),
    binarize: cfg.binarize,
  });
  const trainer = new Trainer(
    parts,
    objectiveFor(cfg),
    sampler,
    {
      batch: cfg.batch,
      primal: { learningRate: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, epsilon: 1e-8 },
      adversary: {
        learningRate: cfg.lrAdversary,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        epsilon: 1e-8,
      },
      schedule: cfg.schedule,
      adversarySteps: cfg.adversarySteps,
      klAnnealSteps: cfg.klAnnealSteps,
    },
    root.fork(),
  );
  try {
    if (checkpoint) {
      checkpoint.apply(parts, trainer);
      truncateMetrics(paths.metrics, checkpoint.step);
    } else {
      if (o.force && existsSync(o.out)) rmSync(o.out, { recursive: true, force: true });
      mkdirSync(o.out, { recursive: true });
      writeFileSync(`${paths.config}.tmp`, JSON.stringify(cfg, null, 2) + '\n');
      renameSync(`${paths.config}.tmp`, paths.config);
      writeFileSync(paths.metrics, '');
      saveCheckpoint(paths.checkpoint, parts, trainer, cfg); // step 0: the rollback point of last resort
    }
    const parameters = parts.encoder.size() + parts.decoder.size() + (parts.adversary?.size() ?? 0);
    o.onStart?.({ config: cfg, startStep: trainer.completedSteps, parameters });

    const started = performance.now();
    let status: TrainRunResult['status'] = 'completed';
    let rollbacks = 0;
    let divergence: string | undefined;
    const recent: StepMetrics[] = [];
    let lastSaturationNotice = -Infinity;
    while (trainer.completedSteps < cfg.steps) {
      const r = trainer.step();
      if (!r.ok) {
        const what = `step ${r.divergence.step}: ${r.divergence.quantity} is not finite`;
        if (cfg.onNan === 'stop' || rollbacks >= MAX_ROLLBACKS) {
          divergence = `${what}; stopped before updating the weights (last good checkpoint kept: ${paths.checkpoint})`;
          status = 'diverged';
          break;
        }
        rollbacks++;
        const scale = trainer.state().learningRateScale / 2;
        const back = loadCheckpoint(paths.checkpoint);
        back.apply(parts, trainer);
        trainer.setLearningRateScale(scale);
        truncateMetrics(paths.metrics, back.step);
        o.onNotice?.(`${what}; rolled back to step ${back.step} with learning rates x${scale}`);
        continue;
      }
      const m = r.metrics;
      appendFileSync(paths.metrics, JSON.stringify(roundMetrics(m)) + '\n');
      recent.push(m);
      if (recent.length > SATURATION_WINDOW) recent.shift();
      const acc =
        recent.length === SATURATION_WINDOW ? meanMetrics(recent).adversaryAccuracy : undefined;
      if (acc !== undefined && acc > SATURATION_ACCURACY && m.step - lastSaturationNotice >= 1000) {
        lastSaturationNotice = m.step;
        o.onNotice?.(
          `step ${m.step}: the adversary is saturated (accuracy ${acc.toFixed(3)} over the last ${SATURATION_WINDOW} steps); ` +
            'the KL estimate is unreliable: consider adaptive contrast (--method avb-ac), a lower adversary learning rate or more adversary steps',
        );
      }
      o.onStep?.(m);
      // Yield to the event loop so signal handlers (SIGINT) and progress output can run.
      await new Promise<void>((r) => setImmediate(r));
      const done = trainer.completedSteps >= cfg.steps;
      const stop = !done && (o.shouldStop?.() ?? false);
      if (done || stop || trainer.completedSteps % cfg.checkpointEvery === 0) {
        saveCheckpoint(paths.checkpoint, parts, trainer, cfg);
      }
      if (stop) {
        status = 'interrupted';
        break;
      }
    }
    const summary: Record<string, unknown> = {
      experiment: cfg.experiment,
      method: cfg.method,
      status,
      steps: trainer.completedSteps,
      seconds: (performance.now() - started) / 1000,
      parameters,
      finalMetrics: meanMetrics(recent),
    };
    if (divergence) summary.divergence = divergence;
    if (status === 'completed' && cfg.experiment === 'synthetic') {
      Object.assign(summary, evaluateSynthetic(parts, ds, o.out, cfg.seed));
    }
    writeFileSync(`${paths.summary}.tmp`, JSON.stringify(summary, null, 2) + '\n');
    renameSync(`${paths.summary}.tmp`, paths.summary);
    return { status, summary };
  } finally {
    trainer.dispose();
    disposeParts(parts);
  }
}

/** Drops metrics lines after `step` (a resumed run rewrites them exactly). */
function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => {
      // A run killed mid-write can leave a partial last line: it is dropped with the rest.
      try {
        return (JSON.parse(line) as { step: number }).step <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(path, kept.map((l) => l + '\n').join(''));
}

/** Rounds to 6 significant digits; step time is not part of the reproducible record. */
function roundMetrics(m: StepMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m))
    if (v !== undefined) out[k] = k === 'step' ? v : Number(v.toPrecision(6));
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
