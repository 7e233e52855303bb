// The Stan interpreter's cost per gradient: each posterior in examples/posteriordb/ run from its
// Stan program and from its hand translation, CPU time per log density and gradient (the median
// of 5 rounds of ~1 s each), in this process and in a child started without avb's young-generation
// setting (src/heap.ts), to show what the setting buys, and with the program's loops run as written
// (src/stan/loopVectorizer.ts off), to show what running them as one pass buys.
// Run after `npm run build`:  npm run bench:stan   (one process at a time, one core)
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { declareModel } from '../dist/inference/declaredModel.js';
import { loadModel } from '../dist/inference/loadModel.js';
import { listPosteriors } from '../dist/experiments/posteriordb.js';
import { readJsonData } from '../dist/io/jsonData.js';
import { stanModel } from '../dist/stan/stanModel.js';

const ROOT = 'examples/posteriordb';

/** Median CPU milliseconds per gradient of `m` at a fixed point. */
function cpuPerGradient(m) {
  const z = Float64Array.from({ length: m.dim }, (_, i) => 0.3 * Math.sin(1.7 * i));
  for (let i = 0; i < 20; i++) m.logDensityAndGradient(z);
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 1000) {
      m.logDensityAndGradient(z);
      n++;
    }
    const c = process.cpuUsage(c0);
    rounds.push((c.user + c.system) / 1000 / n);
  }
  return rounds.sort((a, b) => a - b)[2];
}

/**
 * A larger program with no translation: a two-state HMM's forward algorithm over 300 points in
 * scalar loops (the shape of posteriordb's hmm_drive models), on seeded synthetic data.
 */
const HMM = `
data { int N; array[N] real y; }
parameters { simplex[2] a1; simplex[2] a2; ordered[2] mu; real<lower=0> sigma; }
model {
  array[2] vector[2] A = {a1, a2};
  array[2] real acc;
  array[N, 2] real gamma;
  mu ~ normal(0, 3);
  sigma ~ normal(0, 2);
  for (k in 1:2) gamma[1, k] = normal_lpdf(y[1] | mu[k], sigma);
  for (t in 2:N)
    for (k in 1:2) {
      for (j in 1:2) acc[j] = gamma[t - 1, j] + log(A[j, k]) + normal_lpdf(y[t] | mu[k], sigma);
      gamma[t, k] = log_sum_exp(acc);
    }
  target += log_sum_exp(gamma[N]);
}`;

function hmmData() {
  let s = 7;
  const u = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const y = [];
  let state = 0;
  for (let t = 0; t < 300; t++) {
    if (u() < 0.1) state = 1 - state;
    y.push(state * 3 + Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
  }
  return { N: y.length, y };
}

const HMM_NAME = 'HMM forward algorithm, 300 points';

/**
 * posteriordb's radon_pooled (radon_all: 12,573 houses) has no translation and loops over every
 * point with a scalar density: the loop vectorizer's case. Seeded synthetic data of that size.
 */
const RADON = `
data { int<lower=0> N; vector[N] floor_measure; vector[N] log_radon; }
parameters { real alpha; real beta; real<lower=0> sigma_y; }
model {
  vector[N] mu;
  sigma_y ~ normal(0, 1);
  alpha ~ normal(0, 10);
  beta ~ normal(0, 10);
  mu = alpha + beta * floor_measure;
  for (n in 1:N) target += normal_lpdf(log_radon[n] | mu[n], sigma_y);
}`;
const RADON_NAME = 'radon_pooled loop, 12,573 points';

function radonData() {
  let s = 3;
  const u = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const N = 12573;
  const floor = Array.from({ length: N }, () => (u() < 0.2 ? 1 : 0));
  const y = floor.map((f) => 1.2 - 0.6 * f + 0.8 * (u() + u() + u() - 1.5));
  return { N, floor_measure: floor, log_radon: y };
}

/**
 * A capture-recapture model of posteriordb's M0 shape (M animals, T occasions): an animal seen
 * takes one term, one never seen a mixture of absent and missed, chosen by an `if` on the data,
 * which the vectorizer splits into two passes. Seeded synthetic captures.
 */
const CAPTURE = `
data { int<lower=0> M; int<lower=0> T; array[M] int<lower=0, upper=T> seen; }
parameters { real<lower=0, upper=1> omega; real<lower=0, upper=1> p; }
model {
  for (i in 1:M) {
    if (seen[i] > 0) target += log(omega) + binomial_lpmf(seen[i] | T, p);
    else target += log_sum_exp(log(omega) + binomial_lpmf(0 | T, p), log1m(omega));
  }
}`;
const CAPTURE_NAME = 'capture-recapture (M0 shape), 200 animals';

function captureData() {
  let s = 5;
  const u = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const T = 5;
  const seen = Array.from({ length: 200 }, () =>
    u() < 0.6 ? Array.from({ length: T }, () => (u() < 0.3 ? 1 : 0)).reduce((a, b) => a + b) : 0,
  );
  return { M: seen.length, T, seen };
}

const EXTRA = {
  [HMM_NAME]: [HMM, hmmData],
  [RADON_NAME]: [RADON, radonData],
  [CAPTURE_NAME]: [CAPTURE, captureData],
};

/** One case's figures, in the process's own heap. */
async function measure(name) {
  const time = (source, file, data, hand) => ({
    name,
    stan: cpuPerGradient(declareModel(stanModel(source, file, data))),
    // The same program with its loops run as written, one scalar density per pass.
    asWritten: cpuPerGradient(
      declareModel(stanModel(source, file, data, { vectorizeLoops: false })),
    ),
    hand: hand ? cpuPerGradient(hand) : null,
  });
  if (EXTRA[name]) return time(EXTRA[name][0], 'extra.stan', EXTRA[name][1](), null);
  const p = listPosteriors(ROOT).find((x) => x.name === name);
  const data = readJsonData(p.dataFile, 'data');
  const hand = await loadModel(`${ROOT}/models/${p.modelName}.mjs`, undefined, data);
  return time(readFileSync(p.stanFile, 'utf8'), p.stanFile, data, hand);
}

if (process.argv[2] === '--child') {
  process.stdout.write(JSON.stringify(await measure(process.argv[3])));
} else {
  // Each case in a fresh process (as avb runs one model per process), with and without the flag.
  const run = (flags, name) => {
    const r = spawnSync(process.execPath, [...flags, process.argv[1], '--child', name], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  };
  console.log(
    'CPU ms per gradient (median of 5 rounds of ~1 s), each case in its own process; Stan*: the',
  );
  console.log('Stan program without the 64 MiB semi-spaces (V8 defaults); loops: its loops run as');
  console.log('written, one pass per point, instead of one vectorised pass where that is exact');
  console.log(
    'posterior'.padEnd(40),
    'Stan'.padStart(8),
    'Stan*'.padStart(8),
    'loops'.padStart(8),
    'hand'.padStart(8),
    'Stan/hand'.padStart(10),
  );
  for (const name of [...listPosteriors(ROOT).map((p) => p.name), ...Object.keys(EXTRA)]) {
    const t = run(['--max-semi-space-size=64'], name);
    const plain = run([], name);
    const f = (x) => (x === null ? '—' : x.toFixed(3)).padStart(8);
    console.log(
      t.name.padEnd(40),
      f(t.stan),
      f(plain.stan),
      f(t.asWritten),
      f(t.hand),
      (t.hand === null ? '—' : (t.stan / t.hand).toFixed(1)).padStart(10),
    );
  }
}
