import * as tf from '../tf.js';
import { join } from 'node:path';
import { loadDataset } from '../data/loadDataset.js';
import { exampleSize } from '../data/dataset.js';
import { AvbUserError } from '../errors.js';
import { aisLogLikelihood } from '../eval/ais.js';
import type { AisOptions, AisStart } from '../eval/ais.js';
import { gridLogLikelihood } from '../eval/gridLogLikelihood.js';
import { encoderProposal, importanceSampledLogLikelihood } from '../eval/importanceSampling.js';
import { meanAndStderr } from '../eval/stats.js';
import { Rng } from '../random/rng.js';
import { writeJsonAtomic } from '../io/atomicFile.js';
import type { Progress } from '../progress.js';
import { loadRun } from './loadRun.js';
import type { LoadedRun } from './loadRun.js';

export interface EvalOptions {
  run: string;
  /** File to write the result to (default: `eval.json` in the run folder). */
  out?: string;
  /** Test points evaluated: `points` of the test split after the first `skip` (default 0). */
  points: number;
  /**
   * Test points passed over first, to shard one evaluation across processes: the binarisation
   * is drawn for the first `skip + points` examples, so shards see the points an unsharded run would.
   */
  skip?: number;
  ais: AisOptions;
  /** AIS start: the prior, or the encoder's Gaussian (VAE) / moment-matched Gaussian (AVB+AC). */
  start: 'prior' | 'encoder';
  /** IWAE samples per point for encoders with a density (0: skip). */
  iwaeSamples: number;
  /** Points per AIS batch (bounds memory: a batch holds points x chains decoder passes). */
  batchPoints: number;
  seed: number;
  onProgress?: Progress;
}

export const EVAL_FILE = 'eval.json';

/**
 * Evaluates a trained run on its test split: AIS log-likelihood (mean, standard error, per-point
 * values), the IWAE bound when the encoder has a density, and exact grid integration when the
 * latent is 2-D. Writes `eval.json` in the run folder.
 */
/** What `eval.json` holds. */
export interface EvalResult {
  run: string;
  /** Training steps of the checkpoint evaluated. */
  step: number;
  experiment: string;
  method: string;
  split: 'test' | 'train';
  /** `skip`: test points passed over before these (a shard of a larger evaluation). */
  logLikelihood: { mean: number; stderr: number; points: number; skip: number; perPoint: number[] };
  estimator: 'ais';
  settings: AisOptions & { start: EvalOptions['start']; seed: number; batchPoints: number };
  /** Mean HMC acceptance rate. */
  acceptance: number;
  /** Mean effective sample size of each point's chain weights (1..chains). */
  essMean: number;
  iwae?: { mean: number; stderr: number; samples: number };
  grid?: { mean: number; stderr: number; note: string };
  seconds: number;
}

export async function evaluateRun(o: EvalOptions): Promise<EvalResult> {
  const run = loadRun(o.run);
  const { config } = run;
  try {
    const ds = loadDataset(config.experiment, { scale: config.scale });
    const split = ds.test ?? ds.train;
    const skip = o.skip ?? 0;
    if (skip >= split.count) {
      throw new AvbUserError(
        `--skip ${skip} passes over every one of the ${split.count} test points; use a smaller --skip`,
      );
    }
    const points = Math.min(o.points, split.count - skip);
    const rng = new Rng(o.seed);
    const d = exampleSize(ds);
    const raw = split.x.subarray(0, (skip + points) * d);
    // Binary data is evaluated on one fixed binarisation of the test points (drawn from the seed),
    // as the authors did; real data as is.
    const data = (
      config.binarize && ds.kind === 'binary'
        ? Float32Array.from(raw, (p) => (rng.uniform() < p ? 1 : 0))
        : Float32Array.from(raw)
    ).subarray(skip * d);
    const began = performance.now();
    const r = await estimateInBatches(run, data, points, ds.exampleShape, rng, o);
    const result: EvalResult = {
      run: o.run,
      step: run.step,
      experiment: config.experiment,
      method: config.method,
      split: ds.test ? 'test' : 'train',
      logLikelihood: {
        ...meanAndStderr(r.perPoint),
        points,
        skip,
        perPoint: Array.from(r.perPoint),
      },
      estimator: 'ais',
      settings: { ...o.ais, start: o.start, seed: o.seed, batchPoints: o.batchPoints },
      acceptance: r.acceptance / points,
      essMean: r.essSum / points,
      seconds: 0,
    };
    if (r.iwae) result.iwae = { ...meanAndStderr(r.iwae), samples: o.iwaeSamples };
    if (config.latent === 2) {
      const x = tf.tensor(data, [points, ...ds.exampleShape]);
      const g = gridLogLikelihood(run.parts.decoder, x);
      x.dispose();
      result.grid = { ...meanAndStderr(g), note: 'exact up to the grid (2-D latent)' };
    }
    result.seconds = (performance.now() - began) / 1000;
    writeJsonAtomic(o.out ?? join(o.run, EVAL_FILE), result);
    return result;
  } finally {
    run.dispose();
  }
}

/** AIS (and IWAE where the encoder has a Gaussian) over `points` examples, `batchPoints` at a time. */
async function estimateInBatches(
  run: LoadedRun,
  data: Float32Array,
  points: number,
  exampleShape: number[],
  rng: Rng,
  o: EvalOptions,
) {
  const { config, parts } = run;
  const d = exampleSize({ exampleShape });
  const perPoint = new Float64Array(points);
  const iwae = new Float64Array(points);
  let acceptance = 0;
  let essSum = 0;
  let hasProposal = false;
  for (let from = 0; from < points; from += o.batchPoints) {
    const m = Math.min(o.batchPoints, points - from);
    const x = tf.tensor(data.subarray(from * d, (from + m) * d), [m, ...exampleShape]);
    const proposal = encoderProposal(parts.encoder, x, rng);
    hasProposal = proposal !== undefined;
    if (o.start === 'encoder' && !proposal) {
      throw new AvbUserError(
        `--ais-start encoder needs an encoder with a Gaussian (vae, or avb-ac's basis-vector encoder); ${config.encoder.type} has none: use --ais-start prior`,
      );
    }
    const start: AisStart =
      o.start === 'encoder' && proposal ? { kind: 'gaussian', ...proposal } : { kind: 'prior' };
    const r = await aisLogLikelihood(
      parts.decoder,
      x,
      config.latent,
      o.ais,
      rng.fork(),
      start,
      // AIS counts its pilot pass too (`steps` of its own): scale by the total it reports.
      (t, perBatch) => o.onProgress?.(from * perBatch + t * m, points * perBatch),
    );
    perPoint.set(r.perPoint, from);
    acceptance += r.acceptance * m;
    essSum += r.ess.reduce((a, b) => a + b, 0);
    if (proposal && o.iwaeSamples > 0) {
      iwae.set(
        importanceSampledLogLikelihood(parts.decoder, x, proposal, o.iwaeSamples, rng.fork())
          .perPoint,
        from,
      );
    }
    x.dispose();
  }
  return {
    perPoint,
    iwae: o.iwaeSamples > 0 && hasProposal ? iwae : undefined,
    acceptance,
    essSum,
  };
}

/**
 * One result from the shards of an evaluation (`skip` 0, then each shard starting where the last
 * ended): per-point values concatenated, the mean and standard error over all of them,
 * acceptance and ESS weighted by points, seconds summed (CPU time, not wall time).
 */
export function mergeEvalShards(shards: EvalResult[]): EvalResult {
  const sorted = [...shards].sort((a, b) => a.logLikelihood.skip - b.logLikelihood.skip);
  let next = 0;
  for (const s of sorted) {
    if (s.logLikelihood.skip !== next || s.step !== sorted[0].step)
      throw new Error(`mergeEvalShards: shards do not tile the test points (gap at ${next})`);
    next += s.logLikelihood.points;
  }
  const perPoint = sorted.flatMap((s) => s.logLikelihood.perPoint);
  const weighted = (f: (s: EvalResult) => number) =>
    sorted.reduce((a, s) => a + f(s) * s.logLikelihood.points, 0) / perPoint.length;
  const iwae = sorted.every((s) => s.iwae)
    ? {
        mean: weighted((s) => s.iwae!.mean),
        // Independent shards: the variance of a weighted mean.
        stderr:
          Math.sqrt(
            sorted.reduce((a, s) => a + (s.iwae!.stderr * s.logLikelihood.points) ** 2, 0),
          ) / perPoint.length,
        samples: sorted[0].iwae!.samples,
      }
    : undefined;
  // A grid value is of one shard's points only: the merged result has none.
  const { grid: _grid, ...first } = sorted[0];
  return {
    ...first,
    ...(sorted.length === 1 && _grid ? { grid: _grid } : {}),
    logLikelihood: {
      ...meanAndStderr(Float64Array.from(perPoint)),
      points: perPoint.length,
      skip: 0,
      perPoint,
    },
    acceptance: weighted((s) => s.acceptance),
    essMean: weighted((s) => s.essMean),
    ...(iwae ? { iwae } : {}),
    seconds: sorted.reduce((a, s) => a + s.seconds, 0),
  };
}
