import { cholesky, momentChange, rowMoments as moments } from './denseMatrix.js';
import type { RowsEvaluator } from './affineRefit.js';
import type { Rng } from '../random/rng.js';
import { pausePoint, type WorkHooks } from '../progress.js';

/**
 * Hamiltonian Monte Carlo run from a variational fit's draws, one chain per draw, all chains a
 * step at a time (so the model is evaluated at all of them together): the polish of a fit whose
 * own checks failed. Each chain's kernel leaves the posterior p invariant, so whatever q the
 * draws came from, the KL divergence from the chains' distribution to p can only fall with each
 * transition (the data-processing inequality); a fit that is nearly right needs few. Where AVB's
 * adversary leaves q's shape wrong (posteriordb's GP: ρ's sd 12% narrow, which no refit of the
 * fit's draws by the ELBO can see, README) the chains move the draws to the posterior without
 * needing q's density, as the affine refit does not.
 *
 * When to stop, from the chains alone: the correlation across the chains between a coordinate
 * now and at the start (and between their squared deviations) is what the draws still remember
 * of q; for an autoregressive chain the error of a mean or a variance left from q's is that
 * correlation times q's error. The polish runs until every such correlation is below `forget`,
 * then `extra` as long again (burn-in is no exact science: the tails, which the correlations of
 * the bulk under-weigh, fill last), and at least 3 transitions past adaptation; and until the
 * chains' means have stopped moving ({@link driftBound}), since chains from a q far off and
 * narrow forget their own starts long before the ensemble arrives. It gives up at
 * `maxIterations` or `maxGradientsPerChain`, and says so.
 *
 * The kinetic energy uses the draws' covariance as the inverse mass matrix (the fit's scale and
 * correlations, which it has right even where its shape is wrong); the step size starts where
 * one leapfrog step keeps most of the chains, then follows the chains' mean acceptance toward
 * `targetAccept` over the first `adaptIterations` transitions and is fixed after. The target is
 * high, 0.95: on posteriordb's GP (whose ridge makes NUTS diverge at Stan's 0.8) a target of
 * 0.8 left 1.8% of proposals divergent and the chains took 24 transitions to forget q's draws
 * (1.65 million gradients), 0.95 took 0.02% and 7 (0.70 million), ending within 0.02 sd and
 * sds 0.96-1.01 of the reference from a fit 0.16 sd and 0.87 off. Each
 * transition integrates for a random time in [π/4, π] (in the metric's units, a quarter
 * rotation π/2 of a Gaussian on average), which avoids the periodic orbits of a fixed length.
 */
export interface EnsembleHmcOptions {
  maxIterations: number;
  forget: number;
  extra: number;
  targetAccept: number;
  adaptIterations: number;
  /** Leapfrog steps per transition at most (a step size this small is spent in no more). */
  maxLeapfrog: number;
  /**
   * Gradients per chain at most, all transitions together: a posterior whose step size falls
   * far below the metric's scale gives up (and says so) in minutes rather than hours. The GP
   * of posteriordb took 138-218 (its three seeds).
   */
  maxGradientsPerChain: number;
}

export const DEFAULT_ENSEMBLE_HMC: EnsembleHmcOptions = {
  maxIterations: 60,
  forget: 0.1,
  extra: 0.5,
  targetAccept: 0.95,
  adaptIterations: 5,
  maxLeapfrog: 64,
  maxGradientsPerChain: 1500,
};

export interface EnsembleHmc {
  /** The chains' states `[n, d]`, log p and ∇ log p there. */
  z: Float64Array;
  logp: Float64Array;
  grads: Float64Array;
  /** Transitions run. */
  iterations: number;
  /** The transition after which the draws had forgotten the start (every correlation < `forget`). */
  forgotAt?: number;
  /** Whether the run ended `extra` after forgetting (false: stopped by a budget first). */
  converged: boolean;
  /** The largest correlation with the start at the end. */
  memory: number;
  /**
   * How far the chains' means moved over the run's second half (or since forgetting, if that
   * was later), in the chains' sds, or their sds in log, the largest over the coordinates (NaN
   * before forgetting).
   * A run ends only once it is below {@link driftBound}: chains that forgot their starts can still
   * travel together toward a posterior far from q (on mcycle's accel_gp, q's length scale 2.5
   * posterior sds low, the chains forgot after 5 transitions and were still on their way).
   */
  drift: number;
  stepSize: number;
  /** Mean acceptance probability over the transitions after adaptation. */
  acceptance: number;
  /**
   * Proposals after adaptation whose energy error was not finite or above 1,000 (a divergent
   * trajectory; during adaptation a step size too large makes them by design).
   */
  divergent: number;
  /** Rows evaluated (log p with its gradient). */
  evaluations: number;
  /** How far the chains moved the draws: the largest |mean change| in the start's sds. */
  meanMoved: number;
  /** The sd ratio (after / before) farthest from 1. */
  sdRatio: number;
}

/**
 * `z` `[n, d]` the starting draws, `initial` log p and ∇ log p there; undefined when the draws'
 * covariance is singular (no metric to move them in), `'stopped'` when `hooks.shouldStop` said
 * so at a pause point (after each evaluation of the chains). Progress counts transitions, of
 * `maxIterations` at most, with the leapfrog step within one and how much the draws still
 * remember of q (`memory`, to fall below `forget`).
 */
export async function ensembleHmc(
  z: Float64Array,
  d: number,
  evaluate: RowsEvaluator,
  initial: { values: Float64Array; grads: Float64Array },
  rng: Rng,
  options: Partial<EnsembleHmcOptions> = {},
  hooks: WorkHooks = {},
): Promise<EnsembleHmc | 'stopped' | undefined> {
  const o = { ...DEFAULT_ENSEMBLE_HMC, ...options };
  const n = z.length / d;
  const start = moments(z, n, d);
  let iterations = 0;
  let memory = 1;
  const pause = (step: number, steps: number) => {
    const figures = `leapfrog ${step}/${steps}, memory ${memory.toFixed(2)} (to fall below ${o.forget})`;
    hooks.onProgress?.(iterations, o.maxIterations, figures, 'polish');
    return pausePoint(hooks);
  };
  const chains = Chains.withMetric(start.c, n, d, evaluate, rng, pause);
  if (!chains) return undefined;
  let cur: State = { z: Float64Array.from(z), logp: initial.values, grads: initial.grads };
  const first = await chains.firstStepSize(cur);
  if (first === undefined) return 'stopped';
  let eps = first;
  let forgotAt: number | undefined;
  let accepted = 0;
  let divergent = 0;
  // The chains' moments after each transition, and how far they moved over the second half.
  const history: { m: Float64Array; v: Float64Array }[] = [];
  let drift = NaN;
  const still = (f: number) => iterations >= endAfter(f, o) && drift <= driftBound(n);
  while (iterations < o.maxIterations && chains.evaluations < o.maxGradientsPerChain * n) {
    const time = ((0.5 + 1.5 * rng.uniform()) * Math.PI) / 2;
    const t = await chains.transition(cur, eps, Math.min(o.maxLeapfrog, Math.ceil(time / eps)));
    if (!t) return 'stopped';
    cur = t.next;
    iterations++;
    if (iterations <= o.adaptIterations) eps *= Math.exp(2 * (t.acceptance - o.targetAccept));
    else {
      accepted += t.acceptance;
      divergent += t.divergent;
    }
    memory = startMemory(z, cur.z, n, d, start.m);
    const now = coordinateMoments(cur.z, n, d);
    history.push(now);
    if (forgotAt === undefined && memory < o.forget) forgotAt = iterations;
    if (forgotAt !== undefined) {
      // Over the run's second half: for chains closing on the posterior geometrically, a move
      // below the bound there leaves less than the bound still to go.
      drift = momentDrift(history[Math.max(Math.ceil(iterations / 2), forgotAt) - 1], now, d);
      if (still(forgotAt)) break;
    }
  }
  const counted = iterations - o.adaptIterations;
  return {
    ...cur,
    iterations,
    ...(forgotAt !== undefined ? { forgotAt } : {}),
    converged: forgotAt !== undefined && still(forgotAt),
    memory,
    drift,
    stepSize: eps,
    acceptance: counted > 0 ? accepted / counted : NaN,
    divergent,
    evaluations: chains.evaluations,
    ...momentChange(start, moments(cur.z, n, d), d),
  };
}

/** The chains' positions `[n, d]`, log p and ∇ log p there. */
interface State {
  z: Float64Array;
  logp: Float64Array;
  grads: Float64Array;
}

/**
 * Awaited after each evaluation of the chains, leapfrog `step` of `steps`: resolves true to stop.
 */
type Pause = (step: number, steps: number) => Promise<boolean>;

/** n chains' Hamiltonian dynamics with inverse mass matrix C (velocity = C p). */
class Chains {
  evaluations = 0;
  private readonly v: Float64Array;

  private constructor(
    private readonly c: Float64Array,
    private readonly l: Float64Array,
    private readonly n: number,
    private readonly d: number,
    private readonly evaluate: RowsEvaluator,
    private readonly rng: Rng,
    private readonly pause: Pause,
  ) {
    this.v = new Float64Array(d);
  }

  /** Undefined when C is not positive definite. */
  static withMetric(
    c: Float64Array,
    n: number,
    d: number,
    evaluate: RowsEvaluator,
    rng: Rng,
    pause: Pause,
  ) {
    const l = cholesky(c, d);
    if (!l || l.some((v, k) => k % (d + 1) === 0 && !(v > 0))) return undefined;
    return new Chains(c, l, n, d, evaluate, rng, pause);
  }

  /**
   * The first step size: halved from 1 (the metric's own scale) until one leapfrog step keeps
   * the chains' mean acceptance above 0.9, as Stan's first guess does for one chain. Undefined:
   * stopped at a pause point.
   */
  async firstStepSize(state: State): Promise<number | undefined> {
    let eps = 1;
    for (let h = 0; h < 20; h++) {
      const t = await this.transition(state, eps, 1);
      if (!t) return undefined;
      if (t.acceptance > 0.9) break;
      eps /= 2;
    }
    return eps;
  }

  /**
   * One transition of every chain: fresh momenta, `steps` leapfrog steps, and each chain's
   * Metropolis choice; its mean acceptance probability and its divergent proposals (energy
   * error above 1,000 or not finite). Undefined: stopped at a pause point.
   */
  async transition(state: State, eps: number, steps: number) {
    const { n, d } = this;
    const { p, kinetic } = this.momenta();
    const prop = await this.leapfrog(state, p, eps, Math.max(1, steps));
    if (!prop) return undefined;
    const next = {
      z: Float64Array.from(state.z),
      logp: Float64Array.from(state.logp),
      grads: Float64Array.from(state.grads),
    };
    let acceptance = 0;
    let divergent = 0;
    for (let i = 0; i < n; i++) {
      const logA = prop.logp[i] - this.kinetic(p, i) - (state.logp[i] - kinetic[i]);
      if (!(logA > -1000)) divergent++;
      const a = logA >= 0 ? 1 : logA > -Infinity ? Math.exp(logA) : 0;
      acceptance += a / n;
      if (this.rng.uniform() < a) {
        next.z.set(prop.z.subarray(i * d, (i + 1) * d), i * d);
        next.grads.set(prop.grads.subarray(i * d, (i + 1) * d), i * d);
        next.logp[i] = prop.logp[i];
      }
    }
    return { next, acceptance, divergent };
  }

  /** Momenta p ~ N(0, C^-1): p = L^-T xi, so that the kinetic energy p^T C p / 2 = |xi|^2 / 2. */
  private momenta() {
    const { n, d, l } = this;
    const p = new Float64Array(n * d);
    const kinetic = new Float64Array(n);
    const xi = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      let k = 0;
      for (let j = 0; j < d; j++) {
        xi[j] = this.rng.normal();
        k += xi[j] * xi[j];
      }
      kinetic[i] = k / 2;
      for (let j = d - 1; j >= 0; j--) {
        let s = xi[j];
        for (let m = j + 1; m < d; m++) s -= l[m * d + j] * p[i * d + m];
        p[i * d + j] = s / l[j * d + j];
      }
    }
    return { p, kinetic };
  }

  /**
   * `steps` leapfrog steps from `state` with momenta `p` (updated in place); undefined: stopped
   * at a pause point.
   */
  private async leapfrog(
    state: State,
    p: Float64Array,
    eps: number,
    steps: number,
  ): Promise<State | undefined> {
    const { n, d, v } = this;
    const x = Float64Array.from(state.z);
    let g = state.grads;
    let logp = state.logp;
    for (let s = 0; s < steps; s++) {
      for (let q = 0; q < n * d; q++) p[q] += (eps / 2) * g[q];
      for (let i = 0; i < n; i++) {
        this.velocity(p, i);
        for (let j = 0; j < d; j++) x[i * d + j] += eps * v[j];
      }
      const e = this.evaluate(x, n);
      this.evaluations += n;
      g = e.grads;
      logp = e.values;
      for (let q = 0; q < n * d; q++) p[q] += (eps / 2) * g[q];
      if (await this.pause(s + 1, steps)) return undefined;
    }
    return { z: x, logp, grads: g };
  }

  /** p^T C p / 2 for row i of p. */
  private kinetic(p: Float64Array, i: number): number {
    this.velocity(p, i);
    let k = 0;
    for (let j = 0; j < this.d; j++) k += (p[i * this.d + j] * this.v[j]) / 2;
    return k;
  }

  /** this.v = C p for row i of p. */
  private velocity(p: Float64Array, i: number) {
    const { c, d, v } = this;
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += c[j * d + k] * p[i * d + k];
      v[j] = s;
    }
  }
}

/**
 * The most the chains' means may move over the second half for the run to end: 4.5 times the sd
 * of such a move between two independent sets of n draws (sqrt(2 / n) posterior sds), so that
 * chains at the posterior pass in every coordinate of a model with hundreds, and at least 0.05 sd.
 */
export function driftBound(n: number): number {
  return Math.max(0.05, 4.5 * Math.sqrt(2 / n));
}

/** Each coordinate's mean and variance over the chains (`z` `[n, d]`), over n. */
function coordinateMoments(z: Float64Array, n: number, d: number) {
  const m = new Float64Array(d);
  const v = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m[j] += z[i * d + j] / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) v[j] += (z[i * d + j] - m[j]) ** 2 / n;
  return { m, v };
}

/**
 * How far the chains' moments moved from `before` to `now`: the largest |mean change| of a
 * coordinate in `now`'s sds, or √2 |log sd ratio| if larger. The spread counts as the means do:
 * chains that forgot q's draws can still be spreading out together. From 4,000 draws 0.1 sd wide
 * on N(0, 1) (seeds 1-10), the rule on means alone ended after 11-26 transitions with sds
 * 0.74-0.92; with the spread, after 33-59 with 0.96-1.00. Between two independent sets of n
 * draws of a Gaussian, log sd moves by about sqrt(1 / n), the mean by sqrt(2 / n) sds: so the
 * factor √2, and {@link driftBound} serves both (starts at the posterior end as before).
 */
function momentDrift(
  before: { m: Float64Array; v: Float64Array },
  now: { m: Float64Array; v: Float64Array },
  d: number,
) {
  let worst = 0;
  for (let j = 0; j < d; j++) {
    const shift = Math.abs(now.m[j] - before.m[j]) / Math.sqrt(now.v[j]);
    const spread = Math.SQRT2 * Math.abs(0.5 * Math.log(now.v[j] / before.v[j]));
    worst = Math.max(worst, shift, spread);
  }
  return worst;
}

/**
 * The last transition: `extra` as long again as forgetting took, and at least 3 after the step
 * size is fixed, whose acceptance and divergences are the ones reported.
 */
function endAfter(forgotAt: number, o: EnsembleHmcOptions): number {
  return Math.max(Math.ceil((1 + o.extra) * forgotAt), o.adaptIterations + 3);
}

/**
 * The largest |correlation| across the chains between a coordinate now and at the start, and
 * between its squared deviations from the start's mean (what the draws remember of q's location
 * and of its scale).
 */
export function startMemory(
  start: Float64Array,
  now: Float64Array,
  n: number,
  d: number,
  startMean: Float64Array,
): number {
  let worst = 0;
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  for (let j = 0; j < d; j++) {
    let nowMean = 0;
    for (let i = 0; i < n; i++) nowMean += now[i * d + j] / n;
    for (const square of [false, true]) {
      for (let i = 0; i < n; i++) {
        const x = start[i * d + j] - startMean[j];
        const y = now[i * d + j] - nowMean;
        a[i] = square ? x * x : x;
        b[i] = square ? y * y : y;
      }
      worst = Math.max(worst, Math.abs(correlation(a, b)));
    }
  }
  return worst;
}

function correlation(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  for (let i = 0; i < n; i++) {
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
    sab += (a[i] - ma) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}
