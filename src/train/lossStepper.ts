import * as tf from '../tf.js';
import { Rng } from '../random/rng.js';
import { Adam } from './adam.js';
import type { AdamConfig, AdamState } from './adam.js';
import type { Fittable, StepMetrics, StepResult } from './fit.js';
import { scheduleFactor } from './lrSchedule.js';
import type { LrSchedule } from './lrSchedule.js';
import { squaredNorm } from './squaredNorm.js';
import { WeightAverage } from './weightAverage.js';

/** The state of a {@link LossStepper}: step, random state, Adam's moments and the weights. */
export interface LossStepperSnapshot {
  step: number;
  rng: number[];
  adam: AdamState;
  learningRateScale: number;
  weights: Float32Array[];
  /** With `averaged`: the weights' running averages. */
  averages?: Float32Array[];
}

/**
 * Plain minimisation of one loss over a list of weights by Adam, as a {@link Fittable}: ADVI's
 * variational parameters, the self-check's adversary. A step whose loss or gradient is not finite
 * changes nothing (checked on one read-back before Adam applies it).
 *
 * ```ts
 * const stepper = new LossStepper([m, logSd], (rng) => negElbo(rng), adamConfig, new Rng(1));
 * await fit(stepper, { until: 10000, onNan: 'rollback' });
 * ```
 */
export class LossStepper implements Fittable<LossStepperSnapshot> {
  private stepCount = 0;
  private readonly opt: Adam;
  private readonly average: WeightAverage | undefined;

  /**
   * @param loss builds the scalar loss from the weights, drawing its noise from `rng`; called
   *   inside `tf.variableGrads` (and so inside a tidy scope).
   */
  constructor(
    readonly weights: tf.Variable[],
    private readonly loss: (rng: Rng) => tf.Scalar,
    config: AdamConfig,
    private rng: Rng,
    private readonly schedule?: LrSchedule,
    /**
     * Keep polynomial-decay averages of the weights (`weightAverage.ts`), for
     * {@link useAverages} at the end: the end of a stochastic fit fluctuates around its optimum
     * by an amount set by the learning rate; the average does not.
     */
    averaged = false,
  ) {
    this.opt = new Adam(weights, config);
    this.average = averaged ? new WeightAverage(weights) : undefined;
  }

  /** Replaces the weights by their averages (the fit's result; further steps start from them). */
  useAverages(): void {
    if (!this.average) throw new Error('useAverages: the stepper keeps no averages');
    this.average.applyToWeights();
  }

  get completedSteps(): number {
    return this.stepCount;
  }

  get learningRateScale(): number {
    return this.opt.learningRateScale;
  }

  set learningRateScale(scale: number) {
    this.opt.learningRateScale = scale;
  }

  /** One Adam step on the loss; `metrics.loss` is its value before the step. */
  step(): StepResult {
    const start = performance.now();
    this.opt.scheduleFactor = scheduleFactor(this.schedule, this.stepCount);
    const { value, grads } = tf.tidy(() => {
      const r = tf.variableGrads(() => this.loss(this.rng), this.weights);
      return {
        value: tf.keep(r.value),
        grads: this.weights.map((w) => tf.keep(r.grads[w.name])),
      };
    });
    const check = tf.tidy(() => tf.concat([value.reshape([1]), tf.stack(grads.map(squaredNorm))]));
    const all = check.dataSync();
    tf.dispose([check, value]);
    const bad = all.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      tf.dispose(grads);
      const quantity = bad === 0 ? 'the loss' : `the gradient of weight ${bad - 1}`;
      return { ok: false, divergence: { step: this.stepCount + 1, quantity } };
    }
    this.opt.apply(grads);
    tf.dispose(grads);
    this.stepCount++;
    this.average?.update(this.stepCount);
    const metrics: StepMetrics = {
      step: this.stepCount,
      klWeight: 1,
      stepMs: performance.now() - start,
      loss: all[0],
    };
    return { ok: true, metrics };
  }

  snapshot(): LossStepperSnapshot {
    const a = this.opt.state();
    return {
      step: this.stepCount,
      rng: this.rng.state(),
      adam: { t: a.t, m: a.m.map((x) => x.slice()), v: a.v.map((x) => x.slice()) },
      learningRateScale: this.opt.learningRateScale,
      weights: this.weights.map((w) => (w.dataSync() as Float32Array).slice()),
      ...(this.average ? { averages: this.average.values() } : {}),
    };
  }

  restore(s: LossStepperSnapshot): void {
    this.stepCount = s.step;
    this.rng = Rng.fromState(s.rng);
    this.opt.restore(s.adam);
    this.opt.learningRateScale = s.learningRateScale;
    tf.tidy(() => this.weights.forEach((w, i) => w.assign(tf.tensor(s.weights[i], w.shape))));
    this.average?.restore(s.averages);
  }

  dispose(): void {
    this.opt.dispose();
    this.average?.dispose();
  }
}
