import { Option } from 'commander';
import type { Command } from 'commander';
import { initBackend } from '../backend/initBackend.js';
import type { BackendChoice } from '../backend/initBackend.js';
import { AIS_ADAPTATIONS, DEFAULT_AIS } from '../eval/ais.js';
import type { AisAdaptation } from '../eval/ais.js';
import { runSelfcheck } from '../experiments/selfcheck.js';
import type { SelfcheckRow } from '../experiments/selfcheck.js';
import { EVAL_FILE, evaluateRun } from '../experiments/evaluateRun.js';
import { requireRunFolder } from '../experiments/runFolder.js';
import { checkWritableFile } from '../io/atomicFile.js';
import { join } from 'node:path';
import { printJson } from './output.js';
import {
  backendOption,
  threadsOption,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
} from './options.js';
import { TrainingProgress } from './progress.js';
import { FORCE_FILE_HELP } from './applyCommands.js';

/** Exit code of `avb selfcheck` when an estimator misses its exact answer. */
export const EXIT_SELFCHECK_FAILED = 4;

export function addEvalCommands(program: Command): void {
  program
    .command('eval')
    .description(
      'estimate the test log-likelihood of a trained run by AIS (and IWAE, grid); writes eval.json (an interrupted eval continues from its last finished batch when rerun)',
    )
    .requiredOption('--run <dir>', 'run folder written by avb train')
    .option('--out <file>', 'where to write the result (default: RUN/eval.json)')
    .option(
      '--points <n>',
      "test points to evaluate: a random sample of the test split (see --subset-seed), or 'all'",
      (v: string) => (v === 'all' ? Infinity : positiveInt(v)),
      500,
    )
    .option(
      '--skip <n>',
      'points of the sample to pass over first (to shard an evaluation across processes)',
      nonNegativeInt,
      0,
    )
    .option(
      '--subset-seed <n>',
      'seed of the random order the test points are taken in (the same seed: the same digits and binarisation for every model and shard)',
      nonNegativeInt,
      1,
    )
    .option('--ais-steps <n>', 'annealing steps', positiveInt, DEFAULT_AIS.steps)
    .option('--ais-chains <n>', 'chains per point', positiveInt, DEFAULT_AIS.chains)
    .option(
      '--leapfrog <n>',
      'leapfrog steps per HMC transition',
      positiveInt,
      DEFAULT_AIS.leapfrog,
    )
    .option(
      '--step-size <eps>',
      'initial HMC step size, adapted toward 0.65 acceptance',
      positiveNumber,
      DEFAULT_AIS.stepSize,
    )
    .addOption(
      new Option(
        '--adapt <mode>',
        'HMC step-size adaptation toward 0.65 acceptance: a schedule from a pilot pass, frozen for the estimate (pilot: unbiased); adapted during the estimate over all chains (global), per point or per chain (these bias it low); or none',
      )
        .choices([...AIS_ADAPTATIONS])
        .default(DEFAULT_AIS.adapt),
    )
    .addOption(
      new Option('--schedule <kind>', 'annealing schedule')
        .choices(['linear', 'sigmoid'])
        .default('linear'),
    )
    .addOption(
      new Option('--ais-start <from>', 'start chains from the prior or the encoder\u2019s Gaussian')
        .choices(['prior', 'encoder'])
        .default('prior'),
    )
    .option(
      '--iwae <k>',
      'IWAE samples per point for encoders with a density, 0 to skip',
      nonNegativeInt,
      1000,
    )
    .option('--batch-points <n>', 'points per AIS batch (bounds memory)', positiveInt, 100)
    .option(
      '--bdmc <n>',
      'also simulate n points from the model and bracket AIS by bidirectional Monte Carlo (forward and reverse AIS with the same settings and --ais-start)',
      nonNegativeInt,
      0,
    )
    .option('--seed <n>', 'random seed', nonNegativeInt, 1)
    .option('--force', FORCE_FILE_HELP)
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print eval.json on stdout')
    .action(
      async (opts: {
        run: string;
        out?: string;
        points: number;
        skip: number;
        subsetSeed: number;
        aisSteps: number;
        aisChains: number;
        leapfrog: number;
        stepSize: number;
        schedule: 'linear' | 'sigmoid';
        adapt: AisAdaptation;
        aisStart: 'prior' | 'encoder';
        iwae: number;
        batchPoints: number;
        bdmc: number;
        seed: number;
        force?: boolean;
        backend?: BackendChoice;
        threads?: number;
        json?: boolean;
      }) => {
        requireRunFolder(opts.run);
        const out = opts.out ?? join(opts.run, EVAL_FILE);
        checkWritableFile(out, '--out', opts.force);
        await initBackend(opts.backend, { threads: opts.threads });
        let progress: TrainingProgress | undefined;
        // After a resume the rate must count only this process's work, or the ETA reads short.
        let resumedFraction = 0;
        const result = await evaluateRun({
          run: opts.run,
          out,
          points: opts.points,
          skip: opts.skip,
          subsetSeed: opts.subsetSeed,
          ais: {
            steps: opts.aisSteps,
            chains: opts.aisChains,
            leapfrog: opts.leapfrog,
            stepSize: opts.stepSize,
            schedule: opts.schedule,
            adapt: opts.adapt,
            pilotPoints: DEFAULT_AIS.pilotPoints,
          },
          start: opts.aisStart,
          iwaeSamples: opts.iwae,
          batchPoints: opts.batchPoints,
          bdmcPoints: opts.bdmc,
          seed: opts.seed,
          onResume: (done, points, file, inBatch) => {
            const batch = Math.min(opts.batchPoints, points - done);
            resumedFraction = (done + (batch * inBatch.steps) / inBatch.of) / points;
            const part =
              inBatch.steps > 0
                ? `, and ${inBatch.steps} of the next batch's ${inBatch.of} annealing steps`
                : '';
            process.stderr.write(
              `resuming: ${done} of ${points} points were estimated before${part} (${file})\n`,
            );
          },
          onProgress: (done, total) => {
            if (!progress) {
              progress = new TrainingProgress(total, 15, 'AIS');
              progress.start(Math.round(resumedFraction * total));
            }
            progress.tick(done);
          },
        });
        progress?.stop();
        if (opts.json) {
          printJson(result);
          return;
        }
        const ll = result.logLikelihood;
        const lines = [
          `AIS log-likelihood ${ll.mean.toFixed(3)} ± ${ll.stderr.toFixed(3)} nats (${ll.points} random test points of ${result.settings.of}, subset seed ${result.settings.subsetSeed}; ${result.seconds.toFixed(1)} s)`,
        ];
        const iw = result.iwae;
        if (iw)
          lines.push(`IWAE (k=${iw.samples}) ${iw.mean.toFixed(3)} ± ${iw.stderr.toFixed(3)} nats`);
        const grid = result.grid;
        if (grid) lines.push(`grid (exact) ${grid.mean.toFixed(3)} nats`);
        const b = result.bdmc;
        if (b)
          lines.push(
            `BDMC on ${b.points} simulated points: log p(x) between ${b.lower.mean.toFixed(3)} (AIS) and ${b.upper.mean.toFixed(3)} (reverse AIS); gap ${b.gap.mean.toFixed(3)} ± ${b.gap.stderr.toFixed(3)} nats`,
          );
        lines.push(`written to ${out}`);
        process.stdout.write(lines.join('\n') + '\n');
      },
    );

  program
    .command('selfcheck')
    .description(
      'run the estimators on problems with exact answers and report each error; exits 4 if any fails',
    )
    .option('--seed <n>', 'random seed for the problems', nonNegativeInt, 1)
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print JSON')
    .action(
      async (opts: { seed: number; backend?: BackendChoice; threads?: number; json?: boolean }) => {
        await initBackend(opts.backend, { threads: opts.threads });
        const rows = await runSelfcheck(opts.seed, (r) => {
          if (!opts.json) printRow(r);
        });
        const pass = rows.every((r) => r.pass);
        if (opts.json) printJson({ seed: opts.seed, pass, checks: rows });
        else process.stdout.write(pass ? 'all checks passed\n' : 'SOME CHECKS FAILED\n');
        if (!pass) process.exitCode = EXIT_SELFCHECK_FAILED;
      },
    );
}

function printRow(r: SelfcheckRow): void {
  process.stdout.write(
    `${r.pass ? 'pass' : 'FAIL'}  ${r.check}\n      estimate ${r.estimate.toFixed(4)}  exact ${r.exact.toFixed(4)}  error ${r.error.toExponential(2)} (tolerance ${r.tolerance})  ${r.seconds.toFixed(1)} s\n`,
  );
}
