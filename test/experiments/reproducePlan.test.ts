import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mnistReproduction } from '../../src/experiments/reproduce/mnist.js';
import { posteriordbReproduction } from '../../src/experiments/reproduce/posteriordb.js';
import type { ReproduceContext } from '../../src/experiments/reproduce/common.js';
import { avb, expectUserError } from '../cli/runCli.js';

const dir = mkdtempSync(join(tmpdir(), 'avb-plan-'));

function ctx(budget: ReproduceContext['budget'], out: string): ReproduceContext {
  return { out, budget, seed: 1, command: 'test', threads: 1 };
}

describe('reproduction budgets', () => {
  it('mnist long trains only the headline pair, for 500,000 steps, and evaluates it on 2,000 digits', () => {
    const jobs = mnistReproduction.jobs(ctx('long', join(dir, 'long')));
    const trained = jobs.filter((j) => j.id.startsWith('train ')).map((j) => j.id);
    expect(trained).toEqual(['train avb-ac-32', 'train vae-32']);
    const train = jobs.find((j) => j.id === 'train avb-ac-32')!;
    const config = train.args[train.args.indexOf('--config') + 1];
    const c = JSON.parse(readFileSync(config, 'utf8')) as {
      steps: number;
      encoder: { net: string };
    };
    expect(c.steps).toBe(500000);
    expect(c.encoder.net).toBe('mlp'); // the CPU preset
    expect(jobs.some((j) => j.id.includes('-8'))).toBe(false);
    // Two AIS shards of 1,000 digits each per model, the first with 100 BDMC points.
    const evals = jobs.filter((j) => j.id.startsWith('eval avb-ac-32'));
    expect(evals.map((j) => j.args[j.args.indexOf('--points') + 1])).toEqual(['1000', '1000']);
    expect(evals[0].args[evals[0].args.indexOf('--bdmc') + 1]).toBe('100');
    // The standard budget still trains the paper's five models.
    const standard = mnistReproduction.jobs(ctx('standard', join(dir, 'standard')));
    expect(standard.filter((j) => j.id.startsWith('train ')).length).toBe(5);
  });

  it('mnist with several seeds finishes each seed (trainings, then their evaluations) before the next', () => {
    const jobs = mnistReproduction.jobs({
      ...ctx('long', join(dir, 'seeds')),
      options: { seeds: '1,2,3' },
    });
    const seedOf = (id: string) => Number(/-seed(\d+)/.exec(id)?.[1] ?? 1);
    const seeds = jobs.map((j) => seedOf(j.id));
    // Non-decreasing: no job of seed s comes after one of a later seed.
    expect(seeds).toEqual([...seeds].sort((a, b) => a - b));
    expect(new Set(seeds)).toEqual(new Set([1, 2, 3]));
    for (const seed of [1, 2, 3]) {
      const own = jobs.filter((j) => seedOf(j.id) === seed).map((j) => j.id.startsWith('train '));
      // Within a seed: its two trainings, then everything they unlock.
      expect(own.slice(0, 2)).toEqual([true, true]);
      expect(own.slice(2).every((t) => !t)).toBe(true);
    }
  });

  it('posteriordb queues its fits expensive methods first, ADVI last, whatever order --methods gives', () => {
    const jobs = posteriordbReproduction.jobs({
      ...ctx('standard', join(dir, 'posteriordb')),
      options: {
        methods: 'advi-meanfield,nuts,advi-fullrank,avb-ac',
        posteriors: 'kidiq-kidscore_momhsiq,arK-arK',
      },
    });
    const methods = jobs.map((j) => j.args[j.args.indexOf('--method') + 1]);
    // 2 posteriors × 3 seeds of each method, in one block per method.
    expect(methods).toEqual(
      ['avb-ac', 'nuts', 'advi-fullrank', 'advi-meanfield'].flatMap((m) =>
        Array<string>(6).fill(m),
      ),
    );
  });

  it('a budget an experiment does not have is refused before anything is written', () => {
    const out = join(dir, 'synthetic-long');
    expectUserError(
      avb('reproduce', 'synthetic', '--budget', 'long', '--out', out),
      /--budget long is not a budget of synthetic; use quick, standard, full/,
    );
    expect(existsSync(out)).toBe(false);
  });
});
