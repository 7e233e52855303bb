import * as tf from '../tf.js';
import type { Rng } from '../random/rng.js';
import { bernoulliLogLikelihood } from './bernoulliLogLikelihood.js';
import { Activation, Conv2dTranspose, Dense, Mlp, activate } from './layers.js';
import { Module } from './module.js';
import { LOG_2PI } from '../math/gaussian.js';

/** A generative model p(x|z) over examples of `exampleShape`. */
export interface Decoder extends Module {
  readonly likelihood: 'bernoulli' | 'gaussian';
  /**
   * log p(x|z) summed over all values of each example: `x [n, ...exampleShape]`, `z [n, latent]`
   * -> `[n]`. Summed (not averaged) over pixels, as the AVB objective requires.
   */
  logLikelihood(x: tf.Tensor, z: tf.Tensor): tf.Tensor1D;
  /** Mean of p(x|z) (probabilities for Bernoulli): `[n, ...exampleShape]`. */
  mean(z: tf.Tensor): tf.Tensor;
  /** A draw x ~ p(x|z), `[n, ...exampleShape]` (data simulated from the model, e.g. for BDMC). */
  sample(z: tf.Tensor, rng: Rng): tf.Tensor;
}

export type DecoderNet = 'mlp' | 'conv';

export interface DecoderOptions {
  exampleShape: number[];
  latentDim: number;
  hidden: number[];
  activation: Activation;
  net: DecoderNet;
}

/**
 * Maps z to one output per value of an example (`[n, prod(exampleShape)]` flattened):
 * an MLP, or FC -> (h/4, w/4, c0) -> two 5x5 stride-2 transposed convs (the MNIST conv decoder).
 */
class DecoderNetwork extends Module {
  private readonly mlp?: Mlp;
  private readonly fc?: Dense;
  private readonly deconvs: Conv2dTranspose[] = [];
  private readonly start: number[] = [];
  constructor(
    rng: Rng,
    private readonly o: DecoderOptions,
    outChannels: number,
  ) {
    super();
    const d = o.exampleShape.reduce((a, b) => a * b, 1);
    if (o.net === 'mlp') {
      this.mlp = this.child(
        'mlp',
        new Mlp(rng, [o.latentDim, ...o.hidden, d * outChannels], o.activation),
      );
      return;
    }
    const [h, w, c] = o.exampleShape;
    if (o.exampleShape.length !== 3 || h % 4 !== 0 || w % 4 !== 0) {
      throw new Error(
        `the conv decoder needs images [h, w, c] with h and w divisible by 4, got [${o.exampleShape.join(', ')}]`,
      );
    }
    const [c0, c1] = [o.hidden[0] ?? 64, o.hidden[1] ?? 32];
    this.start = [h / 4, w / 4, c0];
    this.fc = this.child('fc', new Dense(rng, o.latentDim, (h / 4) * (w / 4) * c0));
    this.deconvs.push(this.child('deconv0', new Conv2dTranspose(rng, c0, c1, 5, 2)));
    this.deconvs.push(this.child('deconv1', new Conv2dTranspose(rng, c1, c * outChannels, 5, 2)));
  }

  apply(z: tf.Tensor): tf.Tensor2D {
    if (this.mlp) return this.mlp.apply(z) as tf.Tensor2D;
    const n = z.shape[0];
    let h = activate(this.fc!.apply(z), this.o.activation).reshape([n, ...this.start]);
    h = activate(this.deconvs[0].apply(h), this.o.activation);
    h = this.deconvs[1].apply(h);
    return h.reshape([n, -1]) as tf.Tensor2D;
  }
}

/** Bernoulli decoder for data in [0, 1]: logits = net(z). */
export class BernoulliDecoder extends Module implements Decoder {
  readonly likelihood = 'bernoulli' as const;
  private readonly net: DecoderNetwork;
  constructor(
    rng: Rng,
    private readonly o: DecoderOptions,
  ) {
    super();
    this.net = this.child('net', new DecoderNetwork(rng, o, 1));
  }

  logits(z: tf.Tensor): tf.Tensor2D {
    return this.net.apply(z);
  }

  logLikelihood(x: tf.Tensor, z: tf.Tensor): tf.Tensor1D {
    const logits = this.logits(z);
    return bernoulliLogLikelihood(x.reshape(logits.shape), logits);
  }

  mean(z: tf.Tensor): tf.Tensor {
    return tf.sigmoid(this.logits(z)).reshape([z.shape[0], ...this.o.exampleShape]);
  }

  sample(z: tf.Tensor, rng: Rng): tf.Tensor {
    return tf.tidy(() => {
      const p = this.mean(z);
      return tf.cast(tf.less(rng.uniformTensor(p.shape), p), 'float32');
    });
  }
}

/** Gaussian decoder for real data: mean = net(z), one learned log-scale per value. */
export class GaussianDecoder extends Module implements Decoder {
  readonly likelihood = 'gaussian' as const;
  private readonly net: DecoderNetwork;
  private readonly logScale: tf.Variable;
  constructor(
    rng: Rng,
    private readonly o: DecoderOptions,
  ) {
    super();
    this.net = this.child('net', new DecoderNetwork(rng, o, 1));
    const d = o.exampleShape.reduce((a, b) => a * b, 1);
    this.logScale = this.weight('log_scale', [d], new Float32Array(d));
  }

  logLikelihood(x: tf.Tensor, z: tf.Tensor): tf.Tensor1D {
    const mu = this.net.apply(z);
    const ls = this.read(this.logScale);
    const r = tf.div(tf.sub(x.reshape(mu.shape), mu), tf.exp(ls));
    const perValue = tf.add(tf.add(tf.mul(tf.square(r), -0.5), tf.neg(ls)), -0.5 * LOG_2PI);
    return tf.sum(perValue, 1) as tf.Tensor1D;
  }

  mean(z: tf.Tensor): tf.Tensor {
    return this.net.apply(z).reshape([z.shape[0], ...this.o.exampleShape]);
  }

  sample(z: tf.Tensor, rng: Rng): tf.Tensor {
    return tf.tidy(() => {
      const mu = this.mean(z);
      const sd = tf.exp(this.read(this.logScale)).reshape(mu.shape.slice(1));
      return tf.add(mu, tf.mul(sd, rng.normalTensor(mu.shape)));
    });
  }
}

export const DECODER_TYPES = ['bernoulli', 'gaussian'] as const;
export type DecoderType = (typeof DECODER_TYPES)[number];

export function makeDecoder(type: DecoderType, rng: Rng, o: DecoderOptions): Decoder {
  return type === 'bernoulli' ? new BernoulliDecoder(rng, o) : new GaussianDecoder(rng, o);
}

/**
 * A fixed (untrained) linear-Gaussian decoder p(x|z) = N(z W + b, s^2 I), with `W [L, D]`.
 * Its marginal is known exactly — log p(x) = log N(x; b, W^T W + s^2 I) — and so is its posterior,
 * which makes it the reference problem for checking estimators and inference.
 */
export class LinearGaussianDecoder extends Module implements Decoder {
  readonly likelihood = 'gaussian' as const;
  private readonly w: tf.Tensor2D;
  private readonly b: tf.Tensor1D;
  constructor(
    readonly matrix: Float32Array,
    readonly bias: Float32Array,
    readonly scale: number,
    readonly latentDim: number,
  ) {
    super();
    const d = bias.length;
    this.w = tf.tensor2d(matrix, [latentDim, d]);
    this.b = tf.tensor1d(bias);
  }

  logLikelihood(x: tf.Tensor, z: tf.Tensor): tf.Tensor1D {
    const mu = this.meanFlat(z);
    const d = this.bias.length;
    const r = tf.div(tf.sub(x.reshape(mu.shape), mu), this.scale);
    return tf.sub(
      tf.mul(tf.sum(tf.square(r), 1), -0.5),
      d * (Math.log(this.scale) + 0.5 * LOG_2PI),
    ) as tf.Tensor1D;
  }

  private meanFlat(z: tf.Tensor): tf.Tensor2D {
    return tf.add(tf.matMul(z as tf.Tensor2D, this.w), this.b) as tf.Tensor2D;
  }

  mean(z: tf.Tensor): tf.Tensor {
    return this.meanFlat(z);
  }

  sample(z: tf.Tensor, rng: Rng): tf.Tensor {
    return tf.tidy(() => {
      const mu = this.meanFlat(z);
      return tf.add(mu, tf.mul(rng.normalTensor(mu.shape), this.scale));
    });
  }

  override dispose(): void {
    this.w.dispose();
    this.b.dispose();
  }
}
