import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { AvbUserError } from '../../errors.js';
import { INFERENCE_METHODS, METHOD_TITLES } from '../../inference/compare.js';
import type { InferenceMethod } from '../../inference/compare.js';
import { declareModel } from '../../inference/declaredModel.js';
import { readJsonData } from '../../io/jsonData.js';
import { stanModel } from '../../stan/stanModel.js';
import { writeFileAtomic, writeJsonAtomic } from '../../io/atomicFile.js';
import { marginalAccuracy, worstAccuracy } from '../../math/marginalAccuracy.js';
import { markdownTable } from '../../report/report.js';
import type { ReportDoc } from '../../report/report.js';
import { VERSION } from '../../version.js';
import { plotPng } from '../../viz/plotPng.js';
import type { TopLevelSpec } from 'vega-lite';
import { INFER_FILES } from '../inferRun.js';
import {
  listPosteriors,
  readReferenceDraws,
  VENDORED_POSTERIORDB,
  VENDORED_TRANSLATIONS,
} from '../posteriordb.js';
import type { PosteriorEntry } from '../posteriordb.js';
import { COMMON_BUDGETS, commonBudget } from './common.js';
import type { CommonBudget, Reproduction, ReproduceContext, RunFacts } from './common.js';
import { formatDuration, logFile, num, provenance, readJson } from './common.js';
import type { Job } from './jobQueue.js';

/** The methods run by default: the reference sampler, both ADVIs and AVB+AC. */
export const POSTERIORDB_METHODS: InferenceMethod[] = [
  'nuts',
  'advi-meanfield',
  'advi-fullrank',
  'avb-ac',
];

/** Seeds per budget: quick one, standard and full three (full adds plain AVB). */
const SEEDS: Record<CommonBudget, number[]> = { quick: [1], standard: [1, 2, 3], full: [1, 2, 3] };

/** What a fit must meet to count as right (issue #24's floor). */
export const ACCURACY_FLOOR = { meanError: 0.1, sdRatio: [0.9, 1.1] as const };

/** The settings of a posteriordb run, from `avb reproduce posteriordb`'s options. */
export interface PosteriordbSettings {
  /** A posteriordb clone or a folder of posterior folders (default: avb's vendored eight). */
  path: string;
  /** The model translations, `<models>/<model_name>.mjs`. */
  models: string;
  posteriors?: string[];
  methods: InferenceMethod[];
  seeds: number[];
  /** Stan programs' hierarchical normals sampled non-centred (default) or as written (`--centred`). */
  noncentre: boolean;
}

/** The settings of a reproduction context (its `options` are the CLI's strings). */
export function posteriordbSettings(ctx: ReproduceContext): PosteriordbSettings {
  const o = ctx.options ?? {};
  const list = (v: string | undefined) =>
    v
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const methods = (list(o.methods) ??
    (ctx.budget === 'full'
      ? [...POSTERIORDB_METHODS, 'avb']
      : POSTERIORDB_METHODS)) as InferenceMethod[];
  for (const m of methods)
    if (!(INFERENCE_METHODS as readonly string[]).includes(m))
      throw new AvbUserError(
        `--methods: unknown method '${m}'; use some of ${INFERENCE_METHODS.join(', ')}`,
      );
  const seeds = list(o.seeds)?.map(Number) ?? SEEDS[commonBudget(ctx)].map((s) => s + ctx.seed - 1);
  if (seeds.some((s) => !Number.isSafeInteger(s) || s < 0))
    throw new AvbUserError(`--seeds: give non-negative integers such as 1,2,3, not ${o.seeds}`);
  return {
    path: resolve(o.path ?? VENDORED_POSTERIORDB),
    models: resolve(o.models ?? VENDORED_TRANSLATIONS),
    posteriors: list(o.posteriors),
    methods,
    seeds,
    noncentre: o.centred !== 'true',
  };
}

/** The posteriors to run: chosen (all by default), with a translation and reference draws. */
export function plannedPosteriors(s: PosteriordbSettings): {
  run: PosteriorEntry[];
  skipped: { name: string; why: string }[];
} {
  const all = listPosteriors(s.path);
  const names = new Set(all.map((p) => p.name));
  for (const n of s.posteriors ?? [])
    if (!names.has(n))
      throw new AvbUserError(
        `--posteriors: ${s.path} has no posterior '${n}'; it has ${[...names].slice(0, 12).join(', ')}${names.size > 12 ? ', ...' : ''}`,
      );
  const chosen = s.posteriors ? all.filter((p) => s.posteriors!.includes(p.name)) : all;
  const run: PosteriorEntry[] = [];
  const skipped: { name: string; why: string }[] = [];
  for (const p of chosen) {
    if (!p.referenceFile) {
      skipped.push({ name: p.name, why: 'no reference draws in posteriordb' });
      continue;
    }
    const model = translationOf(s, p);
    const why = !existsSync(model)
      ? `no translation of model ${p.modelName} and no Stan program (write ${join(s.models, `${p.modelName}.mjs`)})`
      : model.endsWith('.stan')
        ? stanProblem(model, p.dataFile, s.noncentre)
        : undefined;
    if (why) skipped.push({ name: p.name, why });
    else run.push(p);
  }
  if (run.length === 0)
    throw new AvbUserError(
      `none of the posteriors chosen can run (${skipped.map((x) => `${x.name}: ${x.why}`).join('; ')})`,
    );
  return { run, skipped };
}

/** The model a posterior runs: its hand translation if there is one, else its Stan program. */
function translationOf(s: PosteriordbSettings, p: PosteriorEntry): string {
  const translation = join(s.models, `${p.modelName}.mjs`);
  return existsSync(translation) || !existsSync(p.stanFile) ? translation : p.stanFile;
}

/**
 * Why avb cannot run the Stan program `file` on its data (a feature it does not run yet, data
 * that do not fit the program), or undefined: the program is read and its log density and
 * gradient evaluated once at the origin of the unconstrained space, as a fit starts.
 */
function stanProblem(file: string, dataFile: string, noncentre: boolean): string | undefined {
  try {
    const m = declareModel(
      stanModel(readFileSync(file, 'utf8'), file, readJsonData(dataFile, 'data'), { noncentre }),
    );
    m.logDensityAndGradient!(new Float64Array(m.dim));
    return undefined;
  } catch (e) {
    return `its Stan program is not runnable by avb: ${(e as Error).message.split('\n')[0]}`;
  }
}

function fitDir(ctx: ReproduceContext, posterior: string, method: string, seed: number): string {
  return join(ctx.out, 'fits', posterior, `${method}-seed${seed}`);
}

/**
 * posteriordb as avb's test suite: every method on every posterior that has reference draws
 * and a translation, on several seeds, each an `avb infer` run; the report gives per posterior
 * and method the worst standardised mean error, the worst sd ratio and the worst marginal
 * Wasserstein distance against the reference, with time, density evaluations and warnings.
 */
/**
 * Methods from the usually most to the least expensive per fit: AVB's networks, then NUTS (the
 * GP's 3-minute fits), then ADVI (seconds on most posteriors). A method not ranked goes between.
 */
function byCost(methods: readonly string[]): string[] {
  const rank = ['avb', 'avb-ac', 'nuts', 'advi-fullrank', 'advi-meanfield'];
  const of = (m: string) => (rank.includes(m) ? rank.indexOf(m) : 2.5);
  return [...methods].sort((a, b) => of(a) - of(b));
}

export const posteriordbReproduction: Reproduction = {
  budgets: COMMON_BUDGETS,
  validate(ctx) {
    plannedPosteriors(posteriordbSettings(ctx));
  },

  jobs(ctx) {
    const s = posteriordbSettings(ctx);
    const { run } = plannedPosteriors(s);
    const jobs: Job[] = [];
    // Expensive fits first, short ones last, so that the processes end together (the longest
    // job first is the classic rule for a queue on several cores): in the last run the suite's
    // final 83 s had one core idle behind AVB+AC, which had run last.
    for (const method of byCost(s.methods))
      for (const p of run)
        for (const seed of s.seeds) {
          const dir = fitDir(ctx, p.name, method, seed);
          if (existsSync(join(dir, INFER_FILES.summary))) continue;
          const model = translationOf(s, p);
          const id = `${p.name} ${method} seed ${seed}`;
          const log = logFile(ctx, `${p.name}-${method}-seed${seed}`);
          // The queue shares the cores between fits (coreSplit.ts): NUTS runs as many chains at
          // once as its fit has threads.
          const nutsChains = method === 'nuts' ? ['--parallel-chains', String(ctx.threads)] : [];
          if (existsSync(join(dir, INFER_FILES.checkpoint))) {
            jobs.push({ id, log, args: ['infer', model, '--out', dir, '--resume', ...nutsChains] });
            continue;
          }
          jobs.push({
            id,
            log,
            args: [
              'infer',
              model,
              '--data',
              p.dataFile,
              '--method',
              method,
              '--seed',
              String(seed),
              '--out',
              dir,
              '--force',
              ...nutsChains,
              ...(!s.noncentre && model.endsWith('.stan') ? ['--centred'] : []),
              ...(ctx.steps !== undefined && method !== 'nuts'
                ? ['--iterations', String(ctx.steps)]
                : []),
            ],
          });
        }
    return jobs;
  },

  async report(ctx: ReproduceContext, facts: RunFacts): Promise<ReportDoc> {
    const s = posteriordbSettings(ctx);
    const { run, skipped } = plannedPosteriors(s);
    const results: FitResult[] = [];
    const noise: ReferenceNoise[] = [];
    for (const p of run) {
      const reference = readReferenceDraws(p.referenceFile!);
      noise.push(referenceHalves(p.name, reference));
      for (const method of s.methods)
        for (const seed of s.seeds)
          results.push(fitResult(fitDir(ctx, p.name, method, seed), p, method, seed, reference));
    }
    writeJsonAtomic(join(ctx.out, 'posteriordb.json'), {
      settings: s,
      skipped,
      referenceHalves: noise,
      fits: results,
    });
    const rows = run.flatMap((p) =>
      s.methods.map((m) => rowOf(results.filter((r) => r.posterior === p.name && r.method === m))),
    );
    writeFileAtomic(join(ctx.out, HEATMAP), await plotPng(heatmapSpec(rows, noise)));
    const unflagged = rows.filter((r) => r.verdict === 'MISS, unflagged');
    const fromStan = run.filter((p) => translationOf(s, p).endsWith('.stan')).map((p) => p.name);
    return {
      title: 'posteriordb: every method against the reference posteriors',
      lead:
        `${run.length} posteriors × ${s.methods.length} methods × ${s.seeds.length} seed${s.seeds.length > 1 ? 's' : ''}, each fit compared with posteriordb's reference draws (Stan NUTS, 10,000 draws) marginal by marginal, in reference sds. ` +
        `${rows.filter((r) => r.verdict === 'ok').length} of ${rows.length} posterior × method pairs are within the floor on every seed (mean error ≤ ${ACCURACY_FLOOR.meanError}, sd ratio in [${ACCURACY_FLOOR.sdRatio.join(', ')}]); ` +
        (unflagged.length
          ? `${unflagged.length} miss without a warning: ${unflagged.map((r) => `${r.method} on ${r.posterior}`).join(', ')}.`
          : 'every fit that misses carries a warning.') +
        ` ${warnedThoughRight(results, s.methods)}`,
      results: {
        header: [
          'posterior',
          'method',
          'worst mean error (sd)',
          'worst sd ratio',
          'worst W₁ (sd)',
          'time',
          'density evaluations',
          'warnings',
          'polished',
          'verdict',
        ],
        rows: rows.map((r) => [
          r.posterior,
          METHOD_TITLES[r.method],
          num(r.meanError, 3),
          num(r.sdRatio, 3),
          num(r.wasserstein, 3),
          formatDuration(r.seconds),
          r.evaluations !== undefined ? r.evaluations.toLocaleString('en-GB') : '—',
          String(r.warnings),
          `${r.polished} of ${s.seeds.length}`,
          r.verdict,
        ]),
      },
      notes: [...reportNotes(s, ctx, skipped, fromStan), ...programNotes(results)],
      figures: [
        {
          file: HEATMAP,
          title: 'Worst marginal distance per posterior and method',
          caption: `Colour: the worst 1-D Wasserstein distance to the reference over the posterior’s quantities and the seeds, in reference sds (log scale; two independent samples of 4,000 and 10,000 draws from the same normal are 0.025 apart on average, rarely over 0.05; correlated MCMC draws more). The first column, ${HALVES}, is the reference against itself: the noise level of the others. A cross marks a miss with no warning.`,
        },
      ],
      sections: [{ heading: 'How far the reference is from itself', body: noiseSection(noise) }],
      provenance: provenance(ctx, facts, VERSION),
    };
  },
};

/** The notes under the posteriordb table: how to read it, the settings, what was not run. */
function reportNotes(
  s: PosteriordbSettings,
  ctx: ReproduceContext,
  skipped: { name: string; why: string }[],
  fromStan: string[],
): string[] {
  return [
    'Each figure is the worst over the posterior’s reported quantities (those in the reference: parameters and transformed parameters, Stan’s names) and over the seeds; time and density evaluations (each row of a batch, gradient included) are means over the seeds. W₁ is the 1-D Wasserstein distance between the fit’s and the reference’s marginal, in reference sds.',
    'Polished: the seeds whose fit failed its own checks, so that HMC moved its draws to the posterior, one chain per draw, until they had forgotten q (avb infer --polish; AVB’s default, never ADVI’s); their figures are the polished draws’, their warnings the polish’s, and the fit’s own checks are in its summary.json.',
    'Verdict: ok (within the floor on every seed), miss, flagged (outside it, and every fit outside it printed a warning: Pareto k̂, the Stein or importance check of its means and sds, ELBO not converged or q still moving, divergences, R-hat, ESS) or MISS, unflagged (a fit outside the floor with no warning: avb was silently wrong).',
    `Settings: each method's defaults (avb infer), seeds ${s.seeds.join(', ')}${ctx.steps ? `, --iterations ${ctx.steps}` : ''}; posteriors from ${s.path}, translations from ${s.models}. Every fit's draws and summary are in fits/<posterior>/<method>-seed<n>/, all figures in posteriordb.json.`,
    ...(fromStan.length
      ? [
          `Run from their own Stan programs through avb's interpreter (no translation in ${s.models}): ${fromStan.join(', ')}.`,
        ]
      : []),
    ...(skipped.length
      ? [`Not run: ${skipped.map((x) => `${x.name} (${x.why})`).join('; ')}.`]
      : []),
  ];
}

/**
 * What avb changed in how it samples each posterior's program, from its fits' notes (the same
 * for every method and seed, but a method's own): supports implied by the model block,
 * hierarchies sampled non-centred, a density not finite at z = 0.
 */
function programNotes(results: FitResult[]): string[] {
  const by = new Map<string, Set<string>>();
  for (const r of results) {
    const notes = by.get(r.posterior) ?? new Set<string>();
    for (const n of r.notes) notes.add(n);
    by.set(r.posterior, notes);
  }
  const said = [...by].filter(([, notes]) => notes.size > 0);
  return said.length
    ? [
        `How avb sampled these programs where that differs from how they are written (each fit's summary.json, notes): ${said.map(([p, notes]) => `${p}: ${[...notes].join('; ')}`).join('. ')}.`,
      ]
    : [];
}

const HEATMAP = 'posteriordb-heatmap.png';
const HALVES = 'reference, half against half';

/** The reference's two halves compared as a fit is with the whole: the figures' noise level. */
interface ReferenceNoise {
  posterior: string;
  meanError: number;
  sdRatio: number;
  wasserstein: number;
}

/**
 * The first half of the reference draws (posteriordb's chains 1–5 of 10) against the second,
 * worst over the quantities: what the same sampler's independent runs differ by, so that two
 * methods whose distances to the reference differ by less are not told apart by it.
 */
function referenceHalves(posterior: string, reference: Record<string, number[]>): ReferenceNoise {
  const names = Object.keys(reference);
  const half = (first: boolean) =>
    Object.fromEntries(
      names.map((n) => {
        const v = reference[n];
        const h = Math.floor(v.length / 2);
        return [n, first ? v.slice(0, h) : v.slice(h)];
      }),
    );
  const w = worstAccuracy(marginalAccuracy(half(true), half(false), names));
  return { posterior, meanError: w.meanError, sdRatio: w.sdRatio, wasserstein: w.wasserstein };
}

function noiseSection(noise: ReferenceNoise[]): string {
  const table = markdownTable({
    header: ['posterior', 'worst mean error (sd)', 'worst sd ratio', 'worst W₁ (sd)'],
    rows: noise.map((x) => [
      x.posterior,
      num(x.meanError, 3),
      num(x.sdRatio, 3),
      num(x.wasserstein, 3),
    ]),
  });
  return [
    'The reference’s first half of draws (chains 1–5 of posteriordb’s 10) against its second, measured as a fit is against the whole reference: two runs of the same long NUTS differ by this much. A method whose figures are near these is as close as the reference can tell, and two methods whose W₁ differ by less than it are not told apart by this suite (a fit’s 4,000 draws against 10,000 are about as noisy as 5,000 against 5,000).',
    table,
  ].join('\n\n');
}

/** One fit compared with the reference. */
interface FitResult {
  posterior: string;
  method: InferenceMethod;
  seed: number;
  meanError: number;
  sdRatio: number;
  wasserstein: number;
  worstQuantity: string;
  seconds: number;
  evaluations?: number;
  warnings: string[];
  /** Whether HMC polished the fit's draws (`avb infer --polish`). */
  polished: boolean;
  /** Reference quantities the translation does not report (should be none). */
  missing: string[];
  /** How avb sampled the program where that differs from how it is written (`summary.json`). */
  notes: string[];
}

interface FitSummary {
  seconds: number;
  evaluations?: number;
  warnings?: string[];
  notes?: string[];
  polish?: { skipped?: string };
}

function fitResult(
  dir: string,
  p: PosteriorEntry,
  method: InferenceMethod,
  seed: number,
  reference: Record<string, number[]>,
): FitResult {
  const summaryFile = join(dir, INFER_FILES.summary);
  const summary = readJson<FitSummary>(summaryFile);
  if (!summary) throw new Error(`reproduce: ${summaryFile} is missing after inference`);
  const draws = readDrawsCsv(join(dir, INFER_FILES.draws));
  const names = Object.keys(reference).filter((n) => n in draws);
  const worst = worstAccuracy(marginalAccuracy(draws, reference, names));
  return {
    posterior: p.name,
    method,
    seed,
    meanError: worst.meanError,
    sdRatio: worst.sdRatio,
    wasserstein: worst.wasserstein,
    worstQuantity: worst.worstMeanName,
    seconds: summary.seconds,
    evaluations: summary.evaluations,
    warnings: summary.warnings ?? [],
    polished: summary.polish !== undefined && !summary.polish.skipped,
    missing: Object.keys(reference).filter((n) => !(n in draws)),
    notes: summary.notes ?? [],
  };
}

/** `draws.csv` (chain, draw, quantities) by column name. */
export function readDrawsCsv(file: string): Record<string, number[]> {
  // Quoted names (a matrix's `Sigma[1,2]`) hold commas: a CSV parser, not a split.
  let rows: string[][];
  try {
    rows = parse(readFileSync(file, 'utf8')) as string[][];
  } catch (e) {
    throw new AvbUserError(
      `${file} is not a draws file avb can read (${(e as Error).message.split('\n')[0]}); delete its fit folder and run the command again`,
    );
  }
  const header = rows[0];
  const columns: number[][] = header.map(() => []);
  for (let i = 1; i < rows.length; i++)
    for (let j = 0; j < header.length; j++) columns[j].push(Number(rows[i][j]));
  return Object.fromEntries(header.map((h, j) => [h, columns[j]]));
}

type Verdict = 'ok' | 'miss, flagged' | 'MISS, unflagged';

interface Row {
  posterior: string;
  method: InferenceMethod;
  meanError: number;
  sdRatio: number;
  wasserstein: number;
  seconds: number;
  evaluations?: number;
  warnings: number;
  /** Seeds whose draws HMC polished. */
  polished: number;
  verdict: Verdict;
}

function withinFloor(r: FitResult): boolean {
  const [lo, hi] = ACCURACY_FLOOR.sdRatio;
  return r.meanError <= ACCURACY_FLOOR.meanError && r.sdRatio >= lo && r.sdRatio <= hi;
}

/**
 * How many fits within the floor carried a warning all the same, per method: the diagnostics'
 * false alarms, which a warning that is right about a failed check can still be.
 */
function warnedThoughRight(results: FitResult[], methods: InferenceMethod[]): string {
  const right = results.filter(withinFloor);
  const warned = (fits: FitResult[]) => fits.filter((f) => f.warnings.length > 0).length;
  const perMethod = methods
    .map((m) => ({ m, fits: right.filter((f) => f.method === m) }))
    .filter((x) => x.fits.length > 0)
    .map((x) => `${METHOD_TITLES[x.m]} ${warned(x.fits)} of ${x.fits.length}`);
  return `Of the ${right.length} fits within the floor, ${warned(right)} carry a warning all the same (${perMethod.join(', ')}): a warning says a check failed, not that the fit is wrong.`;
}

/** One posterior × method over its seeds: the worst figures, the mean cost, the verdict. */
function rowOf(fits: FitResult[]): Row {
  const misses = fits.filter((f) => !withinFloor(f));
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const ratio = fits
    .map((f) => f.sdRatio)
    .reduce((a, b) => (Math.abs(Math.log(b)) > Math.abs(Math.log(a)) ? b : a), 1);
  return {
    posterior: fits[0].posterior,
    method: fits[0].method,
    meanError: Math.max(...fits.map((f) => f.meanError)),
    sdRatio: ratio,
    wasserstein: Math.max(...fits.map((f) => f.wasserstein)),
    seconds: mean(fits.map((f) => f.seconds)),
    evaluations: fits.every((f) => f.evaluations !== undefined)
      ? Math.round(mean(fits.map((f) => f.evaluations!)))
      : undefined,
    warnings: fits.reduce((a, f) => a + f.warnings.length, 0),
    polished: fits.filter((f) => f.polished).length,
    verdict:
      misses.length === 0
        ? 'ok'
        : misses.every((f) => f.warnings.length > 0)
          ? 'miss, flagged'
          : 'MISS, unflagged',
  };
}

/** The heat map: posteriors down, methods across, colour the worst W₁ (log scale). */
function heatmapSpec(rows: Row[], noise: ReferenceNoise[]): TopLevelSpec {
  const cell = (posterior: string, method: string, w: number, label: string) => ({
    posterior,
    method,
    w1: Math.max(w, 1e-3),
    label,
  });
  const values = [
    ...noise.map((x) => cell(x.posterior, HALVES, x.wasserstein, num(x.wasserstein, 2))),
    ...rows.map((r) =>
      cell(
        r.posterior,
        METHOD_TITLES[r.method],
        r.wasserstein,
        `${num(r.wasserstein, 2)}${r.verdict === 'MISS, unflagged' ? ' ✗' : ''}`,
      ),
    ),
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values },
    width: { step: 170 },
    height: { step: 28 },
    encoding: {
      // Full names: posteriordb's are long, and a truncated one is no name.
      x: {
        field: 'method',
        type: 'nominal',
        sort: null,
        title: null,
        axis: { labelAngle: 0, labelLimit: 0 },
      },
      y: { field: 'posterior', type: 'nominal', sort: null, title: null, axis: { labelLimit: 0 } },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'w1',
            type: 'quantitative',
            scale: { type: 'log', domain: [0.01, 3], clamp: true, scheme: 'orangered' },
            title: 'worst W₁ (sd)',
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'label', type: 'nominal' },
          // White on the dark end of the scale, black elsewhere.
          color: { condition: { test: 'datum.w1 > 0.5', value: 'white' }, value: 'black' },
        },
      },
    ],
  } as unknown as TopLevelSpec;
}
