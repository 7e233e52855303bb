import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInferConfig } from '../../src/experiments/inferRun.js';
import { avb, expectUserError, signalAfter } from './runCli.js';
import { scratchDir } from '../scratchDir.js';

const dir = scratchDir('avb-infer-run-');

/** `<name>.stan` with `source` and an empty `<name>.json` in the scratch folder: infer's inputs. */
function stanProgram(name: string, source: string): string[] {
  const program = join(dir, `${name}.stan`);
  writeFileSync(program, source);
  writeFileSync(join(dir, `${name}.json`), '{}');
  return [program, '--data', join(dir, `${name}.json`)];
}
const read = (f: string) => readFileSync(f, 'utf8');

describe('avb infer --out: a run folder that survives Ctrl-C', () => {
  for (const [method, args, lines] of [
    ['advi-fullrank', ['--iterations', '3000'], 1500],
    ['avb-ac', ['--iterations', '600'], 300],
    ['nuts', ['--warmup', '200', '--chains', '4'], 2],
  ] as const) {
    it(`${method}: Ctrl-C, then --resume ends with the draws and log of an uninterrupted run`, async () => {
      const common = ['infer', 'examples/banana.mjs', '--method', method, ...args];
      const whole = join(dir, `${method}-whole`);
      const r = avb(...common, '--samples', '400', '--out', whole);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`written to ${whole}: summary.json, draws.csv, metrics.jsonl`);
      // The run's plot: NUTS's traces per chain, a fit's ELBO curve.
      const plot = join(whole, method === 'nuts' ? 'trace.png' : 'elbo.png');
      expect(readFileSync(plot).subarray(1, 4).toString()).toBe('PNG');

      const parts = join(dir, `${method}-parts`);
      // NUTS's log has a line per finished chain: stopped after the second, in the third.
      const stopped = await signalAfter([...common, '--samples', '400'], parts, lines, 'SIGINT');
      expect(stopped.code, stopped.stderr).toBe(130);
      expect(stopped.stderr).toMatch(
        /interrupted: checkpoint written to .*; continue with .* --resume/,
      );
      const resumed = avb('infer', 'examples/banana.mjs', '--out', parts, '--resume');
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(read(join(parts, 'draws.csv'))).toBe(read(join(whole, 'draws.csv')));
      expect(read(join(parts, 'metrics.jsonl'))).toBe(read(join(whole, 'metrics.jsonl')));
      expect(JSON.parse(read(join(parts, 'config.json')))).toEqual(
        JSON.parse(read(join(whole, 'config.json'))),
      );
      // The summary counts the whole run's evaluations, not the last segment's: at least the
      // uninterrupted run's (the resumed one redoes its mode search and the chain or iterations
      // after the last checkpoint). NUTS's counted its last two chains alone before.
      const evaluations = (run: string) =>
        (JSON.parse(read(join(run, 'summary.json'))) as { evaluations: number }).evaluations;
      expect(evaluations(parts)).toBeGreaterThanOrEqual(evaluations(whole));
    });
  }

  it('--resume takes no settings, only the same model, and says when there is nothing to do', () => {
    const out = join(dir, 'advi-fullrank-whole');
    expectUserError(
      avb('infer', 'examples/banana.mjs', '--out', out, '--resume', '--seed', '3'),
      /--resume continues with the run's own config.json; remove --seed/,
    );
    expectUserError(
      avb('infer', 'eight-schools', '--out', out, '--resume'),
      /is a run of .*banana\.mjs, not eight-schools; give that model to resume it/,
    );
    const again = avb('infer', 'examples/banana.mjs', '--out', out, '--resume');
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/nothing to do: .* has finished/);
    expectUserError(
      avb('infer', 'examples/banana.mjs', '--out', join(dir, 'none'), '--resume'),
      /cannot resume: .*config\.json does not exist; start the run without --resume/,
    );
  });

  it('a run the model makes impossible ends in one line and leaves no folder', () => {
    // Every start's gradient is NaN: an exp that underflows under a sqrt (nonFiniteGradient.test.ts).
    const inputs = stanProgram(
      'no-start',
      'parameters { real x; } model { x ~ normal(0, 1); target += sqrt(exp(-exp(50 * (x + 100)))); }',
    );
    const out = join(dir, 'no-start');
    expectUserError(
      avb('infer', ...inputs, '--method', 'nuts', '--out', out),
      /^error: NUTS found no starting point with a finite log density and gradient in 100 draws/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('a uniform prior without the bounds to match is sampled on its support, and says so', () => {
    // s and b[1] are uniform on (0, 2) and (-1, 0): before, q put draws past their walls, where
    // the density is -inf, and ADVI stopped with "diverged" at step 3. Exact: means 1 and -0.5,
    // sds 2/sqrt(12) and 1/sqrt(12). Seeds 1-3 gave means within 0.02 sd and sd ratios
    // 1.01-1.02 (a Gaussian on the logit scale is not quite the logistic that a uniform is there).
    const inputs = stanProgram(
      'uniform-walls',
      `parameters { real<lower=0> s; vector[2] b; }
model { s ~ uniform(0, 2); b[1] ~ uniform(-1, 0); b[2] ~ normal(0, 1); }`,
    );
    const out = join(dir, 'uniform-walls');
    const r = avb('infer', ...inputs, '--method', 'advi-fullrank', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const notes = [
      's is sampled on (0, 2), the support its uniform statement on line 2 implies',
      'b[1] is sampled on (-1, 0), the support its uniform statement on line 2 implies',
    ];
    for (const n of notes) expect(r.stderr).toContain(`note: ${n}\n`);
    // Progress in a log (not a terminal) starts at the first iteration, not after 15 s, with no
    // rate to tell yet.
    expect(r.stderr).toMatch(/^advi-fullrank 1\/10000 \| elbo -?\d/m);
    const summary = JSON.parse(read(join(out, 'summary.json'))) as {
      notes: string[];
      posterior: Record<string, { mean: number; sd: number }>;
    };
    expect(summary.notes).toEqual(notes);
    for (const [name, mean, sd] of [
      ['s', 1, 2 / Math.sqrt(12)],
      ['b[1]', -0.5, 1 / Math.sqrt(12)],
      ['b[2]', 0, 1],
    ] as const) {
      expect(Math.abs(summary.posterior[name].mean - mean) / sd, name).toBeLessThan(0.1);
      expect(summary.posterior[name].sd / sd, name).toBeGreaterThan(0.95);
      expect(summary.posterior[name].sd / sd, name).toBeLessThan(1.1);
    }
    // A program that needs no such reading has no note.
    const plain = stanProgram('plain', 'parameters { real x; } model { x ~ normal(0, 1); }');
    const q = avb('infer', ...plain, '--method', 'advi-fullrank', '--out', join(dir, 'plain'));
    expect(q.code, q.stderr).toBe(0);
    expect(q.stderr).not.toContain('note:');
    expect(read(join(dir, 'plain', 'summary.json'))).not.toContain('"notes"');
  });

  it("a Stan program's generated quantities are in draws.csv and summary.json, and right", () => {
    // posteriordb's Rate_4 with k = 5 of n = 10: theta ~ Beta(6, 6), so postpredk is
    // beta-binomial(10, 6, 6): mean 5, sd sqrt(10 · 36 · 22 / (144 · 13)) = 2.057. The prior
    // predictive is uniform on 0..10: mean 5, sd sqrt(10). 4,000 NUTS draws (ESS > 1,000 each
    // here): the mean within 0.25 is over 3 se, the sd within 8%.
    const inputs = stanProgram(
      'rate4',
      `data { int<lower=1> n; int<lower=0> k; }
parameters { real<lower=0,upper=1> theta; real<lower=0,upper=1> thetaprior; }
model { theta ~ beta(1, 1); thetaprior ~ beta(1, 1); k ~ binomial(n, theta); }
generated quantities {
  int<lower=0> postpredk = binomial_rng(n, theta);
  int<lower=0> priorpredk = binomial_rng(n, thetaprior);
}`,
    );
    writeFileSync(inputs[2], JSON.stringify({ n: 10, k: 5 }));
    const out = join(dir, 'rate4');
    const r = avb('infer', ...inputs, '--method', 'nuts', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('warning:');
    const header = read(join(out, 'draws.csv')).split('\n')[0].split(',');
    expect(header.slice(-4)).toEqual(['theta', 'thetaprior', 'postpredk', 'priorpredk']);
    const summary = JSON.parse(read(join(out, 'summary.json'))) as {
      posterior: Record<string, { mean: number; sd: number }>;
      warnings: string[];
    };
    expect(summary.warnings).toEqual([]);
    for (const [name, sd] of [
      ['postpredk', 2.057],
      ['priorpredk', Math.sqrt(10)],
    ] as const) {
      expect(Math.abs(summary.posterior[name].mean - 5), name).toBeLessThan(0.25);
      expect(Math.abs(summary.posterior[name].sd / sd - 1), name).toBeLessThan(0.08);
    }
  });

  it("a Stan program's simulated data are drawn from the run's seed, the same in every chain's worker", () => {
    // y is drawn in transformed data; mu's posterior is N(ȳ, 1/√N) under its flat prior. Each
    // NUTS chain runs in its own worker, which reads the program again (and reports ybar from
    // its own copy of y). Every chain's mean is within 0.3 posterior sd of the ȳ its draws
    // report (its own noise: ~0.05 sd with 500 draws), and every draw reports the same ȳ. The
    // data of --seed 3 and of the default seed 1 are 1.8 posterior sds apart, so workers that
    // read the program with any fixed seed instead of the run's fail the last check.
    const inputs = stanProgram(
      'simulates',
      `data { int<lower=1> N; }
transformed data { vector[N] y; for (n in 1:N) y[n] = normal_rng(0, 1); }
parameters { real mu; }
model { y ~ normal(mu, 1); }
generated quantities { real ybar = mean(y); }`,
    );
    writeFileSync(inputs[2], JSON.stringify({ N: 25 }));
    const run = (seed?: number) => {
      const out = join(dir, `simulates-${seed ?? 'default'}`);
      const r = avb(
        'infer',
        ...inputs,
        '--method',
        'nuts',
        '--chains',
        '2',
        '--parallel-chains',
        '2',
        '--samples',
        '1000',
        ...(seed !== undefined ? ['--seed', String(seed)] : []),
        '--out',
        out,
      );
      expect(r.code, r.stderr).toBe(0);
      const [header, ...rows] = read(join(out, 'draws.csv')).trim().split('\n');
      const col = (name: string) => header.split(',').indexOf(name);
      const values = rows.map((l) => l.split(',').map(Number));
      const ybar = values[0][col('ybar')];
      // Both chains' workers drew the same y.
      expect(values.every((v) => v[col('ybar')] === ybar)).toBe(true);
      const chainMeans = [1, 2].map((c) => {
        const mine = values.filter((v) => v[col('chain')] === c).map((v) => v[col('mu')]);
        return mine.reduce((a, b) => a + b, 0) / mine.length;
      });
      return { ybar, chainMeans };
    };
    const sd = 1 / Math.sqrt(25);
    const [a, b] = [run(3), run()];
    for (const { ybar, chainMeans } of [a, b])
      for (const m of chainMeans) expect(Math.abs(m - ybar) / sd).toBeLessThan(0.3);
    expect(Math.abs(a.ybar - b.ybar) / sd).toBeGreaterThan(1);
  });

  it('a fit that diverges where the density is not finite near its mode names the likely declaration', () => {
    // posteriordb's dogs_log with its priors' walls written as a condition, which avb cannot
    // turn into bounds as it does dogs_log's uniform(-100, 0) and uniform(0, 100) (impliedBounds.ts):
    // on the simulated dogs data the posterior sits 2 sds from beta[2]'s wall, the Laplace warm
    // start refuses it and ADVI, unwhitened, diverges.
    const program = join(dir, 'dogs_walls.stan');
    writeFileSync(
      program,
      `data { int<lower=0> n_trials; int<lower=0> n_dogs; array[n_dogs, n_trials] int<lower=0, upper=1> y; }
parameters { vector[2] beta; }
transformed parameters {
  matrix[n_dogs, n_trials] n_avoid; matrix[n_dogs, n_trials] n_shock; matrix[n_dogs, n_trials] p;
  for (j in 1:n_dogs) {
    n_avoid[j, 1] = 0; n_shock[j, 1] = 0;
    for (t in 2:n_trials) {
      n_avoid[j, t] = n_avoid[j, t - 1] + 1 - y[j, t - 1];
      n_shock[j, t] = n_shock[j, t - 1] + y[j, t - 1];
    }
    for (t in 1:n_trials) p[j, t] = inv_logit(beta[1] * n_avoid[j, t] + beta[2] * n_shock[j, t]);
  }
}
model {
  if (beta[1] > 0 || beta[2] < 0) target += negative_infinity();
  for (i in 1:n_dogs) for (j in 1:n_trials) y[i, j] ~ bernoulli(p[i, j]);
}`,
    );
    const r = avb(
      'infer',
      program,
      '--data',
      'examples/stan/dogs.json',
      '--method',
      'advi-fullrank',
    );
    expect(r.code, r.stderr).toBe(2);
    const last = r.stderr.trim().split('\n').pop();
    expect(last).toMatch(
      /^error: ADVI diverged .*; the log density is not finite near its mode .*declare the bound the posterior is near: real<upper=0> x\)$/,
    );
    expect(r.stderr).not.toMatch(/^\s+at .*\(/m);
  });

  it('a fit past a wall ends, and says in words when its Stein check implies no Gaussian-like posterior', () => {
    // Three normals cut off by a wall (batchLogJoint.test.ts): full-rank ADVI used to stop with
    // "diverged"; now it ends, its far draws' gradients (1e20 and beyond) making the Stein check
    // fail (no Gaussian-like posterior), which used to print as "mean shift Infinity sd, sd ratio 0.00".
    const inputs = stanProgram(
      'wall',
      'parameters { vector[3] x; } model { x ~ normal(0, 1); target += -sum(exp(100 * x)); }',
    );
    const out = join(dir, 'wall');
    const r = avb('infer', ...inputs, '--method', 'advi-fullrank', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^Stein check {2}none: q's draws and the model's gradient imply no posterior/m,
    );
    expect(r.stdout).not.toMatch(/Infinity/);
    expect(r.stderr).toMatch(/warning: advi-fullrank: Pareto k̂ \d+\.\d\d > 0\.7/);
  });

  it("a Stan program's run folder written before non-centring was the default resumes as written", () => {
    // Such a config.json held `noncentre: true` only when asked; without it the run was centred.
    const out = join(dir, 'old-stan-run');
    mkdirSync(out);
    const old = { model: '/x/schools.stan', method: 'nuts', options: { samples: 10, seed: 1 } };
    writeFileSync(join(out, 'config.json'), JSON.stringify(old));
    expect(readInferConfig(out).noncentre).toBe(false);
    writeFileSync(join(out, 'config.json'), JSON.stringify({ ...old, noncentre: true }));
    expect(readInferConfig(out).noncentre).toBe(true);
    // Other models have no such setting.
    writeFileSync(join(out, 'config.json'), JSON.stringify({ ...old, model: '/x/m.mjs' }));
    expect(readInferConfig(out).noncentre).toBeUndefined();
  });
});
