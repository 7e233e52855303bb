import * as tf from '@tensorflow/tfjs';
import { stopGradient } from '../backend/stopGradient.js';
import { ConcatMlpAdversary } from '../nn/adversaries.js';
import { Mlp } from '../nn/layers.js';
import { AC_VARIANCE_FLOOR } from '../objectives/adaptiveContrast.js';
import { adversaryLoss, HALF_LOG_2PI, logStandardNormal } from '../objectives/avb.js';
import { Rng } from '../random/rng.js';
import { Adam } from '../train/adam.js';
import type { BayesianModel, Draws } from './model.js';

/** Reports progress: `done` of `total` iterations (or draws), and a few figures to show. */
export type InferenceProgress = (done: number, total: number, figures?: string) => void;

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
  draws: Draws;
  /** ELBO estimate every 100 iterations (T-based for AVB: an estimate, not a bound). */
  elboTrace: number[];
  seconds: number;
}

function drawsFrom(model: BayesianModel, z: Float32Array, n: number): Draws {
  const d = model.dim;
  const values: number[][] = [];
  for (let i = 0; i < n; i++) values.push(model.summarize(z.subarray(i * d, (i + 1) * d)));
  return { names: model.summaryNames, values };
}

/** Every 100 iterations: record the ELBO estimate, report progress, let the event loop run. */
async function reportEvery100(
  it: number,
  o: VariationalOptions,
  loss: tf.Scalar,
  trace: number[],
): Promise<void> {
  if (it % 100 !== 0 && it !== o.iterations - 1) return;
  const elbo = -loss.dataSync()[0];
  trace.push(elbo);
  o.onProgress?.(it + 1, o.iterations, `elbo ${elbo.toFixed(3)}`);
  await new Promise<void>((res) => setTimeout(res, 0));
}

/**
 * Gaussian variational inference with reparameterisation gradients (ADVI, Kucukelbir et al.
 * 2017): `meanfield` q = N(m, diag exp(2 omega)); `fullrank` q = N(m, L L^T) with L lower
 * triangular (positive diagonal via exp). Maximises E_q[log p(z, data)] + entropy with Adam.
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
  const m = tf.variable(tf.zeros([d]));
  const omega = tf.variable(tf.zeros([d]));
  const lower = tf.variable(tf.zeros([d, d]));
  const eye = tf.eye(d);
  const mask = tf.linalg.bandPart(tf.ones([d, d]), -1, 0).sub(eye);
  const weights = o.kind === 'meanfield' ? [m, omega] : [m, omega, lower];
  const opt = new Adam(weights, {
    learningRate: o.learningRate,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
  });
  // z = m + eps (diag(exp omega) + strictly-lower part)^T; entropy = sum omega + const.
  const sample = (eps: tf.Tensor) => {
    // eye * exp(omega) is diag(exp(omega)) (tf.diag has no gradient in tfjs 4.22).
    const diagonal = tf.mul(eye, tf.exp(omega));
    const scale = o.kind === 'meanfield' ? diagonal : tf.add(diagonal, tf.mul(lower, mask));
    return tf.add(m, tf.matMul(eps, scale, false, true)) as tf.Tensor2D;
  };
  const trace: number[] = [];
  for (let it = 0; it < o.iterations; it++) {
    const value = opt.minimize(() => {
      const eps = rng.normalTensor([o.batch, d]);
      return tf.neg(tf.add(tf.mean(model.logJoint(sample(eps))), tf.sum(omega))) as tf.Scalar;
    });
    await reportEvery100(it, o, value, trace);
    value.dispose();
  }
  const z = tf.tidy(() => sample(rng.normalTensor([o.samples, d])));
  const values = z.dataSync() as Float32Array;
  z.dispose();
  opt.dispose();
  tf.dispose([m, omega, lower, mask, eye]);
  return {
    draws: drawsFrom(model, values, o.samples),
    elboTrace: trace,
    seconds: (performance.now() - began) / 1000,
  };
}

/** How AVB's adversary sees q's samples (paper section 4; `full` is avb's extension). */
export type ContrastKind = 'none' | 'diagonal' | 'full';

export interface AvbInferenceOptions extends VariationalOptions {
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
  /** Width of the generator's two hidden layers and of the adversary's. */
  hidden: number;
  /**
   * Both learning rates fall linearly over the second half of the run to this fraction of their
   * start (1: constant). A smaller step at the end averages out the adversary's noise.
   */
  finalLearningRate: number;
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
  learningRate: 1e-3,
  learningRateAdversary: 5e-3,
  adversarySteps: 2,
  contrast: 'full',
  hidden: 128,
  finalLearningRate: 1,
  samples: 4000,
  seed: 1,
};

/**
 * Moment-matched Gaussian contrast for a batch z `[n, d]`: zhat `[n, d]` and log r(z) `[n]`,
 * with the moments treated as constants (stop-gradient; the variance floored, or the covariance's
 * diagonal raised, by the authors' 1e-4). Allocates inside the caller's tidy.
 */
function gaussianContrast(z: tf.Tensor2D, kind: 'diagonal' | 'full') {
  const d = z.shape[1];
  const n = z.shape[0];
  const mean = stopGradient(tf.mean(z, 0));
  const centred = tf.sub(z, mean) as tf.Tensor2D;
  let zhat: tf.Tensor2D;
  let logDet: number | tf.Tensor; // sum_j log L_jj
  if (kind === 'diagonal') {
    const std = tf.sqrt(tf.maximum(stopGradient(tf.moments(z, 0).variance), AC_VARIANCE_FLOOR));
    zhat = tf.div(centred, std) as tf.Tensor2D;
    logDet = tf.sum(tf.log(std));
  } else {
    // The covariance is d x d: its Cholesky factor is computed in doubles on the CPU.
    const c = stopGradient(tf.matMul(centred, centred, true, false)).dataSync();
    const cov = Float64Array.from(c, (v) => v / (n - 1));
    for (let j = 0; j < d; j++) cov[j * d + j] += AC_VARIANCE_FLOOR;
    const { inverse, logDiagonalSum } = choleskyInverse(cov, d);
    zhat = tf.matMul(centred, tf.tensor2d(Float32Array.from(inverse), [d, d]), false, true);
    logDet = logDiagonalSum;
  }
  const logR = tf.sub(
    tf.mul(tf.sum(tf.square(zhat), 1), -0.5),
    tf.add(logDet, d * HALF_LOG_2PI),
  ) as tf.Tensor1D;
  return { zhat, logR };
}

/**
 * L^-1 for the Cholesky factor L of a symmetric positive-definite `d x d` matrix (row-major),
 * and sum_j log L_jj. Doubles throughout.
 */
export function choleskyInverse(a: Float64Array, d: number) {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j];
      for (let k = 0; k < j; k++) s -= l[i * d + k] * l[j * d + k];
      l[i * d + j] = i === j ? Math.sqrt(Math.max(s, 1e-300)) : s / l[j * d + j];
    }
  }
  const inv = new Float64Array(d * d);
  let logDiagonalSum = 0;
  for (let i = 0; i < d; i++) {
    logDiagonalSum += Math.log(l[i * d + i]);
    inv[i * d + i] = 1 / l[i * d + i];
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= l[i * d + k] * inv[k * d + j];
      inv[i * d + j] = s / l[i * d + i];
    }
  }
  return { inverse: inv, logDiagonalSum };
}

/**
 * AVB as variational inference for a model with fixed data (paper section 6.1): an implicit
 * q(z) = g(eps), eps ~ N(0, I_dim), g = FC ELU -> FC ELU -> FC dim, and an adversary T(z)
 * (with the prior term ||z||^2/2) that tells q from the reference N(0, I). The primal minimises
 * E_q[-log p(z, data) + log N(z; 0, I) + T(z)] (= -ELBO when T = log q - log N). With adaptive
 * contrast (`contrast` diagonal or full), q's samples are normalised by their batch moments
 * and compared with N(0, I), and the primal uses the moment-matched Gaussian r instead of
 * N(0, I).
 */
export async function avbInference(
  model: BayesianModel,
  options: Partial<AvbInferenceOptions> = {},
): Promise<VariationalResult> {
  const o = { ...DEFAULT_AVB_INFERENCE, ...options };
  const rng = new Rng(o.seed);
  const samples = o.samples;
  const began = performance.now();
  const d = model.dim;
  const generator = new Mlp(rng, [d, o.hidden, o.hidden, d], 'elu');
  const adversary = new ConcatMlpAdversary(rng, {
    dataDim: 0,
    latentDim: d,
    hidden: o.hidden,
    depth: 2,
    activation: 'elu',
    innerDim: 0,
  });
  const gw = [...generator.namedWeights().values()];
  const aw = [...adversary.namedWeights().values()];
  const adam = (learningRate: number) => ({
    learningRate,
    beta1: 0.5,
    beta2: 0.999,
    epsilon: 1e-8,
  });
  const primalOpt = new Adam(gw, adam(o.learningRate));
  const advOpt = new Adam(aw, adam(o.learningRateAdversary));
  const none = tf.zeros([o.batch, 0]);

  /** What the adversary compares (z itself, or z normalised by its moments) and log r. */
  const contrast = (z: tf.Tensor2D) => {
    if (o.contrast === 'none') return { compared: z, logRef: logStandardNormal(z) };
    const { zhat, logR } = gaussianContrast(z, o.contrast);
    return { compared: zhat, logRef: logR };
  };

  const trace: number[] = [];
  for (let it = 0; it < o.iterations; it++) {
    const late = Math.max(0, (2 * it) / o.iterations - 1); // 0 until half-way, then up to 1
    const scale = 1 - (1 - o.finalLearningRate) * late;
    primalOpt.learningRateScale = scale;
    advOpt.learningRateScale = scale;
    for (let k = 0; k < o.adversarySteps; k++) {
      const advLoss = advOpt.minimize(() => {
        const z = generator.apply(rng.normalTensor([o.batch, d])) as tf.Tensor2D;
        const { compared } = contrast(z);
        const neg = rng.normalTensor([o.batch, d]);
        return adversaryLoss(adversary, none, stopGradient(compared), neg).loss;
      });
      advLoss.dispose();
    }
    const value = primalOpt.minimize(() => {
      const z = generator.apply(rng.normalTensor([o.batch, d])) as tf.Tensor2D;
      const { compared, logRef } = contrast(z);
      const t = adversary.frozen(() => adversary.logit(none, compared));
      return tf.mean(tf.add(tf.sub(logRef, model.logJoint(z)), t)) as tf.Scalar;
    });
    await reportEvery100(it, o, value, trace);
    value.dispose();
  }
  const z = tf.tidy(() => generator.apply(rng.normalTensor([samples, d])));
  const values = z.dataSync() as Float32Array;
  z.dispose();
  none.dispose();
  primalOpt.dispose();
  advOpt.dispose();
  generator.dispose();
  adversary.dispose();
  return {
    draws: drawsFrom(model, values, samples),
    elboTrace: trace,
    seconds: (performance.now() - began) / 1000,
  };
}
