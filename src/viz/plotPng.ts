import type { TopLevelSpec } from 'vega-lite';

/** The font every plot uses (Debian: fonts-dejavu-core), so text renders the same everywhere. */
const FONT = 'DejaVu Sans';

/**
 * Renders a Vega-Lite plot to PNG without a browser: Vega-Lite compiles it, Vega draws SVG
 * headlessly, resvg rasterises the SVG at `scale` x. Plots get axes, legends and titles from
 * their spec; the font is fixed so that layout and rendering agree.
 */
export async function plotPng(spec: TopLevelSpec, scale = 2): Promise<Buffer> {
  // Loaded on the first plot, not with the module: Vega, Vega-Lite and resvg are a third of
  // the CLI's start-up, which every command that draws nothing (--help, eval, infer) paid.
  const [vega, { compile }, { Resvg }] = await Promise.all([
    import('vega'),
    import('vega-lite'),
    import('@resvg/resvg-js'),
  ]);
  const themed = {
    ...spec,
    config: {
      font: FONT,
      ...(spec.config ?? {}),
    },
  } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(themed).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return new Resvg(svg, {
      fitTo: { mode: 'zoom', value: scale },
      background: 'white',
      font: { loadSystemFonts: true, defaultFontFamily: FONT },
    })
      .render()
      .asPng();
  } finally {
    view.finalize();
  }
}

/** Colour-blind-safe colours (Okabe–Ito) for up to 8 groups. */
export const GROUP_COLOURS = [
  '#0072b2',
  '#e69f00',
  '#009e73',
  '#cc79a7',
  '#56b4e9',
  '#d55e00',
  '#f0e442',
  '#000000',
];

export interface PosteriorScatterOptions {
  title: string;
  /** One string per line. */
  subtitle?: string[];
  /** Label of each group in the legend. */
  groupNames: string[];
  /** Square plot range [-range, range] on both axes. */
  range: number;
  /** Radius of the prior's reference circle (e.g. 2 for N(0, I)'s 2-sigma contour); 0: none. */
  circle: number;
}

/**
 * The paper's figure of q(z|x): samples of a 2-D latent for each data point, coloured by point,
 * with the prior's contour, axes z1 and z2, a legend and a title. `groups[g]` is a flat
 * `[z1, z2, z1, z2, ...]` array for group g.
 */
export function posteriorScatterSpec(
  groups: Float32Array[],
  o: PosteriorScatterOptions,
): TopLevelSpec {
  const values: { z1: number; z2: number; point: string }[] = [];
  groups.forEach((g, k) => {
    for (let i = 0; i + 1 < g.length; i += 2) {
      if (Math.abs(g[i]) <= o.range && Math.abs(g[i + 1]) <= o.range)
        values.push({ z1: g[i], z2: g[i + 1], point: o.groupNames[k] });
    }
  });
  const circle = Array.from({ length: 121 }, (_, i) => ({
    t: i,
    z1: o.circle * Math.cos((2 * Math.PI * i) / 120),
    z2: o.circle * Math.sin((2 * Math.PI * i) / 120),
  }));
  const scale = { domain: [-o.range, o.range], nice: false };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: o.title, ...(o.subtitle ? { subtitle: o.subtitle } : {}) },
    width: 320,
    height: 320,
    layer: [
      ...(o.circle > 0
        ? [
            {
              data: { values: circle },
              mark: { type: 'line' as const, color: '#888', strokeDash: [4, 3] },
              encoding: {
                x: { field: 'z1', type: 'quantitative' as const, scale },
                y: { field: 'z2', type: 'quantitative' as const, scale },
                order: { field: 't', type: 'quantitative' as const },
              },
            },
          ]
        : []),
      {
        data: { values },
        mark: { type: 'circle' as const, size: 6, opacity: 0.6 },
        encoding: {
          x: { field: 'z1', type: 'quantitative' as const, title: 'z₁', scale },
          y: { field: 'z2', type: 'quantitative' as const, title: 'z₂', scale },
          color: {
            field: 'point',
            type: 'nominal' as const,
            title: 'data point',
            scale: { domain: o.groupNames, range: GROUP_COLOURS.slice(0, o.groupNames.length) },
          },
        },
      },
    ],
  } as TopLevelSpec;
}

/**
 * Several {@link posteriorScatterSpec} panels side by side (one per method), with one legend:
 * the paper's synthetic figure.
 */
export function posteriorPanelsSpec(
  title: string,
  subtitle: string[],
  panels: { groups: Float32Array[]; title: string; subtitle?: string[] }[],
  o: Omit<PosteriorScatterOptions, 'title' | 'subtitle'>,
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle, anchor: 'start' },
    hconcat: panels.map((p) => {
      const spec = posteriorScatterSpec(p.groups, { ...o, title: p.title, subtitle: p.subtitle });
      const { $schema: _schema, ...panel } = spec as TopLevelSpec & { $schema?: string };
      return { ...panel, width: 260, height: 260 };
    }),
    resolve: { scale: { color: 'shared' } },
  } as TopLevelSpec;
}

/** One point of a training curve. */
export interface CurvePoint {
  series: string;
  measure: string;
  step: number;
  value: number;
}

/**
 * Training curves: value against step, a colour per series (model, in the legend) and a dash per
 * measure (held-out ELBO solid, IWAE dashed, named in the subtitle), with titled axes.
 */
export function curvesSpec(
  title: string,
  yTitle: string,
  points: CurvePoint[],
  subtitle?: string[],
): TopLevelSpec {
  const series = [...new Set(points.map((p) => p.series))];
  const measures = [...new Set(points.map((p) => p.measure))];
  const dashes = measures.map((m, i) => `${m}: ${i ? 'dashed' : 'solid'}`).join('; ');
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: [...(subtitle ?? []), dashes], anchor: 'start' },
    width: 560,
    height: 320,
    data: { values: points },
    // Points too: a curve of one estimate still shows.
    mark: { type: 'line', strokeWidth: 1.5, point: { size: 12 } },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'training step', axis: { format: ',d' } },
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: false } },
      color: {
        field: 'series',
        type: 'nominal',
        title: 'model',
        scale: { domain: series, range: GROUP_COLOURS.slice(0, series.length) },
        legend: { symbolType: 'stroke', symbolStrokeWidth: 3 },
      },
      // The dash of each measure is named in the subtitle: Vega's legend draws a line mark with
      // points as a bare circle, which cannot show a dash.
      strokeDash: {
        field: 'measure',
        type: 'nominal',
        scale: { domain: measures, range: measures.map((_, i) => (i ? [6, 4] : [1, 0])) },
        legend: null,
      },
    },
  } as TopLevelSpec;
}

/**
 * MCMC trace plots: one panel per quantity (value against iteration), a colour per chain, so
 * that chains which have not mixed or a sampler stuck in place show at a glance.
 * `traces[q][c]` is quantity q's draws in chain c.
 */
export function tracePlotSpec(names: string[], traces: number[][][]): TopLevelSpec {
  const chains = traces[0]?.length ?? 0;
  const values = names.flatMap((name, q) =>
    traces[q].flatMap((draws, c) => {
      // At most 500 points a chain: the shape of a trace, not every draw.
      const every = Math.max(1, Math.ceil(draws.length / 500));
      return draws
        .filter((_, i) => i % every === 0)
        .map((v, i) => ({
          quantity: name,
          chain: String(c + 1),
          iteration: i * every + 1,
          value: v,
        }));
    }),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'NUTS traces after warm-up', anchor: 'start' },
    data: { values },
    facet: { row: { field: 'quantity', type: 'nominal', sort: names, title: null } },
    spec: {
      width: 560,
      height: 90,
      mark: { type: 'line', strokeWidth: 0.8, opacity: 0.8 },
      encoding: {
        x: { field: 'iteration', type: 'quantitative', title: 'draw', axis: { format: ',d' } },
        y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
        color: {
          field: 'chain',
          type: 'nominal',
          title: 'chain',
          scale: { range: GROUP_COLOURS.slice(0, Math.max(1, chains)) },
        },
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as TopLevelSpec;
}
