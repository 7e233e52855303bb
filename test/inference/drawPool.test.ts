import { describe, expect, it } from 'vitest';
import { DrawPool, SHIFT_TOLERANCE } from '../../src/inference/drawPool.js';
import type { PoolEntry } from '../../src/inference/drawPool.js';

/** An entry of `n` one-dimensional draws: value(i) for i < n, log q = the step (to trace it). */
function entry(step: number, n: number, value: (i: number) => number): PoolEntry {
  return {
    step,
    z: Float32Array.from({ length: n }, (_, i) => value(i)),
    logQ: new Float32Array(n).fill(step),
  };
}

/** ±1 alternating: mean 0, sample variance n / (n - 1). */
const pm =
  (shift = 0, scale = 1) =>
  (i: number) =>
    shift + scale * (i % 2 === 0 ? 1 : -1);

describe('DrawPool', () => {
  it('keeps the last fraction of the fit and spreads the pooled draws evenly over it', () => {
    const pool = new DrawPool(0.5, 100, 1);
    for (let step = 100; step <= 2000; step += 100) pool.add(entry(step, 10, () => step));
    // The window at 2000 is (1000, 2000]: 10 entries of 10 draws; older ones were dropped.
    expect(pool.draws(2000, 100)).not.toBeNull();
    expect(pool.snapshot().map((e) => e.step)[0]).toBe(1100);
    const d = pool.draws(2000, 50)!;
    // Every second draw: 5 from each of the 10 entries.
    const perStep = new Map<number, number>();
    for (const s of d.logQ) perStep.set(s, (perStep.get(s) ?? 0) + 1);
    expect([...perStep.keys()]).toEqual([
      1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000,
    ]);
    expect([...perStep.values()].every((c) => c === 5)).toBe(true);
    // Each draw keeps its own log q: its entry's values and log q agree.
    expect(Array.from(d.z)).toEqual(Array.from(d.logQ));
    expect(pool.draws(2000, 101)).toBeNull();
  });

  it('forgets rolled-back draws and restores a snapshot exactly', () => {
    const pool = new DrawPool(0.5, 100, 2);
    for (let step = 100; step <= 1000; step += 100) pool.add(entry(step, 4, (i) => step + i));
    const saved = pool.snapshot();
    pool.rollback(800);
    expect(pool.snapshot().map((e) => e.step)).toEqual([600, 700, 800]);
    pool.restore(saved);
    expect(pool.snapshot()).toEqual(saved);
  });

  it('measures how far q moved between the halves of its window, against closed forms', () => {
    const n = 1000;
    const sampleSd = Math.sqrt(n / (n - 1)); // of ±1 over n draws (one entry of n per half)
    const halves = (newer: (i: number) => number) => {
      const pool = new DrawPool(0.5, 100, 1);
      pool.add(entry(1100, n, pm()));
      pool.add(entry(2000, n, newer));
      return pool.shift(2000)!;
    };
    // Stationary: no shift at all.
    const same = halves(pm());
    expect(same.mean).toBe(0);
    expect(same.logSd).toBeCloseTo(0, 12);
    expect(same.stable).toBe(true);
    // The mean moved by 0.5 (both halves have sd sampleSd): 0.5 / sampleSd sds.
    const moved = halves(pm(0.5));
    expect(moved.mean).toBeCloseTo(0.5 / sampleSd, 6);
    expect(moved.stable).toBe(false);
    // The sd grew by 30%: log 1.3; pooled sd sqrt((1 + 1.69) / 2) x sampleSd, no mean shift.
    const wider = halves(pm(0, 1.3));
    expect(wider.logSd).toBeCloseTo(Math.log(1.3), 6);
    expect(wider.mean).toBeCloseTo(0, 6);
    expect(wider.stable).toBe(false);
    // Within the tolerance (plus the noise allowance of 2 se, 0.089 here): still settled.
    const slight = halves(pm(SHIFT_TOLERANCE * 0.9 * sampleSd));
    expect(slight.mean).toBeCloseTo(SHIFT_TOLERANCE * 0.9, 6);
    expect(slight.stable).toBe(true);
  });

  it('has no shift to report until both halves hold draws', () => {
    const pool = new DrawPool(0.5, 100, 1);
    pool.add(entry(2000, 10, pm()));
    expect(pool.shift(2000)).toBeNull();
  });
});
