import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { declareModel } from '../../src/inference/declaredModel.js';
import { stanModel } from '../../src/stan/stanModel.js';
import { laplaceApproximation } from '../../src/inference/laplace.js';
import { methodWarnings } from '../../src/inference/compare.js';
import { advi } from '../../src/inference/variational.js';
import type { BayesianModel } from '../../src/inference/model.js';
import * as tf from '../../src/tf.js';
import { useBackend } from '../helpers.js';

beforeAll(() => useBackend());

/**
 * p(z) = w N(z; a, s²) + (1 - w) N(z; b, s²) in one dimension. With the near component at 0.5
 * (weight 0.2) and the far one at -1.5 (weight 0.8), 10 sds apart, a Newton search from z = 0
 * climbs to the near, poorer mode; each mode's Laplace approximation is its component, so the
 * mass it puts elsewhere is exactly the other weight (the overlap is under 1e-20).
 */
function twoModes(w = 0.2, a = 0.5, b = -1.5, s = 0.2): BayesianModel {
  const logTerms = (z: number) => [
    Math.log(w) - (0.5 * (z - a) ** 2) / s ** 2,
    Math.log(1 - w) - (0.5 * (z - b) ** 2) / s ** 2,
  ];
  return {
    name: 'two modes',
    dim: 1,
    parameterNames: ['z'],
    summaryNames: ['z'],
    summarize: (z) => [z[0]],
    logJoint: (z) =>
      tf.tidy(() => {
        const x = z.reshape([-1]);
        const t1 = tf.sub(Math.log(w), tf.div(tf.square(tf.sub(x, a)), 2 * s * s));
        const t2 = tf.sub(Math.log(1 - w), tf.div(tf.square(tf.sub(x, b)), 2 * s * s));
        return tf.logSumExp(tf.stack([t1, t2], 1), 1) as tf.Tensor1D;
      }),
    logDensityAndGradient: (z) => {
      const [t1, t2] = logTerms(z[0]);
      const m = Math.max(t1, t2);
      const logp = m + Math.log(Math.exp(t1 - m) + Math.exp(t2 - m));
      const r1 = Math.exp(t1 - logp);
      const grad = -(r1 * (z[0] - a) + (1 - r1) * (z[0] - b)) / s ** 2;
      return { logp, grad: Float64Array.of(grad) };
    },
  };
}

describe('the mode search of the Laplace fit', () => {
  it('from z = 0 alone finds the poorer mode; from several starts the one with most mass, and says how much is elsewhere', () => {
    const model = twoModes();
    const one = laplaceApproximation(model, { starts: 1 });
    if (typeof one === 'string') throw new Error(one);
    // Newton ends within 1e-4 sd of a mode: 1e-3 of the component's sd is far inside that.
    expect(one.mode[0]).toBeCloseTo(0.5, 3);
    expect(one.modes).toBe(1);
    expect(one.elsewhere).toBe(0);
    for (const seed of [1, 2, 3]) {
      const fit = laplaceApproximation(model, { starts: 8, seed });
      if (typeof fit === 'string') throw new Error(fit);
      expect(fit.mode[0], `seed ${seed}`).toBeCloseTo(-1.5, 3);
      // The main component's sd, from central differences of exact gradients: to 1e-6.
      expect(Math.sqrt(fit.cov[0])).toBeCloseTo(0.2, 5);
      expect(fit.modes).toBe(2);
      // Mass elsewhere: the other weight, 0.2, up to the Hessian's rounding (1e-6 relative).
      expect(fit.elsewhere).toBeCloseTo(0.2, 4);
      expect(fit.starts).toBe(8);
    }
  });

  it('finds one mode of a unimodal posterior from every start, and the same mode as z = 0 does', () => {
    const model = twoModes(0); // the far component alone
    const fit = laplaceApproximation(model, { starts: 8, seed: 4 });
    if (typeof fit === 'string') throw new Error(fit);
    expect(fit.mode[0]).toBeCloseTo(-1.5, 3);
    expect(fit.modes).toBe(1);
    expect(fit.elsewhere).toBe(0);
  });

  it('a fit around one of two modes warns, with the mass it misses; one around the only mode does not', async () => {
    for (const [w, warned] of [
      [0.2, true],
      [0, false],
    ] as const) {
      const model = twoModes(w);
      const r = await advi(model, { kind: 'fullrank', iterations: 600, seed: 4 });
      expect(r.modeSearch?.starts).toBe(4);
      const warnings = methodWarnings(
        { ...r, method: 'advi-fullrank', status: 'completed' },
        model.summaryNames,
      );
      const modeWarning = warnings.find((x) => /modes/.test(x));
      if (warned) {
        // Seed 4's random starts, -1.41, 1.50 and -0.95, include two past the saddle (at -0.47).
        expect(modeWarning).toMatch(/^the posterior has at least 2 modes.*about 20% of the mass/);
        // Fitted around the main mode, at -1.5.
        const mean = r.draws.values.reduce((s, v) => s + v[0], 0) / r.draws.values.length;
        expect(mean).toBeCloseTo(-1.5, 1);
      } else expect(modeWarning).toBeUndefined();
    }
  });
});

describe('a ridge is not a mode', () => {
  it('with exact gradients, searches that climb for all their steps give no Laplace fit (surgical non-centred)', () => {
    // BUGS's surgical data with b non-centred under sigmasq ~ inv_gamma(0.001, 0.001): the log
    // density keeps rising as sigmasq grows (b's u shrinks towards 0, the prior is nearly flat
    // in log sigmasq), and whitening by the curvature where the steps ran out (log sigmasq 9.8)
    // made full-rank ADVI diverge.
    const source = readFileSync('examples/stan/surgical.stan', 'utf8');
    const data = JSON.parse(readFileSync('examples/stan/surgical.json', 'utf8')) as unknown;
    const model = declareModel(stanModel(source, 'surgical.stan', data, { noncentre: true }));
    expect(laplaceApproximation(model, { seed: 1 })).toMatch(
      /^no mode: every search climbed for all its 100 Newton steps/,
    );
    // As written (centred) the search ends at a mode, in the funnel's neck.
    const centred = declareModel(stanModel(source, 'surgical.stan', data));
    const fit = laplaceApproximation(centred, { seed: 1 });
    expect(typeof fit === 'string' ? fit : fit.converged).toBe(true);
  });
});
