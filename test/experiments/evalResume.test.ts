import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AvbUserError } from '../../src/errors.js';
import { evaluateRun, partialEvalFile } from '../../src/experiments/evaluateRun.js';
import type { EvalOptions } from '../../src/experiments/evaluateRun.js';
import { avb } from '../cli/runCli.js';
import { useBackend } from '../helpers.js';
import { scratchDir } from '../scratchDir.js';

const dir = scratchDir('avb-eval-resume-');
const run = join(dir, 'vae');

/**
 * The synthetic data's four test points (`points: 6` asks for more than there are) in two batches
 * of two, with IWAE: small enough for seconds, long enough to cut.
 */
function options(out: string, extra: Partial<EvalOptions> = {}): EvalOptions {
  return {
    run,
    out,
    points: 6,
    ais: {
      steps: 40,
      chains: 4,
      leapfrog: 5,
      stepSize: 0.05,
      schedule: 'linear',
      adapt: 'pilot',
      pilotPoints: 2,
    },
    start: 'prior',
    iwaeSamples: 20,
    batchPoints: 2,
    seed: 3,
    ...extra,
  };
}

/**
 * An evaluation to `out` stopped (as by a kill) once past `fraction` of its work: past half, in its
 * second batch.
 */
async function interruptedHalfway(
  out: string,
  extra: Partial<EvalOptions> = {},
  fraction = 0.5,
): Promise<void> {
  const stop = (done: number, total: number) => {
    if (done > total * fraction) throw new Error('interrupted');
  };
  await expect(evaluateRun(options(out, { ...extra, onProgress: stop }))).rejects.toThrow(
    'interrupted',
  );
}

beforeAll(async () => {
  const quick = ['--method', 'vae', '--steps', '30', '--batch', '16'];
  const t = avb('train', '--experiment', 'synthetic', ...quick, '--out', run);
  expect(t.code, t.stderr).toBe(0);
  await useBackend();
}, 120_000);

describe('an interrupted evaluation', () => {
  it('resumes from its last finished batch and ends with the uninterrupted numbers', async () => {
    const whole = await evaluateRun(options(join(dir, 'whole.json')));
    const out = join(dir, 'cut.json');
    // The first batch is kept, the second redone.
    await interruptedHalfway(out);
    const partial = JSON.parse(readFileSync(partialEvalFile(out), 'utf8')) as { done: number };
    expect(partial.done).toBe(2);
    expect(existsSync(out)).toBe(false);
    const resumes: number[] = [];
    const resumed = await evaluateRun(options(out, { onResume: (done) => resumes.push(done) }));
    expect(resumes).toEqual([2]);
    // The same random stream, continued: not close, identical.
    expect(resumed.logLikelihood.perPoint).toEqual(whole.logLikelihood.perPoint);
    expect(resumed.iwae).toEqual(whole.iwae);
    expect(resumed.acceptance).toBe(whole.acceptance);
    expect(existsSync(partialEvalFile(out))).toBe(false);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(resumed);
  }, 120_000);

  // Snapshots every 20 annealing steps (`snapshotSeconds: 0`). The second batch is the second
  // half of the work: with the pilot, its 40 steps then the estimate's 40. Stopped at 0.68 of the
  // work (the pilot's step 29), the latest snapshot is the pilot's step 20; at 0.9 (the
  // estimate's step 25), the estimate's step 20. Without a pilot (`global`), 0.8 stops at step 25.
  it.each([
    { adapt: 'pilot', fraction: 0.68, phase: 'pilot', t: 20, steps: 20 },
    { adapt: 'pilot', fraction: 0.9, phase: 'main', t: 20, steps: 60 },
    { adapt: 'global', fraction: 0.8, phase: 'main', t: 20, steps: 20 },
  ] as const)(
    'stopped inside a batch ($adapt, at $fraction), continues from its snapshot at the $phase pass step $t to the uninterrupted numbers',
    async ({ adapt, fraction, phase, t, steps }) => {
      const settings = (out: string, extra: Partial<EvalOptions> = {}) =>
        options(out, { snapshotSeconds: 0, ...extra, ais: { ...options(out).ais, adapt } });
      const whole = await evaluateRun(settings(join(dir, `whole-${adapt}.json`)));
      const out = join(dir, `in-batch-${adapt}-${fraction}.json`);
      await interruptedHalfway(out, settings(out), fraction);
      const partial = JSON.parse(readFileSync(partialEvalFile(out), 'utf8')) as {
        done: number;
        batch?: { phase: string; run: { t: number } };
      };
      expect(partial.done).toBe(2);
      expect(partial.batch?.phase).toBe(phase);
      expect(partial.batch?.run.t).toBe(t);
      const resumes: { steps: number; of: number }[] = [];
      const progress: number[] = [];
      const resumed = await evaluateRun(
        settings(out, {
          onResume: (_done, _points, _file, inBatch) => resumes.push(inBatch),
          onProgress: (done) => progress.push(done),
        }),
      );
      expect(resumes).toEqual([{ steps, of: adapt === 'pilot' ? 80 : 40 }]);
      // Only the rest was done again: the first progress report is the step after the snapshot.
      const perBatch = adapt === 'pilot' ? 80 : 40;
      expect(progress[0]).toBe(2 * perBatch + (steps + 1) * 2);
      expect(resumed.logLikelihood.perPoint).toEqual(whole.logLikelihood.perPoint);
      expect(resumed.iwae).toEqual(whole.iwae);
      expect(resumed.acceptance).toBe(whole.acceptance);
      expect(resumed.essMean).toBe(whole.essMean);
      expect(existsSync(partialEvalFile(out))).toBe(false);
    },
    120_000,
  );

  it('starts over when the partial file is of other settings', async () => {
    const out = join(dir, 'other.json');
    await interruptedHalfway(out);
    const resumes: number[] = [];
    const r = await evaluateRun(options(out, { seed: 4, onResume: (done) => resumes.push(done) }));
    expect(resumes).toEqual([]);
    expect(r.settings.seed).toBe(4);
    expect(existsSync(partialEvalFile(out))).toBe(false);
  }, 120_000);

  it("refuses, untouched, a file in the partial file's place that avb did not write", async () => {
    const out = join(dir, 'mine.json');
    writeFileSync(partialEvalFile(out), 'my notes\n');
    const attempt = evaluateRun(options(out));
    await expect(attempt).rejects.toThrow(AvbUserError);
    await expect(attempt).rejects.toThrow(/is in the way: it is not avb's partial evaluation/);
    expect(readFileSync(partialEvalFile(out), 'utf8')).toBe('my notes\n');
    expect(existsSync(out)).toBe(false);
  });
});
