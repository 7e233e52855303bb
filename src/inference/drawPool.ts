/**
 * q's draws pooled over the last part of an AVB fit. An adversarially trained sampler never
 * settles: its moments wander with the adversary's noise (on posteriordb's GP, the mean of α
 * swings ±0.3 posterior sds with a period of ~1,000 iterations), so the draws of its final step
 * are one point of that wander. Draws taken every few iterations over the fit's last part, each
 * with log q from the adversary of its own moment, average the wander out; and the two halves of
 * that window tell whether q has stopped moving, which the noisy T-based ELBO cannot.
 */

/** Draws of q at one iteration, with log q(z) from that iteration's adversary. */
export interface PoolEntry {
  step: number;
  /** `[n, d]` row-major, in the fit's coordinates. */
  z: Float32Array;
  logQ: Float32Array;
}

/** How far q moved between the older and the newer half of the pool's window. */
export interface PoolShift {
  /** Largest |mean difference| of a coordinate, in that coordinate's pooled sds. */
  mean: number;
  /** Largest |log sd ratio| of a coordinate. */
  logSd: number;
  /** Whether both are within {@link SHIFT_TOLERANCE} plus two standard errors of noise. */
  stable: boolean;
}

/**
 * q counts as settled when its halves' means differ by at most 0.1 sd and their sds by at most
 * 10% (beyond the draws' own noise): the pooled mean is then within ~0.05 sd of either half.
 */
export const SHIFT_TOLERANCE = 0.1;

export class DrawPool {
  private entries: PoolEntry[] = [];

  /**
   * @param fraction the window: draws of the last `fraction` of the iterations run so far
   * @param every iterations between two sets of draws
   * @param d the fit's dimension
   */
  constructor(
    readonly fraction: number,
    readonly every: number,
    private readonly d: number,
  ) {
    if (!(fraction > 0 && fraction <= 1)) throw new Error(`DrawPool: fraction ${fraction}`);
  }

  /** Adds the draws of iteration `step` and forgets those that can no longer be in a window. */
  add(entry: PoolEntry): void {
    this.entries.push(entry);
    const from = this.from(entry.step);
    this.entries = this.entries.filter((e) => e.step > from);
  }

  /** After a rollback to `step`: the draws of undone iterations go. */
  rollback(step: number): void {
    this.entries = this.entries.filter((e) => e.step <= step);
  }

  /** First iteration (exclusive) of the window when `step` iterations have run. */
  private from(step: number): number {
    return Math.floor(step * (1 - this.fraction));
  }

  private window(step: number): PoolEntry[] {
    const from = this.from(step);
    return this.entries.filter((e) => e.step > from && e.step <= step);
  }

  /** The entries, for a checkpoint. */
  snapshot(): PoolEntry[] {
    return this.entries.map((e) => ({ step: e.step, z: e.z.slice(), logQ: e.logQ.slice() }));
  }

  restore(entries: PoolEntry[]): void {
    this.entries = entries.map((e) => ({ step: e.step, z: e.z.slice(), logQ: e.logQ.slice() }));
  }

  /**
   * How far q moved across the window at `step`: its older half against its newer half, per
   * coordinate. Null when either half holds no draws.
   */
  shift(step: number): PoolShift | null {
    const w = this.window(step);
    const mid = Math.floor(step * (1 - this.fraction / 2));
    const older = w.filter((e) => e.step <= mid);
    const newer = w.filter((e) => e.step > mid);
    if (older.length === 0 || newer.length === 0) return null;
    const a = moments(older, this.d);
    const b = moments(newer, this.d);
    // Standard errors of a mean difference in sds and of a log sd ratio, for independent draws.
    const seMean = Math.sqrt(1 / a.n + 1 / b.n);
    const seLogSd = Math.sqrt(1 / (2 * a.n) + 1 / (2 * b.n));
    let mean = 0;
    let logSd = 0;
    for (let j = 0; j < this.d; j++) {
      const sd = Math.sqrt((a.variance[j] + b.variance[j]) / 2);
      mean = Math.max(mean, sd > 0 ? Math.abs(a.mean[j] - b.mean[j]) / sd : 0);
      if (a.variance[j] > 0 && b.variance[j] > 0)
        logSd = Math.max(logSd, Math.abs(0.5 * Math.log(a.variance[j] / b.variance[j])));
    }
    const stable = mean <= SHIFT_TOLERANCE + 2 * seMean && logSd <= SHIFT_TOLERANCE + 2 * seLogSd;
    return { mean, logSd, stable };
  }

  /**
   * `samples` draws spread evenly over the window at `step` (every entry gives its share), with
   * their log q; null when the window holds fewer than `samples` draws.
   */
  draws(step: number, samples: number): { z: Float32Array; logQ: Float32Array } | null {
    const w = this.window(step);
    const total = w.reduce((s, e) => s + e.logQ.length, 0);
    if (total < samples) return null;
    const d = this.d;
    const z = new Float32Array(samples * d);
    const logQ = new Float32Array(samples);
    let entry = 0;
    let before = 0;
    for (let i = 0; i < samples; i++) {
      const k = Math.floor((i * total) / samples);
      while (k >= before + w[entry].logQ.length) before += w[entry++].logQ.length;
      const row = k - before;
      z.set(w[entry].z.subarray(row * d, (row + 1) * d), i * d);
      logQ[i] = w[entry].logQ[row];
    }
    return { z, logQ };
  }
}

/**
 * Per-coordinate means and variances of the entries' draws, and their number. Two passes: with
 * no preconditioning a coordinate can sit at 1e4 with an sd of 1e-3, where E[z²] - E[z]² cancels.
 */
function moments(entries: PoolEntry[], d: number) {
  const mean = new Float64Array(d);
  const variance = new Float64Array(d);
  const n = entries.reduce((s, e) => s + e.logQ.length, 0);
  const each = (f: (j: number, v: number) => void) => {
    for (const e of entries)
      for (let i = 0; i < e.logQ.length; i++) for (let j = 0; j < d; j++) f(j, e.z[i * d + j]);
  };
  each((j, v) => (mean[j] += v / n));
  each((j, v) => (variance[j] += (v - mean[j]) ** 2 / (n - 1)));
  return { mean, variance, n };
}
