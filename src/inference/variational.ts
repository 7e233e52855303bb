import * as tf from '../tf.js';
import { MinibatchSampler } from '../data/sampler.js';
import { AvbUserError } from '../errors.js';
import { ConcatMlpAdversary } from '../nn/adversaries.js';
import { ConcatNoiseEncoder } from '../nn/encoders.js';
import { adaptiveContrastObjective, batchContrast } from '../objectives/adaptiveContrast.js';
import { paretoKHat } from '../math/paretoKHat.js';
import { importanceCheck } from '../math/importanceCheck.js';
import { steinCheck } from '../math/steinCheck.js';
import { affineRefit } from '../math/affineRefit.js';
import type { AffineRefit, RowsEvaluator } from '../math/affineRefit.js';
import type { SteinCheck } from '../math/steinCheck.js';
import type { ImportanceCheck } from '../math/importanceCheck.js';
import { DEFAULT_ENSEMBLE_HMC, ensembleHmc } from '../math/ensembleHmc.js';
import type { EnsembleHmc } from '../math/ensembleHmc.js';
import { fitDistrust } from './fitTrust.js';
import { avbObjective, logStandardNormal } from '../objectives/avb.js';
import { Rng } from '../random/rng.js';
import { describeDivergence, fit } from '../train/fit.js';
import type { Fittable, StepMetrics } from '../train/fit.js';
import { LossStepper } from '../train/lossStepper.js';
import { batchLogJoint } from './batchLogJoint.js';
import { ModelDecoder, NO_DATA } from './modelDecoder.js';
import { DrawPool } from './drawPool.js';
import type { PoolEntry, PoolShift } from './drawPool.js';
import { preconditionedTarget, whiteningFactor, type ModeSearch } from './laplace.js';
import type { FitTarget } from './laplace.js';
import { Trainer } from '../train/trainer.js';
import type { Progress, WorkHooks } from '../progress.js';
import type { BayesianModel, Draws } from './model.js';

/** Reports progress: `done` of `total` iterations (or draws), and a few figures to show. */
/** Progress of inference: the shared {@link Progress} callback. */
export type InferenceProgress = Progress;

/** What every variational method shares. */
export interface VariationalOptions {
  iterations: number;
  /** Monte Carlo samples of q per iteration. */
  batch: number;
  learningRate: number;
  /** Draws of q returned at the end. */
  samples: number;
  /** Seed of every random number the method draws (initial weights, noise). */
  seed: number;
  onProgress?: InferenceProgress;
  /** Checkpoints and resuming (`avb infer --out`, `experiments/inferRun.ts`). */
  persistence?: FitPersistence;
  /**
   * `laplace` (default): fit q in coordinates whitened by a Laplace approximation (the mode and
   * curvature of the posterior, `laplace.ts`), so that its scale and correlations do not matter;
   * falls back to `none` when the posterior has no usable mode. `none`: the model's own
   * coordinates.
   */
  precondition?: 'laplace' | 'none';
  /** Starts of the Laplace fit's mode search (default 4: z = 0 and three random points). */
  modeStarts?: number;
  /**
   * Stop before `iterations` once the ELBO has stopped rising (checked every
   * {@link CONVERGENCE_CHECK_EVERY} iterations from {@link CONVERGENCE_CHECK_FROM} on; see
   * {@link elboConvergence}); `iterations` is then the cap. Default true.
   */
  stopWhenConverged?: boolean;
  /**
   * HMC from q's draws after the fit, one chain per draw (`math/ensembleHmc.ts`), which moves
   * them to the posterior where the fit's shape is wrong: `auto`, only when the fit's own checks
   * fail (`fitTrust.ts`); `always`; `never`. AVB's default is `auto`, ADVI's `never` (the
   * baseline as Stan runs it; a mean-field q far too narrow needs long chains).
   */
  polish?: PolishMode;
}

export type PolishMode = 'auto' | 'always' | 'never';

/** Iterations before the first convergence check, and between checks. */
export const CONVERGENCE_CHECK_FROM = 2000;
export const CONVERGENCE_CHECK_EVERY = 500;

/**
 * How a variational fit is checkpointed and resumed: the snapshot of an earlier segment to
 * continue from, a hook for every new snapshot (every `snapshotEvery` iterations and when
 * stopped), one for every iteration's metrics, and a stop poll (Ctrl-C). A resumed fit takes the
 * same steps and returns the same draws as an uninterrupted one.
 */
export interface FitPersistence {
  resumeFrom?: unknown;
  snapshotEvery?: number;
  onSnapshot?: (snapshot: unknown, iteration: number) => void;
  onStep?: (m: StepMetrics) => void;
  shouldStop?: () => boolean;
}

export interface AdviOptions extends VariationalOptions {
  /** `meanfield`: q = N(m, diag exp(2 omega)); `fullrank`: q = N(m, L L^T). */
  kind: 'meanfield' | 'fullrank';
}

export const DEFAULT_ADVI: AdviOptions = {
  kind: 'fullrank',
  iterations: 10000,
  batch: 16,
  learningRate: 1e-2,
  samples: 4000,
  seed: 1,
};

export interface VariationalResult {
  /**
   * Pareto k̂ of the importance weights p(z, data) / q(z) at q's draws (`math/paretoKHat.ts`):
   * above 0.7 q misses posterior mass. ADVI's q has a density; AVB's implicit q is given one by
   * its adversary (T estimates log q - log N(0, I), or log q - log r with adaptive contrast).
   */
  paretoK?: number;
  /** Whether the ELBO had stopped rising by the end ({@link elboConvergence}). */
  convergence?: Convergence;
  /** q's means and sds against their importance-weighted correction (`math/importanceCheck.ts`). */
  importance?: ImportanceCheck;
  /**
   * q's means and sds against the posterior's as Stein's identities estimate them from q's draws
   * and the model's gradient (`math/steinCheck.ts`), in the model's unconstrained coordinates:
   * needs no density of q, so it holds for AVB as for ADVI.
   */
  stein?: SteinCheck;
  /** AVB: what the affine refit of q's draws did (absent when it is off). */
  affineRefit?: AffineRefitSummary;
  /**
   * AVB with the affine refit: the Stein check of the adversarial fit's own draws. The refit
   * moves q until the check on its draws (`stein`) passes, so that one says only whether the
   * refit got there; this one says whether the fit did, which is what vouches for q's shape.
   */
  steinBeforeRefit?: SteinCheck;
  /**
   * What the polish did (absent when it did not run): the draws are then the chains', and k̂,
   * the importance and Stein checks, and the convergence above are the fit's, which it replaced.
   */
  polish?: PolishSummary;
  /** Iterations run: the cap, or fewer when the fit stopped on convergence. */
  iterations?: number;
  /** How q's coordinates were chosen (see `VariationalOptions.precondition`). */
  preconditioning: string;
  /** What the Laplace fit's mode search found (absent without one). */
  modeSearch?: ModeSearch;
  /** `interrupted`: stopped by `persistence.shouldStop` after a snapshot; no draws. */
  status: 'completed' | 'interrupted';
  draws: Draws;
  /** ELBO estimate every 100 iterations (T-based for AVB: an estimate, not a bound). */
  elboTrace: number[];
  seconds: number;
}

/**
 * How the affine refit moved AVB's q (`math/affineRefit.ts`): steps kept, the exact ELBO's rise
 * (nats), the largest mean change in q's sds and the sd ratio farthest from 1, and whether it
 * ended within its tolerance.
 */
export interface AffineRefitSummary {
  steps: number;
  gain: number;
  meanMoved: number;
  sdRatio: number;
  converged: boolean;
}

/**
 * The polish of a fit (`math/ensembleHmc.ts`): why it ran; transitions run, the one after which
 * the chains had forgotten q's draws, and whether they ran their extra half after it; their
 * largest correlation with q's draws at the end; step size, mean acceptance, divergent
 * proposals of all `proposals` (chains × transitions after adaptation); how far the draws
 * moved (largest mean change in q's sds, sd ratio farthest from 1); seconds; or `skipped` with
 * why it could not run.
 */
export type PolishSummary = Omit<EnsembleHmc, 'z' | 'logp' | 'grads' | 'evaluations'> & {
  reason: string;
  /** Whether the fit's own checks had failed (`reason` says which); false: `--polish always`. */
  fitFailed: boolean;
  skipped?: string;
  proposals: number;
  seconds: number;
};

/**
 * `result` with its draws polished by HMC (see {@link VariationalOptions.polish}) when `mode`
 * asks for it: `z` q's draws in the fit's coordinates, `at` gives log p and its gradient there
 * (evaluated only if the polish runs). `'stopped'`: `hooks.shouldStop` said so during it.
 */
async function polished(
  result: VariationalResult,
  on: FitTarget,
  z: Float32Array | Float64Array,
  at: () => { values: Float64Array; grads: Float64Array },
  mode: PolishMode,
  seed: number,
  avb: boolean,
  hooks: WorkHooks,
): Promise<VariationalResult | 'stopped'> {
  if (mode === 'never') return result;
  const distrust = fitDistrust(result, avb);
  if (mode === 'auto' && !distrust) return result;
  const reason = distrust ?? 'asked for';
  const fitFailed = distrust !== undefined;
  const began = performance.now();
  const d = on.target.dim;
  const n = z.length / d;
  // Its own stream, from the seed alone: a resumed fit polishes the same way.
  const h = await ensembleHmc(
    Float64Array.from(z),
    d,
    rowsEvaluator(on.target),
    at(),
    new Rng(seed ^ 0x5bd1e995),
    {},
    hooks,
  );
  if (h === 'stopped') return 'stopped';
  const seconds = (performance.now() - began) / 1000;
  if (!h) {
    const none = {
      iterations: 0,
      converged: false,
      memory: 1,
      drift: NaN,
      stepSize: NaN,
      acceptance: NaN,
    };
    return {
      ...result,
      polish: {
        reason,
        fitFailed,
        skipped: "q's draws have a singular covariance",
        ...none,
        divergent: 0,
        proposals: 0,
        meanMoved: 0,
        sdRatio: 1,
        seconds,
      },
    };
  }
  const adapted = Math.max(0, h.iterations - DEFAULT_ENSEMBLE_HMC.adaptIterations);
  const { z: chains, logp: _logp, grads: _grads, evaluations: _evaluations, ...figures } = h;
  return {
    ...result,
    draws: drawsFrom(on.target, Float32Array.from(chains), n),
    polish: { reason, fitFailed, ...figures, proposals: adapted * n, seconds },
    seconds: result.seconds + seconds,
  };
}

function drawsFrom(model: BayesianModel, z: Float32Array, n: number): Draws {
  const d = model.dim;
  const values: number[][] = [];
  for (let i = 0; i < n; i++) values.push(model.summarize(z.subarray(i * d, (i + 1) * d)));
  return { names: model.summaryNames, values };
}

/**
 * Runs a variational fit on {@link fit}: the divergence policy every optimisation of avb has (a
 * refused step goes back to the last snapshot, every 1,000 iterations, with the rates halved, at
 * most 5 times), and the ELBO recorded every 100 iterations for the trace and the progress line.
 * Throws a one-line error when the fit gives up.
 */
async function fitVariational<S>(
  target: Fittable<S>,
  o: VariationalOptions,
  method: string,
  elboOf: (m: StepMetrics) => number,
  pool?: PoolHooks,
  hint = '',
): Promise<FittedVariational> {
  let converged = false;
  const elbos: number[] = [];
  const p = o.persistence;
  // A checkpoint holds the fit's state and its ELBO history, so that a resumed fit makes the
  // same convergence decisions as an uninterrupted one; `converged` marks the one written when
  // the fit stopped on convergence, so that a run stopped after it (in the refit or the polish)
  // goes on from there and does not train on.
  const saved = p?.resumeFrom as FitCheckpoint<S> | undefined;
  const resumeFrom = saved?.fit;
  if (saved) {
    target.restore(saved.fit);
    elbos.push(...saved.elbos);
    if (saved.pool) pool?.pool.restore(saved.pool);
  }
  const ended = (stopped: boolean): FittedVariational => ({
    trace: elboTrace(elbos),
    stopped,
    convergence: finalConvergence(elbos, pool, elbos.length),
    iterations: elbos.length,
  });
  if (saved?.converged) return ended(false);
  const r = await fit(target, {
    until: o.iterations,
    onNan: 'rollback',
    yieldEvery: 100,
    snapshotEvery: p?.snapshotEvery,
    lastGood: resumeFrom,
    onSnapshot: p?.onSnapshot
      ? (snapshot, step) =>
          p.onSnapshot!(
            {
              fit: snapshot,
              elbos: elbos.slice(0, step),
              pool: pool?.pool.snapshot(),
              ...(converged ? { converged } : {}),
            },
            step,
          )
      : undefined,
    // A finite blow-up of the ELBO is rolled back as a non-finite step is; a resumed fit's guard
    // replays its ELBO history.
    spikes: { lossOf: (m) => -elboOf(m), history: saved?.elbos.map((e) => -e) },
    // Steps undone by a rollback leave the ELBO history too.
    onRollback: ({ backTo }) => {
      elbos.length = Math.min(elbos.length, backTo);
      pool?.pool.rollback(backTo);
    },
    shouldStop: p?.shouldStop,
    onStep: (m) => {
      p?.onStep?.(m);
      const elbo = elboOf(m);
      elbos.push(elbo);
      if (pool && m.step % pool.pool.every === 0) pool.pool.add(pool.draw(m.step));
      if ((m.step - 1) % 100 === 0 || m.step === o.iterations)
        o.onProgress?.(m.step, o.iterations, `elbo ${elbo.toFixed(3)}`);
      if (
        o.stopWhenConverged !== false &&
        m.step >= CONVERGENCE_CHECK_FROM &&
        m.step % CONVERGENCE_CHECK_EVERY === 0 &&
        m.step < o.iterations &&
        canStop(elbos, pool, m.step)
      ) {
        converged = true;
        return 'stop';
      }
    },
  });
  if (r.status === 'diverged')
    throw new AvbUserError(
      `${method} diverged (${describeDivergence(r.divergence!)}) after ${r.rollbacks} rollbacks with halved learning rates; lower them or check the model's log joint${hint}`,
    );
  return ended(r.status === 'stopped' && !converged);
}

/** A fit's end: its ELBO trace, whether it was stopped before it, its convergence, its length. */
interface FittedVariational {
  trace: number[];
  stopped: boolean;
  convergence: Convergence;
  iterations: number;
}

/** What {@link fitVariational}'s checkpoints hold. */
interface FitCheckpoint<S> {
  fit: S;
  /** The ELBO estimate of every iteration so far. */
  elbos: number[];
  pool?: PoolEntry[];
  /** Written when the fit stopped on convergence: the iterations are over. */
  converged?: true;
}

/**
 * The ELBO trace of the plot and the result: every 100th iteration's estimate (the 1st, 101st,
 * ...) and the last's, from the whole history (a resumed fit's too; a rolled-back step's
 * estimate left it with the step).
 */
function elboTrace(elbos: number[]): number[] {
  return elbos.filter((_, i) => i % 100 === 0 || i === elbos.length - 1);
}

/**
 * Whether a fit may stop at `step`: stopping asks more than the end-of-fit check (no ELBO rise
 * beyond the noise, 3 se, or 0.01 nats, whatever the ELBO's size), and with a pool (AVB), a q
 * that has stopped moving.
 */
function canStop(elbos: number[], pool: PoolHooks | undefined, step: number): boolean {
  const c = elboConvergence(elbos);
  const settled = pool ? (pool.pool.shift(step)?.stable ?? false) : true;
  return c.converged && c.rise < Math.max(3 * c.se, 0.01) && settled;
}

/** The end-of-fit convergence: the ELBO's, and with a pool (AVB) whether q had settled. */
function finalConvergence(elbos: number[], pool: PoolHooks | undefined, last: number) {
  const elbo = elboConvergence(elbos);
  const shift = pool?.pool.shift(last) ?? undefined;
  if (!shift) return elbo;
  return {
    ...elbo,
    converged: elbo.converged && shift.stable,
    elboConverged: elbo.converged,
    qShift: shift,
  };
}

/** A fit's pool of q's draws ({@link DrawPool}) and how to draw a set at an iteration. */
interface PoolHooks {
  pool: DrawPool;
  draw: (step: number) => PoolEntry;
}

/** Whether the ELBO had stopped rising: the last fifth of a fit against the fifth before it. */
export interface Convergence {
  converged: boolean;
  /** Mean ELBO estimate of the last fifth minus the fifth before (nats). */
  rise: number;
  /** Its standard error, by batch means (10 batches a window: the estimates are correlated). */
  se: number;
  /**
   * AVB: how far q moved between the two halves of the pool's window ({@link SETTLE_WINDOW}). A fit
   * whose q still moves has not converged, whatever its ELBO does.
   */
  qShift?: PoolShift;
  /** With `qShift`: whether the ELBO alone had converged (`converged` asks both). */
  elboConverged?: boolean;
}

/**
 * A fit has converged when its ELBO estimates' last fifth is no higher than the fifth before,
 * beyond 3 standard errors or 0.1% of the ELBO: a fit still climbing has not. Fewer than 500
 * iterations cannot tell, and count as not converged.
 */
export function elboConvergence(elbos: number[]): Convergence {
  const w = Math.floor(elbos.length / 5);
  if (w < 100) return { converged: false, rise: NaN, se: NaN };
  const batches = (from: number) =>
    Array.from({ length: 10 }, (_, b) => {
      const lo = from + Math.floor((b * w) / 10);
      const hi = from + Math.floor(((b + 1) * w) / 10);
      return elbos.slice(lo, hi).reduce((s, v) => s + v, 0) / (hi - lo);
    });
  const stats = (v: number[]) => {
    const m = v.reduce((s, x) => s + x, 0) / v.length;
    return { m, var: v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1) / v.length };
  };
  const a = stats(batches(elbos.length - 2 * w));
  const b = stats(batches(elbos.length - w));
  const rise = b.m - a.m;
  const se = Math.sqrt(a.var + b.var);
  const converged = !Number.isFinite(rise)
    ? false
    : rise < 3 * se || rise < 1e-3 * (1 + Math.abs(b.m));
  return { converged, rise, se };
}

/**
 * The result of a finished fit: q's draws `values` (`[samples, d]` in the fit's coordinates,
 * summarised by `target` into the model's quantities), with the Pareto k̂ of their log weights
 * `logW` = log p(z, data) - log q(z).
 */
function completed(
  fitted: FittedVariational,
  model: BayesianModel,
  on: FitTarget,
  values: Float32Array,
  logW: ArrayLike<number>,
  began: number,
  grads?: Float64Array,
): VariationalResult {
  const draws = drawsFrom(on.target, values, values.length / on.target.dim);
  return {
    status: 'completed',
    preconditioning: on.preconditioning,
    ...(on.modeSearch ? { modeSearch: on.modeSearch } : {}),
    paretoK: paretoKHat(logW),
    importance: importanceCheck(draws.values, logW, draws.names),
    stein: steinAt(model, on, values, grads),
    convergence: fitted.convergence,
    iterations: fitted.iterations,
    draws,
    elboTrace: fitted.trace,
    seconds: (performance.now() - began) / 1000,
  };
}

/**
 * {@link steinCheck} at q's draws `values` (`[n, d]` in the fit's coordinates), reported in the
 * model's unconstrained coordinates. The gradient in doubles where the model has one (at all
 * the draws together where it can), else tfjs's, in chunks.
 */
function steinAt(model: BayesianModel, on: FitTarget, values: Float32Array, grads?: Float64Array) {
  const d = on.target.dim;
  const n = values.length / d;
  const grad = grads ?? rowsEvaluator(on.target)(Float64Array.from(values), n).grads;
  const w = on.whitening;
  const l = w && whiteningFactor(w.fit, d, w.diagonal);
  return steinCheck(Float64Array.from(values), grad, d, model.parameterNames, l);
}

/**
 * log p and ∇ log p of a model at n points (rows), in doubles where the model has them (at all
 * the points together where it can), else tfjs's, in chunks of 1,000 rows.
 */
function rowsEvaluator(target: BayesianModel): RowsEvaluator {
  const d = target.dim;
  const rows = target.logDensityAndGradientRows;
  const exact = target.logDensityAndGradient;
  if (rows) return (z, n) => rows(z, n);
  if (exact)
    return (z, n) => {
      const values = new Float64Array(n);
      const grads = new Float64Array(n * d);
      for (let i = 0; i < n; i++) {
        const e = exact(z.slice(i * d, (i + 1) * d));
        values[i] = e.logp;
        grads.set(e.grad, i * d);
      }
      return { values, grads };
    };
  const vg = tf.valueAndGrad((u: tf.Tensor) => tf.sum(target.logJoint(u as tf.Tensor2D)));
  return (z, n) => {
    const values = new Float64Array(n);
    const grads = new Float64Array(n * d);
    for (let from = 0; from < n; from += 1000) {
      const m = Math.min(1000, n - from);
      tf.tidy(() => {
        const u = tf.tensor2d(Float32Array.from(z.subarray(from * d, (from + m) * d)), [m, d]);
        grads.set(vg(u).grad.dataSync(), from * d);
        values.set(target.logJoint(u).dataSync(), from);
      });
    }
    return { values, grads };
  };
}

/** What the affine refit did, for the result and the summary. */
function refitSummary(r: AffineRefit): AffineRefitSummary {
  return {
    steps: r.steps,
    gain: r.gain,
    meanMoved: r.meanMoved,
    sdRatio: r.sdRatio,
    converged: r.converged,
  };
}

/**
 * The hooks of the work after a fit (the refit, the polish): the fit's progress line and stop
 * request. A run stopped there resumes from the fit's last checkpoint, written as it ended, and
 * does that work again, with the same draws (its streams come from the seed alone).
 */
function afterFitHooks(o: VariationalOptions): WorkHooks {
  return { onProgress: o.onProgress, shouldStop: o.persistence?.shouldStop };
}

/**
 * What a fit's divergence error adds when its warm start found what most often causes one (and
 * so q ran unwhitened):
 * - the log density not finite near the mode: a wall the program does not declare (posteriordb's
 *   dogs_log with its uniform priors' walls written as a condition), which the draws cross;
 * - no mode, every search climbing to the end, or a mode flat in some direction: often an
 *   improper posterior (a flat prior on a scale the data do not pin down: y ~ normal(mu, sigma)
 *   with one y), along which q grows until the loss jumps (AVB+AC at step 5,479 on that one).
 */
export function divergenceHint(on: FitTarget): string {
  if (on.nearModeNotFinite)
    return '; the log density is not finite near its mode (a wall the program does not declare, such as if (x > 0) target += negative_infinity(); on an unbounded real? declare the bound the posterior is near: real<upper=0> x)';
  if (on.noMode)
    return '; the mode search found no mode with curvature in every direction (an improper posterior? give each parameter a proper prior)';
  return '';
}

/** The result of a fit stopped before its end: no draws yet. */
function interrupted(model: BayesianModel, began: number): VariationalResult {
  return {
    status: 'interrupted',
    preconditioning: '',
    draws: { names: model.summaryNames, values: [] },
    elboTrace: [],
    seconds: (performance.now() - began) / 1000,
  };
}

/**
 * Gaussian variational inference with reparameterisation gradients (ADVI, Kucukelbir et al.
 * 2017): `meanfield` q = N(m, diag exp(2 omega)); `fullrank` q = N(m, L L^T) with L lower
 * triangular (positive diagonal via exp). Maximises E_q[log p(z, data)] + entropy with Adam on
 * {@link fit}: a step with a non-finite loss or gradient is refused, never applied. The q
 * returned has the polynomial-decay average of the fit's parameters (about its last fifth):
 * Adam at a constant rate leaves the last step's mean a few hundredths of a posterior sd off.
 *
 * ```ts
 * const r = await advi(eightSchoolsPaper(), { kind: 'meanfield', iterations: 5000, seed: 3 });
 * ```
 */
export async function advi(
  model: BayesianModel,
  options: Partial<AdviOptions> = {},
): Promise<VariationalResult> {
  const o = { ...DEFAULT_ADVI, ...options };
  const rng = new Rng(o.seed);
  const began = performance.now();
  const d = model.dim;
  const on = preconditionedTarget(
    model,
    o.precondition ?? 'laplace',
    o.kind === 'meanfield',
    o.seed,
    o.modeStarts,
  );
  const target = on.target;
  const m = tf.variable(tf.zeros([d]));
  const omega = tf.variable(tf.zeros([d]));
  const lower = tf.variable(tf.zeros([d, d]));
  const eye = tf.eye(d);
  const mask = tf.linalg.bandPart(tf.ones([d, d]), -1, 0).sub(eye);
  const weights = o.kind === 'meanfield' ? [m, omega] : [m, omega, lower];
  // z = m + eps (diag(exp omega) + strictly-lower part)^T; entropy = sum omega + const.
  const sample = (eps: tf.Tensor) => {
    // eye * exp(omega) is diag(exp(omega)) (tf.diag has no gradient in tfjs 4.22).
    const diagonal = tf.mul(eye, tf.exp(omega));
    const scale = o.kind === 'meanfield' ? diagonal : tf.add(diagonal, tf.mul(lower, mask));
    return tf.add(m, tf.matMul(eps, scale, false, true)) as tf.Tensor2D;
  };
  const negElbo = (r: Rng) =>
    tf.neg(
      tf.add(tf.mean(batchLogJoint(target, sample(r.normalTensor([o.batch, d])))), tf.sum(omega)),
    ) as tf.Scalar;
  const adam = { learningRate: o.learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
  // The fit's noise and the final draws' from separate streams: a resumed fit (whose stepper
  // restores its own stream) ends with the same draws.
  const drawRng = rng.fork();
  const stepper = new LossStepper(weights, negElbo, adam, rng.fork(), undefined, true);
  try {
    const fitted = await fitVariational(
      stepper,
      o,
      'ADVI',
      (s) => -(s.loss ?? NaN),
      undefined,
      divergenceHint(on),
    );
    if (fitted.stopped) return interrupted(model, began);
    // q is the average of the fit's last part (see LossStepper's averaging), not its last step.
    stepper.useAverages();
    const { values, logW } = tf.tidy(() => {
      const eps = drawRng.normalTensor([o.samples, d]);
      const u = sample(eps);
      // log q(u) = log N(eps; 0, I) - sum(omega): the scale's determinant is prod exp(omega).
      const logQ = tf.sub(logStandardNormal(eps), tf.sum(omega));
      return {
        values: u.dataSync() as Float32Array,
        logW: tf.sub(target.logJoint(u), logQ).dataSync() as Float32Array,
      };
    });
    const result = completed(fitted, model, on, values, logW, began);
    const at = () => rowsEvaluator(target)(Float64Array.from(values), o.samples);
    const mode = o.polish ?? 'never';
    const p = await polished(result, on, values, at, mode, o.seed, false, afterFitHooks(o));
    return p === 'stopped' ? interrupted(model, began) : p;
  } finally {
    stepper.dispose();
    on.dispose();
    tf.dispose([m, omega, lower, mask, eye]);
  }
}

export type ContrastKind = 'none' | 'diagonal' | 'full';

export interface AvbInferenceOptions extends VariationalOptions {
  /**
   * Rows of each batch on which the model's log joint is evaluated (the rest of the batch
   * trains the adversary): the model is the cost of a real posterior, the adversary needs the
   * large batch. 64 keeps the model term's noise below the adversary's.
   */
  modelBatch: number;
  /** Adversary learning rate (Adam, beta1 0.5 like the primal's). */
  learningRateAdversary: number;
  /** Adversary updates per primal update. */
  adversarySteps: number;
  /**
   * `none`: the adversary tells q from the prior N(0, I) (plain AVB). `diagonal`: adaptive
   * contrast, q's samples normalised per coordinate by the batch mean and sd (the paper).
   * `full`: adaptive contrast with the batch covariance, zhat = L^-1 (z - mean) with L L^T the
   * covariance, so correlations between coordinates are removed too and the adversary faces a
   * distribution that differs from N(0, I) only in its shape beyond second moments.
   */
  contrast: ContrastKind;
  /**
   * Width of the generator's two hidden layers and of the adversary's. The generator's are at
   * least the posterior's dimension: through a narrower layer q would lie on a lower-dimensional
   * set (its draws' covariance singular), which no posterior with a density does.
   */
  hidden: number;
  /**
   * Both learning rates fall linearly over the second half of the run to this fraction of their
   * start (1: constant). A smaller step at the end averages out the adversary's noise.
   */
  finalLearningRate: number;
  /**
   * q's sampler at the end is the polynomial-decay average of its weights with this η, over
   * about the last 1/(η + 1) of the fit (`train/weightAverage.ts`), as GAN generators are
   * averaged, rather than its last step, which the adversary's noise has moved; 0: no average.
   * Averaging a network's weights over a long stretch narrows what it samples (its hidden
   * units turn as it trains), so the window is short. Measured on posteriordb's eight schools,
   * seeds 1-3 (worst mean error in sds, sd ratios): no average 0.14, 0.92-1.13; η = 4 0.09,
   * 0.88-0.91; η = 20 0.07, 0.92-0.96.
   */
  averageEta: number;
  /**
   * Above 0: q's draws are pooled over the fit's last `poolFraction` of iterations
   * ({@link DrawPool}), a set every 100 iterations (1% of a longer cap), each weighted by its
   * own adversary, instead of drawn from the final, weight-averaged q (0). Pooling averages q's
   * wander where it has one and costs a little where it has none (posteriordb, defaults, README):
   * eight schools, seeds 1-7, worst mean error 0.03-0.11 sd and sd ratios 0.95-1.09 pooled,
   * against 0.03-0.13 and 0.83-0.95 for the final q (seed 6 0.13 off with k-hat 0.2, flagged
   * only by the Stein check); the GP's worst 0.39 -> 0.33; but kidiq's worst W1 0.035 -> 0.053
   * and k-hat 0.31-0.47 -> 0.36-0.65 (each set carries its step's noise, which averaged weights
   * remove). Either way the fit stops only once the sets of its window agree
   * ({@link SETTLE_WINDOW}).
   */
  poolFraction: number;
  /**
   * Refit q's affine part on the exact ELBO after the fit (`math/affineRefit.ts`): its draws
   * moved by the map z -> a + B z that the adversary has no say in, until Stein's identities
   * hold. false: q's draws as the adversarial fit left them.
   */
  affineRefit: boolean;
}

/**
 * AVB's settings for fixed-data models. The paper's (eight schools): batch 512, Adam beta1 0.5,
 * 1 primal + 2 adversary steps, 10,000 iterations, FC128 networks, learning rates 1e-4 / 2e-4,
 * diagonal adaptive contrast. Two defaults differ, measured on eight schools against NUTS
 * (README): the adversary must track q closely, or q stays too wide (its entropy is judged by an
 * adversary fitted to an older, wider q): rates 1e-3 / 5e-3; and full (whitening) contrast.
 */
export const DEFAULT_AVB_INFERENCE: AvbInferenceOptions = {
  iterations: 10000,
  batch: 512,
  modelBatch: 64,
  learningRate: 1e-3,
  learningRateAdversary: 5e-3,
  adversarySteps: 2,
  contrast: 'full',
  hidden: 128,
  finalLearningRate: 1,
  averageEta: 20,
  poolFraction: 0.5,
  affineRefit: true,
  samples: 4000,
  seed: 1,
};

/**
 * The window (the fit's last half) whose sets of q's draws must agree before an AVB fit may stop
 * on convergence: its T-based ELBO is too noisy to say alone when q stops moving (on
 * posteriordb's GP it let fits stop at 2,000 iterations with α's mean 0.3-0.4 sd off, q still
 * swinging with a period of ~1,000 iterations).
 */
export const SETTLE_WINDOW = 0.5;

/**
 * AVB as variational inference for a model with fixed data (paper section 6.1), run by the same
 * {@link Trainer} and objectives as every other AVB: the model is a decoder whose log p(x|z) is
 * the log joint minus log N(z; 0, I) (so that prior plus "likelihood" is the log joint, see
 * {@link ModelDecoder}), the data an empty x, the implicit q(z) = g(eps) a concat-noise encoder
 * with no input (eps ~ N(0, I_dim) -> FC ELU -> FC ELU -> FC dim), and the adversary T(z) (with
 * the prior term ||z||^2/2) tells q from N(0, I). With adaptive contrast, q's samples are
 * normalised by the batch's moments (`diagonal`, the paper) or whitened by its covariance
 * (`full`) and compared with N(0, I), and the primal uses the moment-matched Gaussian r. A step
 * whose loss or gradient is not finite changes no weight; {@link fit} rolls back and halves the rates.
 * After the fit, q's draws (pooled, or the final q's) have their location and scale refitted on
 * the exact ELBO (`math/affineRefit.ts`), unless `affineRefit` is false.
 *
 * ```ts
 * const r = await avbInference(eightSchoolsPaper(), { contrast: 'full', iterations: 5000, seed: 2 });
 * ```
 */
export async function avbInference(
  model: BayesianModel,
  options: Partial<AvbInferenceOptions> = {},
): Promise<VariationalResult> {
  const o = { ...DEFAULT_AVB_INFERENCE, ...options };
  const began = performance.now();
  const root = new Rng(o.seed);
  // Checked before the Laplace fit, whose tensors an early throw would leave undisposed.
  if (!(o.poolFraction >= 0 && o.poolFraction <= 1))
    throw new AvbUserError(`poolFraction must be in [0, 1], not ${o.poolFraction}`);
  const on = preconditionedTarget(model, o.precondition ?? 'laplace', false, o.seed, o.modeStarts);
  const target = on.target;
  const { parts, trainer } = avbInferenceTrainer(target, o, root);
  // Each set of pooled draws has its own stream, seeded by its iteration, so that a resumed or
  // rolled-back fit draws the same sets.
  const poolSeed = root.uint32();
  // A set every 100 iterations (every 1% of a longer cap), each large enough that the window at
  // the first convergence check holds the draws asked for.
  const fraction = o.poolFraction > 0 ? o.poolFraction : SETTLE_WINDOW;
  const every = Math.max(100, Math.round(o.iterations / 100));
  const sets = Math.max(1, Math.floor((fraction * CONVERGENCE_CHECK_FROM) / every));
  const perSet = Math.max(256, Math.ceil(o.samples / sets));
  const pool: PoolHooks = {
    pool: new DrawPool(fraction, every, target.dim),
    draw: (step) =>
      tf.tidy(() => {
        const u = parts.encoder.sample(tf.zeros([perSet, 0]), new Rng(poolSeed + step)).z;
        const logQ = avbLogQ(parts.adversary, u, o.contrast);
        return {
          step,
          z: u.dataSync() as Float32Array,
          logQ: logQ.dataSync() as Float32Array,
        };
      }),
  };
  try {
    const fitted = await fitVariational(
      trainer,
      o,
      o.contrast === 'none' ? 'AVB' : 'AVB with adaptive contrast',
      (m) => m.elbo ?? NaN,
      pool,
      divergenceHint(on),
    );
    if (fitted.stopped) return interrupted(model, began);
    const pooled = o.poolFraction > 0 ? pool.pool.draws(fitted.iterations, o.samples) : null;
    let z: Float32Array;
    let logQ: Float32Array;
    if (pooled) ({ z, logQ } = pooled);
    else {
      // No pool, or a fit too short to fill its window: the final q's draws.
      if (o.averageEta > 0 && o.poolFraction === 0) trainer.useEncoderAverages();
      [z, logQ] = tf.tidy(() => {
        const u = parts.encoder.sample(tf.zeros([o.samples, 0]), root).z;
        const lq = avbLogQ(parts.adversary, u, o.contrast);
        return [u.dataSync() as Float32Array, lq.dataSync() as Float32Array];
      });
    }
    const r = await afterAvbFit(model, on, fitted, z, logQ, o, began);
    return r === 'stopped' ? interrupted(model, began) : r;
  } finally {
    on.dispose();
    trainer.dispose();
    parts.encoder.dispose();
    parts.adversary.dispose();
  }
}

/**
 * AVB's result from q's draws `z` (in the fit's coordinates) and its estimate of log q there:
 * the affine refit (unless `o.affineRefit` is false), the fit's checks, and the HMC polish when
 * `o.polish` asks for it.
 */
async function afterAvbFit(
  model: BayesianModel,
  on: FitTarget,
  fitted: FittedVariational,
  z: Float32Array,
  logQ: Float32Array,
  o: AvbInferenceOptions,
  began: number,
): Promise<VariationalResult | 'stopped'> {
  const evaluate = rowsEvaluator(on.target);
  const polish = o.polish ?? 'auto';
  const hooks = afterFitHooks(o);
  if (!o.affineRefit) {
    const at = evaluate(Float64Array.from(z), o.samples);
    const logW = at.values.map((v, i) => v - logQ[i]);
    const result = completed(fitted, model, on, z, logW, began, at.grads);
    return polished(result, on, z, () => at, polish, o.seed, true, hooks);
  }
  const u = Float64Array.from(z);
  const atFit = evaluate(u, o.samples);
  const refit = await affineRefit(u, on.target.dim, evaluate, {}, atFit, hooks);
  if (refit === 'stopped') return 'stopped';
  // log q of the moved draws: q's own at the draw it came from, less log |det B|.
  const logW = refit.logp.map((v, i) => v - (logQ[i] - refit.logDet));
  const refitted = Float32Array.from(refit.z);
  const result = {
    ...completed(fitted, model, on, refitted, logW, began, refit.grads),
    affineRefit: refitSummary(refit),
    steinBeforeRefit: steinAt(model, on, z, atFit.grads),
  };
  // The chains start from the refitted draws, whose location and scale are already right.
  const at = { values: refit.logp, grads: refit.grads };
  return polished(result, on, refit.z, () => at, polish, o.seed, true, hooks);
}

/**
 * log q(u) of AVB's implicit q at its draws `u` `[n, d]`, through its adversary: T estimates
 * log q - log N(0, I) (plain AVB), or log q - log r with adaptive contrast (r the Gaussian
 * matching these draws' moments, T seeing them whitened): Proposition 1 of the paper.
 */
function avbLogQ(adversary: ConcatMlpAdversary, u: tf.Tensor2D, contrast: ContrastKind): tf.Tensor {
  const x = tf.zeros([u.shape[0], 0]);
  if (contrast === 'none') return tf.add(adversary.logit(x, u), logStandardNormal(u));
  const { zhat, logR } = batchContrast(u, contrast);
  return tf.add(adversary.logit(x, zhat), logR);
}

/**
 * The parts (a noise-concatenating sampler over the parameters, the model as decoder, an MLP
 * adversary on z) and the shared trainer that AVB inference runs on.
 */
function avbInferenceTrainer(model: BayesianModel, o: AvbInferenceOptions, root: Rng) {
  const d = model.dim;
  const weightsRng = root.fork();
  const parts = {
    encoder: new ConcatNoiseEncoder(weightsRng, {
      exampleShape: [0],
      latentDim: d,
      hidden: [Math.max(o.hidden, d), Math.max(o.hidden, d)],
      activation: 'elu',
      net: 'mlp',
      noiseDim: d,
      bases: 0,
    }),
    decoder: new ModelDecoder(model, o.modelBatch),
    adversary: new ConcatMlpAdversary(weightsRng, {
      dataDim: 0,
      latentDim: d,
      hidden: o.hidden,
      layers: 2,
      activation: 'elu',
    }),
  };
  const objective =
    o.contrast === 'none'
      ? avbObjective
      : adaptiveContrastObjective({
          moments: o.contrast === 'full' ? 'batch-full' : 'batch',
          momentSamples: 0,
        });
  const adam = (learningRate: number) => ({
    learningRate,
    beta1: 0.5,
    beta2: 0.999,
    epsilon: 1e-8,
  });
  const trainer = new Trainer(
    parts,
    objective,
    new MinibatchSampler(NO_DATA, NO_DATA.train, { seed: root.uint32(), binarize: false }),
    {
      batch: o.batch,
      primal: adam(o.learningRate),
      adversary: adam(o.learningRateAdversary),
      schedule: 'alternating',
      adversarySteps: o.adversarySteps,
      klAnnealSteps: 0,
      lrSchedule:
        o.finalLearningRate === 1
          ? { kind: 'constant' }
          : { kind: 'linearTail', totalSteps: o.iterations, final: o.finalLearningRate },
      ...(o.averageEta > 0 && o.poolFraction === 0 ? { averageEncoder: o.averageEta } : {}),
    },
    root.fork(),
  );
  return { parts, trainer };
}
