import * as tf from '../tf.js';
import { cholesky, choleskySolve, inverseFromCholesky } from '../math/denseMatrix.js';
import { Rng } from '../random/rng.js';
import type { BayesianModel } from './model.js';

/**
 * A Laplace approximation N(mode, cov) of a posterior: the mode of log p(z, data) found by
 * damped Newton steps, and the inverse of the negative Hessian there (central differences of
 * gradients, each step 1e-3 of the current sd estimate for gradients in doubles, a tenth for
 * float32 tfjs ones). Doubles; `chol` is cov's lower
 * Cholesky factor, row-major `[d, d]`.
 */
export interface LaplaceFit {
  mode: Float64Array;
  cov: Float64Array;
  chol: Float64Array;
  /** log |det chol|: half the log determinant of cov. */
  logDetChol: number;
  /** log p at the mode. */
  logp: number;
  /** Newton steps of the search that found this mode. */
  iterations: number;
  /** Whether the search ended at a stationary point (not stalled, not at its step cap). */
  converged: boolean;
  /** The starts the search ran from, and the distinct modes they found. */
  starts: number;
  modes: number;
  /**
   * The share of the posterior's mass the Laplace approximations put at the other modes found
   * (0 with one mode): the fit is around one mode only, so more than a little means it misses
   * mass.
   */
  elsewhere: number;
}

const MAX_NEWTON = 100;

/** Starts of the mode search by default: z = 0 and three random points (Stan's inits). */
export const MODE_SEARCH_STARTS = 4;

/** A share of the mass at other modes above which a fit around one mode is not trusted. */
export const ELSEWHERE_MAX = 0.01;

/**
 * Finds the posterior's mode and curvature, so that variational inference starts where the
 * posterior is and at its scale: a posterior whose sd is 1e-4 of the prior's, or with a
 * correlation of 0.999, is then about a standard normal to the fit. Returns a one-line reason
 * instead when there is no usable mode (a flat or improper posterior, a density that is not finite).
 *
 * The search runs from z = 0 and from `starts - 1` points drawn uniformly in [-2, 2]^d (as Stan
 * initialises its chains), seeded by `seed`, and keeps the mode whose Laplace approximation
 * holds the most mass, log p(mode) + log |det chol|: a posterior with a poorer local mode
 * (Lotka-Volterra's, found from z = 0) is then fitted at its main one, and a spike of high
 * density but no width (a funnel's neck) does not win on height alone.
 */
export function laplaceApproximation(
  model: BayesianModel,
  options: { starts?: number; seed?: number } = {},
): LaplaceFit | string {
  const d = model.dim;
  const starts = Math.max(1, options.starts ?? MODE_SEARCH_STARTS);
  const rng = new Rng(options.seed ?? 1);
  const fits: LaplaceFit[] = [];
  let firstFailure = '';
  for (let s = 0; s < starts; s++) {
    const z0 = s === 0 ? new Float64Array(d) : randomStart(model, rng);
    const fit = newtonFrom(model, z0);
    if (typeof fit !== 'string') fits.push(fit);
    else if (s === 0) firstFailure = fit;
  }
  if (fits.length === 0) return firstFailure;
  const mass = (f: LaplaceFit) => f.logp + f.logDetChol;
  // A search that stalled short of a mode is used only when no search reached one. But with
  // exact gradients, every search running all its steps uphill is a ridge towards a boundary,
  // not a mode (a non-centred hierarchy under a vague hyperprior: the scale grows without end);
  // whitening by the curvature where the steps ran out made full-rank ADVI diverge.
  const reached = fits.filter((f) => f.converged);
  const ridge = model.logDensityAndGradient && fits.every((f) => f.iterations >= MAX_NEWTON);
  if (reached.length === 0 && ridge)
    return `${NO_MODE} for all its ${MAX_NEWTON} Newton steps (a ridge towards a boundary)`;
  if (reached.length === 0) return { ...fits[0], starts };
  const best = reached.reduce((a, b) => (mass(b) > mass(a) ? b : a));
  // Distinct modes: more than 0.1 sd apart in the best fit's whitened coordinates (Newton ends
  // within ~1e-4 sd of a mode, so one mode found twice is far closer).
  const distinct: LaplaceFit[] = [best];
  for (const f of reached)
    if (distinct.every((g) => whitenedDistance(best, g.mode, f.mode, d) > 0.1)) distinct.push(f);
  const others = distinct.slice(1).reduce((t, f) => t + Math.exp(mass(f) - mass(best)), 0);
  return { ...best, starts, modes: distinct.length, elsewhere: others / (1 + others) };
}

/**
 * Draws of a random start with a finite density and gradient before giving up (Stan's rule for
 * its inits), in each of {@link START_BOXES}: the mode search then takes the last one as it is,
 * NUTS stops (nuts.ts).
 */
export const START_TRIES = 100;

/**
 * Half-widths of the boxes random starts are drawn from, in turn: Stan's [-2, 2]^d, then wider
 * ones where none of its draws has a finite density. A wide bounded box is -inf wherever the
 * program's logits saturate: posteriordb's dogs_log, its beta on (-100, 0) x (0, 100), is finite
 * at none of 100 draws in [-2, 2]^2 on the simulated dogs data (beta there is 12 or more from
 * both walls) and at 2% of those in [-4, 4]^2, 14% in [-8, 8]^2.
 */
const START_BOXES = [2, 4, 8];

/**
 * A random point where `finite` holds: uniform in [-2, 2]^d up to {@link START_TRIES} times,
 * then in the wider boxes of {@link START_BOXES}; undefined if none is.
 */
export function randomFiniteStart(
  dim: number,
  finite: (z: Float64Array) => boolean,
  rng: Rng,
): Float64Array | undefined {
  for (const half of START_BOXES)
    for (let t = 0; t < START_TRIES; t++) {
      const z = Float64Array.from({ length: dim }, () => half * (2 * rng.uniform() - 1));
      if (finite(z)) return z;
    }
  return undefined;
}

/** A random start of the mode search (see {@link randomFiniteStart}); z = 0 if none is finite. */
function randomStart(model: BayesianModel, rng: Rng): Float64Array {
  const finite = (z: Float64Array) => Number.isFinite(evaluate(model, [z]).logp[0]);
  return randomFiniteStart(model.dim, finite, rng) ?? new Float64Array(model.dim);
}

/** sqrt((a - b)ᵀ Σ⁻¹ (a - b)) with Σ the fit's covariance: a distance in its posterior sds. */
function whitenedDistance(fit: LaplaceFit, a: Float64Array, b: Float64Array, d: number): number {
  const diff = a.map((v, i) => v - b[i]);
  return Math.sqrt(choleskySolve(fit.chol, d, diff).reduce((s, v, i) => s + v * diff[i], 0));
}

/** Damped Newton ascent from z0 to a mode, and the Laplace approximation there. */
function newtonFrom(model: BayesianModel, z0: Float64Array): LaplaceFit | string {
  const d = model.dim;
  // Finite-difference steps as a fraction of the sd estimate: gradients in doubles are exact to
  // ~1e-15, so a small step (1e-3 sd) has negligible rounding error and little truncation error,
  // which a strongly coupled posterior needs (the GP of posteriordb: 0.1 sd gave an indefinite
  // Hessian at its mode); a float32 tfjs gradient needs a step far above its rounding (0.1 sd).
  const relative = model.logDensityAndGradient ? 1e-3 : 0.1;
  let z = z0;
  let h = new Float64Array(d).fill(0.1 * relative);
  let here = evaluate(model, [z]);
  if (!Number.isFinite(here.logp[0]))
    return `the log density is not finite at z = ${z.every((v) => v === 0) ? '0' : 'the start'}`;
  // Levenberg-Marquardt: a step that finds no ascent is retried with 100x the damping (a
  // shorter, more gradient-like step), from the same Hessian.
  let floor = 0;
  let a = negativeHessian(model, z, h);
  for (let it = 1; it <= MAX_NEWTON; it++) {
    const damped = dampedCholesky(a, d, floor);
    if (!damped) return 'the negative Hessian could not be made positive definite';
    const g = here.grad;
    const step = choleskySolve(damped.l, d, g); // (A + lambda I)^-1 g: uphill
    const decrement = step.reduce((s, v, i) => s + v * g[i], 0); // g^T A^-1 g
    if (!Number.isFinite(decrement)) return 'the gradient is not finite';
    // Backtracking: the longest of 1, 1/2, ..., 1/1024 that does not lower log p.
    const alphas = Array.from({ length: 11 }, (_, k) => 2 ** -k);
    const tries = evaluate(
      model,
      alphas.map((al) => z.map((v, i) => v + al * step[i])),
    );
    const k = alphas.findIndex((_, j) => tries.logp[j] >= here.logp[0]);
    if (k < 0 && damped.rung + 2 < DAMPING_RUNGS) {
      floor = damped.rung + 2;
      continue;
    }
    floor = 0;
    if (k >= 0) {
      z = z.map((v, i) => v + alphas[k] * step[i]);
      here = evaluate(model, [z]);
      const cov = inverseFromCholesky(damped.l, d);
      h = Float64Array.from({ length: d }, (_, i) =>
        Math.min(10 * relative, Math.max(1e-9, relative * Math.sqrt(cov[i * d + i]))),
      );
    }
    if (k < 0 || (decrement < 1e-8 && damped.lambda === 0)) return laplaceAt(model, z, h, it, here);
    a = negativeHessian(model, z, h);
  }
  return laplaceAt(model, z, h, MAX_NEWTON, here);
}

function laplaceAt(
  model: BayesianModel,
  z: Float64Array,
  h: Float64Array,
  iterations: number,
  here: { logp: Float64Array; grad: Float64Array },
): LaplaceFit | string {
  const d = model.dim;
  const l = cholesky(negativeHessian(model, z, h), d);
  if (!l) return `${NO_CURVATURE} in some direction (flat or improper)`;
  // Newton's decrement g^T A^-1 g is the squared distance to the mode in posterior sds: under
  // 1e-4 the search reached a mode (to 0.01 sd) even where the gradient's noise (an ODE
  // solver's tolerance) kept it from the loop's stricter stop.
  const decrement = choleskySolve(l, d, here.grad).reduce((s, v, i) => s + v * here.grad[i], 0);
  const converged = decrement < 1e-4;
  const logp = here.logp[0];
  const cov = inverseFromCholesky(l, d);
  const chol = cholesky(cov, d);
  if (!chol) return 'the Laplace covariance is not positive definite';
  // A usable approximation has a finite density 2 sds either side of its mode along every
  // axis; a Newton run that went off to a boundary (a flat or improper direction) has not.
  const probes: Float64Array[] = [];
  for (let i = 0; i < d; i++)
    for (const sign of [2, -2]) {
      const p = Float64Array.from(z);
      p[i] += sign * Math.sqrt(cov[i * d + i]);
      probes.push(p);
    }
  const at = evaluate(model, probes);
  const bad = at.logp.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0 || !z.every(Number.isFinite))
    return `${NOT_FINITE_NEAR_MODE} (along ${model.parameterNames[Math.floor(Math.max(0, bad) / 2)]})`;
  let logDetChol = 0;
  for (let i = 0; i < d; i++) logDetChol += Math.log(chol[i * d + i]);
  return {
    mode: z,
    cov,
    chol,
    logDetChol,
    logp,
    iterations,
    converged,
    starts: 1,
    modes: 1,
    elsewhere: 0,
  };
}

/** -H at z by central differences of the gradient, symmetrised: `[d, d]` row-major. */
function negativeHessian(model: BayesianModel, z: Float64Array, h: Float64Array): Float64Array {
  const d = model.dim;
  const points: Float64Array[] = [];
  for (let j = 0; j < d; j++)
    for (const sign of [1, -1]) {
      const p = Float64Array.from(z);
      p[j] += sign * h[j];
      points.push(p);
    }
  const { grad } = evaluate(model, points);
  const a = new Float64Array(d * d);
  for (let j = 0; j < d; j++)
    for (let i = 0; i < d; i++)
      a[i * d + j] = -(grad[2 * j * d + i] - grad[(2 * j + 1) * d + i]) / (2 * h[j]);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < i; j++) a[i * d + j] = a[j * d + i] = (a[i * d + j] + a[j * d + i]) / 2;
  return a;
}

const DAMPING_RUNGS = 16;

/**
 * Cholesky of A + lambda I with the smallest lambda on the ladder 0, 1e-6 x A's scale, x10 ...
 * (from rung `from`) that works; `rung` is its place on the ladder.
 */
function dampedCholesky(
  a: Float64Array,
  d: number,
  from = 0,
): { l: Float64Array; lambda: number; rung: number } | undefined {
  let scale = 0;
  for (let i = 0; i < d; i++) scale = Math.max(scale, Math.abs(a[i * d + i]));
  if (!(scale > 0) || !Number.isFinite(scale)) scale = 1;
  for (let rung = from; rung < DAMPING_RUNGS; rung++) {
    const lambda = rung === 0 ? 0 : scale * 1e-6 * 10 ** (rung - 1);
    const b = Float64Array.from(a);
    for (let i = 0; i < d; i++) b[i * d + i] += lambda;
    const l = cholesky(b, d);
    if (l) return { l, lambda, rung };
  }
  return undefined;
}

/**
 * log p and its gradient at each of `zs`. A point whose gradient is not finite counts as outside
 * the support (log p = -inf), as NUTS's starts and Stan's inits do: an exp that underflows under a
 * sqrt gives a finite density with a NaN gradient (posteriordb's accel_gp at a long length scale),
 * and a search that stepped there could not go on.
 */
function evaluate(
  model: BayesianModel,
  zs: Float64Array[],
): { logp: Float64Array; grad: Float64Array } {
  const e = evaluateAsIs(model, zs);
  const d = model.dim;
  for (let r = 0; r < zs.length; r++)
    if (!e.grad.subarray(r * d, (r + 1) * d).every(Number.isFinite)) e.logp[r] = -Infinity;
  return e;
}

/**
 * log p and its gradient at each point, through the model's doubles where it has them, else one
 * batched tfjs evaluation (the log joint is batched over rows, so the gradient of its sum gives
 * every row's gradient).
 */
function evaluateAsIs(
  model: BayesianModel,
  zs: Float64Array[],
): { logp: Float64Array; grad: Float64Array } {
  const d = model.dim;
  const n = zs.length;
  const logp = new Float64Array(n);
  const grad = new Float64Array(n * d);
  if (model.logDensityAndGradient) {
    zs.forEach((z, r) => {
      const e = model.logDensityAndGradient!(z);
      logp[r] = e.logp;
      grad.set(e.grad, r * d);
    });
    return { logp, grad };
  }
  const flat = new Float32Array(n * d);
  zs.forEach((z, r) => flat.set(z, r * d));
  const [lp, g] = tf.tidy(() => {
    const z = tf.tensor2d(flat, [n, d]);
    const gradient = tf.grad((x: tf.Tensor) => tf.sum(model.logJoint(x as tf.Tensor2D)));
    return [model.logJoint(z), gradient(z)];
  });
  logp.set(lp.dataSync());
  grad.set(g.dataSync());
  tf.dispose([lp, g]);
  return { logp, grad };
}

/**
 * The lower-triangular L of the whitening z = mode + L u: the Laplace covariance's Cholesky
 * factor, or with `diagonal` its sds on the diagonal. Row-major `[d, d]`.
 */
export function whiteningFactor(fit: LaplaceFit, d: number, diagonal: boolean): Float64Array {
  return diagonal
    ? Float64Array.from({ length: d * d }, (_, k) =>
        k % (d + 1) === 0 ? Math.sqrt(fit.cov[k]) : 0,
      )
    : fit.chol;
}

/**
 * The model seen in whitened coordinates u, z = mode + chol u (or a diagonal scale: `diagonal`
 * keeps a mean-field family mean-field): log p(mode + chol u) + log |det chol|, the same
 * posterior up to that affine map. Reported quantities are the original model's, so draws of u
 * summarise as draws of z. `dispose` frees the map's two tensors, made once (not per step).
 */
export function whitenedModel(
  model: BayesianModel,
  fit: LaplaceFit,
  diagonal = false,
): { model: BayesianModel; dispose: () => void } {
  const d = model.dim;
  const l = whiteningFactor(fit, d, diagonal);
  let logDet = 0;
  for (let i = 0; i < d; i++) logDet += Math.log(l[i * d + i]);
  const toZ = (u: ArrayLike<number>) => {
    const z = Float64Array.from(fit.mode);
    for (let i = 0; i < d; i++) for (let k = 0; k <= i; k++) z[i] += l[i * d + k] * u[k];
    return z;
  };
  const lt = new Float32Array(d * d); // L^T, row-major: u [n, d] x L^T gives (L u)^T rows
  for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) lt[k * d + i] = l[i * d + k];
  const ltTensor = tf.tensor2d(lt, [d, d]);
  const modeTensor = tf.tensor1d(Float32Array.from(fit.mode));
  const rows = model.logDensityAndGradientRows;
  const whitened: BayesianModel = {
    ...model,
    name: model.name,
    parameterNames: model.parameterNames.map((n) => `${n} (whitened)`),
    logJoint: (u) =>
      tf.tidy(() => {
        const z = tf.add(tf.matMul(u, ltTensor), modeTensor);
        return tf.add(model.logJoint(z as tf.Tensor2D), logDet);
      }) as tf.Tensor1D,
    summarize: (u) => model.summarize(toZ(u)),
    logDensityAndGradient: model.logDensityAndGradient
      ? (u) => {
          const e = model.logDensityAndGradient!(toZ(u));
          const g = new Float64Array(d); // L^T grad
          for (let k = 0; k < d; k++) for (let i = k; i < d; i++) g[k] += l[i * d + k] * e.grad[i];
          return { logp: e.logp + logDet, grad: g };
        }
      : undefined,
    logDensityAndGradientRows: rows
      ? (us, n) => {
          const zs = new Float64Array(n * d);
          for (let r = 0; r < n; r++) zs.set(toZ(us.subarray(r * d, (r + 1) * d)), r * d);
          const e = rows(zs, n);
          const grads = new Float64Array(n * d); // L^T grad, row by row
          for (let r = 0; r < n; r++)
            for (let k = 0; k < d; k++)
              for (let i = k; i < d; i++) grads[r * d + k] += l[i * d + k] * e.grads[r * d + i];
          return { values: e.values.map((v) => v + logDet), grads };
        }
      : undefined,
  };
  return { model: whitened, dispose: () => tf.dispose([ltTensor, modeTensor]) };
}

/** The model a sampler or variational fit works on, what was done to it in words, and its disposal. */
export interface FitTarget {
  target: BayesianModel;
  preconditioning: string;
  /** Frees the whitening's tensors (a no-op for the model itself). */
  dispose: () => void;
  /** The map applied (absent: none), to apply the same in another thread. */
  whitening?: { fit: LaplaceFit; diagonal: boolean };
  /** What the mode search found (absent without a Laplace fit). */
  modeSearch?: ModeSearch;
  /**
   * The mode search found a mode, but the log density is not finite within a few Laplace sds of
   * it: most often a wall the parameter's declaration does not state, which the fit's draws will
   * cross.
   */
  nearModeNotFinite?: true;
  /**
   * Every mode search climbed for all its steps (a ridge towards a boundary), or the mode found
   * is flat in some direction. A proper posterior can have a ridge (a non-centred hierarchy
   * under a vague hyperprior); an improper one has one or the other.
   */
  noMode?: true;
}

/** How the Laplace fit says the log density is not finite near the mode it found. */
const NOT_FINITE_NEAR_MODE = 'the log density is not finite within 2 sds of the mode found';
/** How the Laplace fit says every search climbed for all its steps, or found a flat mode. */
const NO_MODE = 'no mode: every search climbed';
const NO_CURVATURE = 'the posterior has no curvature at its mode';

/** The mode search's result: its starts, the distinct modes found, the mass share elsewhere. */
export interface ModeSearch {
  starts: number;
  modes: number;
  elsewhere: number;
}

/**
 * Whitened by a Laplace fit where the posterior has one (diagonally for a mean-field family,
 * which must stay mean-field), else the model itself. Used by ADVI, AVB and NUTS.
 */
export function preconditionedTarget(
  model: BayesianModel,
  precondition: 'laplace' | 'none',
  diagonal: boolean,
  seed: number,
  /** The mode search's starts (default {@link MODE_SEARCH_STARTS}). */
  starts?: number,
): FitTarget {
  const unchanged = (why: string, nearModeNotFinite = false, noMode = false) => ({
    target: model,
    preconditioning: why,
    dispose: () => {},
    ...(nearModeNotFinite ? { nearModeNotFinite } : {}),
    ...(noMode ? { noMode } : {}),
  });
  if (precondition === 'none') return unchanged('none');
  const fit = laplaceApproximation(model, { seed, starts });
  if (typeof fit === 'string')
    return unchanged(
      `none (no Laplace approximation: ${fit})`,
      fit.startsWith(NOT_FINITE_NEAR_MODE),
      fit.startsWith(NO_MODE) || fit.startsWith(NO_CURVATURE),
    );
  const whitened = whitenedModel(model, fit, diagonal);
  // Where the fit starts, q is about N(0, I) in u: the density must be finite there. A "mode"
  // at a boundary (a flat direction, e.g. a flat prior on a scale) fails this. A few rows outside
  // the support are the fits' to drop (accel_gp's NaN gradients at a long length scale, 3 sds
  // out); most of them are not.
  const finite = tf.tidy(() => {
    const u = new Rng(0).normalTensor([64, model.dim]) as tf.Tensor2D;
    const values = Array.from(whitened.model.logJoint(u).dataSync());
    return values.filter(Number.isFinite).length >= 0.9 * values.length;
  });
  if (!finite) {
    whitened.dispose();
    return unchanged(
      'none (no Laplace approximation: the log density is not finite near the mode found)',
      true,
    );
  }
  return {
    target: whitened.model,
    preconditioning: `${diagonal ? 'diagonal ' : ''}Laplace whitening (mode in ${fit.iterations} Newton steps; ${fit.modes} mode${fit.modes > 1 ? 's' : ''} from ${fit.starts} starts)`,
    dispose: whitened.dispose,
    whitening: { fit, diagonal },
    modeSearch: { starts: fit.starts, modes: fit.modes, elsewhere: fit.elsewhere },
  };
}
