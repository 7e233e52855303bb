// NUTS on declared models: wall time, gradient evaluations and ESS per second, with the default
// Laplace-whitened coordinates and with Stan's plain diagonal metric (`precondition: 'none'`).
// Run after `npm run build`:  node bench/nuts.mjs   (one process, one core; seed 1)
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { initBackend } from '../dist/backend/initBackend.js';
import { loadModel } from '../dist/inference/loadModel.js';
import { nuts } from '../dist/inference/nuts.js';
import { Rng } from '../dist/random/rng.js';

await initBackend('cpu');

/** The regression: 5 predictors, 100 points, normal(0, 10) priors, sigma > 0 (6 parameters). */
function regressionData() {
  const rng = new Rng(11);
  const N = 100;
  const X = Array.from({ length: N }, () => Array.from({ length: 5 }, () => rng.normal()));
  const y = X.map((r) => r.reduce((s, v, j) => s + v * (1 - 0.3 * j), 0) + 0.5 * rng.normal());
  return { N, K: 5, X, y };
}
const regression = `${process.cwd()}/bench/nuts-regression.mjs`;
const pdb = (name) =>
  JSON.parse(gunzipSync(readFileSync(`examples/posteriordb/${name}/data.json.gz`)).toString());
const CASES = [
  ['regression (6 parameters, 100 points)', regression, regressionData()],
  [
    'kidiq-kidscore_momhsiq',
    'examples/posteriordb/models/kidscore_momhsiq.mjs',
    pdb('kidiq-kidscore_momhsiq'),
  ],
  ['arK-arK', 'examples/posteriordb/models/arK.mjs', pdb('arK-arK')],
  [
    'eight_schools-eight_schools_noncentered',
    'examples/posteriordb/models/eight_schools_noncentered.mjs',
    pdb('eight_schools-eight_schools_noncentered'),
  ],
  // A Cholesky factor per evaluation (11 × 11) and a 1,000-point log_mix: the fused operations.
  [
    'gp_pois_regr-gp_pois_regr',
    'examples/posteriordb/models/gp_pois_regr.mjs',
    pdb('gp_pois_regr-gp_pois_regr'),
  ],
  [
    'low_dim_gauss_mix-low_dim_gauss_mix',
    'examples/posteriordb/models/low_dim_gauss_mix.mjs',
    pdb('low_dim_gauss_mix-low_dim_gauss_mix'),
  ],
];
const only = process.argv.slice(2);
console.log(
  '| model | coordinates | time (s) | gradient evaluations | min ESS | min ESS / s | divergences |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const [name, file, data] of CASES) {
  if (only.length && !only.some((o) => name.startsWith(o))) continue;
  const model = await loadModel(file, undefined, data);
  for (const precondition of ['laplace', 'none']) {
    const r = await nuts(model, { chains: 4, warmup: 1000, samples: 1000, seed: 1, precondition });
    const ess = Math.min(...r.ess);
    console.log(
      `| ${name} | ${precondition === 'laplace' ? 'Laplace-whitened (default)' : 'diagonal metric only'} | ${r.seconds.toFixed(1)} | ${r.gradientEvaluations} | ${ess.toFixed(0)} | ${(ess / r.seconds).toFixed(0)} | ${r.divergences} |`,
    );
  }
}
