import * as tf from '../tf.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../data/loadDataset.js';
import { exampleSize } from '../data/dataset.js';
import { AvbUserError } from '../errors.js';
import { aisLogLikelihood } from '../eval/ais.js';
import { bidirectionalMonteCarlo } from '../eval/bdmc.js';
import type { BdmcResult } from '../eval/bdmc.js';
import type { AisOptions, AisSnapshot, AisStart } from '../eval/ais.js';
import { gridLogLikelihood } from '../eval/gridLogLikelihood.js';
import { encoderProposal, importanceSampledLogLikelihood } from '../eval/importanceSampling.js';
import { meanAndStderr } from '../eval/stats.js';
import { Rng } from '../random/rng.js';
import { writeJsonAtomic } from '../io/atomicFile.js';
import type { Progress } from '../progress.js';
import { loadRun } from './loadRun.js';
import type { LoadedRun } from './loadRun.js';
import { requireRunFolder } from './runFolder.js';

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
   * these settings (`eval/bdmc.ts`, from and to the same start as the estimate); 0 or absent:
   * none.
   */
  bdmcPoints?: number;
  seed: number;
  onProgress?: Progress;
  /**
   * Called once when the evaluation continues an interrupted one ({@link partialEvalFile}):
   * `done` of the `points` were estimated before, and `inBatch.steps` annealing steps of the next
   * batch's `inBatch.of` (the pilot's and the estimate's; 0 when it starts that batch over).
   */
  onResume?: (
    done: number,
    points: number,
    file: string,
    inBatch: { steps: number; of: number },
  ) => void;
  /**
   * Seconds between snapshots of the AIS run inside a batch, kept in the partial file (default
   * 60, checked every 20 annealing steps: a long run on one batch, such as 1,000 steps on 100
   * MNIST digits, 999-1,036 s on the conv decoder, loses little more than a minute to an
   * interruption, not the whole batch).
   */
  snapshotSeconds?: number;
}

export const EVAL_FILE = 'eval.json';

/**
 * Where an evaluation writing `out` keeps what it has finished until it is done: AIS's per-point
 * values batch by batch (`batchPoints` at a time) with its random stream's state, so that an
 * interrupted evaluation (Ctrl-C, a killed process, the end of a session) rerun with the same
 * command loses at most one batch and ends with the very numbers an uninterrupted one gives.
 * Removed once `out` is written.
 */
export function partialEvalFile(out: string): string {
  return `${out}.partial`;
}

/** What {@link partialEvalFile} holds. */
interface EvalPartial {
  format: 'avb-eval-partial';
  /** Everything the result depends on (the checkpoint's hash, the settings): resume only on a match. */
  key: string;
  /** Points estimated so far (whole batches, from the first). */
  done: number;
  perPoint: number[];
  iwae: number[];
  acceptance: number;
  essSum: number;
  /** The AIS stream's state after the last finished batch. */
  rng: number[];
  /**
   * The batch after those `done`, part way: its AIS run's latest snapshot (absent before the
   * first one). The batch's proposal and streams are drawn again from `rng`, as the first time.
   */
  batch?: AisSnapshot;
  /** Seconds spent so far, over every attempt. */
  seconds: number;
}

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
    const out = o.out ?? join(o.run, EVAL_FILE);
    const progress = evaluationProgress(o, out, run.step, { points, skip, subsetSeed }, began);
    const r = await estimateInBatches(run, data, points, ds.exampleShape, rng, o, progress);
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
    if (o.bdmcPoints) result.bdmc = await bdmcCheck(run, o, o.bdmcPoints, root);
    result.seconds = progress.seconds();
    writeJsonAtomic(out, result);
    rmSync(progress.file, { force: true });
    return result;
  } finally {
    run.dispose();
  }
}

/**
 * The BDMC sandwich on `points` digits simulated from the model, with the estimate's own
 * settings: with an encoder start, AIS on each simulated digit starts (and reverse AIS ends) at
 * the encoder's Gaussian for it.
 */
function bdmcCheck(run: LoadedRun, o: EvalOptions, points: number, root: Rng) {
  const bdmcRng = root.fork();
  const proposalRng = o.start === 'encoder' ? root.fork() : undefined;
  return bidirectionalMonteCarlo(
    run.parts.decoder,
    run.config.latent,
    points,
    o.ais,
    bdmcRng,
    undefined,
    proposalRng
      ? (x) => ({
          kind: 'gaussian',
          ...encoderProposal(run.parts.encoder, x, proposalRng, run.config.ac.covariance)!,
        })
      : undefined,
  );
}

/** AIS (and IWAE where the encoder has a Gaussian) over `points` examples, `batchPoints` at a time. */
async function estimateInBatches(
  run: LoadedRun,
  data: Float32Array,
  points: number,
  exampleShape: number[],
  stream: Rng,
  o: EvalOptions,
  { resumed, save, due }: ReturnType<typeof evaluationProgress>,
) {
  const { config, parts } = run;
  const d = exampleSize({ exampleShape });
  const perPoint = new Float64Array(points);
  const iwae = new Float64Array(points);
  let acceptance = resumed?.acceptance ?? 0;
  let essSum = resumed?.essSum ?? 0;
  const first = resumed?.done ?? 0;
  if (resumed) {
    perPoint.set(resumed.perPoint);
    iwae.set(resumed.iwae);
  }
  // The stream continues where the finished batches left it: the same numbers as one go.
  const rng = resumed ? Rng.fromState(resumed.rng) : stream;
  let hasProposal = false;
  // The part done: the first `done` points' values and the stream's state after them.
  const finished = (done: number) => ({
    done,
    perPoint: Array.from(perPoint.subarray(0, done)),
    iwae: Array.from(iwae.subarray(0, done)),
    acceptance,
    essSum,
    rng: rng.state(),
  });
  for (let from = first; from < points; from += o.batchPoints) {
    const m = Math.min(o.batchPoints, points - from);
    // This batch's snapshots are saved with the batches before it and the stream as it was then.
    const before = finished(from);
    const x = tf.tensor(data.subarray(from * d, (from + m) * d), [m, ...exampleShape]);
    const proposal = encoderProposal(parts.encoder, x, rng, config.ac.covariance);
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
      {
        from: from === first ? resumed?.batch : undefined,
        save: (batch) => save({ ...before, batch }),
        due,
      },
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
    save(finished(from + m));
  }
  // Whether the encoder has a proposal is the same for every batch: ask once more if all were
  // done before this attempt.
  if (first >= points) hasProposal = hasEncoderProposal(run);
  return {
    perPoint,
    iwae: o.iwaeSamples > 0 && hasProposal ? iwae : undefined,
    acceptance,
    essSum,
  };
}

/**
 * The partial file of the evaluation writing `out` (see {@link partialEvalFile}): the part an
 * interrupted attempt finished (if it was of this very checkpoint and these settings), how to
 * save this attempt's, and the seconds spent over all attempts.
 */
function evaluationProgress(
  o: EvalOptions,
  out: string,
  step: number,
  sample: { points: number; skip: number; subsetSeed: number },
  began: number,
) {
  const file = partialEvalFile(out);
  const key = JSON.stringify({
    checkpoint: createHash('sha256')
      .update(readFileSync(requireRunFolder(o.run).checkpoint))
      .digest('hex'),
    step,
    ...sample,
    ais: o.ais,
    start: o.start,
    iwaeSamples: o.iwaeSamples,
    batchPoints: o.batchPoints,
    bdmcPoints: o.bdmcPoints ?? 0,
    seed: o.seed,
  });
  const resumed = readPartial(file, key);
  if (resumed) {
    const b = resumed.batch;
    const pilot = o.ais.adapt === 'pilot' ? o.ais.steps : 0;
    const steps = !b ? 0 : b.phase === 'pilot' ? b.run.t : pilot + b.run.t;
    o.onResume?.(resumed.done, sample.points, file, { steps, of: pilot + o.ais.steps });
  }
  const seconds = () => (resumed?.seconds ?? 0) + (performance.now() - began) / 1000;
  // The clock of snapshots inside a batch: one is due a while after the latest save of any kind.
  let savedAt = performance.now();
  const due = () => performance.now() - savedAt >= (o.snapshotSeconds ?? 60) * 1000;
  const save = (p: Omit<EvalPartial, 'format' | 'key' | 'seconds'>) => {
    writeJsonAtomic(file, {
      format: 'avb-eval-partial',
      key,
      ...p,
      seconds: seconds(),
    } satisfies EvalPartial);
    savedAt = performance.now();
  };
  return { file, resumed, save, due, seconds };
}

/**
 * The finished part of an interrupted evaluation at `file`, if it was one of these very settings
 * and checkpoint (else undefined: it starts over, replacing that file). A file there that is not
 * avb's partial evaluation is the user's: refused, not overwritten.
 */
function readPartial(file: string, key: string): EvalPartial | undefined {
  if (!existsSync(file)) return undefined;
  let p: Partial<EvalPartial> | undefined;
  try {
    p = JSON.parse(readFileSync(file, 'utf8')) as Partial<EvalPartial>;
  } catch {
    p = undefined;
  }
  if (p?.format !== 'avb-eval-partial')
    throw new AvbUserError(
      `${file} is in the way: it is not avb's partial evaluation; move it or choose another --out`,
    );
  return p.key === key ? (p as EvalPartial) : undefined;
}

/** Whether the run's encoder gives AIS and IWAE a Gaussian proposal (the VAE's, AVB+AC's r). */
function hasEncoderProposal(run: LoadedRun): boolean {
  const x = tf.zeros([1, ...run.data.exampleShape]);
  try {
    return encoderProposal(run.parts.encoder, x, new Rng(0)) !== undefined;
  } finally {
    x.dispose();
  }
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
