import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mnistReproduction } from '../../src/experiments/reproduce/mnist.js';
import { posteriordbReproduction } from '../../src/experiments/reproduce/posteriordb.js';
import type { ReproduceContext } from '../../src/experiments/reproduce/common.js';
import { avb, expectUserError } from '../cli/runCli.js';
import { scratchDir } from '../scratchDir.js';

const dir = scratchDir('avb-plan-');

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
    // From each digit's encoder Gaussian, 300 steps; the ladder checks it against the prior's
    // 10,000 steps.
    for (const j of evals) {
      expect(j.args[j.args.indexOf('--ais-start') + 1]).toBe('encoder');
      expect(j.args[j.args.indexOf('--ais-steps') + 1]).toBe('300');
    }
    expect(
      jobs.filter((j) => j.id.startsWith('ais-convergence avb-ac-32')).map((j) => j.id),
    ).toEqual(
      ['1000', '3000', '10000', 'encoder-300', 'encoder-1000', 'encoder-3000'].map(
        (r) => `ais-convergence avb-ac-32 ${r}`,
      ),
    );
    // The standard budget still trains the paper's five models.
    const standard = mnistReproduction.jobs(ctx('standard', join(dir, 'standard')));
    expect(standard.filter((j) => j.id.startsWith('train ')).length).toBe(5);
  });

  it('mnist conv trains the headline pair on conv networks at their tuned rates, AIS 100 steps from the encoder', () => {
    const jobs = mnistReproduction.jobs(ctx('conv', join(dir, 'conv')));
    expect(jobs.filter((j) => j.id.startsWith('train ')).map((j) => j.id)).toEqual([
      'train avb-ac-32',
      'train vae-32',
    ]);
    const configOf = (id: string) => {
      const train = jobs.find((j) => j.id === id)!;
      return JSON.parse(readFileSync(train.args[train.args.indexOf('--config') + 1], 'utf8')) as {
        steps: number;
        lr: number;
        lrDecoder?: number;
        lrAdversary?: number;
        lrSchedule: string;
        encoder: { net: string };
        decoder: { net: string };
        adversary: { hidden: number; depth: number };
      };
    };
    const ac = configOf('train avb-ac-32');
    const vae = configOf('train vae-32');
    expect(ac.steps).toBe(300000);
    expect([ac.encoder.net, ac.decoder.net, vae.encoder.net, vae.decoder.net]).toEqual([
      'conv',
      'conv',
      'conv',
      'conv',
    ]);
    // The CPU preset's adversary, not the paper's 3 x 1,024; its rates times the conv scale
    // (3: the conv networks' own tuning), not the paper's 1e-4.
    expect(ac.adversary).toMatchObject({ hidden: 512, depth: 2 });
    expect(ac.lrSchedule).toBe('cosine');
    expect(vae.lrSchedule).toBe('cosine');
    const rates = [ac.lr, ac.lrDecoder!, ac.lrAdversary!, vae.lr];
    const expected = [9e-4, 3e-3, 9e-4, 3e-3];
    // Products of binary fractions: equal to the decimal rate within rounding.
    rates.forEach((r, i) => expect(r).toBeCloseTo(expected[i], 12));
    const evals = jobs.filter((j) => j.id.startsWith('eval vae-32'));
    for (const j of evals) {
      expect(j.args[j.args.indexOf('--ais-start') + 1]).toBe('encoder');
      expect(j.args[j.args.indexOf('--ais-steps') + 1]).toBe('100');
    }
    expect(evals.map((j) => j.args[j.args.indexOf('--points') + 1])).toEqual(['1000', '1000']);
    expect(jobs.filter((j) => j.id.startsWith('ais-convergence vae-32')).map((j) => j.id)).toEqual(
      ['1000', 'encoder-100', 'encoder-300', 'encoder-1000'].map(
        (r) => `ais-convergence vae-32 ${r}`,
      ),
    );
  });

  it('mnist --points below the budget is a smoke run (a tenth of the ladder); above it keeps every check whole', () => {
    const ladder = (points: number, name: string) => {
      const jobs = mnistReproduction.jobs({ ...ctx('long', join(dir, name)), points });
      const rungs = jobs.filter((j) => j.id.startsWith('ais-convergence avb-ac-32'));
      const eval1 = jobs.find((j) => j.id === 'eval avb-ac-32 1/2')!;
      return {
        rungs: rungs.map((j) => j.id.replace('ais-convergence avb-ac-32 ', '')),
        ladderPoints: rungs[0].args[rungs[0].args.indexOf('--points') + 1],
        bdmc: eval1.args[eval1.args.indexOf('--bdmc') + 1],
      };
    };
    // Every test digit: the ladder reaches the prior's 10,000 steps, on 100 digits, BDMC on 100.
    expect(ladder(10000, 'all-digits')).toEqual({
      rungs: ['1000', '3000', '10000', 'encoder-300', 'encoder-1000', 'encoder-3000'],
      ladderPoints: '100',
      bdmc: '100',
    });
    // A smoke run on 6 digits checks the same paths at a tenth of the annealing.
    expect(ladder(6, 'smoke')).toEqual({
      rungs: ['100', '300', '1000', 'encoder-30', 'encoder-100', 'encoder-300'],
      ladderPoints: '6',
      bdmc: '6',
    });
  });

  it('mnist re-estimates a shard made with other AIS settings, and keeps one made with these', () => {
    const out = join(dir, 'stale');
    const shard = (k: number) => join(out, 'runs', 'vae-32', `eval-shard-${k}-of-2.json`);
    mnistReproduction.jobs(ctx('long', out));
    mkdirSync(join(out, 'runs', 'vae-32'), { recursive: true });
    // A finished training (a retrained model's shards are all stale anyway).
    writeFileSync(
      join(out, 'runs', 'vae-32', 'summary.json'),
      JSON.stringify({ status: 'completed', steps: 500000 }),
    );
    const write = (k: number, start: string, steps: number) =>
      writeFileSync(
        shard(k),
        JSON.stringify({ estimator: 'ais', settings: { steps, chains: 5, start } }),
      );
    write(1, 'prior', 1000); // the settings long used before
    write(2, 'encoder', 300); // long's settings now
    const ids = mnistReproduction.jobs(ctx('long', out)).map((j) => j.id);
    expect(ids).toContain('eval vae-32 1/2');
    expect(existsSync(shard(1))).toBe(false);
    expect(ids).not.toContain('eval vae-32 2/2');
    expect(existsSync(shard(2))).toBe(true);
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
    for (const budget of ['long', 'conv']) {
      const out = join(dir, `synthetic-${budget}`);
      expectUserError(
        avb('reproduce', 'synthetic', '--budget', budget, '--out', out),
        new RegExp(`--budget ${budget} is not a budget of synthetic; use quick, standard, full`),
      );
      expect(existsSync(out)).toBe(false);
    }
  });
});
