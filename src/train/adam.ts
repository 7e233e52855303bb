import * as tf from '../tf.js';
import { ADAM_KERNEL } from '../backend/simd/simdKernels.js';

export interface AdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** Adam's state for checkpoints: the step count and both moment estimates per weight. */
export interface AdamState {
  t: number;
  m: Float32Array[];
  v: Float32Array[];
}

/** A copy of an {@link Adam}'s weights and moments, from {@link Adam.mark}. */
export interface AdamMark {
  t: number;
  tensors: tf.Tensor[];
}

/**
 * Adam (Kingma & Ba 2015) over a fixed list of weights. Written here rather than taken from
 * `tf.train.adam` because a checkpoint must hold its full state in a known order, and
 * `learningRateScale` lets divergence recovery lower the rate without rebuilding it.
 */
export class Adam {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private t = 0;
  learningRateScale = 1;
  /** The learning-rate schedule's factor at this step (set by the trainer; 1: constant). */
  scheduleFactor = 1;

  /**
   * `rateFactors`: a factor of the learning rate per weight (same order as `weights`; absent:
   * 1 for all), for groups of weights that one optimiser updates at different rates.
   */
  constructor(
    readonly weights: tf.Variable[],
    readonly config: AdamConfig,
    private readonly rateFactors?: number[],
  ) {
    if (rateFactors && rateFactors.length !== weights.length)
      throw new Error(`Adam: ${rateFactors.length} rate factors for ${weights.length} weights`);
    this.m = weights.map((w) => tf.variable(tf.zerosLike(w), false));
    this.v = weights.map((w) => tf.variable(tf.zerosLike(w), false));
  }

  /** Applies one update from `grads` (same order as `weights`). */
  apply(grads: tf.Tensor[]): void {
    this.t++;
    const { beta1, beta2, epsilon } = this.config;
    const lr = this.config.learningRate * this.learningRateScale * this.scheduleFactor;
    // Bias corrections folded into the step size (computed in JS doubles).
    const alpha = (lr * Math.sqrt(1 - beta2 ** this.t)) / (1 - beta1 ** this.t);
    if (tf.getKernel(ADAM_KERNEL, tf.getBackend())) {
      // One fused kernel per weight (wasm with SIMD) instead of twelve ops: the same float32
      // arithmetic in the same order, so the same values.
      this.weights.forEach((w, i) => {
        const attrs = {
          alpha: alpha * (this.rateFactors?.[i] ?? 1),
          beta1,
          c1: 1 - beta1,
          beta2,
          c2: 1 - beta2,
          epsilon,
        };
        const [wNew, mNew, vNew] = tf
          .engine()
          .runKernel(
            ADAM_KERNEL,
            { w, g: grads[i], m: this.m[i], v: this.v[i] },
            attrs as unknown as tf.NamedAttrMap,
          ) as tf.Tensor[];
        this.m[i].assign(mNew);
        this.v[i].assign(vNew);
        w.assign(wNew);
        tf.dispose([wNew, mNew, vNew]);
      });
      return;
    }
    tf.tidy(() => {
      this.weights.forEach((w, i) => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.m[i], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[i], beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const a = alpha * (this.rateFactors?.[i] ?? 1);
        w.assign(tf.sub(w, tf.div(tf.mul(m, a), tf.add(tf.sqrt(v), epsilon))));
      });
    });
  }

  /**
   * The weights' and moments' current values, kept on the backend (a copy, not a read-back):
   * {@link undo} returns to them. For steps of several updates that must be all or nothing.
   */
  mark(): AdamMark {
    return {
      t: this.t,
      tensors: tf.tidy(() =>
        [...this.weights, ...this.m, ...this.v].map((x) => tf.keep(x.clone())),
      ),
    };
  }

  /** Returns the weights and moments to `mark` (and releases it). */
  undo(mark: AdamMark): void {
    this.t = mark.t;
    [...this.weights, ...this.m, ...this.v].forEach((x, i) => x.assign(mark.tensors[i]));
    tf.dispose(mark.tensors);
  }

  state(): AdamState {
    return {
      t: this.t,
      m: this.m.map((x) => x.dataSync() as Float32Array),
      v: this.v.map((x) => x.dataSync() as Float32Array),
    };
  }

  restore(s: AdamState): void {
    this.t = s.t;
    tf.tidy(() => {
      this.m.forEach((x, i) => x.assign(tf.tensor(s.m[i], x.shape)));
      this.v.forEach((x, i) => x.assign(tf.tensor(s.v[i], x.shape)));
    });
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
  }
}
