import { describe, expect, it } from 'vitest';
import { mergeEvalShards, testSampleOrder } from '../../src/experiments/evaluateRun.js';
import type { EvalResult } from '../../src/experiments/evaluateRun.js';
import { markdownTable, reportHtml, reportMarkdown } from '../../src/report/report.js';
import type { ReportDoc } from '../../src/report/report.js';

const doc: ReportDoc = {
  title: 'A <title> & more',
  lead: 'Lead.',
  results: { header: ['method', 'value'], rows: [['a|b', '1.00']] },
  notes: ['A note.'],
  figures: [{ file: 'figures/f.png', title: 'Figure', caption: 'Caption.' }],
  provenance: [['seed', '1']],
};

describe('reports', () => {
  it('markdown: the results table comes first, pipes in cells are escaped', () => {
    expect(markdownTable(doc.results)).toBe('| method | value |\n| --- | --- |\n| a\\|b | 1.00 |');
    const md = reportMarkdown(doc);
    expect(md.indexOf('| method |')).toBeLessThan(md.indexOf('## Figure'));
    expect(md).toContain('![Figure](figures/f.png)');
    expect(md.trimEnd().endsWith('| seed | 1 |')).toBe(true);
  });

  it('html: one self-contained page, figures inlined as PNG data URIs, the title escaped', () => {
    const png = Uint8Array.from([137, 80, 78, 71]);
    const html = reportHtml(doc, (file) => {
      expect(file).toBe('figures/f.png');
      return png;
    });
    expect(html).toContain(`src="data:image/png;base64,${Buffer.from(png).toString('base64')}"`);
    expect(html).not.toContain('src="figures/f.png"');
    expect(html).toContain('<title>A &#60;title&#62; &#38; more</title>');
    expect(html).toContain('<td>a|b</td>');
  });
});

function shard(skip: number, perPoint: number[], iwae: number[]): EvalResult {
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const se = (v: number[]) =>
    Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1) / v.length);
  return {
    run: 'r',
    step: 10,
    experiment: 'mnist',
    method: 'vae',
    split: 'test',
    logLikelihood: {
      mean: mean(perPoint),
      stderr: se(perPoint),
      points: perPoint.length,
      skip,
      perPoint,
      // Made-up test indices, distinct per shard.
      indices: perPoint.map((_, i) => 100 + 10 * skip + i),
    },
    estimator: 'ais',
    settings: { subsetSeed: 1 } as EvalResult['settings'],
    acceptance: skip === 0 ? 0.6 : 0.7,
    essMean: 4,
    iwae: { mean: mean(iwae), stderr: se(iwae), samples: 50 },
    seconds: 5,
  };
}

describe('mergeEvalShards', () => {
  it('equals one evaluation of all the points: per-point values in order, mean and stderr over all', () => {
    const all = [-90, -85, -100, -95, -80, -92, -88];
    const merged = mergeEvalShards([
      shard(4, all.slice(4), [1, 2, 3]),
      shard(0, all.slice(0, 4), [4, 5, 6, 7]),
    ]);
    const one = shard(0, all, [4, 5, 6, 7, 1, 2, 3]);
    expect(merged.logLikelihood.perPoint).toEqual(all);
    expect(merged.logLikelihood.indices).toEqual([100, 101, 102, 103, 140, 141, 142]);
    expect(merged.logLikelihood.points).toBe(7);
    // Exact arithmetic on seven numbers: agreement to float64 rounding.
    expect(merged.logLikelihood.mean).toBeCloseTo(one.logLikelihood.mean, 12);
    expect(merged.logLikelihood.stderr).toBeCloseTo(one.logLikelihood.stderr, 12);
    expect(merged.iwae!.mean).toBeCloseTo(one.iwae!.mean, 12);
    expect(merged.acceptance).toBeCloseTo((0.6 * 4 + 0.7 * 3) / 7, 12);
    expect(merged.seconds).toBe(10);
  });

  it('refuses shards that leave a gap, or of different test samples', () => {
    expect(() => mergeEvalShards([shard(0, [1, 2], [1, 2]), shard(3, [3], [3])])).toThrow(
      /gap at 2/,
    );
    const other = { ...shard(2, [3], [3]), settings: { subsetSeed: 2 } as EvalResult['settings'] };
    expect(() => mergeEvalShards([shard(0, [1, 2], [1, 2]), other])).toThrow(/different seeds/);
  });
});

describe('testSampleOrder', () => {
  it('is a permutation fixed by its seed, uniform over positions', () => {
    const a = testSampleOrder(10000, 1);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 10000 }, (_, i) => i));
    expect(testSampleOrder(10000, 1)).toEqual(a);
    expect(testSampleOrder(10000, 2)).not.toEqual(a);
    // A random 2,000 of MNIST's test set: about a fifth from each fifth of the file (the first
    // half is the easier one). Each count is Binomial-like with sd ≈ 18; ±100 is over 5 sd.
    const first = a.slice(0, 2000);
    for (let k = 0; k < 5; k++) {
      const inFifth = first.filter((i) => i >= k * 2000 && i < (k + 1) * 2000).length;
      expect(Math.abs(inFifth - 400)).toBeLessThan(100);
    }
  });
});
