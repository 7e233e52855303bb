import * as tf from '../tf.js';
import { Rng } from '../random/rng.js';
import { AvbUserError } from '../errors.js';
import type { Progress } from '../progress.js';
import { yieldToEventLoop } from '../yieldToEventLoop.js';
import { START_TRIES, preconditionedTarget, type ModeSearch } from './laplace.js';
import type { LaplaceFit } from './laplace.js';
import type { BayesianModel, Draws } from './model.js';
import { chainDiagnostics } from '../math/mcmcDiagnostics.js';

export interface NutsOptions {
  chains: number;
  /** Warm-up iterations per chain (step size and diagonal mass matrix adaptation). */
  warmup: number;
  /** Kept draws per chain. */
  samples: number;
  /** Target mean acceptance statistic for dual averaging (Stan's default 0.8). */
  targetAccept: number;
  /**
   * Divergent transitions after warm-up make NUTS sample again, every chain from the start, with
   * a higher `targetAccept` (0.95, then 0.99; none above this): the advice of Stan's divergence
   * warning, taken for the user. A smaller step follows curvature that the larger one
   * overshot; where divergences remain at the ceiling the warning stands. `targetAccept` or
   * below: never again.
   */
  maxTargetAccept: number;
  maxTreeDepth: number;
  /**
   * `laplace` (default): sample in coordinates whitened by a Laplace fit at the posterior's mode
   * (a dense metric from the curvature there, the diagonal one still adapted on top), so that
   * correlated posteriors (a regression on uncentred predictors) need short trees; falls back
   * to the model's coordinates where there is no usable mode. `none`: Stan's diagonal metric.
   */
  precondition: 'laplace' | 'none';
  /** Starts of the Laplace fit's mode search (default 4: z = 0 and three random points). */
  modeStarts?: number;
  /** Seed of the chains' starting points, momenta and tree directions. */
  seed: number;
  /** Called every 50 iterations with iterations done and total (all chains, warm-up included). */
  onProgress?: Progress;
  /**
   * Checkpoints and resuming, a chain at a time (`avb infer --out`): the chains an earlier
   * segment finished (not run again: their random streams are skipped), a hook for each chain
   * as it finishes, and a stop poll (every 50 iterations; the unfinished chain is run again on
   * resume, with the same draws).
   */
  persistence?: {
    /**
     * Indexed by chain; null or absent: not run yet (chains run in parallel end in any order).
     * Chains of an earlier sampling (another `targetAccept`) are run again.
     */
    done?: readonly (NutsChain | null | undefined)[];
    /** `elsewhere`: the chain ran in `pool` (its evaluations are not the model's here). */
    onChain?: (chain: NutsChain, index: number, elsewhere: boolean) => void;
    /** Samplings an earlier segment of the run finished and rejected for their divergences. */
    attempts?: readonly NutsAttempt[];
    /** Called as a sampling is rejected for its divergences, before the next begins. */
    onAttempt?: (attempt: NutsAttempt) => void;
    shouldStop?: () => boolean;
  };
  /**
   * Runs the chains elsewhere, several at once (Node: worker threads, one chain per core; see
   * `experiments/parallelChains.ts`). Absent: the chains run here, one after another. Either way
   * the draws are the same: a chain's random stream depends only on the seed and its index.
   */
  pool?: ChainPool;
}

/** What a chain needs of {@link NutsOptions}: the settings, without the functions. */
export type ChainOptions = Omit<NutsOptions, 'onProgress' | 'persistence' | 'pool'>;

/** The affine map a Laplace fit gave (`laplace.ts`'s `whitenedModel`), to apply the same elsewhere. */
export interface Whitening {
  fit: LaplaceFit;
  diagonal: boolean;
}

/** Chains `indices` of a sampling to run on `whitening` of the model (absent: the model itself). */
export interface ChainJob {
  indices: number[];
  options: ChainOptions;
  whitening?: Whitening;
}

/**
 * Runs a {@link ChainJob}'s chains, each exactly as {@link runChain} would here: `onChain` as
 * each finishes, `onProgress` every 50 iterations of a chain; `shouldStop` is polled then, and
 * true abandons the unfinished chains (resolving `interrupted`).
 */
export type ChainPool = (
  job: ChainJob,
  hooks: {
    onChain: (chain: NutsChain, index: number) => void;
    onProgress: (index: number, done: number, divergences: number) => void;
    shouldStop: () => boolean;
  },
) => Promise<'completed' | 'interrupted'>;

/** One finished chain: its kept draws of the reported quantities and its statistics. */
export interface NutsChain {
  kept: number[][];
  /** Per kept draw, CmdStan's sampler columns in {@link SAMPLER_COLUMNS} order. */
  stats?: number[][];
  /** Kept transitions whose tree reached `maxTreeDepth`. */
  treedepthHits?: number;
  stepSize: number;
  divergences: number;
  gradientEvaluations: number;
  /** The sampling's `targetAccept` (absent in checkpoints older than reruns: the first one). */
  targetAccept?: number;
}

/** A sampling rejected for its divergences: its `targetAccept` and what it cost. */
export interface NutsAttempt {
  targetAccept: number;
  divergences: number;
  gradientEvaluations: number;
}

export const DEFAULT_NUTS: NutsOptions = {
  chains: 4,
  warmup: 1000,
  samples: 1000,
  targetAccept: 0.8,
  maxTargetAccept: 0.99,
  maxTreeDepth: 10,
  precondition: 'laplace',
  seed: 1,
};

export interface NutsResult {
  /** `interrupted`: stopped by `persistence.shouldStop`; the draws are empty. */
  status: 'completed' | 'interrupted';
  draws: Draws;
  /** Rank-normalised split R-hat per reported quantity (Stan's and ArviZ's R-hat). */
  rhat: number[];
  /** Bulk effective sample size per reported quantity (all chains together). */
  ess: number[];
  /** Tail effective sample size (of the 5% and 95% quantiles) per reported quantity. */
  essTail: number[];
  stepSizes: number[];
  divergences: number;
  /** The `targetAccept` of the sampling kept (above the asked one after divergences). */
  targetAccept: number;
  /** Samplings rejected for their divergences, in order (empty: the first was kept). */
  attempts: NutsAttempt[];
  /** Kept transitions that reached the maximum tree depth (their trees were cut short). */
  treedepthHits: number;
  gradientEvaluations: number;
  /** Log-density evaluations of chains that ran in a {@link ChainPool}, this segment of a run. */
  evaluationsElsewhere?: number;
  /** The coordinates sampled in, in words (see `NutsOptions.precondition`). */
  preconditioning: string;
  /** What the Laplace fit's mode search found (absent without one). */
  modeSearch?: ModeSearch;
  seconds: number;
}

/** CmdStan's sampler columns, with its names and meanings (`draws.csv`). */
export const SAMPLER_COLUMNS = [
  'lp__',
  'accept_stat__',
  'stepsize__',
  'treedepth__',
  'n_leapfrog__',
  'divergent__',
] as const;

type LogpGrad = (z: Float64Array) => { logp: number; grad: Float64Array };

/**
 * log p and its gradient at one point: the model's double-precision gradient when it has one,
 * else through its tfjs log joint.
 */
function logpGradOf(model: BayesianModel): { f: LogpGrad; count: () => number } {
  let count = 0;
  const exact = model.logDensityAndGradient;
  if (exact) {
    const f: LogpGrad = (z) => {
      count++;
      const { logp, grad } = exact(z);
      return { logp: Number.isFinite(logp) ? logp : -Infinity, grad };
    };
    return { f, count: () => count };
  }
  const vg = tf.valueAndGrad((z: tf.Tensor) => tf.sum(model.logJoint(z as tf.Tensor2D)));
  const f: LogpGrad = (z) => {
    count++;
    const { value, grad } = tf.tidy(() => vg(tf.tensor2d(Float32Array.from(z), [1, z.length])));
    const logp = value.dataSync()[0];
    const g = Float64Array.from(grad.dataSync());
    value.dispose();
    grad.dispose();
    return { logp: Number.isFinite(logp) ? logp : -Infinity, grad: g };
  };
  return { f, count: () => count };
}

interface State {
  z: Float64Array;
  logp: number;
  grad: Float64Array;
}

/**
 * The No-U-Turn Sampler (Hoffman & Gelman 2014, Algorithm 6: slice sampling, recursive doubling)
 * with Stan's warm-up: dual-averaging step size toward `targetAccept`, and a diagonal mass
 * matrix estimated in doubling windows (75 / 25, 50, 100, ... / 50 iterations) and regularised
 * toward 1e-3 as Stan does. Several chains, started from N(0, 1) draws in z; returns the
 * model's reported quantities with split R-hat and effective sample sizes.
 *
 * ```ts
 * const r = await nuts(eightSchoolsPaper(), { chains: 4, targetAccept: 0.95, seed: 2 });
 * r.draws.values; // [chains * samples][quantities], r.draws.chain: the chain of each draw
 * ```
 */
export async function nuts(
  model: BayesianModel,
  nutsOptions: Partial<NutsOptions> = {},
): Promise<NutsResult> {
  const options = { ...DEFAULT_NUTS, ...nutsOptions };
  const began = performance.now();
  const on = preconditionedTarget(
    model,
    options.precondition,
    false,
    options.seed,
    options.modeStarts,
  );
  const p = options.persistence;
  const attempts = [...(p?.attempts ?? [])];
  let targetAccept = options.targetAccept;
  for (const a of attempts)
    targetAccept = nextTargetAccept(a.targetAccept, options) ?? targetAccept;
  let evaluationsElsewhere = 0;
  try {
    for (;;) {
      // A chain checkpointed at another targetAccept belongs to a rejected sampling.
      const current = (ch: NutsChain | null | undefined) =>
        ch && (ch.targetAccept ?? options.targetAccept) === targetAccept ? ch : null;
      const r = await sample(
        on.target,
        { ...options, targetAccept, persistence: p && { ...p, done: p.done?.map(current) } },
        began,
        on.whitening,
        attempts,
      );
      evaluationsElsewhere += r.evaluationsElsewhere ?? 0;
      const next = nextTargetAccept(targetAccept, options);
      if (r.status === 'interrupted' || r.divergences === 0 || next === undefined)
        return {
          ...r,
          targetAccept,
          attempts,
          evaluationsElsewhere,
          preconditioning: on.preconditioning,
          ...(on.modeSearch ? { modeSearch: on.modeSearch } : {}),
        };
      const rejected = {
        targetAccept,
        divergences: r.divergences,
        gradientEvaluations: r.gradientEvaluations,
      };
      attempts.push(rejected);
      p?.onAttempt?.(rejected);
      targetAccept = next;
    }
  } finally {
    on.dispose();
  }
}

/** One sampling's result, before {@link nuts} adds what it knows. */
type Sampled = Omit<NutsResult, 'preconditioning' | 'targetAccept' | 'attempts'>;

/** The rungs a sampling with divergences climbs to (Stan's usual advice), below 1. */
const TARGET_ACCEPT_RUNGS = [0.95, 0.99];

/**
 * The `targetAccept` of the sampling after one at `t` that diverged: the next rung above `t`,
 * capped at `maxTargetAccept`; undefined when `t` is already there.
 */
export function nextTargetAccept(
  t: number,
  o: Pick<NutsOptions, 'maxTargetAccept'>,
): number | undefined {
  if (!(t < o.maxTargetAccept)) return undefined;
  return Math.min(TARGET_ACCEPT_RUNGS.find((r) => r > t) ?? o.maxTargetAccept, o.maxTargetAccept);
}

async function sample(
  model: BayesianModel,
  options: NutsOptions,
  began: number,
  whitening: Whitening | undefined,
  attempts: readonly NutsAttempt[],
): Promise<Sampled> {
  // After a rejected sampling the progress line says why it runs again.
  const rerun = attempts.length
    ? `, again at target-accept ${options.targetAccept} (${attempts.at(-1)!.divergences} divergences at ${attempts.at(-1)!.targetAccept})`
    : '';
  const chains: NutsChain[] = [];
  const total = options.chains * (options.warmup + options.samples);
  const p = options.persistence;
  const pending: number[] = [];
  for (let c = 0; c < options.chains; c++) {
    const before = p?.done?.[c];
    if (before) chains[c] = before;
    else pending.push(c);
  }
  const doneBefore = (options.chains - pending.length) * (options.warmup + options.samples);
  const finish = (chain: NutsChain, index: number, elsewhere: boolean) => {
    chains[index] = chain;
    p?.onChain?.(chain, index, elsewhere);
  };
  let evaluationsElsewhere = 0;
  if (options.pool && pending.length > 1) {
    const progress = new Map<number, { done: number; divergences: number }>();
    const status = await options.pool(
      { indices: pending, options: plainOptions(options), whitening },
      {
        onChain: (chain, index) => {
          evaluationsElsewhere += chain.gradientEvaluations;
          finish(chain, index, true);
        },
        onProgress: (index, done, divergences) => {
          progress.set(index, { done, divergences });
          let all = doneBefore;
          let div = chains.reduce((a, ch) => a + (ch?.divergences ?? 0), 0);
          for (const v of progress.values()) {
            all += v.done;
            div += v.divergences;
          }
          options.onProgress?.(all, total, `divergences ${div}${rerun}`);
        },
        shouldStop: () => p?.shouldStop?.() ?? false,
      },
    );
    if (status === 'interrupted') return stoppedNuts(model, began);
  } else {
    for (const c of pending) {
      const divergencesBefore = chains.reduce((a, ch) => a + (ch?.divergences ?? 0), 0);
      const doneAt = doneBefore + pending.indexOf(c) * (options.warmup + options.samples);
      const chain = await runChain(model, c, options, async (done, divergences) => {
        options.onProgress?.(
          doneAt + done,
          total,
          `divergences ${divergencesBefore + divergences}${rerun}`,
        );
        await yieldToEventLoop();
        return p?.shouldStop?.() ?? false;
      });
      if (!chain) return stoppedNuts(model, began);
      finish(chain, c, false);
    }
  }
  return { ...pooled(model, chains, began), evaluationsElsewhere };
}

/** The random stream of chain `index`: the (index + 1)-th fork of the seed's generator. */
function chainRng(seed: number, index: number): Rng {
  const rng = new Rng(seed);
  for (let c = 0; c < index; c++) rng.fork();
  return rng.fork();
}

/** The options a chain needs, without the functions (they do not cross to a worker). */
function plainOptions(o: NutsOptions): ChainOptions {
  const { onProgress: _p, persistence: _s, pool: _q, ...settings } = o;
  return settings;
}

/**
 * Runs chain `index` of a sampling with `options` on `model` (already preconditioned): the same
 * chain wherever it runs, since its random stream depends on the seed and index only. `tick` is
 * called every 50 iterations with the iterations done and the kept divergences so far; it
 * returns true to stop, and the chain then resolves to undefined.
 */
export async function runChain(
  model: BayesianModel,
  index: number,
  options: ChainOptions,
  tick?: (done: number, divergences: number) => Promise<boolean> | boolean,
): Promise<NutsChain | undefined> {
  const rng = chainRng(options.seed, index);
  const { f, count } = logpGradOf(model);
  const d = model.dim;
  let s = startingPoint(d, f, rng);
  const adapter = new WarmupAdapter(s, f, rng, options);
  const kept: number[][] = [];
  let divergences = 0;
  const stats: number[][] = [];
  let treedepthHits = 0;
  for (let it = 0; it < options.warmup + options.samples; it++) {
    const warm = it < options.warmup;
    const before = count();
    const eps = adapter.eps;
    const step = transition(s, eps, adapter.invMass, f, rng, options.maxTreeDepth);
    s = step.state;
    if (step.divergent && !warm) divergences++;
    if (warm) adapter.update(it, s, step.acceptStat);
    else {
      kept.push(model.summarize(s.z));
      // lp__ is the log density on the sampler's coordinates (up to a constant, as CmdStan's).
      const leapfrogs = count() - before;
      stats.push([s.logp, step.acceptStat, eps, step.depth, leapfrogs, step.divergent ? 1 : 0]);
      if (step.depth >= options.maxTreeDepth) treedepthHits++;
    }
    if ((it + 1) % 50 === 0 && (await tick?.(it + 1, divergences))) return undefined;
  }
  return {
    kept,
    stats,
    treedepthHits,
    stepSize: adapter.eps,
    divergences,
    gradientEvaluations: count(),
    targetAccept: options.targetAccept,
  };
}

/** The chains' draws pooled, with split R-hat, ESS and the sampler statistics. */
function pooled(model: BayesianModel, chains: NutsChain[], began: number): Sampled {
  const perChain = chains.map((ch) => ch.kept);
  const stepSizes = chains.map((ch) => ch.stepSize);
  const divergences = chains.reduce((a, ch) => a + ch.divergences, 0);
  const names = model.summaryNames;
  const diagnostics = names.map((_, k) =>
    chainDiagnostics(perChain.map((ch) => ch.map((v) => v[k]))),
  );
  const rhat = diagnostics.map((q) => q.rhat);
  const ess = diagnostics.map((q) => q.essBulk);
  const tailEss = diagnostics.map((q) => q.essTail);
  return {
    status: 'completed',
    draws: {
      names,
      values: perChain.flat(),
      chain: perChain.flatMap((ch, c) => ch.map(() => c)),
      ...(chains.every((ch) => ch.stats)
        ? { sampler: { names: [...SAMPLER_COLUMNS], values: chains.flatMap((ch) => ch.stats!) } }
        : {}),
    },
    treedepthHits: chains.reduce((a, ch) => a + (ch.treedepthHits ?? 0), 0),
    rhat,
    ess,
    essTail: tailEss,
    stepSizes,
    divergences,
    gradientEvaluations: chains.reduce((a, ch) => a + ch.gradientEvaluations, 0),
    seconds: (performance.now() - began) / 1000,
  };
}

function stoppedNuts(model: BayesianModel, began: number): Sampled {
  return {
    status: 'interrupted',
    draws: { names: model.summaryNames, values: [] },
    rhat: [],
    ess: [],
    essTail: [],
    stepSizes: [],
    divergences: 0,
    treedepthHits: 0,
    gradientEvaluations: 0,
    seconds: (performance.now() - began) / 1000,
  };
}

/**
 * Stan's warm-up adaptation of one chain: the step size by dual averaging toward the target
 * acceptance, and a diagonal inverse mass matrix from the variance of the draws in each slow
 * window (regularised toward 1e-3 as Stan does), the step size restarting after each window.
 * After the last warm-up iteration `eps` is the dual-averaged step size, kept for sampling.
 */
class WarmupAdapter {
  eps: number;
  readonly invMass: Float64Array;
  private mu: number;
  private hBar = 0;
  private logEpsBar = 0;
  private m = 0;
  private windowDraws: Float64Array[] = [];
  private readonly windowEnds: number[];

  constructor(
    s: State,
    private readonly f: LogpGrad,
    private readonly rng: Rng,
    private readonly options: Pick<NutsOptions, 'warmup' | 'targetAccept'>,
  ) {
    this.invMass = new Float64Array(s.z.length).fill(1);
    this.eps = findReasonableStepSize(s, this.invMass, f, rng);
    this.mu = Math.log(10 * this.eps);
    this.windowEnds = adaptationWindows(options.warmup);
  }

  /** After warm-up iteration `it` (from 0), which reached `s` with acceptance statistic `accept`. */
  update(it: number, s: State, accept: number): void {
    const { warmup, targetAccept } = this.options;
    this.m++;
    const eta = 1 / (this.m + 10);
    this.hBar = (1 - eta) * this.hBar + eta * (targetAccept - accept);
    const logEps = this.mu - (Math.sqrt(this.m) / 0.05) * this.hBar;
    const w = this.m ** -0.75;
    this.logEpsBar = w * logEps + (1 - w) * this.logEpsBar;
    this.eps = Math.exp(logEps);
    if (it >= 75 && it < warmup - 50) this.windowDraws.push(Float64Array.from(s.z));
    if (this.windowEnds.includes(it + 1)) this.endWindow(s);
    if (it === warmup - 1) this.eps = Math.exp(this.logEpsBar);
  }

  private endWindow(s: State): void {
    const draws = this.windowDraws;
    const n = draws.length;
    for (let i = 0; i < this.invMass.length; i++) {
      let mean = 0;
      for (const w of draws) mean += w[i] / n;
      let v = 0;
      for (const w of draws) v += (w[i] - mean) ** 2 / (n - 1);
      this.invMass[i] = (n / (n + 5)) * v + 1e-3 * (5 / (n + 5));
    }
    this.windowDraws = [];
    this.eps = findReasonableStepSize(s, this.invMass, this.f, this.rng);
    this.mu = Math.log(10 * this.eps);
    this.hBar = 0;
    this.logEpsBar = 0;
    this.m = 0;
  }
}

/** Ends (iteration counts) of Stan's slow adaptation windows for a warm-up of `warmup`. */
export function adaptationWindows(warmup: number): number[] {
  const ends: number[] = [];
  const start = 75;
  const stop = warmup - 50;
  let size = 25;
  let at = start;
  while (at + size < stop) {
    const next = at + size;
    // The last window absorbs what is left if another doubling would not fit.
    if (next + 2 * size > stop) {
      ends.push(stop);
      return ends;
    }
    ends.push(next);
    at = next;
    size *= 2;
  }
  if (stop > start) ends.push(stop);
  return ends;
}

function kinetic(r: Float64Array, invMass: Float64Array): number {
  let k = 0;
  for (let i = 0; i < r.length; i++) k += r[i] * r[i] * invMass[i];
  return 0.5 * k;
}

function leapfrog(s: State, r: Float64Array, eps: number, invMass: Float64Array, f: LogpGrad) {
  const d = s.z.length;
  const r1 = new Float64Array(d);
  const z1 = new Float64Array(d);
  for (let i = 0; i < d; i++) r1[i] = r[i] + 0.5 * eps * s.grad[i];
  for (let i = 0; i < d; i++) z1[i] = s.z[i] + eps * invMass[i] * r1[i];
  const e = f(z1);
  for (let i = 0; i < d; i++) r1[i] += 0.5 * eps * e.grad[i];
  return { state: { z: z1, logp: e.logp, grad: e.grad }, r: r1 };
}

/**
 * A chain's starting point: a N(0, I) draw in the sampler's coordinates where the log density
 * and its gradient are finite, drawn again up to {@link START_TRIES} times (Stan's rule for its
 * inits). A start with a finite density but a NaN gradient (an exp that underflows under a sqrt:
 * posteriordb's accel_gp at a long length scale) made every transition of its chain diverge.
 */
function startingPoint(d: number, f: LogpGrad, rng: Rng): State {
  for (let t = 0; t < START_TRIES; t++) {
    const z = Float64Array.from({ length: d }, () => rng.normal());
    const s = { z, ...f(z) };
    if (Number.isFinite(s.logp) && s.grad.every(Number.isFinite)) return s;
  }
  throw new AvbUserError(
    `NUTS found no starting point with a finite log density and gradient in ${START_TRIES} draws from N(0, I) on the sampler's coordinates; check the model's support and constraints`,
  );
}

function momentum(d: number, invMass: Float64Array, rng: Rng): Float64Array {
  return Float64Array.from({ length: d }, (_, i) => rng.normal() / Math.sqrt(invMass[i]));
}

function findReasonableStepSize(s: State, invMass: Float64Array, f: LogpGrad, rng: Rng): number {
  let eps = 1;
  const r = momentum(s.z.length, invMass, rng);
  const h0 = s.logp - kinetic(r, invMass);
  let next = leapfrog(s, r, eps, invMass, f);
  let logRatio = next.state.logp - kinetic(next.r, invMass) - h0;
  const dir = logRatio > Math.log(0.5) ? 1 : -1;
  for (let k = 0; k < 100; k++) {
    if (!(dir * logRatio > -dir * Math.log(2))) break;
    eps *= 2 ** dir;
    next = leapfrog(s, r, eps, invMass, f);
    logRatio = next.state.logp - kinetic(next.r, invMass) - h0;
    if (!Number.isFinite(logRatio) && dir === 1) break;
  }
  return Math.min(Math.max(eps, 1e-6), 100);
}

/**
 * A subtree of the trajectory, its ends in the order they were built: `beg` next to where it
 * started, `end` at its outer edge. `rho` is the sum of its momenta (Betancourt 2017's
 * generalised U-turn criterion needs it).
 */
interface Tree {
  end: State;
  rEnd: Float64Array;
  rBeg: Float64Array;
  rho: Float64Array;
  proposal: State;
  n: number;
  ok: boolean;
  alpha: number;
  nAlpha: number;
  divergent: boolean;
}

const MAX_DELTA = 1000;

function plus(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

/** Stan's criterion: both ends' velocities M^-1 p point along the summed momentum rho. */
function keepsGoing(
  pA: Float64Array,
  pB: Float64Array,
  rho: Float64Array,
  invMass: Float64Array,
): boolean {
  let a = 0;
  let b = 0;
  for (let i = 0; i < rho.length; i++) {
    a += invMass[i] * pA[i] * rho[i];
    b += invMass[i] * pB[i] * rho[i];
  }
  return a > 0 && b > 0;
}

/**
 * Whether the trajectory may grow after joining an inner tree (far end `innerFar`, near end
 * `innerNear`) and the outer tree built next to it (near end `outerNear`, far end `outerFar`):
 * the criterion over the whole, plus Stan's two extra checks across the seam (each side with the
 * first momentum of the other), which catch U-turns that fall between the two halves.
 */
function mergeKeepsGoing(
  innerFar: Float64Array,
  innerNear: Float64Array,
  innerRho: Float64Array,
  outerNear: Float64Array,
  outerFar: Float64Array,
  outerRho: Float64Array,
  invMass: Float64Array,
): boolean {
  return (
    keepsGoing(innerFar, outerFar, plus(innerRho, outerRho), invMass) &&
    keepsGoing(innerFar, outerNear, plus(innerRho, outerNear), invMass) &&
    keepsGoing(innerNear, outerFar, plus(outerRho, innerNear), invMass)
  );
}

function buildTree(
  s: State,
  r: Float64Array,
  logU: number,
  dir: number,
  depth: number,
  eps: number,
  h0: number,
  invMass: Float64Array,
  f: LogpGrad,
  rng: Rng,
): Tree {
  if (depth === 0) {
    const next = leapfrog(s, r, dir * eps, invMass, f);
    const h = next.state.logp - kinetic(next.r, invMass);
    const n = logU <= h ? 1 : 0;
    const divergent = !(logU < h + MAX_DELTA);
    const alpha = Number.isFinite(h) ? Math.min(1, Math.exp(h - h0)) : 0;
    return {
      end: next.state,
      rEnd: next.r,
      rBeg: next.r,
      rho: Float64Array.from(next.r),
      proposal: next.state,
      n,
      ok: !divergent,
      alpha,
      nAlpha: 1,
      divergent,
    };
  }
  const t = buildTree(s, r, logU, dir, depth - 1, eps, h0, invMass, f, rng);
  if (!t.ok) return t;
  const t2 = buildTree(t.end, t.rEnd, logU, dir, depth - 1, eps, h0, invMass, f, rng);
  const ok = t2.ok && mergeKeepsGoing(t.rBeg, t.rEnd, t.rho, t2.rBeg, t2.rEnd, t2.rho, invMass);
  if (t.n + t2.n > 0 && rng.uniform() < t2.n / (t.n + t2.n)) t.proposal = t2.proposal;
  return {
    end: t2.end,
    rEnd: t2.rEnd,
    rBeg: t.rBeg,
    rho: plus(t.rho, t2.rho),
    proposal: t.proposal,
    n: t.n + t2.n,
    ok,
    alpha: t.alpha + t2.alpha,
    nAlpha: t.nAlpha + t2.nAlpha,
    divergent: t.divergent || t2.divergent,
  };
}

/**
 * One NUTS transition (slice variant, Hoffman & Gelman 2014 Algorithm 3) with Stan's generalised
 * U-turn criterion: the trajectory keeps its two ends (state and momentum) and the sum of all
 * its momenta; each doubling builds a subtree at one end and checks the merge.
 */
function transition(
  s: State,
  eps: number,
  invMass: Float64Array,
  f: LogpGrad,
  rng: Rng,
  maxDepth: number,
) {
  const r0 = momentum(s.z.length, invMass, rng);
  const h0 = s.logp - kinetic(r0, invMass);
  const logU = h0 + Math.log(1 - rng.uniform());
  // ends[0]: the backward end, ends[1]: the forward end.
  const ends = [
    { state: s, r: r0 },
    { state: s, r: r0 },
  ];
  let rho: Float64Array = Float64Array.from(r0);
  let current = s;
  let n = 1;
  let alpha = 0;
  let nAlpha = 0;
  let divergent = false;
  let depth = 0;
  for (; depth < maxDepth;) {
    const dir = rng.uniform() < 0.5 ? -1 : 1;
    const near = ends[dir === -1 ? 0 : 1];
    const far = ends[dir === -1 ? 1 : 0];
    const t = buildTree(near.state, near.r, logU, dir, depth, eps, h0, invMass, f, rng);
    depth++;
    alpha += t.alpha;
    nAlpha += t.nAlpha;
    divergent = divergent || t.divergent;
    if (!t.ok) break;
    if (rng.uniform() < t.n / n) current = t.proposal;
    n += t.n;
    const goOn = mergeKeepsGoing(far.r, near.r, rho, t.rBeg, t.rEnd, t.rho, invMass);
    rho = plus(rho, t.rho);
    ends[dir === -1 ? 0 : 1] = { state: t.end, r: t.rEnd };
    if (!goOn) break;
  }
  return { state: current, acceptStat: nAlpha > 0 ? alpha / nAlpha : 0, divergent, depth };
}
