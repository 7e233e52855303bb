import * as tf from '../tf.js';

/**
 * Polynomial-decay averaging (Shamir & Zhang 2013): after step t the average moves toward the
 * weights by (η + 1) / (t + η), which weighs step s by about s^η: a mean over the last part of a
 * fit, about its last 1/(η + 1), whatever its length, so it needs no window chosen in advance, as
 * a fit that stops on convergence cannot have one. η = 4 (the last fifth): the default.
 */
export const AVERAGING_ETA = 4;

/**
 * Running averages of some weights, for a stochastic fit whose end fluctuates around its optimum
 * by an amount the learning rate sets: the average does not. Part of the fit's state (its
 * snapshot), so that a resumed fit averages as an uninterrupted one.
 */
export class WeightAverage {
  private readonly averages: tf.Variable[];

  constructor(
    private readonly weights: tf.Variable[],
    private readonly eta = AVERAGING_ETA,
  ) {
    this.averages = weights.map((w) => tf.variable(w.clone(), false));
  }

  /** After accepted step `step` (from 1). */
  update(step: number): void {
    const rate = (this.eta + 1) / (step + this.eta);
    tf.tidy(() =>
      this.averages.forEach((a, i) =>
        a.assign(tf.add(a, tf.mul(tf.sub(this.weights[i], a), rate))),
      ),
    );
  }

  /** Copies of the averages' values, for a snapshot. */
  values(): Float32Array[] {
    return this.averages.map((a) => (a.dataSync() as Float32Array).slice());
  }

  /** Sets the averages from a snapshot's values (absent: an older snapshot; start at the weights). */
  restore(values: Float32Array[] | undefined): void {
    tf.tidy(() =>
      this.averages.forEach((a, i) =>
        a.assign(values ? tf.tensor(values[i], a.shape) : this.weights[i]),
      ),
    );
  }

  /** Replaces the weights by their averages (the fit's result; later steps start from them). */
  applyToWeights(): void {
    this.weights.forEach((w, i) => w.assign(this.averages[i]));
  }

  dispose(): void {
    tf.dispose(this.averages);
  }
}
