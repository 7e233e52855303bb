import { beforeAll, describe, expect, it } from 'vitest';
import { methodWarnings } from '../../src/inference/compare.js';
import { advi, elboConvergence } from '../../src/inference/variational.js';
import { Rng } from '../../src/random/rng.js';
import { useBackend } from '../helpers.js';
import { regression } from './regressionProblems.js';

beforeAll(() => useBackend());

describe('has the fit converged?', () => {
  it('a flat, noisy ELBO has; one still climbing has not; a short run cannot tell', () => {
    const rng = new Rng(3);
    const flat = Array.from({ length: 5000 }, () => -100 + rng.normal());
    expect(elboConvergence(flat).converged).toBe(true);
    // Still rising by 0.5 nats per 1,000 iterations under the same noise: the last two fifths'
    // means (1,000 iterations apart) differ by 0.5, against a standard error of ~0.045.
    const climbing = Array.from({ length: 5000 }, (_, i) => -100 + i / 2000 + rng.normal());
    const c = elboConvergence(climbing);
    expect(c.converged).toBe(false);
    expect(Math.abs(c.rise - 0.5)).toBeLessThan(0.2);
    expect(elboConvergence(flat.slice(0, 300)).converged).toBe(false);
  });

  it('a 200-iteration ADVI run warns that it did not converge; the default run does not', async () => {
    const { model } = regression('tiny');
    const short = await advi(model, { kind: 'fullrank', iterations: 200 });
    const warnings = methodWarnings(
      { ...short, method: 'advi-fullrank', status: 'completed' },
      model.summaryNames,
    );
    expect(warnings).toContain(
      'too few iterations (under 500) to tell whether q converged; run more --iterations',
    );
    const full = await advi(model, { kind: 'fullrank' });
    expect(full.convergence?.converged).toBe(true);
    // Its ELBO trace: every 100th iteration's and the last one's, also when the fit stopped on
    // convergence between two hundreds (elbo.png plots it at that step).
    const n = full.iterations!;
    expect(n).toBeLessThan(10_000);
    expect(full.elboTrace).toHaveLength(Math.ceil(n / 100) + ((n - 1) % 100 === 0 ? 0 : 1));
  });
});
