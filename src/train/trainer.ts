import * as tf from '../tf.js';
import type { MinibatchSampler, SamplerState } from '../data/sampler.js';
import type { Objective, Parts } from '../objectives/objective.js';
import { Rng } from '../random/rng.js';
import { Adam } from './adam.js';
import type { AdamConfig, AdamMark, AdamState } from './adam.js';
import type { Divergence, Fittable, StepMetrics, StepResult } from './fit.js';
import { scheduleFactor } from './lrSchedule.js';
import { squaredNorm } from './squaredNorm.js';
import type { LrSchedule } from './lrSchedule.js';
import { WeightAverage } from './weightAverage.js';

export interface TrainerConfig {
  batch: number;
  primal: AdamConfig;
  adversary: AdamConfig;
  /** The decoder's learning rate as a multiple of `primal`'s (absent: 1, the same rate). */
  decoderRateFactor?: number;
  /**
   * `simultaneous`: one batch, both updates from it (the authors' code). `alternating`:
   * `adversarySteps` adversary updates on fresh batches, then one primal update (their notebooks).
   */
  schedule: 'simultaneous' | 'alternating';
  adversarySteps: number;
  /** Steps over which the KL weight rises linearly from 0 to 1 (0: no annealing). */
  klAnnealSteps: number;
  /** Both learning rates over the run (see {@link LrSchedule}); absent: constant. */
  lrSchedule?: LrSchedule;
  /**
   * Keep polynomial-decay averages of the encoder's weights, with this η (`weightAverage.ts`),
   * for {@link Trainer.useEncoderAverages} at the end: AVB's sampler as the mean of its last
   * part, as GANs' generators are averaged, rather than its last, noisy step. Absent: none.
   */
  averageEncoder?: number;
}

export type { Divergence, StepMetrics, StepResult } from './fit.js';
export { scheduleFactor } from './lrSchedule.js';

/** Everything needed to continue training exactly, besides the weights. */
export interface TrainerState {
  step: number;
  rng: number[];
  sampler: SamplerState;
  adam: { primal: AdamState; adversary: AdamState };
  learningRateScale: number;
  /** With `averageEncoder`: the encoder weights' running averages. */
  encoderAverages?: Float32Array[];
}

/** A weight's values by path (`encoder/net/dense0/kernel`), with its shape. */
export type NamedValues = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * The complete training state as one value: the weights of every part, both Adam states, the
 * random state, the minibatch position and the step. `Trainer.snapshot()` takes it,
 * `Trainer.restore()` returns to it exactly; a checkpoint is a snapshot serialised.
 */
export interface TrainingSnapshot {
  state: TrainerState;
  weights: NamedValues;
}

/** Every weight of `parts` by path, prefixed with the part's name (`encoder/`, `decoder/`, `adversary/`). */
function partWeights(parts: Parts): Map<string, tf.Variable> {
  const all = new Map<string, tf.Variable>();
  for (const [k, v] of parts.encoder.namedWeights('encoder/')) all.set(k, v);
  for (const [k, v] of parts.decoder.namedWeights('decoder/')) all.set(k, v);
  if (parts.adversary)
    for (const [k, v] of parts.adversary.namedWeights('adversary/')) all.set(k, v);
  return all;
}

/** Copies of the values of every weight of `parts`. */
function readPartWeights(parts: Parts): NamedValues {
  const out: NamedValues = new Map();
  for (const [name, v] of partWeights(parts))
    out.set(name, { shape: v.shape, data: (v.dataSync() as Float32Array).slice() });
  return out;
}

/**
 * Assigns stored values to the weights of `parts`. Returns an error message, without changing
 * anything, when the names or shapes differ (the values are of another architecture).
 */
export function assignPartWeights(parts: Parts, values: NamedValues): string | undefined {
  const weights = partWeights(parts);
  const mismatch =
    values.size !== weights.size ||
    [...values].some(([name, t]) => weights.get(name)?.shape.join('x') !== t.shape.join('x'));
  if (mismatch) return 'weight names or shapes differ';
  tf.tidy(() => {
    for (const [name, t] of values) weights.get(name)!.assign(tf.tensor(t.data, t.shape));
  });
  return undefined;
}

/**
 * Runs any objective (AVB, AVB+AC, VAE) on its parts: owns the optimisers, the schedule of
 * primal and adversary steps, KL annealing and divergence detection. Shaped like NumPyro's SVI:
 * the state is one value ({@link TrainerState} plus the weights), `step` advances it, and a step
 * whose loss or gradient is not finite leaves every weight and optimiser moment untouched, for
 * every schedule. `fit` (./fit.ts) drives it.
 *
 * ```ts
 * const trainer = new Trainer(parts, avbObjective, sampler, config, new Rng(1));
 * const result = await fit(trainer, { until: 1000, onNan: 'stop' });
 * ```
 */
export class Trainer implements Fittable<TrainingSnapshot> {
  private stepCount = 0;
  private readonly primalWeights: tf.Variable[];
  private readonly adversaryWeights: tf.Variable[];
  private readonly primalOpt: Adam;
  private readonly adversaryOpt: Adam;
  private readonly encoderAverage: WeightAverage | undefined;

  constructor(
    readonly parts: Parts,
    private readonly objective: Objective,
    private readonly sampler: MinibatchSampler,
    readonly config: TrainerConfig,
    private rng: Rng,
  ) {
    this.primalWeights = [
      ...parts.encoder.namedWeights().values(),
      ...parts.decoder.namedWeights().values(),
    ];
    this.adversaryWeights = parts.adversary ? [...parts.adversary.namedWeights().values()] : [];
    const encoderWeights = parts.encoder.namedWeights().size;
    const factor = config.decoderRateFactor ?? 1;
    this.primalOpt = new Adam(
      this.primalWeights,
      config.primal,
      factor === 1
        ? undefined
        : this.primalWeights.map((_, i) => (i < encoderWeights ? 1 : factor)),
    );
    this.adversaryOpt = new Adam(this.adversaryWeights, config.adversary);
    this.encoderAverage =
      config.averageEncoder !== undefined
        ? new WeightAverage([...parts.encoder.namedWeights().values()], config.averageEncoder)
        : undefined;
  }

  /** Replaces the encoder's weights by their averages (the fit's result). */
  useEncoderAverages(): void {
    if (!this.encoderAverage) throw new Error('useEncoderAverages: averageEncoder is off');
    this.encoderAverage.applyToWeights();
  }

  /** Completed iterations. */
  get completedSteps(): number {
    return this.stepCount;
  }

  /** KL weight at the current step. */
  klWeight(): number {
    const a = this.config.klAnnealSteps;
    return a > 0 ? Math.min(1, (this.stepCount + 1) / a) : 1;
  }

  /** One training iteration. */
  step(): StepResult {
    const start = performance.now();
    const klWeight = this.klWeight();
    const metrics: StepMetrics = { step: this.stepCount + 1, klWeight, stepMs: 0 };
    const hasAdversary = this.adversaryWeights.length > 0;
    const f = scheduleFactor(this.config.lrSchedule, this.stepCount);
    this.primalOpt.scheduleFactor = f;
    this.adversaryOpt.scheduleFactor = f;
    if (this.config.schedule === 'simultaneous' || !hasAdversary) {
      const r = this.update('both', klWeight, metrics);
      if (r) return { ok: false, divergence: r };
    } else {
      // The adversary's updates come first: a later refused update must take them back, so
      // that a refused step leaves every weight and moment as it was.
      const before: AdamMark = this.adversaryOpt.mark();
      let r: Divergence | undefined;
      for (let k = 0; k < this.config.adversarySteps && !r; k++)
        r = this.update('adversary', klWeight, metrics);
      r ??= this.update('primal', klWeight, metrics);
      if (r) {
        this.adversaryOpt.undo(before);
        return { ok: false, divergence: r };
      }
      tf.dispose(before.tensors);
    }
    this.stepCount++;
    this.encoderAverage?.update(this.stepCount);
    metrics.stepMs = performance.now() - start;
    return { ok: true, metrics };
  }

  /**
   * Computes the selected losses and gradients on a fresh minibatch, checks that every one is
   * finite (one small read-back per update), then applies Adam. Returns the divergence, if any.
   */
  private update(
    select: 'both' | 'primal' | 'adversary',
    klWeight: number,
    metrics: StepMetrics,
  ): Divergence | undefined {
    const hasAdversary = this.adversaryWeights.length > 0;
    const usePrimal = select !== 'adversary';
    const useAdversary = select !== 'primal' && hasAdversary;
    const weights = [
      ...(usePrimal ? this.primalWeights : []),
      ...(useAdversary ? this.adversaryWeights : []),
    ];
    const x = this.sampler.next(this.config.batch);
    let names: string[] = [];
    let packed: tf.Tensor | undefined;
    const { grads } = tf.tidy(() => {
      const result = tf.variableGrads(() => {
        const out = this.objective(this.parts, x, this.rng, { klWeight, select });
        const scalars: [string, tf.Scalar][] = [];
        if (usePrimal && out.primal) scalars.push(['primalLoss', out.primal]);
        if (useAdversary && out.adversary) scalars.push(['adversaryLoss', out.adversary]);
        for (const [k, v] of Object.entries(out.metrics)) scalars.push([k, v]);
        names = scalars.map(([k]) => k);
        packed = tf.keep(tf.stack(scalars.map(([, v]) => v)));
        let total: tf.Tensor = tf.scalar(0);
        if (usePrimal && out.primal) total = tf.add(total, out.primal);
        if (useAdversary && out.adversary) total = tf.add(total, out.adversary);
        return total as tf.Scalar;
      }, weights);
      return { grads: result.grads };
    });
    x.dispose();
    const gradList = weights.map((w) => grads[w.name]);
    // One read-back per update: the losses and metrics, then each gradient's squared norm.
    const readBack = tf.tidy(() => tf.concat([packed!, tf.stack(gradList.map(squaredNorm))]));
    const all = readBack.dataSync();
    readBack.dispose();
    packed!.dispose();
    const values = all.subarray(0, names.length);
    const norms = all.subarray(names.length);
    const bad = (q: string): Divergence => {
      tf.dispose(gradList);
      return { step: this.stepCount + 1, quantity: q };
    };
    for (let i = 0; i < names.length; i++) {
      if (!Number.isFinite(values[i])) return bad(names[i]);
      metrics[names[i]] = values[i];
    }
    const nPrimal = usePrimal ? this.primalWeights.length : 0;
    for (let i = 0; i < norms.length; i++) {
      if (!Number.isFinite(norms[i]))
        return bad(`gradient of ${i < nPrimal ? 'the primal loss' : 'the adversary loss'}`);
    }
    if (usePrimal) this.primalOpt.apply(gradList.slice(0, nPrimal));
    if (useAdversary) this.adversaryOpt.apply(gradList.slice(nPrimal));
    tf.dispose(gradList);
    return undefined;
  }

  /** The whole training state, copied: later steps do not change it. */
  snapshot(): TrainingSnapshot {
    const copy = (a: AdamState): AdamState => ({
      t: a.t,
      m: a.m.map((x) => x.slice()),
      v: a.v.map((x) => x.slice()),
    });
    return {
      state: {
        step: this.stepCount,
        rng: this.rng.state(),
        sampler: this.sampler.state(),
        adam: {
          primal: copy(this.primalOpt.state()),
          adversary: copy(this.adversaryOpt.state()),
        },
        learningRateScale: this.primalOpt.learningRateScale,
        ...(this.encoderAverage ? { encoderAverages: this.encoderAverage.values() } : {}),
      },
      weights: readPartWeights(this.parts),
    };
  }

  /**
   * Returns to a snapshot exactly (the next step is the one that followed it). Throws when the
   * snapshot is of another architecture, before changing anything.
   */
  restore(s: TrainingSnapshot): void {
    const shapes = (opt: Adam, a: AdamState) =>
      a.m.length === opt.weights.length &&
      a.m.every((m, i) => m.length === opt.weights[i].size && a.v[i].length === m.length);
    const adamFits =
      shapes(this.primalOpt, s.state.adam.primal) &&
      shapes(this.adversaryOpt, s.state.adam.adversary);
    const problem = adamFits ? assignPartWeights(this.parts, s.weights) : 'optimiser states differ';
    if (problem) throw new ArchitectureMismatch(problem);
    this.stepCount = s.state.step;
    this.rng = Rng.fromState(s.state.rng);
    this.sampler.restore(s.state.sampler);
    this.primalOpt.restore(s.state.adam.primal);
    this.adversaryOpt.restore(s.state.adam.adversary);
    this.learningRateScale = s.state.learningRateScale;
    this.encoderAverage?.restore(s.state.encoderAverages);
  }

  /** Scales both optimisers' learning rates (halved at each divergence rollback). */
  set learningRateScale(scale: number) {
    this.primalOpt.learningRateScale = scale;
    this.adversaryOpt.learningRateScale = scale;
  }

  get learningRateScale(): number {
    return this.primalOpt.learningRateScale;
  }

  dispose(): void {
    this.primalOpt.dispose();
    this.adversaryOpt.dispose();
    this.encoderAverage?.dispose();
  }
}

/** A snapshot or checkpoint of another architecture than the parts it is restored into. */
export class ArchitectureMismatch extends Error {}
