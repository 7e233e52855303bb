import * as tf from '@tensorflow/tfjs';
import { stopGradient } from '../backend/stopGradient.js';
import { ConcatMlpAdversary } from '../nn/adversaries.js';
import { Mlp } from '../nn/layers.js';
import { adversaryLoss, logStandardNormal } from '../objectives/avb.js';
import type { Rng } from '../random/rng.js';
import { Adam } from '../train/adam.js';
import type { BayesianModel, Draws } from './model.js';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

export interface VariationalOptions {
  iterations: number;
  /** Monte Carlo samples of q per iteration. */
  batch: number;
  learningRate: number;
  /** AVB: adversary learning rate and adversary steps per primal step. */
  learningRateAdversary: number;
  adversarySteps: number;
}

export const DEFAULT_ADVI: VariationalOptions = {
  iterations: 10000,
  batch: 16,
  learningRate: 1e-2,
  learningRateAdversary: 0,
  adversarySteps: 0,
};

/** The paper's AVB settings for eight schools: batch 512, Adam 1e-4 / 2e-4, 1 primal + 2 adversary steps. */
export const DEFAULT_AVB_INFERENCE: VariationalOptions = {
  iterations: 10000,
  batch: 512,
  learningRate: 1e-4,
  learningRateAdversary: 2e-4,
  adversarySteps: 2,
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

/**
 * Gaussian variational inference with reparameterisation gradients (ADVI, Kucukelbir et al.
 * 2017): `meanfield` q = N(m, diag exp(2 omega)); `fullrank` q = N(m, L L^T) with L lower
 * triangular (positive diagonal via exp). Maximises E_q[log p(z, data)] + entropy with Adam.
 */
export async function advi(
  model: BayesianModel,
  kind: 'meanfield' | 'fullrank',
  o: VariationalOptions,
  rng: Rng,
  samples: number,
): Promise<VariationalResult> {
  const began = performance.now();
  const d = model.dim;
  const m = tf.variable(tf.zeros([d]));
  const omega = tf.variable(tf.zeros([d]));
  const lower = tf.variable(tf.zeros([d, d]));
  const eye = tf.eye(d);
  const mask = tf.linalg.bandPart(tf.ones([d, d]), -1, 0).sub(eye);
  const weights = kind === 'meanfield' ? [m, omega] : [m, omega, lower];
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
    const scale = kind === 'meanfield' ? diagonal : tf.add(diagonal, tf.mul(lower, mask));
    return tf.add(m, tf.matMul(eps, scale, false, true)) as tf.Tensor2D;
  };
  const trace: number[] = [];
  for (let it = 0; it < o.iterations; it++) {
    const value = opt.minimize(() => {
      const eps = rng.normalTensor([o.batch, d]);
      return tf.neg(tf.add(tf.mean(model.logJoint(sample(eps))), tf.sum(omega))) as tf.Scalar;
    });
    if (it % 100 === 0) {
      trace.push(-value.dataSync()[0]);
      await new Promise<void>((res) => setImmediate(res));
    }
    value.dispose();
  }
  const z = tf.tidy(() => sample(rng.normalTensor([samples, d])));
  const values = z.dataSync() as Float32Array;
  z.dispose();
  opt.dispose();
  tf.dispose([m, omega, lower, mask, eye]);
  return {
    draws: drawsFrom(model, values, samples),
    elboTrace: trace,
    seconds: (performance.now() - began) / 1000,
  };
}

/**
 * AVB as variational inference for a model with fixed data (paper section 6.1): an implicit
 * q(z) = g(eps), eps ~ N(0, I_dim), g = FC128 ELU -> FC128 ELU -> FC dim, and an adversary T(z)
 * (with the prior term ||z||^2/2) that tells q from the reference N(0, I). The primal minimises
 * E_q[-log p(z, data) + log N(z; 0, I) + T(z)] (= -ELBO when T = log q - log N). With adaptive
 * contrast, q's samples are normalised by their batch mean and standard deviation and compared
 * with N(0, I), and the primal uses the moment-matched Gaussian r instead of N(0, I).
 */
export async function avbInference(
  model: BayesianModel,
  adaptiveContrast: boolean,
  o: VariationalOptions,
  rng: Rng,
  samples: number,
): Promise<VariationalResult> {
  const began = performance.now();
  const d = model.dim;
  const generator = new Mlp(rng, [d, 128, 128, d], 'elu');
  const adversary = new ConcatMlpAdversary(rng, {
    dataDim: 0,
    latentDim: d,
    hidden: 128,
    depth: 2,
    activation: 'elu',
    innerDim: 0,
  });
  const gw = [...generator.namedWeights().values()];
  const aw = [...adversary.namedWeights().values()];
  const primalOpt = new Adam(gw, {
    learningRate: o.learningRate,
    beta1: 0.5,
    beta2: 0.999,
    epsilon: 1e-8,
  });
  const advOpt = new Adam(aw, {
    learningRate: o.learningRateAdversary,
    beta1: 0.5,
    beta2: 0.999,
    epsilon: 1e-8,
  });
  const none = tf.zeros([o.batch, 0]);

  /** q's samples, and what the adversary compares (z itself, or z normalised by its moments). */
  const contrast = (z: tf.Tensor2D) => {
    if (!adaptiveContrast) return { compared: z, logRef: logStandardNormal(z) };
    const { mean, variance } = tf.moments(z, 0);
    const std = tf.sqrt(tf.maximum(stopGradient(variance), 1e-4));
    const zhat = tf.div(tf.sub(z, stopGradient(mean)), std) as tf.Tensor2D;
    const logR = tf.sub(
      tf.mul(tf.add(tf.sum(tf.square(zhat), 1), tf.sum(tf.mul(tf.log(std), 2))), -0.5),
      d * HALF_LOG_2PI,
    );
    return { compared: zhat, logRef: logR as tf.Tensor1D };
  };

  const trace: number[] = [];
  for (let it = 0; it < o.iterations; it++) {
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
    if (it % 100 === 0) {
      trace.push(-value.dataSync()[0]);
      await new Promise<void>((res) => setImmediate(res));
    }
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
