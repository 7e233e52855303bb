import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inferRun, type InferRunConfig } from '../../src/experiments/inferRun.js';
import { loadModel } from '../../src/inference/loadModel.js';
import type { BayesianModel } from '../../src/inference/model.js';
import { useBackend } from '../helpers.js';
import { scratchDir } from '../scratchDir.js';

beforeAll(() => useBackend());

/**
 * The work after a variational fit (the affine refit, the HMC polish) evaluates the model at
 * thousands of draws a time: on an ODE model the polish took 22 min. It reports progress and
 * stops when asked, and a run stopped there resumes to the draws of an uninterrupted one.
 */
describe('a run stopped after its fit, in the refit or the polish', () => {
  const dir = scratchDir('avb-after-fit-');
  let banana: BayesianModel;
  beforeAll(async () => {
    banana = await loadModel(resolve('examples/banana.mjs'));
  });
  const read = (f: string) => readFileSync(f, 'utf8');

  /**
   * The run whole, then stopped at the first progress report of `phase` and resumed: the same
   * files. Returns the whole run's summary and the phases' reports seen by the stopped run.
   */
  async function stopIn(config: InferRunConfig, phase: string, name: string) {
    const whole = join(dir, `${name}-whole`);
    const done = await inferRun(banana, config, { out: whole });
    if (done.status !== 'completed') throw new Error('the uninterrupted run stopped');
    const parts = join(dir, `${name}-parts`);
    const reports: { done: number; total: number; phase?: string }[] = [];
    let asked = false;
    const stopped = await inferRun(banana, config, {
      out: parts,
      onProgress: (d, total, _figures, p) => {
        reports.push({ done: d, total, phase: p });
        if (p === phase) asked = true;
      },
      shouldStop: () => asked,
    });
    expect(stopped.status).toBe('interrupted');
    expect(existsSync(join(parts, 'summary.json'))).toBe(false);
    const resumed = await inferRun(banana, config, { out: parts, resume: true });
    expect(resumed.status).toBe('completed');
    for (const f of ['draws.csv', 'metrics.jsonl'])
      expect(read(join(parts, f))).toBe(read(join(whole, f)));
    const summary = (folder: string) =>
      JSON.parse(read(join(folder, 'summary.json'))) as Record<string, unknown>;
    // The density evaluations are the whole run's: the earlier segment's up to its checkpoint
    // (the fit), then the resumed one's (its warm start again, the work after the fit), so at
    // least the uninterrupted run's. This segment's alone would be fewer: it trains nothing.
    const [a, b] = [summary(parts), summary(whole)];
    expect(a.evaluations as number).toBeGreaterThanOrEqual(b.evaluations as number);
    for (const s of [a, b]) {
      delete s.seconds;
      delete s.evaluations;
      if (s.polish) delete (s.polish as Record<string, unknown>).seconds;
    }
    expect(a).toEqual(b);
    return { summary: b, reports };
  }

  it('full-rank ADVI that stopped on convergence, stopped in its polish: not trained on', async () => {
    // The fit stops on convergence well before the cap; the checkpoint written then says so, or
    // the resumed run would train on from it and end elsewhere.
    const { summary, reports } = await stopIn(
      {
        model: 'banana',
        method: 'advi-fullrank',
        options: { samples: 400, seed: 2, iterations: 20000, polish: 'always' },
      },
      'polish',
      'advi',
    );
    expect(summary.iterations).toBeLessThan(20000);
    expect((summary.polish as { transitions: number }).transitions).toBeGreaterThan(0);
    const polish = reports.filter((r) => r.phase === 'polish');
    expect(polish.length).toBeGreaterThan(0);
    expect(polish.every((r) => r.total === 60 && r.done === 0)).toBe(true);
  }, 120_000);

  it('AVB+AC stopped in its affine refit', async () => {
    const { summary, reports } = await stopIn(
      {
        model: 'banana',
        method: 'avb-ac',
        options: { samples: 400, seed: 3, iterations: 400, polish: 'never' },
      },
      'refit',
      'avb',
    );
    expect(summary.iterations).toBe(400);
    // The fit's reports come first, then the refit's, in steps of its 6 at most.
    const first = reports.findIndex((r) => r.phase === 'refit');
    expect(reports.slice(0, first).every((r) => r.phase === undefined && r.total === 400)).toBe(
      true,
    );
    expect(reports[first]).toMatchObject({ done: 0, total: 6 });
  }, 120_000);
});
