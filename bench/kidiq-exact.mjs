// posteriordb's kidiq (kidscore_momhsiq) judged against its exact posterior, not the reference
// draws. The model is a linear regression with flat priors on β and a half-Cauchy(0, 2.5) on σ,
// so β | σ ~ N(β̂, σ² (XᵀX)⁻¹) and σ's marginal is p(σ) ∝ cauchy(σ) σ^-(n-k) exp(-S / 2σ²)
// (S the least-squares residual sum): exact means and sds by quadrature over σ on a fine grid,
// and exact i.i.d. draws (σ by its grid's inverse cdf, then β given σ) for the 1-D Wasserstein
// distance. Every fit of a `avb reproduce posteriordb` run folder, the reference draws and the
// reference's two halves are then judged as the suite judges a fit against the reference:
// worst standardised mean error, worst sd ratio, worst W₁ (in exact sds), beside sets of
// 4,000 exact draws, which show what a method whose draws were exact would score.
// Run after `npm run build`:  node bench/kidiq-exact.mjs <run folder>   (seeds 1-4, ~15 s)
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cholesky, inverseFromCholesky } from '../dist/math/denseMatrix.js';
import { wasserstein1 } from '../dist/math/marginalAccuracy.js';
import { readJsonData } from '../dist/io/jsonData.js';
import { Rng } from '../dist/random/rng.js';
import { readDrawsCsv } from '../dist/experiments/reproduce/posteriordb.js';

const POSTERIOR = 'kidiq-kidscore_momhsiq';
const VENDORED = join('examples/posteriordb', POSTERIOR);
const NAMES = ['beta[1]', 'beta[2]', 'beta[3]', 'sigma'];
const EXACT_DRAWS = 1_000_000;

const run = process.argv[2];
if (!run || !existsSync(join(run, 'fits', POSTERIOR))) {
  console.error(
    `usage: node bench/kidiq-exact.mjs <folder of avb reproduce posteriordb with ${POSTERIOR}>`,
  );
  process.exit(2);
}

// Least squares: X = [1, mom_hs, mom_iq].
const data = readJsonData(join(VENDORED, 'data.json.gz'));
const n = data.N;
const k = 3;
const row = (i) => [1, data.mom_hs[i], data.mom_iq[i]];
const xtx = new Float64Array(k * k);
const xty = new Float64Array(k);
for (let i = 0; i < n; i++) {
  const x = row(i);
  for (let a = 0; a < k; a++) {
    xty[a] += x[a] * data.kid_score[i];
    for (let b = 0; b < k; b++) xtx[a * k + b] += x[a] * x[b];
  }
}
const inv = inverseFromCholesky(cholesky(xtx, k), k);
const bhat = [0, 1, 2].map((a) => [0, 1, 2].reduce((s, b) => s + inv[a * k + b] * xty[b], 0));
let rss = 0;
for (let i = 0; i < n; i++) {
  const x = row(i);
  rss += (data.kid_score[i] - x.reduce((s, v, a) => s + v * bhat[a], 0)) ** 2;
}

// σ's marginal on a grid spanning its posterior many times over (ŝ ± ~8 posterior sds).
const sHat = Math.sqrt(rss / (n - k));
const G = 20001;
const sigma = Float64Array.from({ length: G }, (_, g) => sHat * (0.8 + (0.45 * g) / (G - 1)));
const logp = sigma.map(
  (s) => -Math.log1p((s / 2.5) ** 2) - (n - k) * Math.log(s) - rss / (2 * s * s),
);
const top = Math.max(...logp);
const weight = logp.map((l) => Math.exp(l - top));
const total = weight.reduce((a, b) => a + b, 0);
for (let g = 0; g < G; g++) weight[g] /= total;
const expect = (f) => sigma.reduce((s, v, g) => s + weight[g] * f(v), 0);
const eSigma2 = expect((s) => s * s);
const exact = {};
for (let j = 0; j < k; j++)
  exact[NAMES[j]] = { mean: bhat[j], sd: Math.sqrt(eSigma2 * inv[j * k + j]) };
const eSigma = expect((s) => s);
exact.sigma = { mean: eSigma, sd: Math.sqrt(eSigma2 - eSigma ** 2) };

// Exact draws: σ by inverse cdf on the grid (linear within a cell), then β = β̂ + σ L ε.
const cdf = new Float64Array(G);
for (let g = 1; g < G; g++) cdf[g] = cdf[g - 1] + 0.5 * (weight[g - 1] + weight[g]);
for (let g = 0; g < G; g++) cdf[g] /= cdf[G - 1];
const L = cholesky(inv, k);
const exactDraws = exactSample(EXACT_DRAWS, new Rng(1));

/** `count` exact i.i.d. draws of the posterior, by quantity name. */
function exactSample(count, rng) {
  const out = Object.fromEntries(NAMES.map((nm) => [nm, new Float64Array(count)]));
  for (let d = 0; d < count; d++) {
    const u = rng.uniform();
    let lo = 0;
    let hi = G - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] <= u) lo = mid;
      else hi = mid;
    }
    const t = (u - cdf[lo]) / (cdf[hi] - cdf[lo] || 1);
    const s = sigma[lo] + t * (sigma[hi] - sigma[lo]);
    const e = [rng.normal(), rng.normal(), rng.normal()];
    out.sigma[d] = s;
    for (let a = 0; a < k; a++) {
      let v = bhat[a];
      for (let b = 0; b <= a; b++) v += s * L[a * k + b] * e[b];
      out[NAMES[a]][d] = v;
    }
  }
  return out;
}

/** The suite's three figures for one set of draws, against the exact posterior. */
function judge(draws) {
  let meanError = 0;
  let sdRatio = 1;
  let w1 = 0;
  for (const nm of NAMES) {
    const v = draws[nm];
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
    meanError = Math.max(meanError, Math.abs(m - exact[nm].mean) / exact[nm].sd);
    const r = sd / exact[nm].sd;
    if (Math.abs(Math.log(r)) > Math.abs(Math.log(sdRatio))) sdRatio = r;
    w1 = Math.max(w1, wasserstein1(v, exactDraws[nm]) / exact[nm].sd);
  }
  return { meanError, sdRatio, w1 };
}

const lines = [
  `exact posterior: ${NAMES.map((nm) => `${nm} ${exact[nm].mean.toFixed(4)} ± ${exact[nm].sd.toFixed(4)}`).join(', ')}`,
  '',
  '| draws | worst mean error | worst sd ratio | worst W₁ |',
  '| --- | --- | --- | --- |',
];
const show = (label, draws) => {
  const j = judge(draws);
  lines.push(
    `| ${label} | ${j.meanError.toFixed(3)} | ${j.sdRatio.toFixed(3)} | ${j.w1.toFixed(3)} |`,
  );
};
const chains = readJsonData(join(VENDORED, 'reference_draws.json.gz'));
const pool = (cs) => Object.fromEntries(NAMES.map((nm) => [nm, cs.flatMap((c) => c[nm])]));
show('reference (10 chains × 1,000)', pool(chains));
show('reference chains 1–5', pool(chains.slice(0, 5)));
show('reference chains 6–10', pool(chains.slice(5)));
// What a perfect method scores: 4,000 exact draws (the fits' number), three sets.
for (const seed of [2, 3, 4])
  show(`4,000 exact draws (seed ${seed})`, exactSample(4000, new Rng(seed)));
const fits = join(run, 'fits', POSTERIOR);
for (const fit of readdirSync(fits).sort()) {
  const file = join(fits, fit, 'draws.csv');
  if (existsSync(file)) show(fit, readDrawsCsv(file));
}
console.log(lines.join('\n'));
