import type { TopLevelSpec } from 'vega-lite';
import { columns, METHOD_TITLES, methodWarnings } from '../inference/compare.js';
import type { Comparison } from '../inference/compare.js';
import type { BayesianModel } from '../inference/model.js';
import { plotPng } from '../viz/plotPng.js';

/**
 * A quantity's name as a reader writes it: Greek letters spelt out become letters and a trailing
 * `_k` (or `[k]`) an index (`mu` -> μ, `theta_1` -> θ₁, `sigma[2]` -> σ₂); other names are kept.
 */
export function displayName(name: string): string {
  const GREEK: Record<string, string> = {
    alpha: 'α',
    beta: 'β',
    gamma: 'γ',
    delta: 'δ',
    epsilon: 'ε',
    eta: 'η',
    theta: 'θ',
    kappa: 'κ',
    lambda: 'λ',
    mu: 'μ',
    nu: 'ν',
    rho: 'ρ',
    sigma: 'σ',
    tau: 'τ',
    phi: 'φ',
    omega: 'ω',
  };
  const SUB = '₀₁₂₃₄₅₆₇₈₉';
  const m = /^([A-Za-z]+)(?:_(\d+)|\[(\d+)\])?$/.exec(name);
  if (!m || !(m[1] in GREEK)) return name;
  const index = (m[2] ?? m[3] ?? '').replace(/\d/g, (d) => SUB[Number(d)]);
  return GREEK[m[1]] + index;
}

/** A marginal's label with display names: `(mu, tau)` -> `(μ, τ)`. */
function displayLabel(label: string): string {
  return label.replace(/[A-Za-z]+(?:_\d+|\[\d+\])?/g, displayName);
}

/**
 * Markdown: the KL table with how it was computed, and beside each method's KL what it says of
 * itself (Pareto k̂, the Stein check, its warnings), so that a reader sees whether a fit that is
 * off would have been caught without NUTS.
 */
export function comparisonTable(model: BayesianModel, c: Comparison): string {
  const kl = c.marginals.map((m) => `KL ${displayLabel(m.label)}`);
  const header = `| method | ${kl.join(' | ')} | Pareto k̂ | Stein check: mean shift, sd ratio | warnings |`;
  const sep = `| --- | ${[...kl, '', '', ''].map(() => '---').join(' | ')} |`;
  const rows = Object.entries(c.klToNuts).map(([method, v]) => {
    const r = c.results.find((x) => x.method === method);
    const k = r?.paretoK;
    // AVB's refitted draws pass the check by construction: its fit's own draws are the news.
    const st = r?.steinBeforeRefit ?? r?.stein;
    const cells = [
      ...c.marginals.map((m) => v[m.label].toFixed(3)),
      k === undefined ? '—' : k.toFixed(2),
      st === undefined
        ? '—'
        : st.degenerate
          ? 'degenerate draws'
          : `${st.meanShift.toFixed(2)} (${displayName(st.meanName)}), ${st.sdRatio.toFixed(2)} (${displayName(st.sdName)})`,
      r ? String(methodWarnings(r, r.draws.names).length) : '—',
    ];
    return `| ${method} | ${cells.join(' | ')} |`;
  });
  const mirrored = model.mirror ? ', symmetrised under the model’s symmetry' : '';
  const n = c.comparedDraws;
  return [
    `KL divergence to NUTS (kNN estimate, k = 5, ${n} draws each; NUTS: ${c.referenceDraws} draws thinned to ${n}${mirrored}), model ${model.name}; each method's own diagnostics beside it (the warnings' text is in summary.json)`,
    '',
    header,
    sep,
    ...rows,
    '',
  ].join('\n');
}

/**
 * PNG: one panel of draws per method, in `INFERENCE_METHODS` order, over the comparison's pair
 * of quantities (a histogram where the model reports only one), each titled with its KL to NUTS.
 */
export async function comparisonFigure(model: BayesianModel, c: Comparison): Promise<Buffer> {
  const n = c.comparedDraws;
  return plotPng(
    drawPanelsSpec(
      model.name,
      c.pair,
      c.results.map((r) => ({
        title: METHOD_TITLES[r.method],
        subtitle:
          r.method === 'nuts'
            ? ['the reference:', `${n} of ${c.referenceDraws} draws`]
            : c.marginals.map(
                (m) => `KL ${displayLabel(m.label)}: ${c.klToNuts[r.method][m.label].toFixed(3)}`,
              ),
        values: columns(r.method === 'nuts' ? c.reference : r.draws, c.pair, n),
      })),
    ),
  );
}

/**
 * One scatter of two quantities (or histogram of one) per method, side by side on shared axes
 * spanning the central 99% of all methods' draws (a heavy-tailed method cannot squeeze the
 * others; its outliers are clipped).
 */
export function drawPanelsSpec(
  modelName: string,
  pair: string[],
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
  const axis = (k: number) => ({
    field: `q${k}`,
    type: 'quantitative' as const,
    title: displayName(pair[k]),
    scale: { domain: bounds(k), nice: false },
  });
  const two = pair.length === 2;
  const what = two ? `(${pair.map(displayName).join(', ')})` : displayName(pair[0]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${modelName}: posterior draws of ${what} by method`, anchor: 'start' },
    hconcat: panels.map((p) => ({
      title: { text: p.title, subtitle: p.subtitle, fontSize: 13 },
      width: 220,
      height: 220,
      data: { values: p.values.map((row) => Object.fromEntries(row.map((v, k) => [`q${k}`, v]))) },
      ...(two
        ? {
            mark: { type: 'circle' as const, size: 5, opacity: 0.5, color: '#0072b2', clip: true },
            encoding: { x: axis(0), y: axis(1) },
          }
        : {
            mark: { type: 'bar' as const, color: '#0072b2', clip: true },
            encoding: {
              x: { ...axis(0), bin: { maxbins: 40, extent: bounds(0) } },
              y: { aggregate: 'count' as const, type: 'quantitative' as const, title: 'draws' },
            },
          }),
    })),
  } as TopLevelSpec;
}
