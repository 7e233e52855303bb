/**
 * Finds a blow-up that stays finite: a loss that jumps far above its recent range and stays
 * there. AVB's adversary can do this on MNIST (a KL estimate from 20 to 224 nats in a few steps,
 * ~1,000 steps to recover, README), which the non-finite check of `fit` never sees.
 *
 * The recent range is the median and MAD of the last {@link SPIKE_WINDOW} accepted losses; a
 * step is out of range when its loss is more than {@link SPIKE_SDS} robust sds (1.4826 MAD)
 * above that median, and a spike is {@link SPIKE_STEPS} such steps in a row. Per-batch noise alone
 * does not do that: replayed over the metrics of every long MNIST run and posteriordb fit avb has
 * (README), the guard fires on the blow-ups and on nothing else.
 */
export const SPIKE_WINDOW = 500;
export const SPIKE_SDS = 10;
export const SPIKE_STEPS = 25;

export interface Spike {
  /** The first step of the run of out-of-range losses. */
  since: number;
  /** The step at which the run reached {@link SPIKE_STEPS}. */
  step: number;
  /** The median loss before the spike, and the loss at `step`. */
  median: number;
  loss: number;
}

/** In-range losses between updates of the guard's median and MAD (cheap to replay a log). */
const RANGE_EVERY = 50;

export class SpikeGuard {
  /** The last {@link SPIKE_WINDOW} in-range losses, a ring. */
  private readonly ring = new Float64Array(SPIKE_WINDOW);
  private count = 0;
  private outSince = -1;
  private outCount = 0;
  private cached = { median: 0, sd: 0 };

  /**
   * The guard after `losses` (those of steps 1, 2, ...; a resumed run's log): in the state an
   * uninterrupted run's guard was in at the same step.
   */
  static replay(losses: readonly number[]): SpikeGuard {
    const g = new SpikeGuard();
    losses.forEach((loss, i) => g.push(i + 1, loss));
    return g;
  }

  /**
   * Takes the loss of accepted step `step`; returns the spike when this step completes one.
   * Out-of-range losses do not enter the window, so a long spike does not become its own range.
   */
  push(step: number, loss: number): Spike | undefined {
    if (!Number.isFinite(loss)) return undefined;
    if (this.count >= SPIKE_WINDOW) {
      const { median, sd } = this.cached;
      if (loss > median + SPIKE_SDS * sd) {
        if (this.outCount === 0) this.outSince = step;
        this.outCount++;
        if (this.outCount >= SPIKE_STEPS) return { since: this.outSince, step, median, loss };
        return undefined;
      }
    }
    this.outCount = 0;
    this.ring[this.count % SPIKE_WINDOW] = loss;
    this.count++;
    if (this.count >= SPIKE_WINDOW && this.count % RANGE_EVERY === 0) this.cached = this.range();
    return undefined;
  }

  private range(): { median: number; sd: number } {
    const v = Float64Array.from(this.ring).sort();
    const median = (v[SPIKE_WINDOW / 2 - 1] + v[SPIKE_WINDOW / 2]) / 2;
    const dev = v.map((x) => Math.abs(x - median)).sort();
    const mad = (dev[SPIKE_WINDOW / 2 - 1] + dev[SPIKE_WINDOW / 2]) / 2;
    // A loss that does not move at all (a converged fit in float32) has no range to leave.
    return { median, sd: Math.max(1.4826 * mad, 1e-6 * Math.abs(median), 1e-12) };
  }
}
