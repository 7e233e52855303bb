import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { methodSummary } from '../../src/inference/compare.js';
import { declareModel } from '../../src/inference/declaredModel.js';
import type { BayesianModel } from '../../src/inference/model.js';
import { randomFiniteStart } from '../../src/inference/laplace.js';
import { Rng } from '../../src/random/rng.js';
import { hierarchicalNormals } from '../../src/stan/autoNoncentre.js';
import { parseStan } from '../../src/stan/parser.js';
import { stanModel } from '../../src/stan/stanModel.js';
import { point, stan } from './stanTestKit.js';

const found = (source: string) => [...hierarchicalNormals(parseStan(source, 'test.stan')).keys()];

/** The program with its hierarchical normals non-centred, as `avb infer --noncentre` runs it. */
const noncentred = (source: string, data: unknown) =>
  declareModel(stanModel(source, 'test.stan', data, { noncentre: true }));

// The BUGS surgical model: a centred hierarchy whose scale is a transformed parameter.
const SURGICAL = `data { int N; array[N] int r; array[N] int n; }
  parameters { real mu; real<lower=0> sigmasq; vector[N] b; }
  transformed parameters { real<lower=0> sigma = sqrt(sigmasq); }
  model { mu ~ normal(0, 1000); sigmasq ~ inv_gamma(0.001, 0.001); b ~ normal(mu, sigma);
    r ~ binomial_logit(n, b); }`;
const SURGICAL_DATA = { N: 3, r: [0, 18, 8], n: [47, 148, 119] };

describe('Stan: automatic non-centring of hierarchical normals', () => {
  it('finds b ~ normal(mu, sigma) whose mu or sigma reads parameters, through defined-once transformed parameters', () => {
    expect(found(SURGICAL)).toEqual(['b']);
    // The target += form, an array of reals, hyperparameters declared after the group.
    expect(
      found(`parameters { array[4] real a; real m; real<lower=0> s; }
        model { target += normal_lpdf(a | m, s); m ~ normal(0, 1); s ~ normal(0, 1); }`),
    ).toEqual(['a']);
    // Older programs' loop over every element, a mean indexed by the loop (posteriordb's BUGS
    // translations): read as the whole vectors.
    expect(
      found(`data { int J; } parameters { real<lower=0> s; vector[J] m; vector[J] b; }
        model { for (j in 1:J) { b[j] ~ normal(m[j], s); } }`),
    ).toEqual(['b']);
  });

  it('leaves alone what it cannot vouch for', () => {
    const cases = [
      // a fixed prior: the methods' own preconditioning handles its scale
      'parameters { vector[3] b; } model { b ~ normal(0, 10); }',
      // bounds of its own
      'parameters { real<lower=0> s; vector<lower=0>[3] b; } model { b ~ normal(0, s); }',
      // a loop over part of b, or past it, or with a neighbour's mean
      'parameters { real<lower=0> s; vector[3] b; } model { for (j in 2:3) b[j] ~ normal(0, s); }',
      'data { int N; } parameters { real<lower=0> s; vector[3] b; } model { for (j in 1:N) b[j] ~ normal(0, s); }',
      `parameters { real<lower=0> s; vector[3] b; vector[4] m; }
       model { for (j in 1:3) b[j] ~ normal(m[j + 1], s); }`,
      // two density statements about b
      'parameters { real<lower=0> s; vector[3] b; } model { b ~ normal(0, s); b ~ normal(1, 1); }',
      // inside a condition
      'data { int k; } parameters { real<lower=0> s; vector[3] b; } model { if (k > 0) b ~ normal(0, s); }',
      // a scale assigned in a loop (not one expression)
      `parameters { real<lower=0> s; vector[3] b; }
       transformed parameters { vector[3] w; for (j in 1:3) w[j] = s * j; }
       model { b ~ normal(0, w); }`,
      // a scale read from a model-block local
      'parameters { real<lower=0> s; vector[3] b; } model { real t = 2 * s; b ~ normal(0, t); }',
      // a truncated normal
      'parameters { real<lower=0> s; real b; } model { b ~ normal(0, s) T[-1, ]; }',
      // a matrix
      'parameters { real<lower=0> s; matrix[2, 2] b; } model { to_vector(b) ~ normal(0, s); }',
    ];
    for (const source of cases) expect(found(source), source).toEqual([]);
  });

  it('is the program with the offset and multiplier written in', () => {
    // Same log density and gradient in the unconstrained coordinates as Stan's own
    // <offset, multiplier> (the transformed parameter substituted), to rounding: both evaluate
    // the same terms.
    const auto = noncentred(SURGICAL, SURGICAL_DATA);
    const written = stan(
      SURGICAL.replace('vector[N] b;', 'vector<offset=mu, multiplier=sqrt(sigmasq)>[N] b;'),
      SURGICAL_DATA,
    );
    const centred = stan(SURGICAL, SURGICAL_DATA);
    for (let k = 0; k < 3; k++) {
      const z = point(auto.dim, k);
      const [a, w] = [auto.logDensityAndGradient!(z), written.logDensityAndGradient!(z)];
      expect(a.logp).toBeCloseTo(w.logp, 10);
      a.grad.forEach((g, i) => expect(g).toBeCloseTo(w.grad[i], 10));
      // Without --noncentre the program is sampled as written: another density in z.
      expect(Math.abs(centred.logDensityAndGradient!(z).logp - a.logp)).toBeGreaterThan(0.1);
    }
  });

  it('a loop over every element is the same as the whole vector with the offset and multiplier written in', () => {
    const looped = `data { int J; vector[J] y; }
      parameters { real<lower=0> s; vector[J] m; vector[J] b; }
      model { s ~ normal(0, 1); m ~ normal(0, 1); for (j in 1:J) b[j] ~ normal(m[j], s); y ~ normal(b, 1); }`;
    const data = { J: 3, y: [0.5, -1, 2] };
    const auto = noncentred(looped, data);
    const written = stan(
      looped.replace('vector[J] b;', 'vector<offset=m, multiplier=s>[J] b;'),
      data,
    );
    for (let k = 0; k < 3; k++) {
      const z = point(auto.dim, k);
      expect(auto.logDensityAndGradient!(z).logp).toBeCloseTo(
        written.logDensityAndGradient!(z).logp,
        10,
      );
    }
  });

  it('says which parameters it samples non-centred, and how; as written, nothing', () => {
    expect(noncentred(SURGICAL, SURGICAL_DATA).declaration.notes).toEqual([
      'b is sampled non-centred, as mu + sqrt(sigmasq) * u with u standard normal (the same posterior, without the funnel); --centred samples it as written',
    ]);
    expect(stan(SURGICAL, SURGICAL_DATA).declaration.notes).toBeUndefined();
  });

  it('tells a funnel (the scale a parameter) from a ridge (the location only), noted and listed apart', () => {
    // posteriordb's banana: y's location is a parabola in x, its scale 1. Non-centred, y = loc + u
    // takes the curve out; as written it is a curved ridge, not a funnel.
    const banana = `data { real<lower=0> b; }
      parameters { real x; real y; }
      model { x ~ normal(0, 10); y ~ normal(-b * (square(x) - 100), 1.0); }`;
    expect(noncentred(banana, { b: 0.1 }).declaration.notes).toEqual([
      'y is sampled non-centred, as -b * (square(x) - 100) + u with u standard normal (the same posterior, without the ridge its location draws); --centred samples it as written',
    ]);
    const asWritten = stan(banana, { b: 0.1 });
    expect(asWritten.centredLocations).toEqual(['y']);
    expect(asWritten.centredHierarchies).toEqual([]);
    const surgical = stan(SURGICAL, SURGICAL_DATA);
    expect(surgical.centredHierarchies).toEqual(['b']);
    expect(surgical.centredLocations).toEqual([]);
    // A fit of each as written warns in the words that fit it.
    const warnings = (m: BayesianModel) => {
      const values = [0, 1].map((k) => m.summarize(point(m.dim, k)));
      const draws = { names: m.summaryNames, values };
      const r = { status: 'completed' as const, method: 'nuts' as const, draws, seconds: 1 };
      return methodSummary(m, r).warnings;
    };
    expect(warnings(asWritten)).toEqual([
      expect.stringMatching(
        /^y is sampled as written, a normal whose location is a function of other parameters \(a curved ridge/,
      ),
    ]);
    expect(warnings(surgical)).toEqual([
      expect.stringMatching(/^b is sampled as a centred hierarchy \(a funnel/),
    ]);
  });

  it('reports the parameters in the order written, with the values as written', () => {
    // The group comes first in the program but is evaluated after its hyperparameters.
    const source = `data { int J; vector[J] y; }
      parameters { vector[J] theta; real mu; real<lower=0> tau; }
      model { mu ~ normal(0, 5); tau ~ normal(0, 5); theta ~ normal(mu, tau); y ~ normal(theta, 1); }`;
    const data = { J: 3, y: [2, -1, 0.5] };
    const m = noncentred(source, data);
    const centred = stan(source, data);
    expect(m.summaryNames).toEqual(centred.summaryNames);
    expect(m.summaryNames).toEqual(['theta[1]', 'theta[2]', 'theta[3]', 'mu', 'tau']);
    // The same constrained point has the same log density up to the transforms' Jacobians:
    // centred, theta's is 0 and tau's log tau; non-centred, theta = mu + tau u adds 3 log tau.
    const z = point(m.dim, 2);
    const [t1, t2, t3, mu, tau] = m.summarize(z);
    const zc = centred.unconstrain({ theta: [t1, t2, t3], mu, tau });
    const gap = m.logDensityAndGradient!(z).logp - centred.logDensityAndGradient!(zc).logp;
    expect(gap).toBeCloseTo(3 * Math.log(tau), 10);
  });
});

describe('examples/stan: the programs of the README sweep', () => {
  it('each reads its data and has a finite log density at z = 0 (dogs_log: at a random start); --noncentre finds the five hierarchies', () => {
    const hierarchies: Record<string, string[]> = {
      // theta ~ normal(W_adj * lambda_adj, 1.0): a location-only hierarchy (a ridge).
      '2pl_latent_reg_irt': ['theta'],
      arma11: [],
      dogs: [],
      dogs_log: [],
      earn_height: [],
      eight_schools_centred: ['theta'],
      hmm_drive_0: [],
      kilpisjarvi: [],
      logmesquite: [],
      M0_model: [],
      radon_centred: ['alpha'],
      seeds: ['b'],
      surgical: ['b'],
    };
    const folder = 'examples/stan';
    const names = readdirSync(folder)
      .filter((f) => f.endsWith('.stan'))
      .map((f) => f.replace(/\.stan$/, ''));
    expect(names.sort()).toEqual(Object.keys(hierarchies).sort());
    for (const name of names) {
      const source = readFileSync(join(folder, `${name}.stan`), 'utf8');
      // dogs_log runs on dogs's data.
      const file = name === 'dogs_log' ? 'dogs' : name;
      const data = JSON.parse(readFileSync(join(folder, `${file}.json`), 'utf8')) as unknown;
      expect(found(source), name).toEqual(hierarchies[name]);
      for (const model of [stan(source, data), noncentred(source, data)]) {
        // dogs_log's box, (-100, 0) x (0, 100), saturates its logits at its centre: there, at
        // the first random start the mode search finds (laplace.ts).
        const finite = (z: Float64Array) => Number.isFinite(model.logDensityAndGradient!(z).logp);
        const z =
          name === 'dogs_log'
            ? randomFiniteStart(model.dim, finite, new Rng(1))!
            : new Float64Array(model.dim);
        const at = model.logDensityAndGradient!(z);
        expect(Number.isFinite(at.logp), name).toBe(true);
        expect(at.grad.every(Number.isFinite), name).toBe(true);
      }
    }
  });
});
