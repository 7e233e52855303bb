import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lossHistory } from '../../src/experiments/runFolder.js';
import { Rng } from '../../src/random/rng.js';
import { describeDivergence, fit, type Divergence, type Fittable } from '../../src/train/fit.js';
import { SPIKE_STEPS, SPIKE_WINDOW, SpikeGuard } from '../../src/train/spikeGuard.js';
import { scratchDir } from '../scratchDir.js';

/** A noisy loss falling from 200 towards 100, sd 3 per step: what a training log looks like. */
const noisy = (step: number) => 100 + 100 * Math.exp(-step / 2000) + 3 * new Rng(step).normal();

describe('the spike guard', () => {
  it('sees a jump that lasts SPIKE_STEPS steps, and neither noise nor a shorter excursion', () => {
    const run = (jumpAt: number, length: number, height: number) => {
      const g = new SpikeGuard();
      const found = [];
      for (let step = 1; step <= 20000; step++) {
        const up = step >= jumpAt && step < jumpAt + length ? height : 0;
        const s = g.push(step, noisy(step) + up);
        if (s) found.push(s);
      }
      return found;
    };
    expect(run(Infinity, 0, 0)).toEqual([]);
    // 24 steps 100 sds up: a burst, not a blow-up.
    expect(run(6000, SPIKE_STEPS - 1, 300)).toEqual([]);
    // 5 sds up for a long time: within what the guard leaves alone (10 robust sds).
    expect(run(6000, 2000, 15)).toEqual([]);
    const [first] = run(6000, 1000, 300);
    expect(first).toMatchObject({ since: 6000, step: 6000 + SPIKE_STEPS - 1 });
    // The median of steps 5,500-6,000 (the loss still falling): 100 + 100 e^{-2.875} ≈ 105.6.
    expect(Math.abs(first.median - 105.6)).toBeLessThan(1);
    // Nothing before it has a window: the first SPIKE_WINDOW steps are never judged.
    expect(run(10, 1000, 300)).toEqual([]);
    expect(run(SPIKE_WINDOW + 100, 1000, 300)[0].since).toBe(SPIKE_WINDOW + 100);
  });

  it('replaying a log gives the guard an uninterrupted run had', () => {
    const losses = Array.from({ length: 8000 }, (_, i) =>
      i >= 7000 && i < 7010 ? 1e6 : noisy(i + 1),
    );
    const live = new SpikeGuard();
    const liveSays = losses.map((l, i) => live.push(i + 1, l));
    const resumed = SpikeGuard.replay(losses.slice(0, 6990));
    const resumedSays = losses.slice(6990).map((l, i) => resumed.push(6991 + i, l));
    expect(resumedSays).toEqual(liveSays.slice(6990));
    expect(SpikeGuard.replay([NaN, Infinity])).toEqual(new SpikeGuard());
  });
});

/**
 * A fit whose loss is {@link noisy} plus a blow-up of 150 from step `from` for 300 steps, while
 * the learning rates are the configured ones (halved, it does not happen). State: the step.
 */
function blowingUp(from: number): Fittable<number> {
  return new (class implements Fittable<number> {
    completedSteps = 0;
    learningRateScale = 1;
    step() {
      const step = ++this.completedSteps;
      const up = this.learningRateScale === 1 && step >= from && step < from + 300 ? 150 : 0;
      return {
        ok: true as const,
        metrics: { step, klWeight: 1, stepMs: 0, primalLoss: noisy(step) + up },
      };
    }
    snapshot() {
      return this.completedSteps;
    }
    restore(s: number) {
      this.completedSteps = s;
    }
  })();
}

describe('fit: a finite blow-up of the loss', () => {
  const spikes = { lossOf: (m: { primalLoss?: number }) => m.primalLoss };
  const fitted = async (from: number, until = 4000) => {
    const target = blowingUp(from);
    const rollbacks: { divergence: Divergence; backTo: number; scale: number }[] = [];
    const r = await fit(target, {
      until,
      onNan: 'rollback',
      snapshotEvery: 1000,
      spikes,
      onRollback: (info) => rollbacks.push(info),
    });
    return { r, rollbacks, target };
  };

  it('is rolled back to the last snapshot before it began, with halved rates', async () => {
    const { r, rollbacks, target } = await fitted(2200);
    expect(r).toEqual({ status: 'completed', rollbacks: 1 });
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]).toMatchObject({ backTo: 2000, scale: 0.5 });
    expect(rollbacks[0].divergence.spike).toMatchObject({ since: 2200, step: 2224 });
    expect(describeDivergence(rollbacks[0].divergence)).toMatch(
      /^steps 2200-2224: the loss jumped from about 1\d\d\.?\d* to 2\d\d\.?\d* and stayed there$/,
    );
    expect(target.completedSteps).toBe(4000);
    expect(target.learningRateScale).toBe(0.5);
  });

  it('one that began just before a snapshot goes back to the snapshot before that', async () => {
    const { rollbacks } = await fitted(1990);
    expect(rollbacks.map((x) => x.backTo)).toEqual([1000]);
  });

  it('a fit without one is left alone; with onNan stop, one ends the fit', async () => {
    const calm = await fitted(Infinity);
    expect(calm.rollbacks).toEqual([]);
    const target = blowingUp(2200);
    const r = await fit(target, { until: 4000, onNan: 'stop', spikes });
    expect(r.status).toBe('diverged');
    expect(r.divergence?.spike?.since).toBe(2200);
  });

  it('a resumed fit, given its log, rolls back where an uninterrupted one did', async () => {
    const whole = await fitted(2200);
    const target = blowingUp(2200);
    const log: number[] = [];
    const lossOf = (m: { primalLoss?: number }) => m.primalLoss;
    await fit(target, {
      until: 2000,
      onNan: 'rollback',
      spikes: { lossOf },
      onStep: (m) => {
        log.push(m.primalLoss!);
      },
    });
    const rollbacks: number[] = [];
    const r = await fit(target, {
      until: 4000,
      onNan: 'rollback',
      lastGood: 2000,
      snapshotEvery: 1000,
      spikes: { lossOf, history: log },
      onRollback: ({ backTo }) => rollbacks.push(backTo),
    });
    expect(r).toEqual(whole.r);
    expect(rollbacks).toEqual(whole.rollbacks.map((x) => x.backTo));
  });
});

describe("a training run's loss history (what a resumed run's guard replays)", () => {
  it('reads the primal loss of each step from metrics.jsonl, NaN where a line has none', () => {
    const file = join(scratchDir('avb-history-'), 'metrics.jsonl');
    const lines = [
      { step: 1, primalLoss: 120.5 },
      { step: 2, primalLoss: 119.25, heldOutIwae: -100 },
      { step: 3, adversaryLoss: 1.2 },
      { step: 4, primalLoss: 118 },
      { step: 5, primalLoss: 999 },
    ];
    writeFileSync(file, lines.map((l) => JSON.stringify(l) + '\n').join(''));
    // Up to the checkpoint's step 4: step 5's line is not the resumed run's.
    expect(lossHistory(file, 4)).toEqual([120.5, 119.25, NaN, 118]);
  });
});
