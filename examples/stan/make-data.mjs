// Writes the data of the Stan programs in this folder (next to them): real data where it is
// public and short (BUGS's surgical and seeds, Rubin's eight schools), else simulated data of
// the shape and scale of the posteriordb data set the program is named after, from a fixed
// seed (so the files are reproducible: `node examples/stan/make-data.mjs`).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let s = 12345;
const u = () => {
  s = (s * 1664525 + 1013904223) >>> 0;
  return (s + 0.5) / 4294967296;
};
const n = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
const w = (f, d) => writeFileSync(join(here, f), JSON.stringify(d) + '\n');
{
  // kilpisjarvi: 62 summers, warming 0.02/yr
  const x = [],
    y = [];
  for (let t = 1952; t <= 2013; t++) {
    x.push(t);
    y.push(+(8.7 + 0.02 * (t - 1982) + 1.1 * n()).toFixed(2));
  }
  const my = y.reduce((a, b) => a + b) / y.length;
  w('kilpisjarvi.json', {
    N: 62,
    x,
    y,
    xpred: 2016,
    pmualpha: +my.toFixed(2),
    psalpha: 100,
    pmubeta: 0,
    psbeta: 0.0333,
  });
}
{
  // earnings: 1059 people
  const N = 1059,
    earn = [],
    height = [];
  for (let i = 0; i < N; i++) {
    const h = Math.round(66.6 + 3.8 * n());
    height.push(h);
    earn.push(Math.max(0, Math.round(-60000 + 1250 * h + 19000 * n())));
  }
  w('earn_height.json', { N, earn, height });
}
{
  // radon: 85 counties of very unequal size, 919 houses
  const J = 85,
    sizes = [];
  for (let j = 0; j < J; j++) sizes.push(Math.max(1, Math.round(Math.exp(1.8 + 1.0 * n()))));
  const tot = sizes.reduce((a, b) => a + b);
  const county_idx = [],
    log_radon = [],
    floor_measure = [];
  const alpha = Array.from({ length: J }, () => 1.5 + 0.33 * n());
  for (let j = 0; j < J; j++)
    for (let k = 0; k < Math.max(1, Math.round((sizes[j] * 919) / tot)); k++) {
      const f = u() < 0.17 ? 1 : 0;
      county_idx.push(j + 1);
      floor_measure.push(f);
      log_radon.push(+(alpha[j] - 0.66 * f + 0.73 * n()).toFixed(3));
    }
  w('radon_centred.json', { J, N: county_idx.length, county_idx, log_radon, floor_measure });
}
{
  // mesquite: 46 bushes
  const N = 46,
    d = { N, weight: [], diam1: [], diam2: [], canopy_height: [] };
  for (let i = 0; i < N; i++) {
    const d1 = Math.exp(0.6 + 0.5 * n()),
      d2 = Math.exp(0.4 + 0.5 * n()),
      h = Math.exp(0.1 + 0.3 * n());
    d.diam1.push(+d1.toFixed(2));
    d.diam2.push(+d2.toFixed(2));
    d.canopy_height.push(+h.toFixed(2));
    d.weight.push(+Math.exp(5.2 + 0.72 * Math.log(d1 * d2 * h) + 0.41 * n()).toFixed(1));
  }
  w('logmesquite.json', d);
}
w('surgical.json', {
  N: 12,
  n: [47, 148, 119, 810, 211, 196, 148, 215, 207, 97, 256, 360],
  r: [0, 18, 8, 46, 8, 13, 9, 31, 14, 8, 29, 24],
});
w('seeds.json', {
  I: 21,
  n: [10, 23, 23, 26, 17, 5, 53, 55, 32, 46, 10, 8, 10, 8, 23, 0, 3, 22, 15, 32, 3],
  N: [39, 62, 81, 51, 39, 6, 74, 72, 51, 79, 13, 16, 30, 28, 45, 4, 12, 41, 30, 51, 7],
  x1: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
  x2: [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1],
});
w('eight_schools_centred.json', {
  J: 8,
  y: [28, 8, -3, 7, -1, 1, 18, 12],
  sigma: [15, 10, 16, 11, 9, 11, 10, 18],
});
{
  // dogs: 30 dogs x 25 trials, simulated from the model at beta = (1.8, -0.35, -0.21)
  const y = [];
  for (let j = 0; j < 30; j++) {
    const r = [];
    let a = 0,
      sh = 0;
    for (let t = 0; t < 25; t++) {
      const p = 1 / (1 + Math.exp(-(1.8 - 0.35 * a - 0.21 * sh)));
      const v = u() < p ? 1 : 0;
      r.push(v);
      a += 1 - v;
      sh += v;
    }
    y.push(r);
  }
  w('dogs.json', { n_dogs: 30, n_trials: 25, y });
}
{
  // arma11: 200 steps of an ARMA(1, 1) with mu 0.5, phi 0.6, theta 0.3, sigma 1
  const y = [];
  let prev = 0.5,
    err = 0;
  for (let t = 0; t < 200; t++) {
    const e = n();
    prev = 0.5 + 0.6 * prev + 0.3 * err + e;
    err = e;
    y.push(+prev.toFixed(4));
  }
  w('arma11.json', { T: 200, y });
}
{
  // M0_model: capture histories over 5 occasions of 110 animals, detection 0.25, augmented
  // with never-seen rows to M = 400
  const y = [];
  for (let i = 0; i < 400; i++)
    y.push(Array.from({ length: 5 }, () => (i < 110 && u() < 0.25 ? 1 : 0)));
  w('M0_model.json', { M: 400, T: 5, y });
}
{
  // hmm_drive_0: 200 steps of a 2-state chain (stay 0.85 / 0.7) with exponential 1/speed and
  // hoop distance, rates (0.8, 3) and (0.6, 2.5)
  const stay = [0.85, 0.7],
    phi = [0.8, 3],
    lambda = [0.6, 2.5];
  const uu = [],
    v = [];
  let k = 0;
  for (let t = 0; t < 200; t++) {
    uu.push(+(-Math.log(u()) / phi[k]).toFixed(4));
    v.push(+(-Math.log(u()) / lambda[k]).toFixed(4));
    if (u() >= stay[k]) k = 1 - k;
  }
  w('hmm_drive_0.json', {
    K: 2,
    N: 200,
    u: uu,
    v,
    alpha: [
      [1, 1],
      [1, 1],
    ],
  });
}
{
  // 2pl_latent_reg_irt: 60 persons answer 6 items; person covariates W = (1, x, a binary), latent
  // regression lambda = (0, 0.5, -0.4), discriminations exp(N(0.3, 0.3^2)), difficulties N(0, 1)
  const I = 6,
    J = 60,
    K = 3;
  const W = Array.from({ length: J }, () => [1, +n().toFixed(4), u() < 0.5 ? 1 : 0]);
  const lambda = [0, 0.5, -0.4];
  const theta = W.map((row) => row.reduce((a, x, k) => a + x * lambda[k], 0) + n());
  const alpha = Array.from({ length: I }, () => Math.exp(0.3 + 0.3 * n()));
  const beta = Array.from({ length: I }, () => n());
  const ii = [],
    jj = [],
    y = [];
  for (let j = 0; j < J; j++)
    for (let i = 0; i < I; i++) {
      ii.push(i + 1);
      jj.push(j + 1);
      y.push(u() < 1 / (1 + Math.exp(-(alpha[i] * theta[j] - beta[i]))) ? 1 : 0);
    }
  w('2pl_latent_reg_irt.json', { I, J, N: I * J, ii, jj, y, K, W });
}
