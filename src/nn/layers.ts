import * as tf from '../tf.js';
import type { Rng } from '../random/rng.js';
import { leakyRelu, softplus } from './activations.js';
import { Module, glorotUniform } from './module.js';

/** Nonlinearities a part can be built with, by name. */
export const ACTIVATIONS = ['elu', 'relu', 'leakyRelu', 'softplus', 'tanh', 'linear'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export function activate(x: tf.Tensor, a: Activation): tf.Tensor {
  switch (a) {
    case 'elu':
      return tf.elu(x);
    case 'relu':
      return tf.relu(x);
    case 'leakyRelu':
      return leakyRelu(x, 0.2);
    case 'softplus':
      return softplus(x);
    case 'tanh':
      return tf.tanh(x);
    case 'linear':
      return x;
  }
}

/** Fully connected layer: `[n, inDim] -> [n, outDim]`. */
export class Dense extends Module {
  private readonly w: tf.Variable;
  private readonly b: tf.Variable;
  constructor(
    rng: Rng,
    readonly inDim: number,
    readonly outDim: number,
    options: { biasInit?: number; scale?: number } = {},
  ) {
    super();
    const w = glorotUniform(rng, inDim * outDim, inDim, outDim);
    if (options.scale !== undefined) for (let i = 0; i < w.length; i++) w[i] *= options.scale;
    this.w = this.weight('w', [inDim, outDim], w);
    this.b = this.weight('b', [outDim], new Float32Array(outDim).fill(options.biasInit ?? 0));
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.add(tf.matMul(x as tf.Tensor2D, this.read(this.w) as tf.Tensor2D), this.read(this.b));
  }
}

/** A stack of dense layers with one activation after every layer except (optionally) the last. */
export class Mlp extends Module {
  readonly layers: Dense[];
  constructor(
    rng: Rng,
    sizes: number[],
    private readonly activation: Activation,
    private readonly activateLast = false,
  ) {
    super();
    this.layers = sizes
      .slice(1)
      .map((out, i) => this.child(`fc${i}`, new Dense(rng, sizes[i], out)));
  }

  apply(x: tf.Tensor): tf.Tensor {
    let h = x;
    this.layers.forEach((l, i) => {
      h = l.apply(h);
      if (i < this.layers.length - 1 || this.activateLast) h = activate(h, this.activation);
    });
    return h;
  }
}

/** 2-D convolution, NHWC: `[n, h, w, inC] -> [n, h/stride, w/stride, outC]` ('same' padding). */
export class Conv2d extends Module {
  private readonly w: tf.Variable;
  private readonly b: tf.Variable;
  constructor(
    rng: Rng,
    inC: number,
    readonly outC: number,
    readonly kernel: number,
    readonly stride: number,
  ) {
    super();
    const n = kernel * kernel * inC * outC;
    this.w = this.weight(
      'w',
      [kernel, kernel, inC, outC],
      glorotUniform(rng, n, kernel * kernel * inC, kernel * kernel * outC),
    );
    this.b = this.weight('b', [outC], new Float32Array(outC));
  }

  apply(x: tf.Tensor): tf.Tensor {
    const y = tf.conv2d(x as tf.Tensor4D, this.read(this.w) as tf.Tensor4D, this.stride, 'same');
    return tf.add(y, this.read(this.b));
  }
}

/** Transposed 2-D convolution, NHWC: `[n, h, w, inC] -> [n, h*stride, w*stride, outC]`. */
export class Conv2dTranspose extends Module {
  private readonly w: tf.Variable;
  private readonly b: tf.Variable;
  constructor(
    rng: Rng,
    readonly inC: number,
    readonly outC: number,
    readonly kernel: number,
    readonly stride: number,
  ) {
    super();
    const n = kernel * kernel * inC * outC;
    // Filter layout for conv2dTranspose: [k, k, outC, inC].
    this.w = this.weight(
      'w',
      [kernel, kernel, outC, inC],
      glorotUniform(rng, n, kernel * kernel * inC, kernel * kernel * outC),
    );
    this.b = this.weight('b', [outC], new Float32Array(outC));
  }

  apply(x: tf.Tensor): tf.Tensor {
    const [n, h, w] = x.shape;
    const out: [number, number, number, number] = [n, h * this.stride, w * this.stride, this.outC];
    const y = tf.conv2dTranspose(
      x as tf.Tensor4D,
      this.read(this.w) as tf.Tensor4D,
      out,
      this.stride,
      'same',
    );
    return tf.add(y, this.read(this.b));
  }
}
