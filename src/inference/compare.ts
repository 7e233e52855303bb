import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AvbUserError } from '../errors.js';
import { Rng } from '../random/rng.js';
import { scatterPng, hconcatPng } from '../viz/scatterPng.js';
import { eightSchoolsClassic, eightSchoolsPaper } from './eightSchoolsModel.js';
import { knnKl } from './knnKl.js';
import type { BayesianModel, Draws } from './model.js';
import { DEFAULT_NUTS, nuts } from './nuts.js';
import type { NutsOptions } from './nuts.js';
import { advi, avbInference, DEFAULT_ADVI, DEFAULT_AVB_INFERENCE } from './variational.js';
import type { VariationalOptions } from './variational.js';

export const INFERENCE_METHODS = [
  'avb',
  'avb-ac',
  'advi-meanfield',
  'advi-fullrank',
  'nuts',
] as const;
export type InferenceMethod = (typeof INFERENCE_METHODS)[number];
export const EIGHT_SCHOOLS_MODELS = ['paper', 'classic'] as const;

export function eightSchoolsModel(name: string): BayesianModel {
  if (name === 'paper') return eightSchoolsPaper();
  if (name === 'classic') return eightSchoolsClassic();
  throw new AvbUserError(`unknown eight-schools model '${name}'; use paper or classic`);
}

export interface InferOptions {
  samples: number;
  seed: number;
  /** Overrides for quick runs (tests); defaults are the paper's settings. */
  iterations?: number;
  nuts?: Partial<NutsOptions>;
  onProgress?: (message: string) => void;
}

export interface MethodResult {
  method: InferenceMethod;
  draws: Draws;
  seconds: number;
  rhat?: number[];
  ess?: number[];
  divergences?: number;
}

/** Runs one inference method on a model; returns its draws of the reported quantities. */
export async function runInference(
  model: BayesianModel,
  method: InferenceMethod,
  o: InferOptions,
): Promise<MethodResult> {
  const rng = new Rng(o.seed);
  const it = (base: VariationalOptions): VariationalOptions => ({
    ...base,
    iterations: o.iterations ?? base.iterations,
  });
  switch (method) {
    case 'nuts': {
      const opts = { ...DEFAULT_NUTS, ...o.nuts };
      opts.samples = o.nuts?.samples ?? Math.ceil(o.samples / opts.chains);
      const r = await nuts(model, opts, rng, (done, total) =>
        o.onProgress?.(`nuts ${done}/${total}`),
      );
      return {
        method,
        draws: r.draws,
        seconds: r.seconds,
        rhat: r.rhat,
        ess: r.ess,
        divergences: r.divergences,
      };
    }
    case 'advi-meanfield':
    case 'advi-fullrank': {
      const r = await advi(
        model,
        method === 'advi-meanfield' ? 'meanfield' : 'fullrank',
        it(DEFAULT_ADVI),
        rng,
        o.samples,
      );
      return { method, draws: r.draws, seconds: r.seconds };
    }
    case 'avb':
    case 'avb-ac': {
      const r = await avbInference(
        model,
        {
          ...DEFAULT_AVB_INFERENCE,
          contrast: method === 'avb-ac' ? 'diagonal' : 'none',
          iterations: o.iterations ?? DEFAULT_AVB_INFERENCE.iterations,
        },
        rng,
        o.samples,
      );
      return { method, draws: r.draws, seconds: r.seconds };
    }
  }
}

/** Posterior mean, sd and quantiles (2.5, 25, 50, 75, 97.5 %) per reported quantity. */
export function posteriorSummary(r: MethodResult): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  r.draws.names.forEach((name, k) => {
    const v = r.draws.values.map((row) => row[k]).sort((a, b) => a - b);
    const n = v.length;
    const mean = v.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    const q = (p: number) => v[Math.min(n - 1, Math.max(0, Math.round(p * (n - 1))))];
    out[name] = {
      mean,
      sd,
      q2_5: q(0.025),
      q25: q(0.25),
      q50: q(0.5),
      q75: q(0.75),
      q97_5: q(0.975),
    };
    if (r.rhat) out[name].rhat = r.rhat[k];
    if (r.ess) out[name].ess = r.ess[k];
  });
  return out;
}

/** The marginals compared with NUTS, as in the paper's Table 1. */
export const COMPARED_MARGINALS: { label: string; columns: string[] }[] = [
  { label: 'mu', columns: ['mu'] },
  { label: 'tau', columns: ['tau'] },
  { label: 'theta_1', columns: ['theta_1'] },
  { label: '(mu, tau)', columns: ['mu', 'tau'] },
];

function columns(d: Draws, cols: string[], max: number): number[][] {
  const idx = cols.map((c) => d.names.indexOf(c));
  const step = Math.max(1, Math.floor(d.values.length / max));
  const out: number[][] = [];
  for (let i = 0; i < d.values.length && out.length < max; i += step)
    out.push(idx.map((k) => d.values[i][k]));
  return out;
}

/**
 * Runs every method on `model`, estimates KL(method || NUTS) per marginal with the kNN estimator,
 * and writes `summary.json`, `table.md` and `samples.png` (panels of (mu, tau) samples, in the
 * order of {@link INFERENCE_METHODS}) into `out`.
 */
export async function compareMethods(model: BayesianModel, out: string, o: InferOptions) {
  const results: MethodResult[] = [];
  for (const method of INFERENCE_METHODS) {
    o.onProgress?.(`running ${method}`);
    results.push(await runInference(model, method, o));
  }
  const reference = results.find((r) => r.method === 'nuts')!;
  const maxPoints = 2000;
  const kl: Record<string, Record<string, number>> = {};
  for (const r of results.filter((x) => x.method !== 'nuts')) {
    kl[r.method] = {};
    for (const m of COMPARED_MARGINALS) {
      kl[r.method][m.label] = knnKl(
        columns(r.draws, m.columns, maxPoints),
        columns(reference.draws, m.columns, maxPoints),
      );
    }
  }
  const header = `| method | ${COMPARED_MARGINALS.map((m) => `KL ${m.label}`).join(' | ')} |`;
  const sep = `| --- | ${COMPARED_MARGINALS.map(() => '---').join(' | ')} |`;
  const rows = Object.entries(kl).map(
    ([meth, v]) =>
      `| ${meth} | ${COMPARED_MARGINALS.map((m) => v[m.label].toFixed(3)).join(' | ')} |`,
  );
  const table = [
    `KL divergence to NUTS (kNN estimate, k = 5, ${maxPoints} draws each), model ${model.name}`,
    '',
    header,
    sep,
    ...rows,
    '',
  ].join('\n');
  const muTau = results.map((r) =>
    Float32Array.from(columns(r.draws, ['mu', 'tau'], maxPoints).flat()),
  );
  const range = Math.max(...muTau.map((v) => quantileAbs(v, 0.99)));
  const png = hconcatPng(muTau.map((v) => scatterPng([v], { range, size: 320, circle: 0 })));
  const summary = {
    model: model.name,
    methods: Object.fromEntries(
      results.map((r) => [
        r.method,
        { seconds: r.seconds, divergences: r.divergences, posterior: posteriorSummary(r) },
      ]),
    ),
    klToNuts: kl,
    samplesPng: 'samples.png',
    panels: INFERENCE_METHODS,
  };
  mkdirSync(out, { recursive: true }); // written only now, after every method succeeded
  writeFileSync(join(out, 'samples.png'), png);
  writeFileSync(join(out, 'table.md'), table);
  writeFileSync(join(out, 'summary.json.tmp'), JSON.stringify(summary, null, 2) + '\n');
  renameSync(join(out, 'summary.json.tmp'), join(out, 'summary.json'));
  return { summary, table };
}

function quantileAbs(v: Float32Array, p: number): number {
  const a = Array.from(v, Math.abs).sort((x, y) => x - y);
  return a[Math.floor(p * (a.length - 1))] * 1.05;
}
