import {
  cholesky,
  inverseFromCholesky,
  momentChange,
  rowMoments as moments,
} from './denseMatrix.js';
import { symmetricFunction } from './symmetricEigen.js';
import { pausePoint, type WorkHooks } from '../progress.js';

/**
 * The affine part of a variational fit, refitted on the exact ELBO. A sampler's family closed
 * under affine maps, z -> a + B z (AVB's implicit q is: its last layer is linear), has an ELBO
 * whose dependence on (a, B) needs no density of q:
 *
 *   ELBO(a, B) = E_u[log p(a + B u)] + log |det B| + H(q),
 *
 * with u ~ q and H(q) fixed. AVB prices H(q) by an adversary, whose error moves q's location and
 * scale as much as its shape (on posteriordb's GP a fit's α sat 0.15-0.33 sd off); this refit
 * re-chooses (a, B) for the fixed draws u where the adversary has no say. Its stationary points
 * are Stein's identities, E[∇ log p] = 0 and E[(z - m) ∇ log p^T] = -I (`steinCheck.ts`), and
 * each step is the Gaussian-implied move to them: with m, C q's mean and covariance, gbar and
 * A = E[(z - m) g^T], the posterior's precision is P = -sym(C^-1 A) and mean mu = m + P^-1 gbar
 * (exact for a Gaussian posterior, which one step then fits whatever q's shape), and the draws
 * move by the optimal-transport map between N(m, C) and N(mu, P^-1), which changes their shape
 * least. A step is kept only if the exact ELBO of the fixed draws rises, halved up to 3 times
 * otherwise; the refit stops when a step would move no mean by `tolerance` sd nor any sd by
 * `tolerance` of itself, or after `maxSteps`.
 */
export interface AffineRefit {
  /** The refitted draws `[n, d]`, row-major. */
  z: Float64Array;
  /** log p at them, and ∇ log p (row i at i·d), as `evaluate` returned. */
  logp: Float64Array;
  grads: Float64Array;
  /** log |det B| of the whole map: log q(z) = log q(u) - logDet. */
  logDet: number;
  /** Steps kept. */
  steps: number;
  /** The exact ELBO's rise over the fixed draws (nats): mean log p + log |det B|. */
  gain: number;
  /** How far the refit moved q: the largest |mean change| of a coordinate in q's sds before. */
  meanMoved: number;
  /** The sd ratio (after / before) farthest from 1. */
  sdRatio: number;
  /** Whether the last step was within the tolerance (not stopped by `maxSteps` or a refusal). */
  converged: boolean;
}

export interface AffineRefitOptions {
  maxSteps: number;
  tolerance: number;
}

/**
 * The tolerance is far below what 4,000 draws resolve (their mean's se is 0.016 sd): a step
 * costs one pass of gradients, and at 0.02 a fit whose mean sat 0.017 sd off its Gaussian-implied
 * fixed point was left there (posteriordb's kidiq: beta[3] 0.031 sd off the reference, 0.015
 * after one more step, which is the reference's own noise).
 */
export const DEFAULT_AFFINE_REFIT: AffineRefitOptions = { maxSteps: 6, tolerance: 0.002 };

/** log p and ∇ log p at n points (rows of `z`). */
export type RowsEvaluator = (
  z: Float64Array,
  n: number,
) => { values: Float64Array; grads: Float64Array };

/**
 * `initial`: `evaluate(u)` where the caller has it already (it is not evaluated again).
 * `'stopped'` when `hooks.shouldStop` said so at a pause point (after each evaluation); progress
 * counts steps kept, of `maxSteps`.
 */
export async function affineRefit(
  u: Float64Array,
  d: number,
  evaluate: RowsEvaluator,
  options: Partial<AffineRefitOptions> = {},
  initial?: { values: Float64Array; grads: Float64Array },
  hooks: WorkHooks = {},
): Promise<AffineRefit | 'stopped'> {
  const o = { ...DEFAULT_AFFINE_REFIT, ...options };
  const n = u.length / d;
  let z: Float64Array = Float64Array.from(u);
  let ev = initial ?? evaluate(z, n);
  if (!initial && (await pausePoint(hooks))) return 'stopped';
  let logDet = 0;
  const elboOf = (values: Float64Array, ld: number) => mean(values) + ld;
  const start = elboOf(ev.values, 0);
  let elbo = start;
  const before = moments(z, n, d);
  let steps = 0;
  let converged = false;
  for (let step = 0; step < o.maxSteps; step++) {
    const move = gaussianStep(z, ev.grads, n, d);
    if (!move) break;
    if (move.meanShift < o.tolerance && move.sdChange < o.tolerance) {
      converged = true;
      break;
    }
    let accepted = false;
    // The full step, then halves of it: the mean part halved, the map halfway to the identity.
    for (let h = 0, frac = 1; h <= 3; h++, frac /= 2) {
      const map = frac === 1 ? move.map : blendWithIdentity(move.map, d, frac);
      const ld = frac === 1 ? move.logDet : logDetSpd(map, d);
      if (ld === undefined) continue;
      const shift = move.shift.map((s) => s * frac);
      const next = applyMap(z, n, d, move.m, shift, map);
      const nextEv = evaluate(next, n);
      hooks.onProgress?.(steps, o.maxSteps, `exact ELBO ${elbo.toFixed(3)}`, 'refit');
      if (await pausePoint(hooks)) return 'stopped';
      const nextElbo = elboOf(nextEv.values, logDet + ld);
      if (Number.isFinite(nextElbo) && nextElbo > elbo) {
        z = next;
        ev = nextEv;
        logDet += ld;
        elbo = nextElbo;
        accepted = true;
        break;
      }
    }
    if (!accepted) break;
    steps++;
  }
  const { meanMoved, sdRatio } = momentChange(before, moments(z, n, d), d);
  return {
    z,
    logp: ev.values,
    grads: ev.grads,
    logDet,
    steps,
    gain: elbo - start,
    meanMoved,
    sdRatio,
    converged,
  };
}

/**
 * The Gaussian-implied move of draws `z` with gradients `g`: the shift (mu - m) and the
 * symmetric map from N(m, C) to N(mu, S), with how large it is; undefined when C or the implied
 * precision is not positive definite (the draws then say nothing usable).
 */
function gaussianStep(z: Float64Array, g: Float64Array, n: number, d: number) {
  const { m, c } = moments(z, n, d);
  const gbar = new Float64Array(d);
  const a = new Float64Array(d * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      gbar[j] += g[i * d + j] / n;
      const zj = z[i * d + j] - m[j];
      for (let k = 0; k < d; k++) a[j * d + k] += (zj * g[i * d + k]) / n;
    }
  const lc = cholesky(c, d);
  if (!lc) return undefined;
  const cInv = inverseFromCholesky(lc, d);
  // P = -(C^-1 A + A^T C^-1) / 2.
  const ca = multiply(cInv, a, d);
  const p = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) p[i * d + j] = -(ca[i * d + j] + ca[j * d + i]) / 2;
  const lp = cholesky(p, d);
  if (!lp) return undefined;
  const s = inverseFromCholesky(lp, d);
  const shift = new Float64Array(d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) shift[i] += s[i * d + j] * gbar[j];
  // T = C^-1/2 (C^1/2 S C^1/2)^1/2 C^-1/2: maps N(0, C) onto N(0, S), symmetric positive definite.
  const cHalf = symmetricFunction(c, d, Math.sqrt);
  const cInvHalf = symmetricFunction(c, d, (l) => 1 / Math.sqrt(l));
  if (!cHalf || !cInvHalf) return undefined;
  const middle = symmetricFunction(
    symmetrise(multiply(multiply(cHalf, s, d), cHalf, d), d),
    d,
    Math.sqrt,
  );
  if (!middle) return undefined;
  const map = symmetrise(multiply(multiply(cInvHalf, middle, d), cInvHalf, d), d);
  const logDet = logDetSpd(map, d);
  if (logDet === undefined) return undefined;
  let meanShift = 0;
  let sdChange = 0;
  for (let j = 0; j < d; j++) {
    meanShift = Math.max(meanShift, Math.abs(shift[j]) / Math.sqrt(s[j * d + j]));
    sdChange = Math.max(sdChange, Math.abs(0.5 * Math.log(s[j * d + j] / c[j * d + j])));
  }
  return { m, shift, map, logDet, meanShift, sdChange };
}

/** z -> m + shift + T (z - m), row by row. */
function applyMap(
  z: Float64Array,
  n: number,
  d: number,
  m: Float64Array,
  shift: ArrayLike<number>,
  t: Float64Array,
): Float64Array {
  const out = new Float64Array(n * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) centred[j] = z[i * d + j] - m[j];
    for (let j = 0; j < d; j++) {
      let s = m[j] + shift[j];
      for (let k = 0; k < d; k++) s += t[j * d + k] * centred[k];
      out[i * d + j] = s;
    }
  }
  return out;
}

/** (1 - f) I + f T. */
function blendWithIdentity(t: Float64Array, d: number, f: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d * d; i++) out[i] = f * t[i];
  for (let i = 0; i < d; i++) out[i * d + i] += 1 - f;
  return out;
}

/** log det of a symmetric positive-definite matrix, undefined when it is not one. */
function logDetSpd(a: Float64Array, d: number): number | undefined {
  const l = cholesky(a, d);
  if (!l) return undefined;
  let s = 0;
  for (let i = 0; i < d; i++) s += Math.log(l[i * d + i]);
  return 2 * s;
}

function multiply(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k];
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] += aik * b[k * d + j];
    }
  return out;
}

function symmetrise(a: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) out[i * d + j] = (a[i * d + j] + a[j * d + i]) / 2;
  return out;
}

function mean(v: Float64Array): number {
  let s = 0;
  for (const x of v) s += x;
  return s / v.length;
}
