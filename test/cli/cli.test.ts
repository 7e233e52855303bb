import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coreForCpuFlags, parseCpuFlags } from '../../src/backend/openblasCore.js';
import { encodeIdx } from '../../src/data/idx.js';
import { encodeNpy } from '../../src/data/npy.js';
import { Rng } from '../../src/random/rng.js';
import { metricsOf } from '../helpers.js';
import { scratchDir } from '../scratchDir.js';
import { MAIN, avb, expectUserError, signalAfter } from './runCli.js';

const dir = scratchDir('avb-cli-');
const README = readFileSync('README.md', 'utf8');

/** Writes `text` to `name` in the test's folder; returns its path. */
function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('avb CLI', () => {
  it('--help lists the commands', () => {
    const r = avb('--help');
    expect(r.code).toBe(0);
    for (const c of [
      'backend',
      'data',
      'train',
      'eval',
      'selfcheck',
      'infer',
      'sample',
      'reconstruct',
      'encode',
      'reproduce',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
      const help = avb(c, '--help');
      expect(help.code).toBe(0);
      // README documents every option of every command (README and --help in sync).
      for (const [option] of help.stdout.matchAll(/--(?!help\b)[a-z][a-z-]+/g))
        expect(README, `avb ${c} ${option}`).toContain(`\`${option}`);
    }
  });

  it('backend --json reports the wasm backend with its patched kernels', () => {
    const r = avb('backend', '--json');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as {
      name: string;
      threads: number;
      version: string;
      patchedKernels: string[];
    };
    expect(info.name).toBe('wasm');
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(info.version).toMatch(/tfjs 4\.22/);
    expect(info.patchedKernels).toContain('Conv2DBackpropFilter');
  });

  it('backend --threads sets the native BLAS threads; a bad count is a user error', () => {
    const info = JSON.parse(avb('backend', '--json', '--threads', '3').stdout) as {
      blas?: { library: string; core?: string; threads?: number };
    };
    expect(info.blas).toBeDefined();
    // Where the addon is built (CI requires it), it runs with the threads asked for; elsewhere
    // the report says why it is off.
    if (process.env.AVB_REQUIRE_NATIVE === '1' || info.blas!.core)
      expect(info.blas!.threads).toBe(3);
    else expect(info.blas!.library).toMatch(/not available|off/);
    expectUserError(avb('backend', '--threads', '0'), /expected a positive integer, got '0'/);
  });

  it("OpenBLAS runs the kernels the CPU's flags name, unless OPENBLAS_CORETYPE says otherwise", () => {
    const run = (extra: Record<string, string>) => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
      if (!('OPENBLAS_CORETYPE' in extra)) delete env.OPENBLAS_CORETYPE;
      if (!('AVB_CHOSEN_OPENBLAS_CORETYPE' in extra)) delete env.AVB_CHOSEN_OPENBLAS_CORETYPE;
      const r = spawnSync(process.execPath, [MAIN, 'backend', '--json'], { encoding: 'utf8', env });
      return (
        JSON.parse(r.stdout) as { blas: { library: string; core?: string; coreChosenBy?: string } }
      ).blas;
    };
    const mine = run({});
    if (process.env.AVB_REQUIRE_NATIVE !== '1' && !mine.core) {
      expect(mine.library).toMatch(/not available|off/);
      return;
    }
    // On x86-64 Linux with AVX2 the core follows the flags (Cooperlake, SkylakeX or Haswell),
    // whatever OpenBLAS's model table says; elsewhere OpenBLAS's own choice stands.
    const expected =
      process.platform === 'linux' && process.arch === 'x64'
        ? coreForCpuFlags(parseCpuFlags(readFileSync('/proc/cpuinfo', 'utf8')))
        : undefined;
    if (expected) {
      expect(mine).toMatchObject({ core: expected, coreChosenBy: "avb, from the CPU's flags" });
      // A command avb starts inherits the choice, and still names avb as its author.
      const inherited = { OPENBLAS_CORETYPE: expected, AVB_CHOSEN_OPENBLAS_CORETYPE: expected };
      expect(run(inherited).coreChosenBy).toBe("avb, from the CPU's flags");
    } else expect(mine.coreChosenBy).toBeUndefined();
    // Prescott runs on every x86-64 CPU: the user's choice is what loads, and is named.
    if (process.arch === 'x64')
      expect(run({ OPENBLAS_CORETYPE: 'Prescott' })).toMatchObject({
        core: 'Prescott',
        coreChosenBy: 'OPENBLAS_CORETYPE',
      });
  });

  it('--backend cpu and AVB_BACKEND override the choice; a bad name is a user error', () => {
    expect(
      (JSON.parse(avb('backend', '--json', '--backend', 'cpu').stdout) as { name: string }).name,
    ).toBe('cpu');
    const env = spawnSync(process.execPath, [MAIN, 'backend', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, AVB_BACKEND: 'cpu' },
    });
    expect(JSON.parse(env.stdout)).toMatchObject({ name: 'cpu', chosenBy: 'environment' });
    const bad = spawnSync(process.execPath, [MAIN, 'backend'], {
      encoding: 'utf8',
      env: { ...process.env, AVB_BACKEND: 'gpu' },
    });
    expectUserError(
      { code: bad.status, stdout: bad.stdout, stderr: bad.stderr },
      /unknown backend 'AVB_BACKEND=gpu'/,
    );
    expectUserError(
      avb('backend', '--backend', 'gpu'),
      /option '--backend <name>' argument 'gpu' is invalid/,
    );
  });

  it('data info mnist --json gives the 55000/5000/10000 split', () => {
    const r = avb('data', 'info', 'mnist', '--json');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as {
      splits: Record<string, { count: number; min: number; max: number }>;
    };
    expect([info.splits.train.count, info.splits.validation.count, info.splits.test.count]).toEqual(
      [55000, 5000, 10000],
    );
    expect(info.splits.train.max).toBe(1);
  });

  it('data info eight-schools prints both data sets', () => {
    const info = JSON.parse(avb('data', 'info', 'eight-schools', '--json').stdout) as {
      classic: { y: number[] };
    };
    expect(info.classic.y).toEqual([28, 8, -3, 7, -1, 1, 18, 12]);
  });

  it('a truncated IDX file gives exit code 2 and a one-line message', () => {
    const path = join(dir, 'trunc.idx');
    writeFileSync(path, encodeIdx([10, 4, 4], new Uint8Array(160)).subarray(0, 100));
    expectUserError(
      avb('data', 'info', `idx:${path}`),
      /^error: IDX file .*trunc\.idx: truncated: header says shape \[10, 4, 4\]/,
    );
  });

  it('unknown data set, option, or config field: exit 2, one line, no run folder', () => {
    const out = join(dir, 'never');
    expectUserError(avb('data', 'info', 'cifar10'), /unknown data set 'cifar10'/);
    expectUserError(avb('train', '--out', out, '--bogus'), /unknown option '--bogus'/);
    expectUserError(
      avb('train', '--out', out, '--latent', '0'),
      /expected a positive integer, got '0'/,
    );
    expectUserError(avb('train', '--out', out, '--method', 'gan'), /argument 'gan' is invalid/);
    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ steps: 5, encoder: { widht: 3 } }));
    expectUserError(avb('train', '--out', out, '--config', cfg), /unknown field 'encoder\.widht'/);
    writeFileSync(cfg, '{ not json');
    expectUserError(avb('train', '--out', out, '--config', cfg), /is not valid JSON/);
    expectUserError(
      avb('train', '--out', out, '--experiment', 'idx:/nonexistent.idx'),
      /does not exist/,
    );
    expectUserError(
      avb('train', '--out', out, '--experiment', 'cifar'),
      /unknown data set 'cifar'/,
    );
    expectUserError(
      avb('train', '--out', out, '--batch', '-1'),
      /expected a positive integer, got '-1'/,
    );
    expectUserError(avb('train', '--out', out, '--resume', '--force'), /contradict/);
    expectUserError(avb('train', '--out', out, '--resume'), /cannot resume: .* does not exist/);
    writeFileSync(cfg, JSON.stringify({ latent: 0 }));
    expectUserError(
      avb('train', '--out', out, '--config', cfg),
      /latent must be a positive integer, got 0/,
    );
    writeFileSync(cfg, JSON.stringify({ lr: 'fast' }));
    expectUserError(avb('train', '--out', out, '--config', cfg), /field 'lr' must be a number/);
    const real = join(dir, 'real.npy');
    writeFileSync(
      real,
      encodeNpy(
        Float32Array.from({ length: 60 }, (_, i) => i - 30),
        [20, 3],
      ),
    );
    expectUserError(
      avb('train', '--out', out, '--experiment', `npy:${real}`, '--decoder', 'bernoulli'),
      /values outside \[0, 1\], which a Bernoulli decoder cannot model; use --decoder gaussian/,
    );
    expectUserError(
      avb('train', '--out', out, '--experiment', `npy:${real}`, '--binarize'),
      /values outside \[0, 1\], which cannot be binarised/,
    );
    const inf = join(dir, 'inf.npy');
    writeFileSync(inf, encodeNpy(Float32Array.from([0, Infinity, 0, 0]), [2, 2]));
    expectUserError(
      avb('train', '--out', out, '--experiment', `npy:${inf}`),
      /value Infinity at example 0, position 1/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('trains, refuses to overwrite, and resumes with --steps', () => {
    const out = join(dir, 'run');
    const r = avb(
      'train',
      '--experiment',
      'synthetic',
      '--steps',
      '6',
      '--batch',
      '16',
      '--out',
      out,
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as {
      status: string;
      logLikelihood: number;
      samplesPng: string;
    };
    expect(summary.status).toBe('completed');
    expect(summary.logLikelihood).toBeLessThan(0);
    for (const f of [
      'config.json',
      'metrics.jsonl',
      'checkpoint.avbckpt',
      'summary.json',
      'samples.png',
    ])
      expect(existsSync(join(out, f))).toBe(true);
    expectUserError(
      avb('train', '--experiment', 'synthetic', '--out', out),
      /already exists; add --resume/,
    );
    const again = avb('train', '--out', out, '--resume', '--steps', '9');
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(9);
  });

  it('SIGINT stops after the current step with a checkpoint; --resume finishes the run', async () => {
    const out = join(dir, 'sigint');
    const { code, stderr } = await signalAfter(
      ['train', '--experiment', 'synthetic', '--steps', '100000', '--batch', '16'],
      out,
      5,
      'SIGINT',
    );
    expect(code, stderr).toBe(130);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      status: string;
      steps: number;
    };
    expect(summary.status).toBe('interrupted');
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length;
    expect(lines).toBe(summary.steps);
    const r = avb('train', '--out', out, '--resume', '--steps', String(summary.steps + 3));
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(
      summary.steps + 3,
    );
  });
});

describe('divergence and crash safety (CLI)', () => {
  it('--on-nan stop: a run whose loss becomes Inf stops with exit code 3 and keeps its checkpoint', () => {
    const out = join(dir, 'nan-stop');
    // A learning rate of 1e30 sends the weights to ~1e30 in one Adam step: the next loss overflows.
    const r = avb(
      'train',
      '--experiment',
      'synthetic',
      '--steps',
      '20',
      '--batch',
      '8',
      '--lr',
      '1e30',
      '--lr-adversary',
      '1e30',
      '--on-nan',
      'stop',
      '--out',
      out,
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /error: step 1: adversaryLoss is not finite; stopped before updating the weights/,
    );
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toMatchObject({
      status: 'diverged',
      steps: 0,
    });
    expect(existsSync(join(out, 'checkpoint.avbckpt'))).toBe(true);
  });

  it('--on-nan rollback (default) rolls back with halved learning rates, then gives up after 5 tries', () => {
    const out = join(dir, 'nan-rollback');
    const r = avb(
      'train',
      '--experiment',
      'synthetic',
      '--steps',
      '20',
      '--batch',
      '8',
      '--lr',
      '1e30',
      '--lr-adversary',
      '1e30',
      '--out',
      out,
    );
    expect(r.code).toBe(3);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toHaveLength(5);
    expect(warnings[0]).toMatch(/rolled back to step 0 with learning rates x0\.5$/);
    expect(warnings[4]).toMatch(/x0\.03125$/);
  });

  it('SIGKILL at a random step: --resume continues with exactly the metrics of an uninterrupted run', async () => {
    const args = [
      'train',
      '--experiment',
      'synthetic',
      '--steps',
      '40',
      '--batch',
      '8',
      '--seed',
      '3',
    ];
    const cfg = join(dir, 'ck.json');
    writeFileSync(cfg, JSON.stringify({ checkpointEvery: 4 }));
    const full = join(dir, 'kill-full');
    expect(avb(...args, '--config', cfg, '--out', full).code).toBe(0);
    const out = join(dir, 'kill');
    // A step drawn from a fixed seed: the same on every run, yet not one chosen by hand.
    const killAt = 5 + Math.floor(new Rng(2026).uniform() * 25);
    await signalAfter([...args, '--config', cfg], out, killAt, 'SIGKILL');
    const r = avb('train', '--out', out, '--resume');
    expect(r.code, r.stderr).toBe(0);
    expect(metricsOf(out)).toEqual(metricsOf(full));
  });
});

describe('evaluation commands', () => {
  it('eval writes eval.json with AIS, IWAE and the exact grid for a 2-D VAE run', () => {
    const out = join(dir, 'eval-vae');
    expect(
      avb(
        'train',
        '--experiment',
        'synthetic',
        '--method',
        'vae',
        '--steps',
        '30',
        '--batch',
        '16',
        '--out',
        out,
      ).code,
    ).toBe(0);
    const r = avb(
      'eval',
      '--run',
      out,
      '--points',
      '4',
      '--ais-steps',
      '100',
      '--ais-chains',
      '8',
      '--iwae',
      '200',
      '--bdmc',
      '8',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as {
      logLikelihood: { mean: number; stderr: number; points: number; perPoint: number[] };
      iwae: { mean: number };
      grid: { mean: number };
      acceptance: number;
      bdmc: {
        points: number;
        lower: { mean: number };
        upper: { mean: number };
        gap: { mean: number };
      };
    };
    expect(result.logLikelihood.points).toBe(4);
    expect(result.logLikelihood.perPoint).toHaveLength(4);
    expect(Number.isFinite(result.logLikelihood.stderr)).toBe(true);
    // AIS and IWAE estimate the same quantity the grid computes exactly; after 30 steps the model
    // is near its initialisation, where both are accurate to a few hundredths of a nat.
    expect(Math.abs(result.logLikelihood.mean - result.grid.mean)).toBeLessThan(0.1);
    expect(Math.abs(result.iwae.mean - result.grid.mean)).toBeLessThan(0.1);
    // BDMC on 8 points simulated from this near-initial 2-D model: 100 steps close the bracket
    // (measured gap −0.005 ± 0.004 nats); a reverse pass with a broken weight is off by nats.
    expect(result.bdmc.points).toBe(8);
    expect(Math.abs(result.bdmc.gap.mean)).toBeLessThan(0.1);
    expect(Math.abs(result.bdmc.lower.mean - result.grid.mean)).toBeLessThan(1);
    expect(JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'))).toEqual(result);
    // Two shards of the same sample, in other processes: the same test points in the same
    // order, hence the exact grid values of those points (their means average to the whole's).
    const shards = [0, 2].map((skip) => {
      const file = join(out, `shard-${skip}.json`);
      const s = avb(
        'eval',
        '--run',
        out,
        '--points',
        '2',
        '--skip',
        String(skip),
        '--ais-steps',
        '5',
        '--iwae',
        '0',
        '--out',
        file,
      );
      expect(s.code, s.stderr).toBe(0);
      return JSON.parse(readFileSync(file, 'utf8')) as typeof result & {
        logLikelihood: { indices: number[] };
      };
    });
    const whole = result as typeof result & { logLikelihood: { indices: number[] } };
    expect(shards.flatMap((s) => s.logLikelihood.indices)).toEqual(whole.logLikelihood.indices);
    expect((shards[0].grid.mean + shards[1].grid.mean) / 2).toBeCloseTo(whole.grid.mean, 5);
  });

  it('eval of a folder that is not a run, or an impossible start, is a user error', () => {
    expectUserError(avb('eval', '--run', dir), /is not a run folder/);
    const out = join(dir, 'eval-avb');
    expect(
      avb('train', '--experiment', 'synthetic', '--steps', '2', '--batch', '8', '--out', out).code,
    ).toBe(0);
    expectUserError(
      avb('eval', '--run', out, '--points', '2', '--ais-steps', '2', '--ais-start', 'encoder'),
      /--ais-start encoder needs an encoder with a Gaussian/,
    );
  });

  it('selfcheck --json passes every check against its exact answer', { timeout: 300_000 }, () => {
    const r = avb('selfcheck', '--json', '--seed', '11');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as {
      pass: boolean;
      checks: { check: string; pass: boolean; error: number; tolerance: number }[];
    };
    expect(result.pass).toBe(true);
    expect(result.checks).toHaveLength(4);
    for (const c of result.checks) expect(c.error).toBeLessThanOrEqual(c.tolerance);
  });
});

describe('avb infer', () => {
  it('bad model names, variants and options that mean nothing for the method are user errors', () => {
    expectUserError(avb('infer', 'radon'), /unknown model 'radon'; use a built-in model/);
    expectUserError(
      avb('infer', 'eight-schools', '--variant', 'modern'),
      /unknown variant 'modern' of eight-schools; use one of: paper, classic/,
    );
    expectUserError(
      avb('infer', 'eight-schools', '--compare'),
      /--compare writes a table and a figure: give --out/,
    );
    expectUserError(
      avb('infer', 'eight-schools', '--method', 'nuts', '--iterations', '10'),
      /--iterations applies to AVB and ADVI only/,
    );
    expectUserError(
      avb('infer', 'eight-schools', '--method', 'avb-ac', '--chains', '2'),
      /--chains applies to nuts only/,
    );
    expectUserError(
      avb('infer', 'eight-schools', '--method', 'nuts', '--target-accept', '1.5'),
      /--target-accept must be in \(0, 1\)/,
    );
    expectUserError(
      avb('infer', 'eight-schools', '--method', 'nuts', '--max-target-accept', '1'),
      /--max-target-accept must be in \(0, 1\)/,
    );
    expectUserError(
      avb('infer', 'eight-schools', '--method', 'advi-fullrank', '--max-target-accept', '0.9'),
      /--max-target-accept applies to nuts only/,
    );
    expectUserError(
      avb('infer', 'eight-schools', '--method', 'nuts', '--pool', '0.5'),
      /--pool applies to avb and avb-ac only/,
    );
    expectUserError(
      avb('infer', 'eight-schools', '--method', 'advi-fullrank', '--no-affine-refit'),
      /--no-affine-refit applies to avb and avb-ac only/,
    );
    expectUserError(
      avb('infer', 'eight-schools', '--pool', '1.5'),
      /expected a number from 0 to 1, got '1.5'/,
    );
    // Averaged weights make the final q, which pooled draws replace.
    expectUserError(
      avb('infer', 'eight-schools', '--average', '4'),
      /--average applies to the final q, which --pool \(default 0.5\) replaces; add --pool 0/,
    );
  });

  it('a model module that is missing, broken, misshapen or not finite at its start is a user error', () => {
    expectUserError(avb('infer', join(dir, 'nope.mjs')), /model module .*nope\.mjs does not exist/);
    expectUserError(
      avb('infer', write('syntax.mjs', 'export default {')),
      /model module .*syntax\.mjs does not load/,
    );
    expectUserError(
      avb('infer', write('empty.mjs', 'export const x = 1;')),
      /exports no model; export default a BayesianModel/,
    );
    expectUserError(
      avb(
        'infer',
        write('shape.mjs', 'export default (tf) => ({ dim: 2, logJoint: (z) => tf.sum(z) });'),
      ),
      /logJoint must return a tensor of shape \[n\]/,
    );
    expectUserError(
      avb(
        'infer',
        write(
          'inf.mjs',
          'export default (tf) => ({ dim: 1, logJoint: (z) => tf.log(tf.neg(tf.abs(tf.sum(z, 1)))) });',
        ),
      ),
      /log joint is not finite at z = 0/,
    );
    expectUserError(
      avb('infer', 'examples/banana.mjs', '--variant', 'paper'),
      /--variant applies to built-in models only/,
    );
    for (const model of ['eight-schools', 'examples/banana.mjs'])
      expectUserError(
        avb('infer', model, '--centred'),
        /--centred applies to Stan programs only; remove it/,
      );
  });

  it("a Stan program's hierarchical normals are sampled non-centred (kept in config.json), reported as written; a --centred run warns and suggests dropping it", () => {
    // Eight schools centred (Rubin's data), the group declared before its hyperparameters.
    const program = write(
      'schools.stan',
      `data { int J; vector[J] y; vector<lower=0>[J] sigma; }
       parameters { vector[J] theta; real mu; real<lower=0> tau; }
       model { mu ~ normal(0, 5); tau ~ cauchy(0, 5); theta ~ normal(mu, tau); y ~ normal(theta, sigma); }`,
    );
    const data = write(
      'schools.json',
      JSON.stringify({
        J: 8,
        y: [28, 8, -3, 7, -1, 1, 18, 12],
        sigma: [15, 10, 16, 11, 9, 11, 10, 18],
      }),
    );
    // A short NUTS run: 2 chains of 150 warm-up and 150 kept iterations.
    const short = ['infer', program, '--data', data, '--method', 'nuts', '--chains', '2'];
    short.push('--warmup', '150', '--samples', '300');
    const out = join(dir, 'noncentred');
    const r = avb(...short, '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    const header = readFileSync(join(out, 'draws.csv'), 'utf8').split('\n')[0].split(',');
    const names = header.filter((h) => !/__$|^chain$|^draw$/.test(h));
    expect(names).toEqual([...Array.from({ length: 8 }, (_, j) => `theta[${j + 1}]`), 'mu', 'tau']);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as {
      noncentre?: boolean;
    };
    expect(config.noncentre).toBe(true);
    const advice = /theta is sampled as a centred hierarchy .*; run it without --centred/;
    expect(r.stderr).not.toMatch(advice);
    // As written (--centred), the same short run warns that the funnel's neck may be missed
    // and says what to do; the summary keeps it.
    const asWritten = join(dir, 'centred');
    const c = avb(...short, '--centred', '--out', asWritten);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toMatch(advice);
    const summary = JSON.parse(readFileSync(join(asWritten, 'summary.json'), 'utf8')) as {
      warnings: string[];
    };
    expect(summary.warnings.some((w) => advice.test(w))).toBe(true);
    const centredConfig = JSON.parse(readFileSync(join(asWritten, 'config.json'), 'utf8')) as {
      noncentre?: boolean;
    };
    expect(centredConfig.noncentre).toBe(false);
  });

  it('an unwritable or existing --out is refused before any computing', () => {
    for (const out of ['/proc/avb-test', join(dir, 'file.txt', 'sub')]) {
      writeFileSync(join(dir, 'file.txt'), 'x');
      const r = avb('infer', 'eight-schools', '--method', 'nuts', '--out', out);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^error: cannot (write to|create)/);
    }
    const r = avb('infer', 'eight-schools', '--method', 'nuts', '--out', dir);
    expectUserError(r, /already exists; add --resume to continue it or --force to replace it/);
  });

  it('one method prints a posterior summary', () => {
    const r = avb(
      'infer',
      'eight-schools',
      '--variant',
      'classic',
      '--method',
      'advi-meanfield',
      '--iterations',
      '300',
      '--samples',
      '500',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as {
      posterior: Record<string, { mean: number; sd: number; q2_5: number; q97_5: number }>;
    };
    expect(Object.keys(s.posterior)).toEqual([
      'mu',
      'tau',
      ...Array.from({ length: 8 }, (_, j) => `theta_${j + 1}`),
    ]);
    expect(s.posterior.tau.q2_5).toBeGreaterThan(0); // tau = exp(log tau) in the classic model
    expect(s.posterior.mu.q2_5).toBeLessThan(s.posterior.mu.q97_5);
  });

  it('NUTS on a model module writes draws.csv (chain, draw, quantities) and summary.json', () => {
    const out = join(dir, 'banana');
    const r = avb(
      'infer',
      'examples/banana.mjs',
      '--method',
      'nuts',
      '--chains',
      '2',
      '--warmup',
      '200',
      '--samples',
      '400',
      '--out',
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(join(out, 'draws.csv'), 'utf8').trim().split('\n');
    // CmdStan's sampler columns between the indices and the quantities, with its meanings.
    expect(lines[0]).toBe(
      'chain,draw,lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,z1,z2',
    );
    expect(lines).toHaveLength(401);
    for (const line of lines.slice(1)) {
      const [, , lp, accept, step, depth, leapfrogs, divergent] = line.split(',').map(Number);
      expect(Number.isFinite(lp)).toBe(true);
      expect(accept).toBeGreaterThanOrEqual(0);
      expect(accept).toBeLessThanOrEqual(1);
      expect(step).toBeGreaterThan(0);
      // A tree of depth j has at most 2^j − 1 leapfrog steps (fewer when cut by a U-turn).
      expect(leapfrogs).toBeLessThanOrEqual(2 ** depth - 1);
      expect(leapfrogs).toBeGreaterThanOrEqual(1);
      expect([0, 1]).toContain(divergent);
    }
    expect(lines[1]).toMatch(/^1,1,/);
    expect(lines[400]).toMatch(/^2,200,/);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      method: string;
      draws: number;
      divergences: number;
      posterior: Record<string, { rhat: number; ess: number }>;
    };
    expect(s.method).toBe('nuts');
    expect(s.draws).toBe(400);
    expect(s.divergences).toBeGreaterThanOrEqual(0);
    expect(s.posterior.z2.rhat).toBeGreaterThan(0.9);
    expect(s.posterior.z2.ess).toBeGreaterThan(10);
    expect(r.stderr).toMatch(/nuts .*ETA/); // progress with an ETA
  });

  it('a variational fit prints and keeps its k̂ and Stein check', () => {
    const out = join(dir, 'banana-advi');
    const r = avb('infer', 'examples/banana.mjs', '--method', 'advi-fullrank', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Pareto k̂ {5}\d\.\d\d/m);
    expect(r.stdout).toMatch(
      /^Stein check {2}mean shift \d+\.\d\d sd \(z\d\), sd ratio \d+\.\d\d \(z\d\)/m,
    );
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      steinCheck: { meanShift: number; meanShiftOf: string; sdRatio: number; sdRatioOf: string };
      warnings: string[];
    };
    expect(s.steinCheck.meanShift).toBeGreaterThanOrEqual(0);
    expect(s.steinCheck.sdRatio).toBeGreaterThan(0);
    expect(['z1', 'z2']).toContain(s.steinCheck.sdRatioOf);
    // A Gaussian q on the banana: what the check says is a warning exactly when it is outside
    // its bounds (0.08 sd, 8%).
    const outside =
      s.steinCheck.meanShift > 0.08 || Math.abs(Math.log(s.steinCheck.sdRatio)) > Math.log(1.08);
    expect(s.warnings.some((w) => w.includes("Stein's identities"))).toBe(outside);
  });

  it('--polish always moves a Gaussian q to the banana’s skewed shape and says so; --polish is refused for NUTS', () => {
    const out = join(dir, 'banana-polish');
    const r = avb(
      'infer',
      'examples/banana.mjs',
      '--method',
      'advi-fullrank',
      '--polish',
      'always',
      '--out',
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^HMC polish {3}\d+ transitions \(the draws forgot q's after \d+\)/m);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      polish: { reason: string; fitFailed: boolean; converged: boolean; divergent: number };
      warnings: string[];
    };
    // A full-rank Gaussian on the banana fails its importance check, which the polish reports.
    expect(s.polish).toMatchObject({ fitFailed: true, converged: true, divergent: 0 });
    expect(s.polish.reason).toMatch(/^the importance check/);
    expect(s.warnings).toEqual([
      expect.stringMatching(/^the fit's own checks failed .* so HMC moved its draws/),
    ]);
    // The banana's z2 = (z1^2 - 1) / 2 + N(0, 1): mean 0, sd sqrt(1.5) = 1.225, skewness
    // E[((z1^2 - 1) / 2)^3] / 1.5^1.5 = 1 / 1.837 = 0.544; a Gaussian q's is 0. With 4,000 draws
    // the se of the sd is ~2% and of the skewness ~0.06 (its tail is long): bounds of 5% and 0.2.
    const rows = readFileSync(join(out, 'draws.csv'), 'utf8').trim().split('\n');
    const col = rows[0].split(',').indexOf('z2');
    const z2 = rows.slice(1).map((l) => Number(l.split(',')[col]));
    const m = z2.reduce((a, x) => a + x, 0) / z2.length;
    const v = z2.reduce((a, x) => a + (x - m) ** 2, 0) / z2.length;
    const skew = z2.reduce((a, x) => a + (x - m) ** 3, 0) / z2.length / v ** 1.5;
    expect(Math.abs(Math.sqrt(v) / Math.sqrt(1.5) - 1)).toBeLessThan(0.05);
    expect(Math.abs(skew - 0.544)).toBeLessThan(0.2);
    expectUserError(
      avb('infer', 'examples/banana.mjs', '--method', 'nuts', '--polish', 'auto'),
      /--polish applies to AVB and ADVI only/,
    );
  });

  it('--mode-starts sets the mode search, which summary.json and config.json record', () => {
    const out = join(dir, 'banana-starts');
    const r = avb(
      'infer',
      'examples/banana.mjs',
      '--method',
      'advi-fullrank',
      '--mode-starts',
      '7',
      '--iterations',
      '500',
      '--out',
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    const read = (f: string) => JSON.parse(readFileSync(join(out, f), 'utf8')) as unknown;
    expect(read('summary.json')).toMatchObject({ modeSearch: { starts: 7 } });
    expect(read('config.json')).toMatchObject({ options: { modeStarts: 7 } });
    expectUserError(avb('infer', 'examples/banana.mjs', '--mode-starts', '0'), /--mode-starts/);
  });

  it("--precondition none fits in the model's own coordinates, which summary.json and config.json record", () => {
    const out = join(dir, 'banana-none');
    const args = ['examples/banana.mjs', '--method', 'advi-fullrank', '--iterations', '500'];
    const r = avb('infer', ...args, '--precondition', 'none', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const read = (f: string) => JSON.parse(readFileSync(join(out, f), 'utf8')) as unknown;
    // No Laplace fit: no whitening and no mode search (the default has both: the test above).
    const summary = read('summary.json') as { preconditioning: string; modeSearch?: unknown };
    expect(summary.preconditioning).toBe('none');
    expect(summary.modeSearch).toBeUndefined();
    expect(read('config.json')).toMatchObject({ options: { precondition: 'none' } });
    expectUserError(avb('infer', ...args, '--precondition', 'pca'), /--precondition/);
  });

  it(
    '--compare writes the KL table, the figure, draws per method and summary.json',
    { timeout: 300_000 },
    () => {
      const out = join(dir, 'compare');
      const r = avb(
        'infer',
        'eight-schools',
        '--compare',
        '--iterations',
        '30',
        '--samples',
        '400',
        // The fits' own checks are what this test reads: no HMC polish of the draws.
        '--polish',
        'never',
        '--out',
        out,
      );
      expect(r.code, r.stderr).toBe(0);
      const table = readFileSync(join(out, 'table.md'), 'utf8');
      for (const m of ['avb', 'avb-ac', 'advi-meanfield', 'advi-fullrank'])
        expect(table).toContain(`| ${m} |`);
      expect(table).toContain('400 draws each');
      // Each method's own diagnostics sit beside its KL: 30 iterations are far too few, so every
      // variational fit must carry at least one warning, and the count must match summary.json's.
      expect(table).toContain('| Pareto k̂ | Stein check: mean shift, sd ratio | warnings |');
      const warned = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
        methods: Record<string, { warnings: string[] }>;
      };
      for (const m of ['avb', 'avb-ac', 'advi-meanfield', 'advi-fullrank']) {
        const cells = table
          .split('\n')
          .find((l) => l.startsWith(`| ${m} |`))!
          .split('|')
          .map((x) => x.trim());
        const count = Number(cells[cells.length - 2]);
        expect(count).toBe(warned.methods[m].warnings.length);
        expect(count).toBeGreaterThan(0);
        expect(Number(cells[cells.length - 4])).toBeGreaterThanOrEqual(-1); // k̂ is a number
      }
      const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
        klToNuts: Record<string, Record<string, number>>;
      };
      expect(Object.keys(s.klToNuts.avb)).toEqual(['mu', 'tau', 'theta_1', '(mu, tau)']);
      // AVB's draws are refitted on the exact ELBO, and the summary keeps the fit's own check.
      const avbAc = warned.methods['avb-ac'] as unknown as {
        affineRefit: { steps: number; elboGain: number; converged: boolean };
        steinCheckBeforeRefit: { meanShift: number };
      };
      expect(avbAc.affineRefit.steps).toBeGreaterThanOrEqual(0);
      expect(avbAc.affineRefit.elboGain).toBeGreaterThanOrEqual(0);
      expect(typeof avbAc.steinCheckBeforeRefit.meanShift).toBe('number');
      expect(warned.methods['advi-fullrank']).not.toHaveProperty('affineRefit');
      expect(readFileSync(join(out, 'samples.png')).subarray(1, 4).toString()).toBe('PNG');
      const csv = readFileSync(join(out, 'draws-avb-ac.csv'), 'utf8').split('\n');
      expect(csv[0]).toBe(
        'chain,draw,mu,tau,' + Array.from({ length: 8 }, (_, j) => `theta_${j + 1}`).join(','),
      );
    },
  );

  it('--compare works for a user’s model, on its first two quantities or a chosen --pair', () => {
    const out = join(dir, 'compare-banana');
    const args = ['--compare', '--iterations', '30', '--samples', '300'];
    const r = avb(
      'infer',
      'examples/banana.mjs',
      ...args,
      '--reference-draws',
      '1000',
      '--pair',
      'z2,z1',
      '--out',
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    const table = readFileSync(join(out, 'table.md'), 'utf8');
    expect(table).toContain('| method | KL z1 | KL z2 | KL (z2, z1) |');
    expect(table).toContain('NUTS: 1000 draws thinned to 300');
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { pair: string[] };
    expect(s.pair).toEqual(['z2', 'z1']);
    expect(readFileSync(join(out, 'samples.png')).subarray(1, 4).toString()).toBe('PNG');
    for (const m of ['avb', 'avb-ac', 'advi-meanfield', 'advi-fullrank', 'nuts'])
      expect(readFileSync(join(out, `draws-${m}.csv`), 'utf8')).toMatch(
        m === 'nuts' ? /^chain,draw,lp__,.*divergent__,z1,z2\n/ : /^chain,draw,z1,z2\n/,
      );
    expectUserError(
      avb('infer', 'examples/banana.mjs', ...args, '--pair', 'z1,w', '--out', join(dir, 'x')),
      /--pair: banana reports no quantity 'w'; choose from z1, z2/,
    );
  });
});
