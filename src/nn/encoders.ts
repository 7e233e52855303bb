import * as tf from '../tf.js';
import type { Rng } from '../random/rng.js';
import { Activation, Conv2d, Dense, Mlp, activate } from './layers.js';
import { Module } from './module.js';

/** What an encoder returns for a batch `x: [n, ...exampleShape]`. */
export interface EncoderSample {
  /** One draw z ~ q(z|x) per example: `[n, latentDim]`. */
  z: tf.Tensor2D;
  /** Gaussian encoders: q(z|x) = N(mean, exp(logVar)), each `[n, latentDim]`. */
  gaussian?: { mean: tf.Tensor2D; logVar: tf.Tensor2D };
  /**
   * Basis-vector encoder: exact E[z|x] and Var[z|x], each `[n, latentDim]`, and on demand the
   * whole Cov[z|x] `[n, latentDim, latentDim]` (n * bases * latentDim^2 work, so only full
   * adaptive contrast asks for it; call inside the same `tf.tidy`).
   */
  moments?: { mean: tf.Tensor2D; variance: tf.Tensor2D; covariance?: () => tf.Tensor3D };
}

/** An inference model q(z|x): explicit (Gaussian) or implicit (a sampler). */
export interface Encoder extends Module {
  readonly latentDim: number;
  /** `gaussian`: has a density (VAE, IWAE); `implicit`: only samples (AVB). */
  readonly density: 'gaussian' | 'implicit';
  /** Draws z for each row of `x` using noise from `rng`. Call inside `tf.tidy`. */
  sample(x: tf.Tensor, rng: Rng): EncoderSample;
}

/** Where an encoder's features come from: an MLP on the flattened input or a conv tower. */
export type EncoderNet = 'mlp' | 'conv';

export interface EncoderOptions {
  exampleShape: number[];
  latentDim: number;
  hidden: number[];
  activation: Activation;
  net: EncoderNet;
  /** Dimension of the noise eps ~ N(0, I) of implicit encoders. */
  noiseDim: number;
  /** Basis encoder: number of basis vectors B. */
  bases: number;
}

function flatDim(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function flatten(x: tf.Tensor): tf.Tensor2D {
  return x.reshape([x.shape[0], -1]) as tf.Tensor2D;
}

/**
 * Conv feature tower for images `[n, h, w, c]`: 5x5 stride-2 convolutions with the given channel
 * counts, optionally with a learned linear projection of the noise added to every layer's output
 * (the authors' MNIST encoder), then flattened.
 */
class ConvTower extends Module {
  private readonly convs: Conv2d[];
  private readonly noiseProj: Dense[];
  readonly outDim: number;
  constructor(
    rng: Rng,
    shape: number[],
    channels: number[],
    private readonly act: Activation,
    noiseDim: number,
  ) {
    super();
    if (shape.length !== 3)
      throw new Error(`conv parts need image examples [h, w, c], got [${shape.join(', ')}]`);
    let [h, w, c] = shape;
    this.convs = [];
    this.noiseProj = [];
    channels.forEach((out, i) => {
      this.convs.push(this.child(`conv${i}`, new Conv2d(rng, c, out, 5, 2)));
      h = Math.ceil(h / 2);
      w = Math.ceil(w / 2);
      c = out;
      if (noiseDim > 0)
        this.noiseProj.push(this.child(`noise${i}`, new Dense(rng, noiseDim, h * w * c)));
    });
    this.outDim = h * w * c;
  }

  apply(x: tf.Tensor, eps?: tf.Tensor): tf.Tensor2D {
    let hdn = x;
    this.convs.forEach((conv, i) => {
      let pre = conv.apply(hdn);
      if (eps && this.noiseProj[i])
        pre = tf.add(pre, this.noiseProj[i].apply(eps).reshape(pre.shape));
      hdn = activate(pre, this.act);
    });
    return flatten(hdn);
  }
}

/**
 * The input stage shared by every encoder: the flattened example for `mlp`, or a conv tower over
 * the image (the first two `hidden` entries are its channel counts) for `conv`. Returns the
 * feature size and the remaining MLP layer sizes. `towerNoise` > 0 adds projected noise per layer.
 */
function inputStage(
  attach: (t: ConvTower) => ConvTower,
  rng: Rng,
  o: EncoderOptions,
  towerNoise: number,
): { tower?: ConvTower; inDim: number; hidden: number[] } {
  if (o.net !== 'conv') return { inDim: flatDim(o.exampleShape), hidden: o.hidden };
  const tower = attach(
    new ConvTower(rng, o.exampleShape, o.hidden.slice(0, 2), o.activation, towerNoise),
  );
  return { tower, inDim: tower.outDim, hidden: o.hidden.slice(2) };
}

/** Gaussian (VAE) encoder: features -> (mean, log variance); z = mean + exp(logVar/2) * eps. */
export class GaussianEncoder extends Module implements Encoder {
  readonly density = 'gaussian' as const;
  readonly latentDim: number;
  private readonly tower?: ConvTower;
  private readonly mlp: Mlp;
  constructor(rng: Rng, o: EncoderOptions) {
    super();
    this.latentDim = o.latentDim;
    const { tower, inDim, hidden } = inputStage((t) => this.child('tower', t), rng, o, 0);
    this.tower = tower;
    this.mlp = this.child('mlp', new Mlp(rng, [inDim, ...hidden, 2 * o.latentDim], o.activation));
  }

  sample(x: tf.Tensor, rng: Rng): EncoderSample {
    const feat = this.tower ? this.tower.apply(x) : flatten(x);
    const out = this.mlp.apply(feat);
    const [mean, logVar] = tf.split(out, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
    const eps = rng.normalTensor([x.shape[0], this.latentDim]);
    const z = tf.add(mean, tf.mul(tf.exp(tf.mul(logVar, 0.5)), eps)) as tf.Tensor2D;
    return { z, gaussian: { mean, logVar } };
  }
}

/** Implicit encoder z = net(concat(x, eps)): the paper's synthetic-experiment encoder. */
export class ConcatNoiseEncoder extends Module implements Encoder {
  readonly density = 'implicit' as const;
  readonly latentDim: number;
  private readonly mlp: Mlp;
  constructor(
    rng: Rng,
    private readonly o: EncoderOptions,
  ) {
    super();
    this.latentDim = o.latentDim;
    this.mlp = this.child(
      'mlp',
      new Mlp(rng, [flatDim(o.exampleShape) + o.noiseDim, ...o.hidden, o.latentDim], o.activation),
    );
  }

  sample(x: tf.Tensor, rng: Rng): EncoderSample {
    const eps = rng.normalTensor([x.shape[0], this.o.noiseDim]);
    return { z: this.mlp.apply(tf.concat([flatten(x), eps], 1)) as tf.Tensor2D };
  }
}

/**
 * Implicit encoder with a learned linear projection of the noise added at every layer (the
 * authors' MNIST encoders): h_{l+1} = act(W_l h_l + b_l + A_l eps), z = W h + b + A eps.
 */
export class NoiseAddedEncoder extends Module implements Encoder {
  readonly density = 'implicit' as const;
  readonly latentDim: number;
  private readonly tower?: ConvTower;
  private readonly layers: Dense[] = [];
  private readonly noiseProj: Dense[] = [];
  constructor(
    rng: Rng,
    private readonly o: EncoderOptions,
  ) {
    super();
    this.latentDim = o.latentDim;
    const { tower, inDim, hidden } = inputStage((t) => this.child('tower', t), rng, o, o.noiseDim);
    this.tower = tower;
    const sizes = [inDim, ...hidden, o.latentDim];
    for (let i = 1; i < sizes.length; i++) {
      this.layers.push(this.child(`fc${i - 1}`, new Dense(rng, sizes[i - 1], sizes[i])));
      this.noiseProj.push(this.child(`noise_fc${i - 1}`, new Dense(rng, o.noiseDim, sizes[i])));
    }
  }

  sample(x: tf.Tensor, rng: Rng): EncoderSample {
    const eps = rng.normalTensor([x.shape[0], this.o.noiseDim]);
    let h: tf.Tensor = this.tower ? this.tower.apply(x, eps) : flatten(x);
    this.layers.forEach((l, i) => {
      h = tf.add(l.apply(h), this.noiseProj[i].apply(eps));
      if (i < this.layers.length - 1) h = activate(h, this.o.activation);
    });
    return { z: h as tf.Tensor2D };
  }
}

/**
 * The authors' adaptive-contrast encoder: z = z0(x) + sum_i a_i(x) * v_i(eps_i), with
 * a_i(x) = elu(W_i h(x) - 5) + 1 > 0 and v_i a small MLP on its own noise eps_i. Its moments are
 * cheap: E[z|x] = z0 + sum a_i E[v_i], Var[z|x] = sum a_i^2 Var[v_i], with E[v_i], Var[v_i]
 * estimated over the minibatch's noise draws.
 */
export class BasisVectorEncoder extends Module implements Encoder {
  readonly density = 'implicit' as const;
  readonly latentDim: number;
  private readonly tower?: ConvTower;
  private readonly features: Mlp;
  private readonly z0: Dense;
  private readonly coeffs: Dense;
  private readonly v1: tf.Variable;
  private readonly v1b: tf.Variable;
  private readonly v2: tf.Variable;
  private readonly v2b: tf.Variable;
  private readonly basisHidden: number;
  constructor(
    rng: Rng,
    private readonly o: EncoderOptions,
  ) {
    super();
    this.latentDim = o.latentDim;
    const { tower, inDim, hidden } = inputStage((t) => this.child('tower', t), rng, o, 0);
    this.tower = tower;
    const featDim = hidden.length ? hidden[hidden.length - 1] : inDim;
    this.features = this.child('features', new Mlp(rng, [inDim, ...hidden], o.activation, true));
    this.z0 = this.child('z0', new Dense(rng, featDim, o.latentDim));
    this.coeffs = this.child('a', new Dense(rng, featDim, o.bases * o.latentDim));
    // v_i: noiseDim -> basisHidden -> latentDim, one small MLP per basis vector, batched.
    const B = o.bases;
    this.basisHidden = 64;
    const hb = this.basisHidden;
    const init = (fanIn: number, fanOut: number, n: number) => {
      const lim = Math.sqrt(6 / (fanIn + fanOut));
      return Float32Array.from({ length: n }, () => (2 * rng.uniform() - 1) * lim);
    };
    this.v1 = this.weight('v_w0', [B, o.noiseDim, hb], init(o.noiseDim, hb, B * o.noiseDim * hb));
    this.v1b = this.weight('v_b0', [B, 1, hb], new Float32Array(B * hb));
    this.v2 = this.weight(
      'v_w1',
      [B, hb, o.latentDim],
      init(hb, o.latentDim, B * hb * o.latentDim),
    );
    this.v2b = this.weight('v_b1', [B, 1, o.latentDim], new Float32Array(B * o.latentDim));
  }

  sample(x: tf.Tensor, rng: Rng): EncoderSample {
    const n = x.shape[0];
    const { z0, a } = this.coefficients(x);
    const v = this.basisDraws(rng, n); // [B, n, L]: example k's draw of each v_i
    const z = tf.add(z0, tf.sum(tf.mul(a, tf.transpose(v, [1, 0, 2])), 1)) as tf.Tensor2D;
    // Training's moments: E[v_i], Var[v_i] over this batch's own draws (the authors' estimate).
    const { mean: vMean, variance: vVar } = tf.moments(v, 1); // [B, L]
    return {
      z,
      moments: {
        ...this.momentsGiven(z0, a, vMean, vVar),
        covariance: () => covarianceGiven(a, basisCovariance(v)),
      },
    };
  }

  /** z0(x) `[n, L]` and the positive coefficients a(x) `[n, B, L]`. */
  private coefficients(x: tf.Tensor): { z0: tf.Tensor2D; a: tf.Tensor3D } {
    const n = x.shape[0];
    const h = this.features.apply(this.tower ? this.tower.apply(x) : flatten(x));
    const z0 = this.z0.apply(h) as tf.Tensor2D;
    // Positive, starting near 0 (elu(-5) + 1 ~ 0.007) so training starts deterministic-ish.
    const a = tf
      .add(tf.elu(tf.sub(this.coeffs.apply(h), 5)), 1)
      .reshape([n, this.o.bases, this.latentDim]) as tf.Tensor3D;
    return { z0, a };
  }

  /** `n` independent draws of every basis vector v_i(eps_i): `[B, n, L]`. */
  basisDraws(rng: Rng, n: number): tf.Tensor3D {
    const eps = rng.normalTensor([this.o.bases, n, this.o.noiseDim]);
    const hidden = activate(
      tf.add(tf.matMul(eps as tf.Tensor3D, this.read(this.v1) as tf.Tensor3D), this.read(this.v1b)),
      this.o.activation,
    );
    return tf.add(
      tf.matMul(hidden as tf.Tensor3D, this.read(this.v2) as tf.Tensor3D),
      this.read(this.v2b),
    ) as tf.Tensor3D;
  }

  /**
   * E[z|x] = z0 + sum_i a_i E[v_i] and Var[z|x] = sum_i a_i^2 Var[v_i] (the v_i are independent),
   * each `[n, L]`, for given moments of the basis vectors (`[B, L]` each). The v_i do not depend
   * on x, so moments estimated once (see `experiments/basisMoments.ts`) serve every example.
   */
  momentsGiven(
    z0: tf.Tensor2D,
    a: tf.Tensor3D,
    vMean: tf.Tensor,
    vVar: tf.Tensor,
  ): { mean: tf.Tensor2D; variance: tf.Tensor2D } {
    const mean = tf.add(z0, tf.sum(tf.mul(a, vMean), 1)) as tf.Tensor2D;
    const variance = tf.sum(tf.mul(tf.square(a), vVar), 1) as tf.Tensor2D;
    return { mean, variance };
  }

  /** The moments of q(z|x) for each row of `x` given the basis vectors' moments. Call inside `tf.tidy`. */
  momentsOf(x: tf.Tensor, vMean: tf.Tensor, vVar: tf.Tensor) {
    const { z0, a } = this.coefficients(x);
    return { ...this.momentsGiven(z0, a, vMean, vVar), a };
  }
}

/** Cov[v_i] of each basis vector over its draws `v` `[B, n, L]`: `[B, L, L]` (n - 1 divisor). */
export function basisCovariance(v: tf.Tensor3D): tf.Tensor3D {
  const n = v.shape[1];
  const centred = tf.sub(v, tf.mean(v, 1, true)) as tf.Tensor3D;
  return tf.div(tf.matMul(centred, centred, true, false), Math.max(1, n - 1)) as tf.Tensor3D;
}

/**
 * Cov[z|x] = sum_i diag(a_i(x)) Cov[v_i] diag(a_i(x)) of the basis-vector encoder (the v_i are
 * independent of each other and of x), for coefficients `a` `[n, B, L]` and the basis vectors'
 * covariances `vCov` `[B, L, L]`: `[n, L, L]`.
 */
export function covarianceGiven(a: tf.Tensor3D, vCov: tf.Tensor3D): tf.Tensor3D {
  const [n, B, L] = a.shape;
  const outer = tf.mul(tf.reshape(a, [n, B, L, 1]), tf.reshape(a, [n, B, 1, L]));
  return tf.sum(tf.mul(outer, tf.reshape(vCov, [1, B, L, L])), 1) as tf.Tensor3D;
}

export const ENCODER_TYPES = [
  'gaussian',
  'implicit-concat',
  'implicit-noise-added',
  'basis-vector',
] as const;
export type EncoderType = (typeof ENCODER_TYPES)[number];

export function makeEncoder(type: EncoderType, rng: Rng, o: EncoderOptions): Encoder {
  switch (type) {
    case 'gaussian':
      return new GaussianEncoder(rng, o);
    case 'implicit-concat':
      return new ConcatNoiseEncoder(rng, o);
    case 'implicit-noise-added':
      return new NoiseAddedEncoder(rng, o);
    case 'basis-vector':
      return new BasisVectorEncoder(rng, o);
  }
}
