import * as tf from '../tf.js';
import type { Rng } from '../random/rng.js';
import { Activation, Dense, Mlp, activate } from './layers.js';
import { Module } from './module.js';

/**
 * The adversary T(x, z) of AVB: a logit that tells (x, z ~ q(z|x)) from (x, z ~ p(z)).
 * At the optimum T(x, z) = log q(z|x) - log p(z).
 *
 * Every adversary includes the prior term ||z||^2 / 2 (= -log N(z; 0, I) up to a constant), so
 * the network only has to learn log q(z|x) (the authors' "prior trick").
 */
export interface Adversary extends Module {
  /** `x [n, ...]` (or `[n, 0]` when there is no data, as in Bayesian inference), `z [n, L]` -> `[n]`. */
  logit(x: tf.Tensor, z: tf.Tensor): tf.Tensor1D;
  /**
   * What T computes from x alone, `[n, F]`: the x tower of the inner-product form, the flattened
   * x otherwise. Computed once per batch and shared by the adversary's two classes and the primal
   * loss (which reads it through a stop-gradient), so the expensive x tower runs once per step.
   */
  dataFeatures(x: tf.Tensor): tf.Tensor;
  /** T from {@link Adversary.dataFeatures}: `logit(x, z) = logitFrom(dataFeatures(x), z)`. */
  logitFrom(features: tf.Tensor, z: tf.Tensor): tf.Tensor1D;
}

function flatFeatures(x: tf.Tensor): tf.Tensor {
  return x.reshape([x.shape[0], -1]);
}

/** What every adversary is built from. */
interface CommonAdversaryOptions {
  /** Flattened size of x (0 for Bayesian parameter inference, where T depends on z only). */
  dataDim: number;
  latentDim: number;
  /** Width of the hidden layers. */
  hidden: number;
  activation: Activation;
}

/** T = MLP(concat(x, z)) with `layers` hidden layers. */
export interface ConcatMlpOptions extends CommonAdversaryOptions {
  type: 'concat-mlp';
  layers: number;
}

/** T = Dense, `blocks` residual blocks, Dense(1). */
export interface ResidualMlpOptions extends CommonAdversaryOptions {
  type: 'residual-mlp';
  blocks: number;
}

/** T = sum_k f_k(x) g_k(z) + h(x) + k(z), towers of `depth` layers, K = `innerDim`. */
export interface InnerProductOptions extends CommonAdversaryOptions {
  type: 'inner-product';
  depth: number;
  innerDim: number;
}

/** Options of an adversary, by its type: each type's own size parameter. */
export type AdversaryOptions = ConcatMlpOptions | ResidualMlpOptions | InnerProductOptions;

function priorTerm(z: tf.Tensor): tf.Tensor1D {
  return tf.mul(tf.sum(tf.square(z), 1), 0.5) as tf.Tensor1D;
}

function inputOf(x: tf.Tensor, z: tf.Tensor, dataDim: number): tf.Tensor {
  return dataDim === 0 ? z : tf.concat([x.reshape([x.shape[0], -1]), z], 1);
}

/** T = MLP(concat(x, z)) + ||z||^2/2. */
export class ConcatMlpAdversary extends Module implements Adversary {
  private readonly mlp: Mlp;
  constructor(
    rng: Rng,
    private readonly o: Omit<ConcatMlpOptions, 'type'>,
  ) {
    super();
    const sizes = [o.dataDim + o.latentDim, ...Array<number>(o.layers).fill(o.hidden), 1];
    this.mlp = this.child('mlp', new Mlp(rng, sizes, o.activation));
  }

  logit(x: tf.Tensor, z: tf.Tensor): tf.Tensor1D {
    return this.logitFrom(this.dataFeatures(x), z);
  }

  dataFeatures(x: tf.Tensor): tf.Tensor {
    return flatFeatures(x);
  }

  logitFrom(features: tf.Tensor, z: tf.Tensor): tf.Tensor1D {
    const t = this.mlp.apply(inputOf(features, z, this.o.dataDim)).reshape([-1]);
    return tf.add(t, priorTerm(z)) as tf.Tensor1D;
  }
}

/** T = Dense(h) -> `blocks` residual blocks [act, Dense, act, Dense, + skip] -> Dense(1), + ||z||^2/2. */
export class ResidualMlpAdversary extends Module implements Adversary {
  private readonly input: Dense;
  private readonly blocks: [Dense, Dense][] = [];
  private readonly output: Dense;
  constructor(
    rng: Rng,
    private readonly o: Omit<ResidualMlpOptions, 'type'>,
  ) {
    super();
    this.input = this.child('in', new Dense(rng, o.dataDim + o.latentDim, o.hidden));
    for (let i = 0; i < o.blocks; i++) {
      this.blocks.push([
        this.child(`block${i}_0`, new Dense(rng, o.hidden, o.hidden)),
        this.child(`block${i}_1`, new Dense(rng, o.hidden, o.hidden)),
      ]);
    }
    this.output = this.child('out', new Dense(rng, o.hidden, 1));
  }

  logit(x: tf.Tensor, z: tf.Tensor): tf.Tensor1D {
    return this.logitFrom(this.dataFeatures(x), z);
  }

  dataFeatures(x: tf.Tensor): tf.Tensor {
    return flatFeatures(x);
  }

  logitFrom(features: tf.Tensor, z: tf.Tensor): tf.Tensor1D {
    let h = this.input.apply(inputOf(features, z, this.o.dataDim));
    for (const [a, b] of this.blocks) {
      const r = b.apply(activate(a.apply(activate(h, this.o.activation)), this.o.activation));
      h = tf.add(h, r);
    }
    const t = this.output.apply(activate(h, this.o.activation)).reshape([-1]);
    return tf.add(t, priorTerm(z)) as tf.Tensor1D;
  }
}

/**
 * The authors' MNIST adversary: T = sum_k f_k(x) g_k(z) + h(x) + k(z) + ||z||^2/2, with towers
 * f, h on x and g, k on z (`depth` x FC(`hidden`) leaky-ReLU each, shared trunk per input).
 */
export class InnerProductAdversary extends Module implements Adversary {
  private readonly xTower?: Mlp;
  private readonly zTower: Mlp;
  constructor(
    rng: Rng,
    private readonly o: Omit<InnerProductOptions, 'type'>,
  ) {
    super();
    const hid = Array<number>(o.depth).fill(o.hidden);
    // Each tower outputs K + 1 values: f (or g) and the scalar h (or k).
    if (o.dataDim > 0)
      this.xTower = this.child(
        'x_tower',
        new Mlp(rng, [o.dataDim, ...hid, o.innerDim + 1], o.activation),
      );
    this.zTower = this.child(
      'z_tower',
      new Mlp(rng, [o.latentDim, ...hid, o.innerDim + 1], o.activation),
    );
  }

  logit(x: tf.Tensor, z: tf.Tensor): tf.Tensor1D {
    return this.logitFrom(this.dataFeatures(x), z);
  }

  /** f(x) and h(x), `[n, K + 1]` (`[n, 0]` without data). */
  dataFeatures(x: tf.Tensor): tf.Tensor {
    return this.xTower ? this.xTower.apply(flatFeatures(x)) : tf.zeros([x.shape[0], 0]);
  }

  logitFrom(features: tf.Tensor, z: tf.Tensor): tf.Tensor1D {
    const K = this.o.innerDim;
    const [g, k] = tf.split(this.zTower.apply(z), [K, 1], 1);
    let t = k.reshape([-1]);
    if (this.xTower) {
      const [f, h] = tf.split(features, [K, 1], 1);
      t = tf.add(t, tf.add(tf.sum(tf.mul(f, g), 1), h.reshape([-1])));
    } else {
      t = tf.add(t, tf.sum(g, 1));
    }
    return tf.add(t, priorTerm(z)) as tf.Tensor1D;
  }
}

export const ADVERSARY_TYPES = ['concat-mlp', 'residual-mlp', 'inner-product'] as const;
export type AdversaryType = (typeof ADVERSARY_TYPES)[number];

export function makeAdversary(rng: Rng, o: AdversaryOptions): Adversary {
  switch (o.type) {
    case 'concat-mlp':
      return new ConcatMlpAdversary(rng, o);
    case 'residual-mlp':
      return new ResidualMlpAdversary(rng, o);
    case 'inner-product':
      return new InnerProductAdversary(rng, o);
  }
}
