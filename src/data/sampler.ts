import * as tf from '../tf.js';
import { Rng } from '../random/rng.js';
import type { Dataset, DataSplit } from './dataset.js';
import { exampleSize } from './dataset.js';

/** Serialisable position of a {@link MinibatchSampler}; stored in checkpoints. */
export interface SamplerState {
  /** RNG state from which the current epoch's permutation was drawn. */
  epochRng: number[];
  /** RNG state for binarisation draws. */
  noiseRng: number[];
  epoch: number;
  position: number;
}

/**
 * Draws minibatches without replacement, reshuffling every epoch, and applies dynamic
 * binarisation (a fresh Bernoulli draw of every pixel at every read) to `binary` data when asked.
 *
 * ```ts
 * const sampler = new MinibatchSampler(ds, ds.train, { seed: 1, binarize: true });
 * const x = sampler.next(128); // [128, ...exampleShape], caller disposes
 * ```
 */
export class MinibatchSampler {
  private readonly d: number;
  private epochRng!: Rng;
  private order!: Int32Array;
  private noise!: Rng;
  private epoch = 0;
  private position = 0;

  constructor(
    private readonly ds: Dataset,
    private readonly split: DataSplit,
    private readonly options: { seed: number; binarize: boolean },
  ) {
    this.d = exampleSize(ds);
    const root = new Rng(options.seed);
    this.restore({
      epochRng: root.fork().state(),
      noiseRng: root.fork().state(),
      epoch: 0,
      position: 0,
    });
  }

  state(): SamplerState {
    return {
      epochRng: this.epochRng.state(),
      noiseRng: this.noise.state(),
      epoch: this.epoch,
      position: this.position,
    };
  }

  restore(s: SamplerState): void {
    this.epochRng = Rng.fromState(s.epochRng);
    this.order = Rng.fromState(s.epochRng).permutation(this.split.count);
    this.noise = Rng.fromState(s.noiseRng);
    this.epoch = s.epoch;
    this.position = s.position;
  }

  /** Next `batch` examples as a plain array `[batch * exampleSize]`. */
  nextArray(batch: number): Float32Array {
    const out = new Float32Array(batch * this.d);
    const src = this.split.x;
    for (let b = 0; b < batch; b++) {
      if (this.position === this.split.count) this.newEpoch();
      const i = this.order[this.position++];
      out.set(src.subarray(i * this.d, (i + 1) * this.d), b * this.d);
    }
    if (this.options.binarize && this.ds.kind === 'binary') {
      for (let k = 0; k < out.length; k++)
        out[k] = this.noise.uint32() < out[k] * 4294967296 ? 1 : 0;
    }
    return out;
  }

  /** Next minibatch as a tensor `[batch, ...exampleShape]`. Caller disposes. */
  next(batch: number): tf.Tensor {
    return tf.tensor(this.nextArray(batch), [batch, ...this.ds.exampleShape], 'float32');
  }

  private newEpoch(): void {
    // Advance the epoch generator past the permutation just used, then draw the next one. A
    // one-example split (a Bayesian model's empty data, read 512 times a batch) permutes without
    // drawing: its generators stay as they are, and its epochs cost no allocation.
    if (this.split.count > 1) {
      const r = Rng.fromState(this.epochRng.state());
      r.permutation(this.split.count);
      this.epochRng = r;
      this.order = Rng.fromState(r.state()).permutation(this.split.count);
    }
    this.epoch++;
    this.position = 0;
  }
}
