import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { zipSync } from 'fflate';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { foreignEntries } from '../../src/io/ownedFolder.js';
import { listPosteriors, readReferenceDraws } from '../../src/experiments/posteriordb.js';
import { avb, expectUserError } from './runCli.js';
import { scratchDir } from '../scratchDir.js';

const dir = scratchDir('avb-posteriordb-');
const VENDORED = resolve('examples/posteriordb');
const KIDIQ = 'kidiq-kidscore_momhsiq';

describe('avb reproduce posteriordb', () => {
  it('runs the chosen methods on a posterior and reports their accuracy against the reference', () => {
    const out = join(dir, 'run');
    const args = [
      'reproduce',
      'posteriordb',
      '--posteriors',
      KIDIQ,
      '--steps',
      '600',
      '--out',
      out,
    ];
    const methods = ['--methods', 'advi-meanfield,advi-fullrank'];
    const r = avb(...args, ...methods);
    expect(r.code, r.stderr).toBe(0);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(
      /\| kidiq-kidscore_momhsiq \| ADVI \(mean-field\) \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/,
    );
    expect(md).toContain('| kidiq-kidscore_momhsiq | ADVI (full-rank) |');
    expect(existsSync(join(out, 'posteriordb-heatmap.png'))).toBe(true);
    const all = JSON.parse(readFileSync(join(out, 'posteriordb.json'), 'utf8')) as {
      fits: {
        method: string;
        meanError: number;
        sdRatio: number;
        missing: string[];
        evaluations: number;
      }[];
    };
    expect(all.fits).toHaveLength(2);
    for (const f of all.fits) {
      expect(f.missing).toEqual([]); // the translation reports every reference quantity
      expect(f.evaluations).toBeGreaterThan(600);
    }
    // Mean-field ADVI cannot see the correlation of the uncentred regression's coefficients:
    // its sds are far too small, and the report says so.
    const mf = all.fits.find((f) => f.method === 'advi-meanfield')!;
    expect(mf.sdRatio).toBeLessThan(0.5);
    expect(md).toMatch(/ADVI \(mean-field\) \|[^\n]*\| miss, flagged \|/);
    // The Stein check sees the same from the draws and the model's gradient alone (kidiq's
    // posterior is close to Gaussian, where the check is exact).
    const summary = JSON.parse(
      readFileSync(join(out, 'fits', KIDIQ, 'advi-meanfield-seed1', 'summary.json'), 'utf8'),
    ) as { steinCheck: { sdRatio: number }; warnings: string[] };
    expect(Math.abs(summary.steinCheck.sdRatio / mf.sdRatio - 1)).toBeLessThan(0.1);
    expect(summary.warnings.some((w) => /^q's sd of .* too narrow/.test(w))).toBe(true);
    expect(md).toMatch(/Of the \d fits within the floor, \d carry a warning all the same/);
    // The noise level: the reference's halves (chains 1-5 against 6-10), here recomputed by hand
    // (equal halves: W₁ is the mean gap between their sorted draws, over the second half's sd).
    const chains = JSON.parse(
      gunzipSync(readFileSync(join(VENDORED, KIDIQ, 'reference_draws.json.gz'))).toString(),
    ) as Record<string, number[]>[];
    const halves = (all as unknown as { referenceHalves: { wasserstein: number }[] })
      .referenceHalves;
    const worstW1 = Math.max(
      ...Object.keys(chains[0]).map((name) => {
        const [a, b] = [chains.slice(0, 5), chains.slice(5)].map((cs) =>
          cs.flatMap((c) => c[name]).sort((x, y) => x - y),
        );
        // The second half stands as the reference: its sd is the unit.
        const mean = b.reduce((x, y) => x + y, 0) / b.length;
        const sd = Math.sqrt(b.reduce((x, y) => x + (y - mean) ** 2, 0) / (b.length - 1));
        return a.reduce((x, v, i) => x + Math.abs(v - b[i]), 0) / a.length / sd;
      }),
    );
    expect(halves).toHaveLength(1);
    expect(halves[0].wasserstein).toBeCloseTo(worstW1, 12);
    expect(md).toContain('## How far the reference is from itself');
    expect(md).toContain(`| ${KIDIQ} | `);
    expect(foreignEntries(out)).toEqual([]);
    // A rerun has nothing left to do; other options are refused.
    const again = avb(...args, ...methods);
    expect(again.stderr).toContain('every command has run');
    expectUserError(avb(...args), /holds a reproduction with other options/);
  }, 180_000);

  it('refuses unknown posteriors and methods, and posteriordb options elsewhere, writing nothing', () => {
    const out = join(dir, 'refused');
    expectUserError(
      avb('reproduce', 'posteriordb', '--posteriors', 'nope', '--out', out),
      /has no posterior 'nope'/,
    );
    expectUserError(
      avb('reproduce', 'posteriordb', '--methods', 'hmc', '--out', out),
      /unknown method 'hmc'/,
    );
    expectUserError(
      avb('reproduce', 'synthetic', '--centred', '--out', out),
      /--centred applies to reproduce posteriordb only/,
    );
    expectUserError(
      avb('reproduce', 'synthetic', '--seeds', '1,2', '--out', out),
      /--seeds applies to reproduce posteriordb and mnist only/,
    );
    expectUserError(
      avb('reproduce', 'mnist', '--seeds', '1,two', '--out', out),
      /--seeds: give non-negative integers such as 1,2,3, not 1,two/,
    );
    expectUserError(
      avb('reproduce', 'posteriordb', '--path', join(dir, 'missing'), '--out', out),
      /does not exist/,
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe('posteriordb layouts', () => {
  it("reads a clone of the database (zipped data and draws) as well as avb's folders", () => {
    const db = join(dir, 'clone', 'posterior_database');
    for (const sub of ['posteriors', 'data/data', 'reference_posteriors/draws/draws'])
      mkdirSync(join(db, sub), { recursive: true });
    const src = join(VENDORED, KIDIQ);
    const info = JSON.parse(readFileSync(join(src, 'posterior.json'), 'utf8')) as {
      data_name: string;
    };
    writeFileSync(
      join(db, 'posteriors', `${KIDIQ}.json`),
      JSON.stringify({ ...info, reference_posterior_name: KIDIQ }),
    );
    // posteriordb zips each JSON file alone.
    const zipped = (file: string, name: string) =>
      zipSync({ [name]: gunzipSync(readFileSync(file)) });
    writeFileSync(
      join(db, 'data', 'data', `${info.data_name}.json.zip`),
      zipped(join(src, 'data.json.gz'), `${info.data_name}.json`),
    );
    writeFileSync(
      join(db, 'reference_posteriors', 'draws', 'draws', `${KIDIQ}.json.zip`),
      zipped(join(src, 'reference_draws.json.gz'), `${KIDIQ}.json`),
    );
    const [entry] = listPosteriors(join(dir, 'clone'));
    expect(entry.name).toBe(KIDIQ);
    expect(entry.modelName).toBe('kidscore_momhsiq');
    const fromClone = readReferenceDraws(entry.referenceFile!);
    const vendored = readReferenceDraws(
      listPosteriors(VENDORED).find((p) => p.name === KIDIQ)!.referenceFile!,
    );
    expect(fromClone).toEqual(vendored);
    expect(vendored['beta[1]']).toHaveLength(10000);
    // With no hand translation, the clone's own Stan program runs, and the report says so.
    mkdirSync(join(db, 'models', 'stan'), { recursive: true });
    // With a uniform prior on sigma whose upper end, 1,000, the program does not declare: avb
    // declares it (the posterior, sigma about 18 from 434 points, is unchanged) and the report
    // says so.
    const program = readFileSync(join(src, 'model.stan'), 'utf8').replace(
      'sigma ~ cauchy(0, 2.5);',
      'sigma ~ cauchy(0, 2.5);\n  sigma ~ uniform(0, 1000);',
    );
    expect(program).toContain('uniform(0, 1000)');
    writeFileSync(entry.stanFile, program);
    expect(entry.stanFile).toBe(join(db, 'models', 'stan', 'kidscore_momhsiq.stan'));
    const none = join(dir, 'no-translations');
    mkdirSync(none);
    const out = join(dir, 'from-stan');
    const r = avb(
      'reproduce',
      'posteriordb',
      '--path',
      join(dir, 'clone'),
      '--models',
      none,
      '--methods',
      'advi-fullrank',
      '--steps',
      '600',
      '--centred',
      '--out',
      out,
    );
    expect(r.code, r.stderr).toBe(0);
    // --centred reaches the fit of the Stan program (its config.json keeps it).
    const fit = join(out, 'fits', KIDIQ, 'advi-fullrank-seed1', 'config.json');
    expect((JSON.parse(readFileSync(fit, 'utf8')) as { noncentre?: boolean }).noncentre).toBe(
      false,
    );
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('| kidiq-kidscore_momhsiq | ADVI (full-rank) |');
    expect(md).toContain(
      `Run from their own Stan programs through avb's interpreter (no translation in ${none}): kidiq-kidscore_momhsiq.`,
    );
    expect(md).toContain(
      "How avb sampled these programs where that differs from how they are written (each fit's summary.json, notes): kidiq-kidscore_momhsiq: sigma is sampled on (0, 1000), the support its uniform statement on line 13 implies.",
    );
  }, 120_000);
});
