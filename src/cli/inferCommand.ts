import { Option } from 'commander';
import type { Command } from 'commander';
import { initBackend } from '../backend/initBackend.js';
import type { BackendChoice } from '../backend/initBackend.js';
import { AvbUserError } from '../errors.js';
import {
  compareMethods,
  INFERENCE_METHODS,
  methodSummary,
  runInference,
} from '../inference/compare.js';
import type { InferenceMethod } from '../inference/compare.js';
import { drawsToCsv } from '../inference/draws.js';
import { BUILT_IN_MODELS, loadModel } from '../inference/loadModel.js';
import type { ContrastKind } from '../inference/variational.js';
import type { BayesianModel } from '../inference/model.js';
import { checkOutputFolder, writeOutputFolder } from './outputFolder.js';
import { comparisonFigure, comparisonTable } from '../experiments/comparisonReport.js';
import { printJson, printTable } from './output.js';
import {
  backendOption,
  threadsOption,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
} from './options.js';
import { TrainingProgress } from './progress.js';

interface InferCliOptions {
  variant?: string;
  method: InferenceMethod;
  compare?: boolean;
  pair?: string[];
  referenceDraws?: number;
  samples: number;
  iterations?: number;
  contrast?: ContrastKind;
  chains?: number;
  warmup?: number;
  targetAccept?: number;
  seed: number;
  out?: string;
  force?: boolean;
  backend?: BackendChoice;
  threads?: number;
  json?: boolean;
}

/** Built-in models are sampled with Stan's targetAccept 0.95 for hard geometry (0.8 diverges). */
const BUILT_IN_TARGET_ACCEPT = 0.95;

export function addInferCommand(program: Command): void {
  program
    .command('infer')
    .description(
      'Bayesian inference with AVB, ADVI or NUTS for a built-in model (eight-schools) or your own model module',
    )
    .argument('<model>', 'eight-schools, or the path of an ES module exporting a BayesianModel')
    .addOption(
      new Option(
        '--variant <name>',
        'eight-schools: paper (N(0,1) priors, rescaled data; default) or classic (Rubin 1981, flat priors)',
      ),
    )
    .addOption(
      new Option('--method <method>', 'inference method')
        .choices(INFERENCE_METHODS)
        .default('avb-ac'),
    )
    .option(
      '--compare',
      'run every method, estimate KL(method || NUTS) per marginal (the first three quantities and the first two jointly), write table, figure, draws and summary.json',
    )
    .option(
      '--reference-draws <n>',
      'with --compare: draws of the NUTS reference run (default 40000; fewer for a smoke run)',
      positiveInt,
    )
    .option(
      '--pair <a,b>',
      "with --compare: the two quantities of the joint marginal and the figure (default: the model's first two)",
      (v: string) => v.split(',').map((s) => s.trim()),
    )
    .option('--samples <n>', 'posterior draws to keep', positiveInt, 4000)
    .option(
      '--iterations <n>',
      'AVB and ADVI: optimisation iterations (default 10000)',
      positiveInt,
    )
    .addOption(
      new Option(
        '--contrast <kind>',
        'avb-ac: full (whitened by the batch covariance; default) or diagonal (the paper)',
      ).choices(['full', 'diagonal']),
    )
    .option('--chains <n>', 'NUTS: chains (default 4)', positiveInt)
    .option('--warmup <n>', 'NUTS: warm-up iterations per chain (default 1000)', positiveInt)
    .option(
      '--target-accept <p>',
      'NUTS: target acceptance of the step-size adaptation (default 0.95 built-in models, 0.8 others)',
      positiveNumber,
    )
    .option('--seed <n>', 'random seed', nonNegativeInt, 1)
    .option(
      '--out <dir>',
      'folder for summary.json and draws.csv (with --compare also table.md, samples.png)',
    )
    .option('--force', 'replace --out if it exists')
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print the summary as JSON')
    .action(async (spec: string, opts: InferCliOptions) => {
      checkOptions(opts);
      if (opts.out) checkOutputFolder(opts.out, opts.force, undefined, modelFiles(spec));
      await initBackend(opts.backend, { threads: opts.threads });
      const model = await loadModel(spec, opts.variant);
      const builtIn = spec in BUILT_IN_MODELS;
      const common = {
        samples: opts.samples,
        seed: opts.seed,
        iterations: opts.iterations,
        nuts: {
          ...(opts.chains !== undefined ? { chains: opts.chains } : {}),
          ...(opts.warmup !== undefined ? { warmup: opts.warmup } : {}),
          targetAccept: opts.targetAccept ?? (builtIn ? BUILT_IN_TARGET_ACCEPT : 0.8),
        },
        avb: opts.contrast ? { contrast: opts.contrast } : undefined,
      };
      let current: string = opts.method; // the method running, for the progress label
      let progress: TrainingProgress | undefined;
      const onProgress = (done: number, total: number, figures?: string) => {
        if (!progress) {
          progress = new TrainingProgress(total, 15, current);
          progress.start(0);
        }
        progress.tick(done, figures);
        if (done >= total) {
          progress.stop();
          progress = undefined;
        }
      };
      if (opts.compare) {
        await compareAndWrite(
          model,
          { ...common, onProgress },
          opts,
          (m) => {
            current = m;
          },
          modelFiles(spec),
        );
        return;
      }
      const r = await runInference(model, opts.method, { ...common, onProgress });
      const summary = methodSummary(model, r);
      if (opts.out) {
        // NUTS draws as sampled (chains kept); a symmetric posterior's mirror modes are left as
        // the chains found them.
        writeOutputFolder(
          opts.out,
          {
            'summary.json': JSON.stringify(summary, null, 2) + '\n',
            'draws.csv': drawsToCsv(r.draws),
          },
          modelFiles(spec),
        );
      }
      if (opts.json) {
        printJson(summary);
        return;
      }
      printTable(
        Object.entries(summary.posterior).map(([k, v]) => [
          k,
          `mean ${v.mean.toFixed(3)}  sd ${v.sd.toFixed(3)}  2.5% ${v.q2_5.toFixed(3)}  50% ${v.q50.toFixed(3)}  97.5% ${v.q97_5.toFixed(3)}` +
            (v.rhat !== undefined ? `  R-hat ${v.rhat.toFixed(4)}  ESS ${v.ess!.toFixed(0)}` : ''),
        ]),
      );
      if (r.divergences !== undefined)
        process.stdout.write(`divergences  ${r.divergences} of ${r.draws.values.length} draws\n`);
      if (opts.out) process.stdout.write(`written to ${opts.out}: summary.json, draws.csv\n`);
    });
}

/**
 * Options that mean nothing for the chosen method or model are refused, not ignored, before the
 * model is loaded.
 */
function checkOptions(o: InferCliOptions): void {
  if (o.compare && !o.out)
    throw new AvbUserError('--compare writes a table and a figure: give --out <dir>');
  if (o.referenceDraws !== undefined && !o.compare)
    throw new AvbUserError(
      '--reference-draws sets the length of --compare’s NUTS run; add --compare',
    );
  if (o.pair !== undefined && !o.compare)
    throw new AvbUserError('--pair chooses the quantities --compare plots; add --compare');
  if (o.pair !== undefined && o.pair.length !== 2)
    throw new AvbUserError(
      `--pair takes two quantity names separated by a comma, got '${o.pair.join(',')}'`,
    );
  const methods = o.compare ? [...INFERENCE_METHODS] : [o.method];
  const uses = (pred: (m: InferenceMethod) => boolean) => methods.some(pred);
  const refuse = (flag: string, forWhat: string) => {
    throw new AvbUserError(`${flag} applies to ${forWhat} only; remove it or change --method`);
  };
  if (o.iterations !== undefined && !uses((m) => m !== 'nuts'))
    refuse('--iterations', 'AVB and ADVI');
  if (o.contrast !== undefined && !uses((m) => m === 'avb-ac')) refuse('--contrast', 'avb-ac');
  for (const [flag, v] of [
    ['--chains', o.chains],
    ['--warmup', o.warmup],
    ['--target-accept', o.targetAccept],
  ] as const) {
    if (v !== undefined && !uses((m) => m === 'nuts')) refuse(flag, 'nuts');
  }
  if (o.targetAccept !== undefined && !(o.targetAccept < 1))
    throw new AvbUserError(`--target-accept must be in (0, 1), got ${o.targetAccept}`);
  if (o.warmup !== undefined && o.warmup < 20)
    throw new AvbUserError(
      `--warmup ${o.warmup} is too short to adapt a step size; use 20 or more`,
    );
}

/** `--compare`: every method against the long NUTS reference; writes the folder at once. */
async function compareAndWrite(
  model: BayesianModel,
  common: Parameters<typeof compareMethods>[1],
  opts: InferCliOptions,
  onMethod: (method: string) => void,
  protect: string[],
): Promise<void> {
  const c = await compareMethods(model, {
    ...common,
    onMethod,
    pair: opts.pair,
    referenceDraws: opts.referenceDraws,
  });
  const summary = {
    model: model.name,
    methods: Object.fromEntries(c.results.map((r) => [r.method, methodSummary(model, r)])),
    marginals: c.marginals,
    klToNuts: c.klToNuts,
    samplesPng: 'samples.png',
    pair: c.pair,
    panels: INFERENCE_METHODS,
  };
  const table = comparisonTable(model, c);
  const files: Record<string, string | Uint8Array> = {
    'summary.json': JSON.stringify(summary, null, 2) + '\n',
    'table.md': table,
    'samples.png': await comparisonFigure(model, c),
  };
  for (const r of c.results) files[`draws-${r.method}.csv`] = drawsToCsv(r.draws);
  writeOutputFolder(opts.out!, files, protect);
  if (opts.json) printJson(summary);
  else
    process.stdout.write(
      `${table}\nwritten to ${opts.out}: summary.json, table.md, samples.png, draws-<method>.csv\n`,
    );
}

/** The user's model module, which `--force` must never delete (built-in models have no file). */
function modelFiles(spec: string): string[] {
  return spec in BUILT_IN_MODELS ? [] : [spec];
}
