import { yieldToEventLoop } from '../yieldToEventLoop.js';
import { SpikeGuard, type Spike } from './spikeGuard.js';

/** One iteration's figures (losses, estimates), as written to `metrics.jsonl`. */
export interface StepMetrics {
  step: number;
  klWeight: number;
  stepMs: number;
  primalLoss?: number;
  adversaryLoss?: number;
  reconstruction?: number;
  kl?: number;
  elbo?: number;
  adversaryAccuracy?: number;
  tPosterior?: number;
  tPrior?: number;
  [key: string]: number | undefined;
}

/**
 * Why a step was refused: a non-finite loss or gradient, found before any state changed; or,
 * with `spike`, a loss that jumped far above its recent range and stayed there ({@link SpikeGuard}).
 */
export interface Divergence {
  step: number;
  quantity: string;
  spike?: Spike;
}

/** A divergence in words: `step N: the loss is not finite`, or the spike's figures. */
export function describeDivergence(d: Divergence): string {
  const s = d.spike;
  return s
    ? `steps ${s.since}-${s.step}: ${d.quantity} jumped from about ${s.median.toPrecision(4)} to ${s.loss.toPrecision(4)} and stayed there`
    : `step ${d.step}: ${d.quantity} is not finite`;
}

export type StepResult = { ok: true; metrics: StepMetrics } | { ok: false; divergence: Divergence };

/**
 * What {@link fit} drives: an optimisation whose whole state is one value. `step` is atomic: a
 * refused step (non-finite loss or gradient) leaves every weight and optimiser moment as it was.
 * The trainer of AVB, AVB+AC and the VAE (`Trainer`) and plain loss minimisation (ADVI, the
 * self-checks: `LossStepper`) both are one.
 */
export interface Fittable<S> {
  readonly completedSteps: number;
  step(): StepResult;
  /** The whole state, copied: later steps do not change it. */
  snapshot(): S;
  /** Returns to a snapshot exactly (the next step is the one that followed it). */
  restore(s: S): void;
  /** Multiplies the configured learning rates (halved at each divergence rollback). */
  learningRateScale: number;
}

/** Largest number of divergence rollbacks before a fit gives up. */
export const MAX_ROLLBACKS = 5;

export interface FitOptions<S> {
  /** Step until `completedSteps` reaches this. */
  until: number;
  /**
   * A refused step: `rollback` returns to the last snapshot (taken every `snapshotEvery` steps)
   * with the learning rates halved, at most {@link MAX_ROLLBACKS} times; `stop` ends the fit.
   */
  onNan: 'rollback' | 'stop';
  /** Steps between snapshots: rollback points, and checkpoints where `onSnapshot` writes them. */
  snapshotEvery?: number;
  /** The snapshot to roll back to before the first one of this fit (a loaded checkpoint). */
  lastGood?: S;
  /** After every accepted step; `'stop'` ends the fit (after a snapshot), e.g. converged. */
  onStep?: (m: StepMetrics) => void | 'stop';
  /** Every snapshot (every `snapshotEvery` steps, at the end and when stopped): e.g. a checkpoint. */
  onSnapshot?: (s: S, step: number) => void;
  /** After a rollback to step `backTo`: e.g. truncate logs, reset running averages. */
  onRollback?: (info: { divergence: Divergence; backTo: number; scale: number }) => void;
  /** Polled after every step: true stops the fit after a snapshot (SIGINT, SIGTERM, pause). */
  shouldStop?: () => boolean;
  /** Yield to the event loop every this many steps (signals, progress, a page). Default 1. */
  yieldEvery?: number;
  /**
   * Watches this loss for a blow-up that stays finite ({@link SpikeGuard}), handled as `onNan`
   * says: rolled back to the last snapshot taken before it began, or the fit stops. `history`:
   * the losses of the steps before this fit's first (a resumed run's log), so that the guard
   * judges as an uninterrupted run's would.
   */
  spikes?: { lossOf: (m: StepMetrics) => number | undefined; history?: readonly number[] };
}

/** A rollback point: the whole state, and the steps completed when it was taken. */
interface Snapshot<S> {
  state: S;
  step: number;
}

export interface FitResult {
  /** `completed`: reached `until`; `stopped`: by `shouldStop` or a hook; `diverged`: gave up. */
  status: 'completed' | 'stopped' | 'diverged';
  /** What diverged, when it did: the step and quantity, and what was kept. */
  divergence?: Divergence;
  rollbacks: number;
}

/**
 * The one optimisation loop of avb, shaped like Pyro's `SVI` / NumPyro's `SVIState` loop:
 * `target` owns the step (atomic), `fit` owns the policy around it: when to stop, what a refused
 * step does (the divergence policy), when to snapshot, and the hooks through which experiments add
 * held-out estimates, checkpoints, progress and figures.
 *
 * ```ts
 * const r = await fit(trainer, { until: 10000, onNan: 'rollback', onStep: (m) => log(m) });
 * ```
 */
export async function fit<S>(target: Fittable<S>, o: FitOptions<S>): Promise<FitResult> {
  const every = o.snapshotEvery ?? 1000;
  // Snapshots are taken only for what uses them: rollback points, and the `onSnapshot` hook.
  const rollback = o.onNan === 'rollback';
  const first = o.lastGood ?? (rollback ? target.snapshot() : undefined);
  // The last snapshot, and the one before it: a spike is seen some steps after it began, and a
  // snapshot taken in between holds it already.
  let lastGood: Snapshot<S> | undefined = first && { state: first, step: target.completedSteps };
  let earlier: Snapshot<S> | undefined;
  let rollbacks = 0;
  const losses = o.spikes ? (o.spikes.history ?? []).slice(0, target.completedSteps) : [];
  let guard = SpikeGuard.replay(losses);
  const snapshotNow = () => {
    if (!rollback && !o.onSnapshot) return;
    earlier = o.spikes ? lastGood : undefined;
    lastGood = { state: target.snapshot(), step: target.completedSteps };
    o.onSnapshot?.(lastGood.state, lastGood.step);
  };
  // Back to `to` with the rates halved; the guard as it was there.
  const rollBack = (divergence: Divergence, to: Snapshot<S>) => {
    rollbacks++;
    const scale = target.learningRateScale / 2;
    target.restore(to.state);
    target.learningRateScale = scale;
    lastGood = to;
    earlier = undefined;
    losses.length = Math.min(losses.length, to.step);
    guard = SpikeGuard.replay(losses);
    o.onRollback?.({ divergence, backTo: target.completedSteps, scale });
  };
  while (target.completedSteps < o.until) {
    const r = target.step();
    if (!r.ok) {
      if (o.onNan === 'stop' || rollbacks >= MAX_ROLLBACKS)
        return { status: 'diverged', divergence: r.divergence, rollbacks };
      rollBack(r.divergence, lastGood!);
      continue;
    }
    const hook = o.onStep?.(r.metrics);
    if (o.spikes) {
      const loss = o.spikes.lossOf(r.metrics) ?? NaN;
      losses[r.metrics.step - 1] = loss;
      const spike = guard.push(r.metrics.step, loss);
      if (spike) {
        const divergence = { step: spike.step, quantity: 'the loss', spike };
        const to = [lastGood, earlier].find((g) => g && g.step < spike.since);
        if (o.onNan === 'stop' || rollbacks >= MAX_ROLLBACKS || !to)
          return { status: 'diverged', divergence, rollbacks };
        rollBack(divergence, to);
        continue;
      }
    }
    if (target.completedSteps % (o.yieldEvery ?? 1) === 0) await yieldToEventLoop();
    const done = target.completedSteps >= o.until;
    const stop = !done && (hook === 'stop' || (o.shouldStop?.() ?? false));
    if (done || stop || target.completedSteps % every === 0) snapshotNow();
    if (stop) return { status: 'stopped', rollbacks };
  }
  return { status: 'completed', rollbacks };
}
