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

/** Six points in three batches of two, with IWAE: small enough for seconds, long enough to cut. */
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

/** An evaluation to `out` stopped inside its second of three batches (as by a kill). */
async function interruptedHalfway(out: string): Promise<void> {
  const stop = (done: number, total: number) => {
    if (done > total / 2) throw new Error('interrupted');
  };
  await expect(evaluateRun(options(out, { onProgress: stop }))).rejects.toThrow('interrupted');
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
