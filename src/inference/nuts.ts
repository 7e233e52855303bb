import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../random/rng.js';
import type { BayesianModel, Draws } from './model.js';

export interface NutsOptions {
  chains: number;
  /** Warm-up iterations per chain (step size and diagonal mass matrix adaptation). */
  warmup: number;
  /** Kept draws per chain. */
  samples: number;
  /** Target mean acceptance statistic for dual averaging (Stan's default 0.8). */
  targetAccept: number;
  maxTreeDepth: number;
}

export const DEFAULT_NUTS: NutsOptions = {
  chains: 4,
  warmup: 1000,
  samples: 1000,
  targetAccept: 0.8,
  maxTreeDepth: 10,
};

export interface NutsResult {
  draws: Draws;
  /** Split R-hat per reported quantity (Gelman et al., BDA3). */
  rhat: number[];
  /** Effective sample size per reported quantity (all chains together). */
  ess: number[];
  stepSizes: number[];
  divergences: number;
  gradientEvaluations: number;
  seconds: number;
}

type LogpGrad = (z: Float64Array) => { logp: number; grad: Float64Array };

/** log p and its gradient at one point, through the model's tfjs log joint. */
function logpGradOf(model: BayesianModel): { f: LogpGrad; count: () => number } {
  let count = 0;
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
 */
export async function nuts(
  model: BayesianModel,
  options: NutsOptions,
  rng: Rng,
  onProgress?: (done: number, total: number) => void,
): Promise<NutsResult> {
  const began = performance.now();
  const { f, count } = logpGradOf(model);
  const d = model.dim;
  const perChain: number[][][] = [];
  const stepSizes: number[] = [];
  let divergences = 0;
  const total = options.chains * (options.warmup + options.samples);
  let done = 0;
  for (let c = 0; c < options.chains; c++) {
    const chainRng = rng.fork();
    const z = Float64Array.from({ length: d }, () => chainRng.normal());
    let s: State = { z, ...f(z) };
    const invMass = new Float64Array(d).fill(1);
    let eps = findReasonableStepSize(s, invMass, f, chainRng);
    // Dual averaging state.
    let mu = Math.log(10 * eps);
    let hBar = 0;
    let logEpsBar = 0;
    let m = 0;
    const windowEnds = adaptationWindows(options.warmup);
    let windowDraws: Float64Array[] = [];
    const kept: number[][] = [];
    for (let it = 0; it < options.warmup + options.samples; it++) {
      const warm = it < options.warmup;
      const step = transition(s, eps, invMass, f, chainRng, options.maxTreeDepth);
      s = step.state;
      if (step.divergent && !warm) divergences++;
      if (warm) {
        m++;
        const eta = 1 / (m + 10);
        hBar = (1 - eta) * hBar + eta * (options.targetAccept - step.acceptStat);
        const logEps = mu - (Math.sqrt(m) / 0.05) * hBar;
        const w = m ** -0.75;
        logEpsBar = w * logEps + (1 - w) * logEpsBar;
        eps = Math.exp(logEps);
        if (it >= 75 && it < options.warmup - 50) windowDraws.push(Float64Array.from(s.z));
        if (windowEnds.includes(it + 1)) {
          const n = windowDraws.length;
          for (let i = 0; i < d; i++) {
            let mean = 0;
            for (const w2 of windowDraws) mean += w2[i] / n;
            let v = 0;
            for (const w2 of windowDraws) v += (w2[i] - mean) ** 2 / (n - 1);
            invMass[i] = (n / (n + 5)) * v + 1e-3 * (5 / (n + 5));
          }
          windowDraws = [];
          eps = findReasonableStepSize(s, invMass, f, chainRng);
          mu = Math.log(10 * eps);
          hBar = 0;
          logEpsBar = 0;
          m = 0;
        }
        if (it === options.warmup - 1) eps = Math.exp(logEpsBar);
      } else {
        kept.push(model.summarize(s.z));
      }
      done++;
      if (done % 50 === 0) {
        onProgress?.(done, total);
        await new Promise<void>((r) => setImmediate(r));
      }
    }
    stepSizes.push(eps);
    perChain.push(kept);
  }
  const names = model.summaryNames;
  const rhat = names.map((_, k) => splitRhat(perChain.map((ch) => ch.map((v) => v[k]))));
  const ess = names.map((_, k) => effectiveSampleSize(perChain.map((ch) => ch.map((v) => v[k]))));
  return {
    draws: { names, values: perChain.flat() },
    rhat,
    ess,
    stepSizes,
    divergences,
    gradientEvaluations: count(),
    seconds: (performance.now() - began) / 1000,
  };
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

interface Tree {
  minus: State;
  rMinus: Float64Array;
  plus: State;
  rPlus: Float64Array;
  proposal: State;
  n: number;
  ok: boolean;
  alpha: number;
  nAlpha: number;
  divergent: boolean;
}

const MAX_DELTA = 1000;

function noUTurn(
  minus: State,
  plus: State,
  rMinus: Float64Array,
  rPlus: Float64Array,
  invMass: Float64Array,
): boolean {
  let a = 0;
  let b = 0;
  for (let i = 0; i < minus.z.length; i++) {
    const dz = plus.z[i] - minus.z[i];
    a += dz * invMass[i] * rMinus[i];
    b += dz * invMass[i] * rPlus[i];
  }
  return a >= 0 && b >= 0;
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
      minus: next.state,
      rMinus: next.r,
      plus: next.state,
      rPlus: next.r,
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
  const t2 =
    dir === -1
      ? buildTree(t.minus, t.rMinus, logU, dir, depth - 1, eps, h0, invMass, f, rng)
      : buildTree(t.plus, t.rPlus, logU, dir, depth - 1, eps, h0, invMass, f, rng);
  if (dir === -1) {
    t.minus = t2.minus;
    t.rMinus = t2.rMinus;
  } else {
    t.plus = t2.plus;
    t.rPlus = t2.rPlus;
  }
  if (t.n + t2.n > 0 && rng.uniform() < t2.n / (t.n + t2.n)) t.proposal = t2.proposal;
  t.alpha += t2.alpha;
  t.nAlpha += t2.nAlpha;
  t.n += t2.n;
  t.divergent = t.divergent || t2.divergent;
  t.ok = t2.ok && noUTurn(t.minus, t.plus, t.rMinus, t.rPlus, invMass);
  return t;
}

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
  let minus = s;
  let plus = s;
  let rMinus = r0;
  let rPlus = r0;
  let current = s;
  let n = 1;
  let alpha = 0;
  let nAlpha = 0;
  let divergent = false;
  for (let depth = 0; depth < maxDepth; depth++) {
    const dir = rng.uniform() < 0.5 ? -1 : 1;
    const t =
      dir === -1
        ? buildTree(minus, rMinus, logU, dir, depth, eps, h0, invMass, f, rng)
        : buildTree(plus, rPlus, logU, dir, depth, eps, h0, invMass, f, rng);
    if (dir === -1) {
      minus = t.minus;
      rMinus = t.rMinus;
    } else {
      plus = t.plus;
      rPlus = t.rPlus;
    }
    alpha += t.alpha;
    nAlpha += t.nAlpha;
    divergent = divergent || t.divergent;
    if (!t.ok) break;
    if (rng.uniform() < t.n / n) current = t.proposal;
    n += t.n;
    if (!noUTurn(minus, plus, rMinus, rPlus, invMass)) break;
  }
  return { state: current, acceptStat: nAlpha > 0 ? alpha / nAlpha : 0, divergent };
}

/** Split R-hat (BDA3, eq. 11.4) over chains of equal length. */
export function splitRhat(chains: number[][]): number {
  const halves: number[][] = [];
  for (const c of chains) {
    const h = Math.floor(c.length / 2);
    halves.push(c.slice(0, h), c.slice(c.length - h));
  }
  const n = halves[0].length;
  const means = halves.map((h) => h.reduce((a, b) => a + b, 0) / n);
  const grand = means.reduce((a, b) => a + b, 0) / means.length;
  const B = (n / (means.length - 1)) * means.reduce((a, m) => a + (m - grand) ** 2, 0);
  const W =
    halves.reduce((a, h, i) => a + h.reduce((s, v) => s + (v - means[i]) ** 2, 0) / (n - 1), 0) /
    halves.length;
  const varPlus = ((n - 1) / n) * W + B / n;
  return Math.sqrt(varPlus / W);
}

/**
 * Effective sample size over all chains (BDA3 section 11.5: autocorrelations from the
 * variogram, summed in pairs until a pair's sum turns negative — Geyer's initial positive sequence).
 */
export function effectiveSampleSize(chains: number[][]): number {
  const m = chains.length;
  const n = chains[0].length;
  const means = chains.map((c) => c.reduce((a, b) => a + b, 0) / n);
  const grand = means.reduce((a, b) => a + b, 0) / m;
  const B = (n / Math.max(1, m - 1)) * means.reduce((a, v) => a + (v - grand) ** 2, 0);
  const W =
    chains.reduce((a, c, i) => a + c.reduce((s, v) => s + (v - means[i]) ** 2, 0) / (n - 1), 0) / m;
  const varPlus = ((n - 1) / n) * W + (m > 1 ? B / n : 0);
  const rho = (t: number) => {
    let v = 0;
    for (const c of chains) for (let i = t; i < n; i++) v += (c[i] - c[i - t]) ** 2;
    v /= m * (n - t);
    return 1 - v / (2 * varPlus);
  };
  let sum = 0;
  for (let t = 1; t + 1 < n; t += 2) {
    const pair = rho(t) + rho(t + 1);
    if (pair < 0) break;
    sum += pair;
  }
  return (m * n) / (1 + 2 * sum);
}
