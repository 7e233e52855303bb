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
import type { InferenceMethod, MethodResult } from '../inference/compare.js';
import { drawsToCsv } from '../inference/draws.js';
import { BUILT_IN_MODELS, loadModel } from '../inference/loadModel.js';
import type {
  AffineRefitSummary,
  ContrastKind,
  PolishMode,
  PolishSummary,
} from '../inference/variational.js';
import type { BayesianModel } from '../inference/model.js';
import type { SteinCheck } from '../math/steinCheck.js';
import { checkOutputFolder, writeOutputFolder } from './outputFolder.js';
import { comparisonFigure, comparisonTable } from '../experiments/comparisonReport.js';
import { printJson, printTable } from './output.js';
import {
  backendOption,
  threadsOption,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
  unitFraction,
} from './options.js';
import { TrainingProgress } from './progress.js';
import { EXIT_SIGNAL, watchStopSignals } from './interrupt.js';
import { INFER_FILES, inferRun, readInferConfig } from '../experiments/inferRun.js';
import { chainPoolFor, defaultParallelChains } from '../experiments/parallelChains.js';
import { DEFAULT_NUTS } from '../inference/nuts.js';
import { existsSync } from 'node:fs';
import type { InferRunConfig } from '../experiments/inferRun.js';
import { join, resolve } from 'node:path';
import { readJsonData } from '../io/jsonData.js';

interface InferCliOptions {
  variant?: string;
  data?: string;
  centred?: boolean;
  method: InferenceMethod;
  compare?: boolean;
  pair?: string[];
  referenceDraws?: number;
  samples: number;
  iterations?: number;
  contrast?: ContrastKind;
  modelBatch?: number;
  average?: number;
  pool?: number;
  polish?: PolishMode;
  /** Commander's negatable `--no-affine-refit`: false when given. */
  affineRefit?: boolean;
  fixedIterations?: boolean;
  chains?: number;
  parallelChains?: number;
  warmup?: number;
  targetAccept?: number;
  maxTargetAccept?: number;
  modeStarts?: number;
  precondition?: 'laplace' | 'none';
  seed: number;
  out?: string;
  force?: boolean;
  resume?: boolean;
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
      'Bayesian inference with AVB, ADVI or NUTS for a built-in model (eight-schools), your own model module or a Stan program',
    )
    .argument(
      '<model>',
      'eight-schools, the path of an ES module exporting a model, or of a Stan program (.stan, with --data)',
    )
    .addOption(
      new Option(
        '--variant <name>',
        'eight-schools: paper (N(0,1) priors, rescaled data; default) or classic (Rubin 1981, flat priors)',
      ),
    )
    .option(
      '--data <file>',
      "the model module's data: JSON in CmdStan's / posteriordb's layout (.json, .json.gz or .json.zip), passed to the module as `data`",
    )
    .option(
      '--centred',
      'Stan programs: sample each hierarchical normal (b ~ normal(mu, sigma) with mu or sigma a parameter) as written; by default avb samples it non-centred, as b = mu + sigma u, as if declared <offset=mu, multiplier=sigma>',
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
    .option(
      '--model-batch <n>',
      'avb, avb-ac: rows of each batch of 512 on which the model is evaluated (default 64)',
      positiveInt,
    )
    .option(
      '--pool <fraction>',
      "avb, avb-ac: q's draws pooled over this last fraction of the fit (a set every 100 iterations, each weighted by its own adversary) instead of drawn from the final q (default 0.5; 0: the final q, weight-averaged by --average)",
      unitFraction,
    )
    .option(
      '--average <eta>',
      "avb, avb-ac with --pool 0: q's sampler is the polynomial-decay average of its weights over about the fit's last 1/(eta + 1) (default 20; 0: its last step)",
      nonNegativeInt,
    )
    .option(
      '--no-affine-refit',
      "avb, avb-ac: keep q's draws as the adversarial fit left them, without refitting their location and scale on the exact ELBO afterwards",
    )
    .addOption(
      new Option(
        '--polish <when>',
        "AVB, ADVI: after the fit, HMC from q's draws (one chain per draw) until they have forgotten q, which moves them to the posterior where q's shape is wrong: auto (when the fit's own checks fail; AVB's default), always, never (ADVI's default)",
      ).choices(['auto', 'always', 'never']),
    )
    .option(
      '--fixed-iterations',
      'AVB and ADVI: run exactly --iterations, without stopping once the ELBO has converged',
    )
    .option('--chains <n>', 'NUTS: chains (default 4)', positiveInt)
    .option(
      '--parallel-chains <n>',
      "NUTS: chains run at once, each in a worker thread (default: the machine's cores, at most --chains; models with a tfjs-only log density run theirs in turn)",
      positiveInt,
    )
    .option('--warmup <n>', 'NUTS: warm-up iterations per chain (default 1000)', positiveInt)
    .option(
      '--target-accept <p>',
      'NUTS: target acceptance of the step-size adaptation (default 0.95 built-in models, 0.8 others)',
      positiveNumber,
    )
    .option(
      '--max-target-accept <p>',
      'NUTS: after divergences, sample again with target acceptance 0.95, then 0.99, up to this (default 0.99; --target-accept or below: never again)',
      positiveNumber,
    )
    .option(
      '--mode-starts <n>',
      "every method: starts of the Laplace fit's mode search (default 4: z = 0 and three points drawn in [-2, 2]^d)",
      positiveInt,
    )
    .addOption(
      new Option(
        '--precondition <kind>',
        "every method: laplace (whitened by the Laplace fit at the posterior's mode; default) or none (the model's own coordinates: plain AVB's adversary then tells q from N(0, I) there, the model's prior where that is N(0, I), as in the paper's eight schools)",
      ).choices(['laplace', 'none']),
    )
    .option('--seed <n>', 'random seed', nonNegativeInt, 1)
    .option(
      '--out <dir>',
      'folder for summary.json and draws.csv (with --compare also table.md, samples.png)',
    )
    .option('--force', 'replace --out if it exists (only what avb wrote there)')
    .option(
      '--resume',
      'continue the run in --out from its checkpoint, with its own config.json (Ctrl-C stops with a checkpoint)',
    )
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--json', 'print the summary as JSON')
    .action(inferAction);
}

/** `avb infer`: one method (into a run folder with --out), or --compare. */
async function inferAction(spec: string, opts: InferCliOptions, cmd: Command): Promise<void> {
  checkOptions(opts);
  const resumed = opts.resume ? checkResume(spec, opts, cmd) : undefined;
  if (!opts.resume && opts.out)
    checkOutputFolder(
      opts.out,
      opts.force,
      opts.compare ? 'add --force to replace it' : RESUME_HINT,
      modelFiles(spec, opts.data),
    );
  if (opts.resume && existsSync(join(opts.out!, INFER_FILES.summary))) {
    process.stderr.write(
      `nothing to do: ${opts.out} has finished (its summary.json and draws.csv are there)\n`,
    );
    return;
  }
  const config = resumed ?? runConfig(spec, opts);
  await initBackend(opts.backend, { threads: opts.threads });
  const model = await loadModel(
    config.model,
    config.variant,
    config.data !== undefined ? readJsonData(config.data) : undefined,
    // The seed also draws a Stan program's transformed-data `_rng` calls, as Stan's does.
    { noncentre: config.noncentre, seed: config.options.seed },
  );
  for (const note of model.notes ?? []) process.stderr.write(`note: ${note}\n`);
  const progress = new InferProgress(config.method);
  const chainPool = chainPoolFor(
    model,
    {
      spec: config.model,
      variant: config.variant,
      data: config.data,
      noncentre: config.noncentre,
      seed: config.options.seed,
    },
    opts.parallelChains ??
      defaultParallelChains(config.options.nuts?.chains ?? DEFAULT_NUTS.chains),
  );
  if (opts.compare) {
    const common = { ...config.options, onProgress: progress.callback, chainPool };
    await compareAndWrite(
      model,
      common,
      opts,
      (m) => progress.label(m),
      modelFiles(spec, opts.data),
    );
    progress.stop();
    return;
  }
  if (!opts.out) {
    const r = await runInference(model, config.method, {
      ...config.options,
      onProgress: progress.callback,
      chainPool,
    });
    progress.stop();
    report(methodSummary(model, r), r, opts);
    return;
  }
  const stop = watchStopSignals('stopping after this iteration and writing a checkpoint');
  try {
    const run = await inferRun(model, config, {
      out: opts.out,
      resume: opts.resume,
      force: opts.force,
      protect: modelFiles(spec, opts.data),
      onProgress: progress.callback,
      chainPool,
      shouldStop: () => stop.requested() !== undefined,
    });
    progress.stop();
    const signal = stop.requested();
    if (run.status === 'interrupted') {
      process.stderr.write(
        `interrupted: checkpoint written to ${opts.out}; continue with avb infer ${spec} --out ${opts.out} --resume\n`,
      );
      process.exitCode = EXIT_SIGNAL[signal ?? 'SIGINT'];
      return;
    }
    report(run.summary, run.result, opts);
    if (!opts.json)
      process.stdout.write(
        `written to ${opts.out}: summary.json, draws.csv, metrics.jsonl, ${config.method === 'nuts' ? 'trace.png' : 'elbo.png'}\n`,
      );
  } finally {
    stop.release();
  }
}

const RESUME_HINT = 'add --resume to continue it or --force to replace it';

/** The settings of a new run, as its config.json keeps them. */
function runConfig(spec: string, opts: InferCliOptions): InferRunConfig {
  const builtIn = spec in BUILT_IN_MODELS;
  return {
    model: modelOf(spec),
    ...(opts.variant !== undefined ? { variant: opts.variant } : {}),
    ...(opts.data !== undefined ? { data: resolve(opts.data) } : {}),
    // Written for every Stan program, so that a resumed run keeps its parameterisation whatever
    // the default becomes; --centred on another model is refused by loadModel.
    ...(opts.centred || spec.endsWith('.stan') ? { noncentre: !opts.centred } : {}),
    method: opts.method,
    options: {
      samples: opts.samples,
      seed: opts.seed,
      iterations: opts.iterations,
      ...(opts.modeStarts !== undefined ? { modeStarts: opts.modeStarts } : {}),
      ...(opts.precondition !== undefined ? { precondition: opts.precondition } : {}),
      ...(opts.polish !== undefined ? { polish: opts.polish } : {}),
      nuts: {
        ...(opts.chains !== undefined ? { chains: opts.chains } : {}),
        ...(opts.warmup !== undefined ? { warmup: opts.warmup } : {}),
        targetAccept: opts.targetAccept ?? (builtIn ? BUILT_IN_TARGET_ACCEPT : 0.8),
        ...(opts.maxTargetAccept !== undefined ? { maxTargetAccept: opts.maxTargetAccept } : {}),
      },
      ...(opts.fixedIterations ? { stopWhenConverged: false } : {}),
      avb:
        opts.contrast ||
        opts.modelBatch ||
        opts.average !== undefined ||
        opts.pool !== undefined ||
        opts.affineRefit === false
          ? {
              ...(opts.contrast ? { contrast: opts.contrast } : {}),
              ...(opts.modelBatch ? { modelBatch: opts.modelBatch } : {}),
              ...(opts.average !== undefined ? { averageEta: opts.average } : {}),
              ...(opts.pool !== undefined ? { poolFraction: opts.pool } : {}),
              ...(opts.affineRefit === false ? { affineRefit: false } : {}),
            }
          : undefined,
    },
  };
}

/** Options a resumed run may be given: where it is and how to compute, not what to compute. */
const RESUME_ALLOWS = new Set(['out', 'resume', 'backend', 'threads', 'parallelChains', 'json']);

/** Checks a `--resume` and returns the run's config.json. */
function checkResume(spec: string, opts: InferCliOptions, cmd: Command): InferRunConfig {
  if (!opts.out) throw new AvbUserError('--resume continues the run in --out: give --out <dir>');
  if (opts.compare || opts.force)
    throw new AvbUserError(
      `--resume continues one method's run; it does not combine with --${opts.compare ? 'compare' : 'force'}`,
    );
  const set = cmd.options
    .map((o) => o.attributeName())
    .filter((k) => cmd.getOptionValueSource(k) === 'cli' && !RESUME_ALLOWS.has(k));
  if (set.length)
    throw new AvbUserError(
      `--resume continues with the run's own config.json; remove --${set.map(kebab).join(', --')}`,
    );
  const config = readInferConfig(opts.out);
  const want = modelOf(spec);
  if (config.model !== want)
    throw new AvbUserError(
      `${opts.out} is a run of ${config.model}, not ${spec}; give that model to resume it`,
    );
  return config;
}

/**
 * The model as config.json keeps it: a built-in name, or a module's absolute path (so the run
 * resumes from any folder). Anything else is kept for `loadModel` to refuse by name.
 */
function modelOf(spec: string): string {
  const isPath = !(spec in BUILT_IN_MODELS) && /[/\\]|\.(m?js|cjs)$/.test(spec);
  return isPath ? resolve(spec) : spec;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Prints a method's posterior summary (or the JSON). */
function report(
  summary: ReturnType<typeof methodSummary>,
  r: MethodResult,
  opts: InferCliOptions,
): void {
  for (const w of summary.warnings) process.stderr.write(`warning: ${r.method}: ${w}\n`);
  if (opts.json) {
    printJson(summary);
    return;
  }
  printTable(
    Object.entries(summary.posterior).map(([k, v]) => [
      k,
      `mean ${v.mean.toFixed(3)}  sd ${v.sd.toFixed(3)}  2.5% ${v.q2_5.toFixed(3)}  50% ${v.q50.toFixed(3)}  97.5% ${v.q97_5.toFixed(3)}` +
        (v.rhat !== undefined
          ? `  R-hat ${v.rhat.toFixed(4)}  ESS bulk ${v.ess!.toFixed(0)} tail ${v.essTail!.toFixed(0)}`
          : ''),
    ]),
  );
  if (r.divergences !== undefined) {
    const again = r.attempts?.length
      ? ` at target-accept ${r.targetAccept}, sampled again after ${r.attempts.map((a) => `${a.divergences} at ${a.targetAccept}`).join(' and ')}`
      : '';
    process.stdout.write(
      `divergences  ${r.divergences} of ${r.draws.values.length} draws${again}\n`,
    );
  }
  if (r.paretoK !== undefined)
    process.stdout.write(
      `Pareto k̂     ${r.paretoK.toFixed(2)} (q's fit to the posterior: < 0.5 good, > 0.7 not to be trusted)\n`,
    );
  if (r.affineRefit) process.stdout.write(`affine refit ${describeAffineRefit(r.affineRefit)}\n`);
  if (r.steinBeforeRefit)
    process.stdout.write(
      `Stein check  of the fit before the refit: ${describeStein(r.steinBeforeRefit)}\n`,
    );
  if (r.polish) process.stdout.write(`HMC polish   ${describePolish(r.polish)}\n`);
  if (r.stein)
    process.stdout.write(
      `Stein check  ${r.polish && !r.polish.skipped ? 'of the fit before the polish: ' : ''}${describeStein(r.stein)} (q against the posterior's moments that its draws and the model's gradient imply)\n`,
    );
}

/**
 * A Stein check's worst mean shift and sd ratio, or in words where it has none: q's draws on a
 * lower-dimensional set, or draws and gradients that imply no Gaussian-like posterior (a wall's
 * or accel_gp's far draws), which printed as "mean shift Infinity sd, sd ratio 0.00".
 */
function describeStein(st: SteinCheck): string {
  if (st.degenerate) return "none: q's draws have a singular covariance";
  if (!Number.isFinite(st.meanShift))
    return "none: q's draws and the model's gradient imply no posterior curved like a Gaussian around them";
  return `mean shift ${st.meanShift.toFixed(2)} sd (${st.meanName}), sd ratio ${st.sdRatio.toFixed(2)} (${st.sdName})`;
}

/** One line on what the HMC polish did to q's draws, and why it ran. */
function describePolish(p: PolishSummary): string {
  if (p.skipped) return `not run (${p.skipped}); the fit's checks failed: ${p.reason}`;
  const forgot =
    p.forgotAt !== undefined
      ? `the draws forgot q's after ${p.forgotAt}${p.converged ? '' : `; their moments still moving, ${p.drift.toFixed(2)} sd`}`
      : `the draws still remember q's (correlation ${p.memory.toFixed(2)})`;
  const moved = `means moved up to ${p.meanMoved.toFixed(2)} sd, sds × ${p.sdRatio.toFixed(2)} at most`;
  return `${p.iterations} transitions (${forgot}), step ${p.stepSize.toPrecision(2)}, acceptance ${p.acceptance.toFixed(2)}, ${p.divergent} of ${p.proposals} proposals divergent, ${moved}, ${p.seconds.toFixed(0)} s; ran because: ${p.reason}`;
}

/** One line on what AVB's affine refit did to q's draws. */
function describeAffineRefit(a: AffineRefitSummary): string {
  const moved = `means moved up to ${a.meanMoved.toFixed(2)} sd, sds × ${a.sdRatio.toFixed(2)} at most`;
  const end = a.converged ? 'Stein identities met' : 'stopped before Stein identities were met';
  return `${a.steps} step${a.steps === 1 ? '' : 's'}, exact ELBO +${a.gain.toFixed(3)} nats, ${moved} (${end})`;
}

/**
 * The progress bar of the method running (relabelled as --compare moves on), a new one for each
 * phase of its work after the fit (`avb-ac refit`, `avb-ac polish`).
 */
class InferProgress {
  private bar: TrainingProgress | undefined;
  private phase: string | undefined;
  constructor(private current: string) {}
  label(method: string): void {
    // A fit that stopped on convergence left its bar short of its total.
    this.stop();
    this.phase = undefined;
    this.current = method;
  }
  readonly callback = (done: number, total: number, figures?: string, phase?: string) => {
    if (phase !== this.phase) {
      this.stop();
      this.phase = phase;
    }
    if (!this.bar) {
      const label = phase ? `${this.current} ${phase}` : this.current;
      this.bar = new TrainingProgress(total, 15, label, phase);
      // The rate counts from the first report: a resumed run's first report is where it resumed,
      // and counting from 0 put the draws done before the interruption into a few milliseconds.
      this.bar.start(done);
    }
    this.bar.tick(done, figures);
    if (done >= total) this.stop();
  };
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
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
  if (o.modelBatch !== undefined && !uses((m) => m === 'avb' || m === 'avb-ac'))
    refuse('--model-batch', 'avb and avb-ac');
  if (o.average !== undefined && !uses((m) => m === 'avb' || m === 'avb-ac'))
    refuse('--average', 'avb and avb-ac');
  if (o.pool !== undefined && !uses((m) => m === 'avb' || m === 'avb-ac'))
    refuse('--pool', 'avb and avb-ac');
  if (o.affineRefit === false && !uses((m) => m === 'avb' || m === 'avb-ac'))
    refuse('--no-affine-refit', 'avb and avb-ac');
  // Averaged weights give the final q; pooled draws replace it, so the two do not combine.
  if (o.average !== undefined && o.pool !== 0)
    throw new AvbUserError(
      '--average applies to the final q, which --pool (default 0.5) replaces; add --pool 0 or remove --average',
    );
  if (o.fixedIterations && !uses((m) => m !== 'nuts')) refuse('--fixed-iterations', 'AVB and ADVI');
  if (o.polish !== undefined && !uses((m) => m !== 'nuts')) refuse('--polish', 'AVB and ADVI');
  for (const [flag, v] of [
    ['--chains', o.chains],
    ['--parallel-chains', o.parallelChains],
    ['--warmup', o.warmup],
    ['--target-accept', o.targetAccept],
    ['--max-target-accept', o.maxTargetAccept],
  ] as const) {
    if (v !== undefined && !uses((m) => m === 'nuts')) refuse(flag, 'nuts');
  }
  for (const [flag, v] of [
    ['--target-accept', o.targetAccept],
    ['--max-target-accept', o.maxTargetAccept],
  ] as const)
    if (v !== undefined && !(v < 1)) throw new AvbUserError(`${flag} must be in (0, 1), got ${v}`);
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
  for (const [method, s] of Object.entries(summary.methods))
    for (const w of s.warnings) process.stderr.write(`warning: ${method}: ${w}\n`);
  writeOutputFolder(opts.out!, files, protect);
  if (opts.json) printJson(summary);
  else
    process.stdout.write(
      `${table}\nwritten to ${opts.out}: summary.json, table.md, samples.png, draws-<method>.csv\n`,
    );
}

/** The user's model module, which `--force` must never delete (built-in models have no file). */
function modelFiles(spec: string, data: string | undefined): string[] {
  return [...(spec in BUILT_IN_MODELS ? [] : [spec]), ...(data !== undefined ? [data] : [])];
}
