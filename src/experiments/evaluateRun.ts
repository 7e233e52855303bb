import * as tf from '../tf.js';
import { join } from 'node:path';
import { loadDataset } from '../data/loadDataset.js';
import { exampleSize } from '../data/dataset.js';
import { AvbUserError } from '../errors.js';
import { aisLogLikelihood } from '../eval/ais.js';
import { bidirectionalMonteCarlo } from '../eval/bdmc.js';
import type { BdmcResult } from '../eval/bdmc.js';
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
  /**
   * Test points evaluated: `points` of the test sample after the first `skip` (default 0), the
   * sample being the test split in a random order drawn from `subsetSeed` (see
   * {@link testSampleOrder}); `Infinity`: all of them.
   */
  points: number;
  /** Test points of the sample passed over first, to shard one evaluation across processes. */
  skip?: number;
  /**
   * Seed of the test sample's order (default 1). Every method and shard evaluated with the same
   * seed sees the same digits, in the same binarisation; never "the first N" of the file, which
   * for MNIST are the easier half.
   */
  subsetSeed?: number;
  ais: AisOptions;
  /** AIS start: the prior, or the encoder's Gaussian (VAE) / moment-matched Gaussian (AVB+AC). */
  start: 'prior' | 'encoder';
  /** IWAE samples per point for encoders with a density (0: skip). */
  iwaeSamples: number;
  /** Points per AIS batch (bounds memory: a batch holds points x chains decoder passes). */
  batchPoints: number;
  /**
   * Points simulated from the trained model for a bidirectional Monte Carlo check of AIS with
   * these settings (`eval/bdmc.ts`, from the prior both ways); 0 or absent: none.
   */
  bdmcPoints?: number;
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
  /**
   * `skip`: test points of the sample passed over before these (a shard of a larger
   * evaluation); `indices`: each point's index in the test split (from 0), in `perPoint`'s order.
   */
  logLikelihood: {
    mean: number;
    stderr: number;
    points: number;
    skip: number;
    perPoint: number[];
    indices: number[];
  };
  estimator: 'ais';
  settings: AisOptions & {
    start: EvalOptions['start'];
    seed: number;
    subsetSeed: number;
    /** Size of the test split the sample is drawn from. */
    of: number;
    batchPoints: number;
  };
  /** Mean HMC acceptance rate. */
  acceptance: number;
  /** Mean effective sample size of each point's chain weights (1..chains). */
  essMean: number;
  iwae?: { mean: number; stderr: number; samples: number };
  grid?: { mean: number; stderr: number; note: string };
  /** The BDMC sandwich on data simulated from the model (`bdmcPoints`). */
  bdmc?: BdmcResult;
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
    const subsetSeed = o.subsetSeed ?? 1;
    const indices = testSampleOrder(split.count, subsetSeed).slice(skip, skip + points);
    const d = exampleSize(ds);
    // The streams: the binarisation, then AIS's, one per shard (a shard's AIS noise is not that of
    // another shard's points).
    const root = new Rng(o.seed);
    const binarisation = root.fork();
    const aisStreams = root.fork();
    for (let k = 0; k < skip; k++) aisStreams.fork();
    const rng = aisStreams.fork();
    // Binary data is evaluated on one fixed binarisation of the whole test split (drawn from the
    // seed, in the split's order), as the authors did, so that every method and shard sees the
    // same binary digits; real data as is.
    const binary = config.binarize && ds.kind === 'binary';
    const whole = binary
      ? Float32Array.from(split.x, (p) => (binarisation.uniform() < p ? 1 : 0))
      : split.x;
    const data = new Float32Array(points * d);
    indices.forEach((i, r) => data.set(whole.subarray(i * d, (i + 1) * d), r * d));
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
        indices,
      },
      estimator: 'ais',
      settings: {
        ...o.ais,
        start: o.start,
        seed: o.seed,
        subsetSeed,
        of: split.count,
        batchPoints: o.batchPoints,
      },
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
    if (o.bdmcPoints)
      result.bdmc = await bidirectionalMonteCarlo(
        run.parts.decoder,
        config.latent,
        o.bdmcPoints,
        o.ais,
        root.fork(),
      );
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
 * The order in which an evaluation takes test points: a uniformly random permutation of
 * 0..count−1 (Fisher–Yates) drawn from `seed`, the same in every process, so that `points`
 * after `skip` is a random sample and shards of it tile one sample.
 */
export function testSampleOrder(count: number, seed: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  const rng = new Rng(seed);
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
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
    if (s.settings.subsetSeed !== sorted[0].settings.subsetSeed)
      throw new Error('mergeEvalShards: the shards are of test samples with different seeds');
    if (s.logLikelihood.skip !== next || s.step !== sorted[0].step)
      throw new Error(`mergeEvalShards: shards do not tile the test points (gap at ${next})`);
    next += s.logLikelihood.points;
  }
  const perPoint = sorted.flatMap((s) => s.logLikelihood.perPoint);
  const indices = sorted.flatMap((s) => s.logLikelihood.indices);
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
      indices,
    },
    acceptance: weighted((s) => s.acceptance),
    essMean: weighted((s) => s.essMean),
    ...(iwae ? { iwae } : {}),
    seconds: sorted.reduce((a, s) => a + s.seconds, 0),
  };
}
