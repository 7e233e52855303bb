import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option } from 'commander';
import type { Command } from 'commander';
import { initBackend } from '../backend/initBackend.js';
import type { BackendChoice } from '../backend/initBackend.js';
import { AvbUserError } from '../errors.js';
import {
  compareMethods,
  EIGHT_SCHOOLS_MODELS,
  eightSchoolsModel,
  INFERENCE_METHODS,
  posteriorSummary,
  runInference,
} from '../inference/compare.js';
import type { InferenceMethod } from '../inference/compare.js';
import { printJson, printTable } from './output.js';
import { backendOption, nonNegativeInt, positiveInt } from './program.js';

export function addInferCommand(program: Command): void {
  program
    .command('infer')
    .description('Bayesian inference with AVB, ADVI or NUTS for a built-in model (eight-schools)')
    .argument('<model>', 'model: eight-schools')
    .addOption(
      new Option(
        '--model <version>',
        'paper (N(0,1) priors, rescaled data) or classic (Rubin 1981, flat priors)',
      )
        .choices(EIGHT_SCHOOLS_MODELS)
        .default('paper'),
    )
    .addOption(
      new Option('--method <method>', 'inference method')
        .choices(INFERENCE_METHODS)
        .default('avb-ac'),
    )
    .option(
      '--compare',
      'run every method, estimate KL(method || NUTS) per marginal, write table, figure and summary.json',
    )
    .option('--samples <n>', 'posterior draws to keep', positiveInt, 4000)
    .option('--iterations <n>', 'optimisation iterations for AVB and ADVI', positiveInt)
    .option('--seed <n>', 'random seed', nonNegativeInt, 1)
    .option('--out <dir>', 'folder for summary.json (and with --compare table.md, samples.png)')
    .addOption(backendOption())
    .option('--json', 'print the summary as JSON')
    .action(
      async (
        name: string,
        opts: {
          model: string;
          method: InferenceMethod;
          compare?: boolean;
          samples: number;
          iterations?: number;
          seed: number;
          out?: string;
          backend?: BackendChoice;
          json?: boolean;
        },
      ) => {
        if (name !== 'eight-schools')
          throw new AvbUserError(`unknown model '${name}'; the built-in model is eight-schools`);
        if (opts.compare && !opts.out)
          throw new AvbUserError('--compare writes a table and a figure: give --out <dir>');
        const model = eightSchoolsModel(opts.model);
        await initBackend(opts.backend);
        const onProgress = (m: string) => process.stderr.write(`${m}\n`);
        if (opts.compare) {
          const { summary, table } = await compareMethods(model, opts.out!, {
            samples: opts.samples,
            seed: opts.seed,
            iterations: opts.iterations,
            onProgress,
          });
          if (opts.json) printJson(summary);
          else
            process.stdout.write(
              `${table}\nwritten to ${opts.out}/summary.json, table.md, samples.png\n`,
            );
          return;
        }
        const r = await runInference(model, opts.method, {
          samples: opts.samples,
          seed: opts.seed,
          iterations: opts.iterations,
          onProgress,
        });
        const summary = {
          model: model.name,
          method: r.method,
          seconds: r.seconds,
          divergences: r.divergences,
          posterior: posteriorSummary(r),
        };
        if (opts.out) {
          if (!existsSync(opts.out)) mkdirSync(opts.out, { recursive: true });
          const path = join(opts.out, 'summary.json');
          writeFileSync(`${path}.tmp`, JSON.stringify(summary, null, 2) + '\n');
          renameSync(`${path}.tmp`, path);
        }
        if (opts.json) {
          printJson(summary);
          return;
        }
        printTable(
          Object.entries(summary.posterior).map(([k, v]) => [
            k,
            `mean ${v.mean.toFixed(3)}  sd ${v.sd.toFixed(3)}  2.5% ${v.q2_5.toFixed(3)}  50% ${v.q50.toFixed(3)}  97.5% ${v.q97_5.toFixed(3)}` +
              (v.rhat !== undefined ? `  R-hat ${v.rhat.toFixed(4)}  ESS ${v.ess.toFixed(0)}` : ''),
          ]),
        );
      },
    );
}
