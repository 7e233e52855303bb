import * as tf from '../../src/tf.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inferRun, type InferRunConfig } from '../../src/experiments/inferRun.js';
import { methodWarnings, type MethodResult } from '../../src/inference/compare.js';
import type { BayesianModel } from '../../src/inference/model.js';
import { nextTargetAccept, nuts, type NutsChain } from '../../src/inference/nuts.js';
import { useBackend } from '../helpers.js';
import { scratchDir } from '../scratchDir.js';

beforeAll(() => useBackend());

/**
 * Neal's funnel, y ~ N(0, 3), x ~ N(0, e^{y/2}): its neck is narrower than any one step size,
 * so NUTS diverges there at every targetAccept (the centred eight schools' geometry).
 */
const funnel: BayesianModel = {
  name: 'funnel',
  dim: 2,
  parameterNames: ['y', 'x'],
  logJoint: (z) =>
    tf.tidy(() => {
      const y = z.slice([0, 0], [-1, 1]).reshape([-1]);
      const x = z.slice([0, 1], [-1, 1]).reshape([-1]);
      const prior = tf.mul(tf.square(y), -1 / 18);
      const cond = tf.sub(tf.mul(tf.mul(tf.square(x), tf.exp(tf.neg(y))), -0.5), tf.mul(y, 0.5));
      return tf.add(prior, cond) as tf.Tensor1D;
    }),
  summaryNames: ['y', 'x'],
  summarize: (z) => [z[0], z[1]],
  // NUTS's path: in doubles, microseconds a call.
  logDensityAndGradient: ([y, x]) => {
    const e = Math.exp(-y);
    return {
      logp: -(y * y) / 18 - (x * x * e) / 2 - y / 2,
      grad: Float64Array.of(-y / 9 + (x * x * e) / 2 - 0.5, -x * e),
    };
  },
};

/** A standard normal: no divergences at Stan's 0.8. */
const normal: BayesianModel = {
  ...funnel,
  name: 'normal',
  logJoint: (z) => tf.tidy(() => tf.mul(tf.sum(tf.square(z), 1), -0.5) as tf.Tensor1D),
  logDensityAndGradient: ([y, x]) => ({
    logp: -(y * y + x * x) / 2,
    grad: Float64Array.of(-y, -x),
  }),
};

const quick = { chains: 2, warmup: 150, samples: 150, precondition: 'none' as const, seed: 4 };

describe('NUTS samples again after divergences, with a higher targetAccept', () => {
  it("the test models' two log densities agree", () => {
    for (const m of [funnel, normal]) {
      const z = tf.tensor2d([[-1.5, 0.3]]);
      const lp = m.logJoint(z);
      const g = tf.grad((t: tf.Tensor) => tf.sum(m.logJoint(t as tf.Tensor2D)))(z);
      const exact = m.logDensityAndGradient!(Float64Array.of(-1.5, 0.3));
      // float32 arithmetic on values of order 1: 1e-5.
      expect(lp.dataSync()[0]).toBeCloseTo(exact.logp, 5);
      g.dataSync().forEach((v, j) => expect(v).toBeCloseTo(exact.grad[j], 5));
      tf.dispose([z, lp, g]);
    }
  });

  it('climbs 0.8 -> 0.95 -> 0.99, capped by maxTargetAccept', () => {
    const max = { maxTargetAccept: 0.99 };
    expect(nextTargetAccept(0.8, max)).toBe(0.95);
    expect(nextTargetAccept(0.9, max)).toBe(0.95);
    expect(nextTargetAccept(0.95, max)).toBe(0.99);
    expect(nextTargetAccept(0.99, max)).toBeUndefined();
    expect(nextTargetAccept(0.8, { maxTargetAccept: 0.9 })).toBe(0.9);
    expect(nextTargetAccept(0.9, { maxTargetAccept: 0.9 })).toBeUndefined();
    expect(nextTargetAccept(0.995, { maxTargetAccept: 0.999 })).toBe(0.999);
  });

  it('on a funnel: each rejected sampling is the one its targetAccept gives alone, and the kept one too', async () => {
    const climbed = await nuts(funnel, quick);
    expect(climbed.attempts.map((a) => a.targetAccept)).toEqual([0.8, 0.95]);
    expect(climbed.targetAccept).toBe(0.99);
    // The funnel's neck defeats every step size: the divergences remain, and so does the warning.
    expect(climbed.divergences).toBeGreaterThan(0);
    // A chain's random stream depends on the seed and its index only: the rejected samplings are
    // exactly those the same targetAccept gives with no rerun, and the kept one that of 0.99.
    for (const a of climbed.attempts) {
      const alone = await nuts(funnel, {
        ...quick,
        targetAccept: a.targetAccept,
        maxTargetAccept: a.targetAccept,
      });
      expect(alone.attempts).toEqual([]);
      expect(alone.divergences).toBe(a.divergences);
      expect(alone.gradientEvaluations).toBe(a.gradientEvaluations);
    }
    const direct = await nuts(funnel, { ...quick, targetAccept: 0.99 });
    expect(direct.draws.values).toEqual(climbed.draws.values);

    const warnings = methodWarnings(
      { ...climbed, method: 'nuts', status: 'completed' } as MethodResult,
      funnel.summaryNames,
    );
    const [a1, a2] = climbed.attempts;
    expect(warnings).toContain(
      `${climbed.divergences} divergent transitions after warm-up at target-accept 0.99 (it sampled again after ${a1.divergences} at 0.8, ${a2.divergences} at 0.95): NUTS may have missed part of the posterior; reparameterise the model (a non-centred form, tighter priors)`,
    );
    // Below the rungs' top, the warning names the ceiling to raise.
    const capped = await nuts(funnel, { ...quick, maxTargetAccept: 0.8 });
    expect(capped.attempts).toEqual([]);
    expect(
      methodWarnings(
        { ...capped, method: 'nuts', status: 'completed' } as MethodResult,
        funnel.summaryNames,
      ).some((w) => w.endsWith('raise --max-target-accept (to 0.99) or reparameterise the model')),
    ).toBe(true);
  }, 120_000);

  it('a posterior without divergences is sampled once', async () => {
    const r = await nuts(normal, quick);
    expect(r.divergences).toBe(0);
    expect(r.attempts).toEqual([]);
    expect(r.targetAccept).toBe(0.8);
    expect(
      methodWarnings({ ...r, method: 'nuts', status: 'completed' } as MethodResult, [
        'y',
        'x',
      ]).some((w) => w.includes('divergent')),
    ).toBe(false);
  });

  it('resumes the sampling it was in: earlier chains of a rejected one are run again', async () => {
    const whole = await nuts(funnel, quick);
    // Stopped in the second sampling (0.95) after its first chain: the checkpoint holds the
    // rejected 0.8 sampling's record and chain 1 of the 0.95 one, and still chain 2 of the 0.8.
    const chains: (NutsChain | null)[] = [];
    const attempts = [
      ...(await nuts(funnel, { ...quick, maxTargetAccept: 0.8 }).then((r) => [
        {
          targetAccept: 0.8,
          divergences: r.divergences,
          gradientEvaluations: r.gradientEvaluations,
        },
      ])),
    ];
    let finished = 0;
    const stopped = await nuts(funnel, {
      ...quick,
      persistence: {
        attempts,
        done: chains,
        onChain: (ch, i) => {
          chains[i] = ch;
          finished++;
        },
        shouldStop: () => finished >= 1,
      },
    });
    expect(stopped.status).toBe('interrupted');
    expect(chains[0]?.targetAccept).toBe(0.95);
    const resumed = await nuts(funnel, {
      ...quick,
      persistence: { attempts, done: [chains[0], { ...chains[0]!, targetAccept: 0.8 }] },
    });
    expect(resumed.attempts.map((a) => a.targetAccept)).toEqual([0.8, 0.95]);
    expect(resumed.draws.values).toEqual(whole.draws.values);
  }, 120_000);
});

describe('a NUTS run folder across reruns (avb infer --out)', () => {
  it('stopped in its second sampling, --resume ends with the draws and log of an uninterrupted run', async () => {
    const dir = scratchDir('avb-retarget-');
    const config: InferRunConfig = {
      model: 'funnel',
      method: 'nuts',
      options: { samples: 300, seed: 4, nuts: quick },
    };
    const whole = join(dir, 'whole');
    const done = await inferRun(funnel, config, { out: whole });
    if (done.status !== 'completed') throw new Error('the uninterrupted run stopped');
    expect(done.summary.targetAccept).toBe(0.99);
    expect(done.summary.rejectedSamplings?.map((a) => a.targetAccept)).toEqual([0.8, 0.95]);
    const lines = readFileSync(join(whole, 'metrics.jsonl'), 'utf8').trim().split('\n');
    const parsed = lines.map((l) => JSON.parse(l) as { rejectedSampling?: number; chain?: number });
    expect(parsed.map((l) => l.rejectedSampling ?? l.chain)).toEqual([1, 2, 1, 2]);

    // Stop once a chain of the second sampling has finished (the first sampling's two chains
    // finish before it): five chains in all.
    const parts = join(dir, 'parts');
    let chains = 0;
    const stopAt = (n: number) => () =>
      (chains = readFileSync(join(parts, 'metrics.jsonl'), 'utf8').split('\n').length - 1) >= n;
    const stopped = await inferRun(funnel, config, { out: parts, shouldStop: stopAt(2) });
    expect(stopped.status).toBe('interrupted');
    expect(chains).toBe(2); // the 0.8 sampling's record, chain 1 of the 0.95 one
    const resumed = await inferRun(funnel, config, { out: parts, resume: true });
    expect(resumed.status).toBe('completed');
    for (const f of ['draws.csv', 'metrics.jsonl'])
      expect(readFileSync(join(parts, f), 'utf8')).toBe(readFileSync(join(whole, f), 'utf8'));
  }, 60_000);
});
