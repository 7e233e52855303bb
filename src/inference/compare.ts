import { Rng } from '../random/rng.js';
import type { TopLevelSpec } from 'vega-lite';
import { plotPng } from '../viz/plotPng.js';
import { knnKl } from './knnKl.js';
import type { BayesianModel, Draws } from './model.js';
import { nuts } from './nuts.js';
import type { NutsOptions } from './nuts.js';
import { advi, avbInference } from './variational.js';
import type { AvbInferenceOptions, InferenceProgress } from './variational.js';

export const INFERENCE_METHODS = [
  'avb',
  'avb-ac',
  'advi-meanfield',
  'advi-fullrank',
  'nuts',
] as const;
export type InferenceMethod = (typeof INFERENCE_METHODS)[number];

export interface InferOptions {
  /** Draws to return (NUTS: split over its chains). */
  samples: number;
  seed: number;
  /** Iterations of AVB and ADVI (their defaults: 10,000). */
  iterations?: number;
  nuts?: Partial<NutsOptions>;
  /** AVB settings beyond the method's defaults (learning rates, contrast, ...). */
  avb?: Partial<AvbInferenceOptions>;
  onProgress?: InferenceProgress;
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
  const common = {
    samples: o.samples,
    seed: o.seed,
    onProgress: o.onProgress,
    ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
  };
  switch (method) {
    case 'nuts': {
      const chains = o.nuts?.chains ?? 4;
      const r = await nuts(model, {
        seed: o.seed,
        onProgress: o.onProgress,
        samples: Math.ceil(o.samples / chains),
        ...o.nuts,
      });
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
      const kind = method === 'advi-meanfield' ? 'meanfield' : 'fullrank';
      const r = await advi(model, { ...common, kind });
      return { method, draws: r.draws, seconds: r.seconds };
    }
    case 'avb':
    case 'avb-ac': {
      const r = await avbInference(model, {
        ...(method === 'avb' ? { contrast: 'none' as const } : {}),
        ...common,
        ...o.avb,
      });
      return { method, draws: r.draws, seconds: r.seconds };
    }
  }
}

export interface QuantitySummary {
  mean: number;
  sd: number;
  q2_5: number;
  q25: number;
  q50: number;
  q75: number;
  q97_5: number;
  /** MCMC only: split R-hat and bulk effective sample size. */
  rhat?: number;
  ess?: number;
}

/** Posterior mean, sd and quantiles (2.5, 25, 50, 75, 97.5 %) per reported quantity. */
export function posteriorSummary(r: MethodResult): Record<string, QuantitySummary> {
  const out: Record<string, QuantitySummary> = {};
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

/** A method's result as `summary.json` holds it. */
export function methodSummary(model: BayesianModel, r: MethodResult) {
  return {
    model: model.name,
    method: r.method,
    seconds: r.seconds,
    draws: r.draws.values.length,
    ...(r.divergences !== undefined ? { divergences: r.divergences } : {}),
    posterior: posteriorSummary(r),
  };
}

/** The marginals compared with NUTS, as in the paper's Table 1. */
export const COMPARED_MARGINALS: { label: string; columns: string[] }[] = [
  { label: 'mu', columns: ['mu'] },
  { label: 'tau', columns: ['tau'] },
  { label: 'theta_1', columns: ['theta_1'] },
  { label: '(mu, tau)', columns: ['mu', 'tau'] },
];

/** At most `max` draws of the named columns, evenly spaced. */
export function columns(d: Draws, cols: string[], max: number): number[][] {
  const idx = cols.map((c) => d.names.indexOf(c));
  const step = Math.max(1, Math.floor(d.values.length / max));
  const out: number[][] = [];
  for (let i = 0; i < d.values.length && out.length < max; i += step)
    out.push(idx.map((k) => d.values[i][k]));
  return out;
}

/**
 * MCMC draws made symmetric under the model's exact symmetry (`model.mirror`): each draw is
 * mirrored with probability 1/2. Chains of a posterior with mirror modes need not cross between
 * them; the symmetric posterior is then the right reference.
 */
export function symmetrised(model: BayesianModel, d: Draws, seed: number): Draws {
  if (!model.mirror) return d;
  const rng = new Rng(seed);
  return { ...d, values: d.values.map((v) => (rng.uniform() < 0.5 ? model.mirror!(v) : v)) };
}

/** Draws per method used by the KL estimates and the figure. */
export const COMPARED_DRAWS = 2000;
/** NUTS draws of the reference in a comparison (thinned to {@link COMPARED_DRAWS} for the KL). */
export const REFERENCE_DRAWS = 40000;

export interface Comparison {
  results: MethodResult[];
  /** KL(method || NUTS) per compared marginal. */
  klToNuts: Record<string, Record<string, number>>;
  /** Markdown: the KL table with how it was computed. */
  table: string;
  /** PNG: one panel of (mu, tau) draws per method, in {@link INFERENCE_METHODS} order. */
  figure: Buffer;
}

/**
 * Runs every method on `model` and estimates KL(method || NUTS) per marginal with the kNN
 * estimator (k = 5) on {@link COMPARED_DRAWS} draws each; the NUTS reference is a long run
 * ({@link REFERENCE_DRAWS} draws, thinned), symmetrised where the model declares a symmetry. Returns the results, the table and the figure; writes nothing.
 */
export async function compareMethods(
  model: BayesianModel,
  o: InferOptions & { onMethod?: (m: InferenceMethod) => void },
): Promise<Comparison> {
  const results: MethodResult[] = [];
  for (const method of INFERENCE_METHODS) {
    o.onMethod?.(method);
    // The reference is a long run: evenly thinned, its draws are close to independent.
    const samples = method === 'nuts' ? Math.max(o.samples, REFERENCE_DRAWS) : o.samples;
    results.push(await runInference(model, method, { ...o, samples }));
  }
  const nutsResult = results.find((r) => r.method === 'nuts')!;
  const reference = symmetrised(model, nutsResult.draws, o.seed + 1);
  const n = Math.min(COMPARED_DRAWS, o.samples);
  const kl: Record<string, Record<string, number>> = {};
  for (const r of results.filter((x) => x.method !== 'nuts')) {
    kl[r.method] = {};
    for (const m of COMPARED_MARGINALS) {
      kl[r.method][m.label] = knnKl(
        columns(r.draws, m.columns, n),
        columns(reference, m.columns, n),
      );
    }
  }
  const header = `| method | ${COMPARED_MARGINALS.map((m) => `KL ${m.label}`).join(' | ')} |`;
  const sep = `| --- | ${COMPARED_MARGINALS.map(() => '---').join(' | ')} |`;
  const rows = Object.entries(kl).map(
    ([meth, v]) =>
      `| ${meth} | ${COMPARED_MARGINALS.map((m) => v[m.label].toFixed(3)).join(' | ')} |`,
  );
  const mirrored = model.mirror ? ', symmetrised under the model’s symmetry' : '';
  const refDraws = nutsResult.draws.values.length;
  const table = [
    `KL divergence to NUTS (kNN estimate, k = 5, ${n} draws each; NUTS: ${refDraws} draws thinned to ${n}${mirrored}), model ${model.name}`,
    '',
    header,
    sep,
    ...rows,
    '',
  ].join('\n');
  const figure = await plotPng(
    muTauPanelsSpec(
      model.name,
      results.map((r) => ({
        title: METHOD_TITLES[r.method],
        subtitle:
          r.method === 'nuts'
            ? ['the reference:', `${n} of ${refDraws} draws`]
            : COMPARED_MARGINALS.map((m) => `KL ${m.label}: ${kl[r.method][m.label].toFixed(3)}`),
        values: columns(r.method === 'nuts' ? reference : r.draws, ['mu', 'tau'], n),
      })),
    ),
  );
  return { results, klToNuts: kl, table, figure };
}

/** Display names of the methods (figure panels, report tables). */
export const METHOD_TITLES: Record<InferenceMethod, string> = {
  avb: 'AVB',
  'avb-ac': 'AVB + adaptive contrast',
  'advi-meanfield': 'ADVI (mean-field)',
  'advi-fullrank': 'ADVI (full-rank)',
  nuts: 'NUTS',
};

/**
 * One (mu, tau) scatter per method, side by side on shared axes spanning the central 99% of all
 * methods' draws (a heavy-tailed method cannot squeeze the others; its outliers are clipped).
 */
export function muTauPanelsSpec(
  modelName: string,
  panels: { title: string; subtitle: string[]; values: number[][] }[],
): TopLevelSpec {
  const all = panels.flatMap((p) => p.values);
  const bounds = (k: number) => {
    const v = all.map((r) => r[k]).sort((a, b) => a - b);
    const lo = v[Math.floor(0.005 * (v.length - 1))];
    const hi = v[Math.ceil(0.995 * (v.length - 1))];
    const pad = 0.05 * (hi - lo);
    return [lo - pad, hi + pad];
  };
  const x = {
    field: 'mu',
    type: 'quantitative' as const,
    title: 'μ',
    scale: { domain: bounds(0), nice: false },
  };
  const y = {
    field: 'tau',
    type: 'quantitative' as const,
    title: 'τ',
    scale: { domain: bounds(1), nice: false },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${modelName}: posterior draws of (μ, τ) by method`, anchor: 'start' },
    hconcat: panels.map((p) => ({
      title: { text: p.title, subtitle: p.subtitle, fontSize: 13 },
      width: 220,
      height: 220,
      data: { values: p.values.map(([mu, tau]) => ({ mu, tau })) },
      mark: { type: 'circle' as const, size: 5, opacity: 0.5, color: '#0072b2', clip: true },
      encoding: { x, y },
    })),
  } as TopLevelSpec;
}
