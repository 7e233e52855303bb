import * as tf from '../tf.js';
import { LOG_2PI, importanceWeightEss } from '../math/gaussian.js';
import type { Progress } from '../progress.js';
import { yieldToEventLoop } from '../yieldToEventLoop.js';
import type { Decoder } from '../nn/decoders.js';
import { Rng } from '../random/rng.js';
import { logMeanExp, meanAndStderr } from './stats.js';

export interface AisOptions {
  /** Number T of intermediate distributions (annealing steps). */
  steps: number;
  /** Independent chains per data point; the estimate is the log-mean-exp over chains. */
  chains: number;
  /** Leapfrog steps per HMC transition. */
  leapfrog: number;
  /** Initial HMC step size (then adapted, see `adapt`). */
  stepSize: number;
  /** `linear` beta_t = t/T, or `sigmoid` (Grosse et al. 2013), denser at both ends. */
  schedule: 'linear' | 'sigmoid';
  /**
   * Step-size adaptation toward 0.65 acceptance (x1.1 when the running acceptance is above,
   * /1.1 below).
   * - `pilot` (default): a short pilot pass with `global` adaptation records one step size per
   *   annealing step; the estimate is then computed with that schedule frozen. No step size of
   *   the estimating pass depends on its own chains, so AIS is unbiased by construction (in
   *   p(x); log p(x) keeps Jensen's small downward bias). Costs the pilot: `pilotPoints`
   *   points x `chains` chains per batch of points.
   * - `global` pools every chain of every point (one step size), `per-point` pools a point's
   *   chains, `per-chain` adapts each chain on its own acceptance: these adapt during the
   *   estimate, which makes transitions depend on the chains' own paths and biases it low.
   *   Measured per point on the linear-Gaussian check (latent 5, 30 observed, 1000 steps,
   *   8 chains): global -0.003, per-point -0.03, per-chain -0.13 nats.
   * - `none` keeps `stepSize` throughout.
   */
  adapt: AisAdaptation;
  /** Points (the first ones of the batch) the `pilot` pass adapts on. */
  pilotPoints: number;
}

export const AIS_ADAPTATIONS = ['pilot', 'global', 'per-point', 'per-chain', 'none'] as const;
export type AisAdaptation = (typeof AIS_ADAPTATIONS)[number];

export const DEFAULT_AIS: AisOptions = {
  steps: 1000,
  chains: 8,
  leapfrog: 10,
  stepSize: 0.05,
  schedule: 'linear',
  adapt: 'pilot',
  pilotPoints: 25,
};

/** Where chains start: the prior, or a Gaussian per data point (`[n, L]` arrays). */
export type AisStart =
  { kind: 'prior' } | { kind: 'gaussian'; mean: Float32Array; logVar: Float32Array };

export interface AisResult {
  /** log p(x) estimate per data point. */
  perPoint: Float64Array;
  mean: number;
  /** Standard error of the mean over data points. */
  stderr: number;
  /** Mean HMC acceptance rate over all transitions and chains. */
  acceptance: number;
  /** Effective sample size of the final importance weights per data point (1..chains). */
  ess: Float64Array;
  /** The HMC step size of the first chain at each annealing step `[steps]`. */
  stepSizes: Float64Array;
  seconds: number;
}

/** Inverse temperatures beta_0 = 0 < ... < beta_T = 1. */
export function annealingSchedule(steps: number, kind: AisOptions['schedule']): Float64Array {
  const betas = new Float64Array(steps + 1);
  if (kind === 'linear') {
    for (let t = 0; t <= steps; t++) betas[t] = t / steps;
    return betas;
  }
  const delta = 4;
  const s = (t: number) => 1 / (1 + Math.exp(-delta * ((2 * t) / steps - 1)));
  const [lo, hi] = [s(0), s(steps)];
  for (let t = 0; t <= steps; t++) betas[t] = (s(t) - lo) / (hi - lo);
  return betas;
}

/**
 * Annealed importance sampling estimate of log p(x) (Neal 2001; as used for decoders by Wu et al.
 * 2017). Intermediate targets f_t(z) = (1 - beta_t) log q0(z) + beta_t log[p(z) p(x|z)], one HMC
 * transition per step (L leapfrog steps; step sizes multiplied by 1.1 when the running acceptance
 * is above 0.65 and divided by 1.1 below, see {@link AisOptions.adapt}), the log weight accumulating
 * f_t(z) - f_{t-1}(z) = (beta_t - beta_{t-1}) (log p(z) + log p(x|z) - log q0(z)).
 *
 * All points and chains run as one batch `[chains * n, L]`. Log weights are accumulated in
 * float64 on the JavaScript side (one small read-back per step), so summing 1000+ increments
 * loses nothing to float32.
 *
 * ```ts
 * const r = await aisLogLikelihood(decoder, x, 32, DEFAULT_AIS, new Rng(1));
 * console.log(r.mean, r.stderr);
 * ```
 */
export async function aisLogLikelihood(
  decoder: Decoder,
  x: tf.Tensor,
  latentDim: number,
  options: AisOptions,
  rng: Rng,
  start: AisStart = { kind: 'prior' },
  onProgress?: Progress,
  snapshots?: AisSnapshots,
): Promise<AisResult> {
  const from = snapshots?.from;
  if (options.adapt !== 'pilot') {
    return annealedRun(decoder, x, latentDim, options, rng, start, onProgress, undefined, {
      from: from?.run,
      save: snapshots && ((run) => snapshots.save({ phase: 'main', run })),
      due: snapshots?.due,
    });
  }
  const began = performance.now();
  const total = 2 * options.steps;
  const main = (stepSizes: Float64Array, mainRng: Rng, resumeAt?: AnnealingState) =>
    annealedRun(
      decoder,
      x,
      latentDim,
      options,
      mainRng,
      start,
      (t) => onProgress?.(options.steps + t, total),
      stepSizes,
      {
        from: resumeAt,
        save:
          snapshots &&
          ((run) => snapshots.save({ phase: 'main', run, pilotStepSizes: Array.from(stepSizes) })),
        due: snapshots?.due,
      },
    );
  // Past the pilot: its step sizes were kept, the estimating pass continues.
  if (from?.phase === 'main' && from.pilotStepSizes) {
    const r = await main(Float64Array.from(from.pilotStepSizes), rng, from.run);
    return { ...r, seconds: (performance.now() - began) / 1000 };
  }
  // The pilot: its own random stream, the first points, as many chains, global adaptation.
  // (Measured on the linear-Gaussian check: a pilot of 2 chains per point gave a noisier schedule
  // and estimates 0.02 nats lower; with as many chains as the estimate, no bias.)
  const pilotRng = from?.phase === 'pilot' ? undefined : rng.fork();
  // The estimating pass's stream as the pilot's fork left it (kept in the pilot's snapshots).
  const mainRng = from?.phase === 'pilot' && from.mainRng ? Rng.fromState(from.mainRng) : rng;
  const mainState = mainRng.state();
  const m = Math.min(options.pilotPoints, x.shape[0]);
  const xPilot = tf.slice(x, 0, m);
  const pilotStart: AisStart =
    start.kind === 'gaussian'
      ? {
          kind: 'gaussian',
          mean: start.mean.subarray(0, m * latentDim),
          logVar: start.logVar.subarray(0, m * latentDim),
        }
      : start;
  const pilot = await annealedRun(
    decoder,
    xPilot,
    latentDim,
    { ...options, adapt: 'global' },
    pilotRng ?? mainRng, // resumed: the snapshot's stream replaces it
    pilotStart,
    (t) => onProgress?.(t, total),
    undefined,
    {
      from: from?.phase === 'pilot' ? from.run : undefined,
      save: snapshots && ((run) => snapshots.save({ phase: 'pilot', run, mainRng: mainState })),
      due: snapshots?.due,
    },
  );
  xPilot.dispose();
  const r = await main(pilot.stepSizes, mainRng);
  return { ...r, seconds: (performance.now() - began) / 1000 };
}

/**
 * Snapshots of a long AIS run, so that an interrupted one continues where it stopped (a 1,000-step
 * run on 100 MNIST digits took 999-1,036 s on the conv decoder) and ends with the very numbers of an
 * uninterrupted run: every 20 annealing steps (never after the last) `save` receives the state if
 * `due()` says one is due; `from` continues the run from one. The caller keeps the clock, so that
 * it spans the pilot and the estimate, and its own saves between runs.
 */
export interface AisSnapshots {
  from?: AisSnapshot;
  save: (s: AisSnapshot) => void;
  due: () => boolean;
}

/**
 * An AIS run between two annealing steps (JSON-safe). `pilot`: inside the pilot pass, with the
 * estimating pass's stream as the pilot's fork left it; `main`: inside the estimating pass, with
 * the pilot's step sizes (absent when `adapt` is not `pilot`, so there was none).
 */
export type AisSnapshot =
  | { phase: 'pilot'; run: AnnealingState; mainRng: number[] }
  | { phase: 'main'; run: AnnealingState; pilotStepSizes?: number[] };

/** One annealing pass after `t` of its steps: the chains, their weights, the adaptation, the stream. */
export interface AnnealingState {
  t: number;
  /** Chain positions `[chains * n, L]`, row-major. */
  z: number[];
  logW: number[];
  acceptedTotal: number;
  adapter: StepSizeAdapterState;
  rng: number[];
}

/**
 * One AIS pass; with `frozenSteps` (one step size per annealing step) no adaptation happens.
 * Chain c of point i is row c*n + i.
 */
async function annealedRun(
  decoder: Decoder,
  x: tf.Tensor,
  latentDim: number,
  options: AisOptions,
  rng: Rng,
  start: AisStart,
  onProgress?: Progress,
  frozenSteps?: Float64Array,
  snapshots?: {
    from?: AnnealingState;
    save?: (s: AnnealingState) => void;
    due?: () => boolean;
  },
): Promise<AisResult> {
  const began = performance.now();
  const n = x.shape[0];
  const N = n * options.chains;
  const L = latentDim;
  const betas = annealingSchedule(options.steps, options.schedule);
  const target = annealingTarget(decoder, x, options.chains, L, start);
  const from = snapshots?.from;
  if (from && (from.z.length !== N * L || from.t > options.steps))
    throw new Error(`AIS snapshot of another run (${from.z.length} values, step ${from.t})`);
  // A resumed run takes the snapshot's stream (the one given stands for it).
  const stream = from ? Rng.fromState(from.rng) : rng;
  // The chain state carries its decoder term, so each transition runs the network only at the
  // new leapfrog positions. (Resumed, the term is recomputed at the same positions with the same
  // batch shape: the same values, bit for bit.)
  const z = from
    ? tf.tensor2d(from.z, [N, L])
    : tf.tidy(() => {
        const eps = stream.normalTensor([N, L]);
        return target.q0 ? tf.add(target.q0.mean, tf.mul(target.q0.std, eps)) : eps;
      });
  const chains = new AnnealedChains(target, z);
  const adapter = new StepSizeAdapter(n, options, frozenSteps);
  if (from) {
    chains.logW.set(from.logW);
    chains.acceptedTotal = from.acceptedTotal;
    adapter.restore(from.adapter);
  }
  for (let t = (from?.t ?? 0) + 1; t <= options.steps; t++) {
    const stepSizes = adapter.sizesFor(t);
    const acc = chains.step(betas[t], betas[t] - betas[t - 1], stepSizes, options.leapfrog, stream);
    adapter.update(acc);
    onProgress?.(t, options.steps);
    if (t % 20 !== 0) continue;
    if (snapshots?.save && t < options.steps && snapshots.due?.()) {
      snapshots.save({
        t,
        z: Array.from(chains.positions()),
        logW: Array.from(chains.logW),
        acceptedTotal: chains.acceptedTotal,
        adapter: adapter.state(),
        rng: stream.state(),
      });
    }
    await yieldToEventLoop();
  }
  chains.dispose();
  target.dispose();
  return {
    ...summariseWeights(chains.logW, n, options.chains),
    acceptance: chains.acceptedTotal / (N * options.steps),
    stepSizes: adapter.used,
    seconds: (performance.now() - began) / 1000,
  };
}

/** The annealing path's densities for `chains` copies of the points `x`. */
interface AnnealingTarget {
  /** The start density's Gaussian, when chains do not start from the prior. */
  q0?: { mean: tf.Tensor; std: tf.Tensor };
  logPrior(z: tf.Tensor): tf.Tensor;
  logQ0(z: tf.Tensor): tf.Tensor;
  /** log p(x|z) per chain and its gradient in z: the one network pass a leapfrog step needs. */
  decoderTerm(z: tf.Tensor): Evaluated;
  /** f_beta(z) = (1 - beta) log q0(z) + beta (log p(z) + log p(x|z)). */
  value(z: tf.Tensor, e: Evaluated, beta: number): tf.Tensor;
  gradient(z: tf.Tensor, e: Evaluated, beta: number): tf.Tensor;
  dispose(): void;
}

function annealingTarget(
  decoder: Decoder,
  x: tf.Tensor,
  chains: number,
  L: number,
  start: AisStart,
): AnnealingTarget {
  const n = x.shape[0];
  // K copies concatenated (the wasm Tile kernel copies value by value: 120 ms for 500 MNIST
  // images x 8, against a few ms for Concat).
  const xs = tf.tidy(() =>
    tf.concat(Array<tf.Tensor>(chains).fill(tf.reshape(x, [n, x.size / n])), 0),
  );
  const q0 = start.kind === 'gaussian' ? gaussianStart(start, n, chains, L) : undefined;
  const logPrior = (z: tf.Tensor) =>
    tf.sub(tf.mul(tf.sum(tf.square(z), 1), -0.5), 0.5 * L * LOG_2PI);
  const logQ0 = (z: tf.Tensor) =>
    q0
      ? tf.sub(
          tf.mul(
            tf.sum(
              tf.add(tf.square(tf.div(tf.sub(z, q0.mean), q0.std)), tf.mul(tf.log(q0.std), 2)),
              1,
            ),
            -0.5,
          ),
          0.5 * L * LOG_2PI,
        )
      : logPrior(z);
  // Gradient of log q0 in z (of the prior, -z, when chains start there).
  const gradLogQ0 = (z: tf.Tensor) =>
    q0 ? tf.neg(tf.div(tf.sub(z, q0.mean), tf.square(q0.std))) : tf.neg(z);
  const decoderTerm = (z: tf.Tensor): Evaluated => {
    let kept: tf.Tensor | undefined;
    const grad = tf.grad((zz: tf.Tensor) => {
      const f = decoder.logLikelihood(xs, zz);
      kept = tf.keep(f); // outlives tf.grad's own scope...
      return tf.sum(f);
    })(z);
    // ...and a kept tensor outlives every enclosing tidy too: hand the caller's scope a clone.
    const ll = tf.clone(kept!);
    kept!.dispose();
    return { ll, grad };
  };
  return {
    q0,
    logPrior,
    logQ0,
    decoderTerm,
    value: (z, e, beta) =>
      tf.add(tf.mul(logQ0(z), 1 - beta), tf.mul(tf.add(logPrior(z), e.ll), beta)),
    gradient: (z, e, beta) =>
      tf.add(tf.mul(gradLogQ0(z), 1 - beta), tf.mul(tf.sub(e.grad, z), beta)),
    dispose: () => tf.dispose([xs, ...(q0 ? [q0.mean, q0.std] : [])]),
  };
}

/**
 * The state of a batch of annealing chains, forward or reverse: positions with their decoder
 * terms, the log weights accumulated in float64 and the accepted transitions.
 */
class AnnealedChains {
  readonly logW: Float64Array;
  acceptedTotal = 0;
  private here: Evaluated;

  constructor(
    private readonly target: AnnealingTarget,
    private z: tf.Tensor,
  ) {
    this.logW = new Float64Array(z.shape[0]);
    this.here = target.decoderTerm(z);
  }

  /**
   * Adds dBeta (log p(z) + log p(x|z) - log q0(z)) at the current state to each log weight, then
   * one HMC transition at `beta`; returns each chain's acceptance (0 or 1).
   */
  step(
    beta: number,
    dBeta: number,
    stepSizes: Float64Array,
    leapfrog: number,
    rng: Rng,
  ): Float32Array {
    const r = hmcTransition(this.target, this.z, this.here, beta, dBeta, stepSizes, leapfrog, rng);
    const incs = r.increment.dataSync();
    const acc = r.accepted.dataSync() as Float32Array;
    tf.dispose([r.increment, r.accepted, this.z, this.here.ll, this.here.grad]);
    this.z = r.next;
    this.here = r.nextEval;
    for (let c = 0; c < this.logW.length; c++) {
      this.logW[c] += incs[c];
      this.acceptedTotal += acc[c];
    }
    return acc;
  }

  /** The chains' current positions `[N * L]`. */
  positions(): Float32Array {
    return this.z.dataSync() as Float32Array;
  }

  dispose(): void {
    tf.dispose([this.z, this.here.ll, this.here.grad]);
  }
}

/**
 * One annealing step: the weight increment f_t(z) - f_{t-1}(z) at the current state, then one
 * HMC transition leaving f_beta invariant (leapfrog on H(z, p) = -f_beta(z) + |p|^2 / 2,
 * Metropolis correction). A rejected proposal keeps the old state and its decoder values; an
 * accepted one brings those computed at its last leapfrog step.
 */
function hmcTransition(
  target: AnnealingTarget,
  z: tf.Tensor,
  here: Evaluated,
  beta: number,
  dBeta: number,
  stepSizes: Float64Array,
  leapfrog: number,
  rng: Rng,
) {
  const [N, L] = z.shape as [number, number];
  return tf.tidy(() => {
    // dBeta (log p(z) + log p(x|z) - log q0(z)).
    const increment = tf.mul(tf.sub(tf.add(target.logPrior(z), here.ll), target.logQ0(z)), dBeta);
    const eps = tf.tensor2d(Float32Array.from(stepSizes), [N, 1]);
    const p0 = rng.normalTensor([N, L]);
    let zz: tf.Tensor = z;
    let p = tf.add(p0, tf.mul(tf.mul(eps, 0.5), target.gradient(z, here, beta)));
    let last = here;
    for (let l = 0; l < leapfrog; l++) {
      zz = tf.add(zz, tf.mul(eps, p));
      last = target.decoderTerm(zz);
      const scale = l === leapfrog - 1 ? 0.5 : 1;
      p = tf.add(p, tf.mul(tf.mul(eps, scale), target.gradient(zz, last, beta)));
    }
    const h0 = tf.sub(tf.mul(tf.sum(tf.square(p0), 1), 0.5), target.value(z, here, beta));
    const h1 = tf.sub(tf.mul(tf.sum(tf.square(p), 1), 0.5), target.value(zz, last, beta));
    const logU = tf.log(rng.uniformTensor([N]));
    // NaN energies compare false: such proposals are rejected.
    const accept = tf.less(logU, tf.sub(h0, h1));
    const acceptRows = tf.tile(tf.reshape(accept, [N, 1]), [1, L]);
    return {
      next: tf.where(acceptRows, zz, z),
      nextEval: {
        ll: tf.where(accept, last.ll, here.ll),
        grad: tf.where(acceptRows, last.grad, here.grad),
      },
      accepted: tf.cast(accept, 'float32'),
      increment,
    };
  });
}

/** What {@link StepSizeAdapter} carries from step to step (JSON-safe). */
export interface StepSizeAdapterState {
  sizes: number[];
  acceptEma: number[];
  used: number[];
}

/**
 * HMC step sizes per chain, adapted toward 0.65 acceptance (an exponential moving average of
 * the acceptance, x1.1 above, /1.1 below) over all chains, per point or per chain; or read from
 * a frozen schedule. `used` records the size of each annealing step.
 */
class StepSizeAdapter {
  private readonly sizes: Float64Array;
  private readonly acceptEma: Float64Array;
  readonly used: Float64Array;

  constructor(
    private readonly n: number,
    private readonly options: AisOptions,
    private readonly frozen?: Float64Array,
  ) {
    const N = n * options.chains;
    this.sizes = new Float64Array(N).fill(options.stepSize);
    this.acceptEma = new Float64Array(N).fill(0.65);
    this.used = new Float64Array(options.steps);
  }

  sizesFor(t: number): Float64Array {
    if (this.frozen) this.sizes.fill(this.frozen[t - 1]);
    this.used[t - 1] = this.sizes[0];
    return this.sizes;
  }

  state(): StepSizeAdapterState {
    return {
      sizes: Array.from(this.sizes),
      acceptEma: Array.from(this.acceptEma),
      used: Array.from(this.used),
    };
  }

  restore(s: StepSizeAdapterState): void {
    this.sizes.set(s.sizes);
    this.acceptEma.set(s.acceptEma);
    this.used.set(s.used);
  }

  update(accepted: ArrayLike<number>): void {
    if (this.frozen) return; // the schedule is fixed: nothing adapts
    const { n } = this;
    const K = this.options.chains;
    const N = n * K;
    const ema = this.acceptEma;
    const factor = (rate: number) => (rate > 0.65 ? 1.1 : 1 / 1.1);
    if (this.options.adapt === 'global') {
      let rate = 0;
      for (let c = 0; c < N; c++) rate += accepted[c] / N;
      ema[0] = 0.9 * ema[0] + 0.1 * rate;
      const f = factor(ema[0]);
      for (let c = 0; c < N; c++) this.sizes[c] *= f;
    } else if (this.options.adapt === 'per-point') {
      for (let i = 0; i < n; i++) {
        let rate = 0;
        for (let c = 0; c < K; c++) rate += accepted[c * n + i] / K;
        ema[i] = 0.9 * ema[i] + 0.1 * rate;
        const f = factor(ema[i]);
        for (let c = 0; c < K; c++) this.sizes[c * n + i] *= f;
      }
    } else if (this.options.adapt === 'per-chain') {
      for (let c = 0; c < N; c++) {
        ema[c] = 0.9 * ema[c] + 0.1 * accepted[c];
        this.sizes[c] *= factor(ema[c]);
      }
    }
  }
}

/** Per point: the log-mean-exp of its chains' log weights and their effective sample size. */
function summariseWeights(logW: Float64Array, n: number, K: number) {
  const perPoint = new Float64Array(n);
  const ess = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const w = Array.from({ length: K }, (_, c) => logW[c * n + i]);
    perPoint[i] = logMeanExp(w);
    ess[i] = importanceWeightEss(w);
  }
  return { perPoint, ess, ...meanAndStderr(perPoint) };
}

/** A chain state's decoder term log p(x|z) `[N]` and its gradient in z `[N, L]`. */
interface Evaluated {
  ll: tf.Tensor;
  grad: tf.Tensor;
}

function gaussianStart(
  start: Extract<AisStart, { kind: 'gaussian' }>,
  n: number,
  K: number,
  L: number,
) {
  return tf.tidy(() => {
    const mean = tf.tile(tf.tensor2d(start.mean, [n, L]), [K, 1]);
    const std = tf.tile(tf.exp(tf.mul(tf.tensor2d(start.logVar, [n, L]), 0.5)), [K, 1]);
    return { mean: tf.keep(mean), std: tf.keep(std) };
  });
}

/**
 * Reverse AIS (Grosse, Ghahramani & Adams 2015): chains start at an exact posterior sample z* of
 * each point (`[n, L]`) and anneal from beta = 1 down to beta = 0, `start`'s density (the prior,
 * or the forward run's Gaussian): the same HMC transitions as {@link aisLogLikelihood}'s run
 * backward with its step sizes (`stepSizes`, one per annealing step, as its result's
 * `stepSizes`). Each chain's weight has expectation 1 / p(x), so minus the log-mean-exp of a
 * point's weights is a stochastic upper bound on log p(x), as AIS's estimate is a stochastic
 * lower bound: the two bracket it, and their gap bounds AIS's error on data where exact posterior
 * samples exist (data simulated from the model: bidirectional Monte Carlo).
 */
export async function reverseAisLogLikelihood(
  decoder: Decoder,
  x: tf.Tensor,
  posteriorSample: Float32Array,
  latentDim: number,
  options: AisOptions,
  stepSizes: Float64Array,
  rng: Rng,
  onProgress?: Progress,
  start: AisStart = { kind: 'prior' },
): Promise<AisResult> {
  const began = performance.now();
  const n = x.shape[0];
  const N = n * options.chains;
  const L = latentDim;
  const betas = annealingSchedule(options.steps, options.schedule);
  const target = annealingTarget(decoder, x, options.chains, L, start);
  const chains = new AnnealedChains(
    target,
    tf.tidy(() => tf.tile(tf.tensor2d(posteriorSample, [n, L]), [options.chains, 1])),
  );
  const sizes = new Float64Array(N);
  for (let t = options.steps; t >= 1; t--) {
    // The weight f_{t-1}(z) - f_t(z) at z ~ f_t, then a transition leaving f_{t-1} invariant
    // with the forward run's step size there (at the prior, t = 1, the transition changes no
    // weight: it takes the first step's size).
    sizes.fill(stepSizes[Math.max(t - 2, 0)]);
    chains.step(betas[t - 1], -(betas[t] - betas[t - 1]), sizes, options.leapfrog, rng);
    onProgress?.(options.steps - t + 1, options.steps);
    if (t % 20 === 0) await yieldToEventLoop();
  }
  chains.dispose();
  target.dispose();
  // log p(x) ≤ −log mean_k w_k in expectation: the negated log-mean-exp, per point.
  const s = summariseWeights(chains.logW, n, options.chains);
  const perPoint = s.perPoint.map((v) => -v);
  return {
    ...s,
    perPoint,
    ...meanAndStderr(perPoint),
    acceptance: chains.acceptedTotal / (N * options.steps),
    stepSizes,
    seconds: (performance.now() - began) / 1000,
  };
}
