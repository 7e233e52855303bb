import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { chainPoolFor } from '../../src/experiments/parallelChains.js';
import type { ModelSource } from '../../src/experiments/parallelChains.js';
import { loadModel } from '../../src/inference/loadModel.js';
import type { BayesianModel } from '../../src/inference/model.js';
import { nuts } from '../../src/inference/nuts.js';
import type { NutsChain } from '../../src/inference/nuts.js';
import { useBackend } from '../helpers.js';

beforeAll(() => useBackend());

// A short sampling of the conjugate regression: enough to exercise warm-up windows and trees.
const SOURCE: ModelSource = {
  spec: resolve('examples/regression.mjs'),
  data: resolve('examples/regression-data.json'),
};
const OPTIONS = { chains: 4, warmup: 150, samples: 100, seed: 7 };

describe('NUTS chains in worker threads (avb infer --parallel-chains)', () => {
  let model: BayesianModel;
  beforeAll(async () => {
    const data: unknown = JSON.parse(readFileSync(SOURCE.data!, 'utf8'));
    model = await loadModel(SOURCE.spec, undefined, data);
  });

  it('gives exactly the draws, statistics and evaluations of chains run in turn', async () => {
    const serial = await nuts(model, OPTIONS);
    let progressCalls = 0;
    const parallel = await nuts(model, {
      ...OPTIONS,
      pool: chainPoolFor(model, SOURCE, 2),
      onProgress: () => progressCalls++,
    });
    expect(parallel.draws).toEqual(serial.draws);
    expect(parallel.rhat).toEqual(serial.rhat);
    expect(parallel.stepSizes).toEqual(serial.stepSizes);
    expect(parallel.gradientEvaluations).toBe(serial.gradientEvaluations);
    // Every chain's evaluations were counted in the workers (the serial run counts them here).
    expect(parallel.evaluationsElsewhere).toBe(serial.gradientEvaluations);
    expect(progressCalls).toBe(4 * 5); // every 50 of each chain's 250 iterations
  });

  it('stops when asked, keeps the chains that finished, and resumes to the same draws', async () => {
    const full = await nuts(model, OPTIONS);
    const done: (NutsChain | null)[] = [];
    const stopped = await nuts(model, {
      ...OPTIONS,
      pool: chainPoolFor(model, SOURCE, 2),
      persistence: {
        onChain: (chain, index) => (done[index] = chain),
        shouldStop: () => done.some(Boolean),
      },
    });
    expect(stopped.status).toBe('interrupted');
    const finished = done.filter(Boolean).length;
    expect(finished).toBeGreaterThanOrEqual(1);
    expect(finished).toBeLessThan(4);
    const resumed = await nuts(model, {
      ...OPTIONS,
      pool: chainPoolFor(model, SOURCE, 2),
      persistence: { done },
    });
    expect(resumed.draws).toEqual(full.draws);
  });

  it('is not used where it cannot help: one thread, or a log density only tfjs computes', () => {
    expect(chainPoolFor(model, SOURCE, 1)).toBeUndefined();
    const tensorOnly = { ...model, logDensityAndGradient: undefined };
    expect(chainPoolFor(tensorOnly, SOURCE, 4)).toBeUndefined();
  });

  it("reports a worker's failure to load the model as an error, not a hang", async () => {
    const broken = chainPoolFor(model, { ...SOURCE, data: resolve('no-such-data.json') }, 2);
    await expect(nuts(model, { ...OPTIONS, pool: broken })).rejects.toThrow(/no-such-data\.json/);
  });
});
