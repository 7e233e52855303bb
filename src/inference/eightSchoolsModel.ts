import * as tf from '../tf.js';
import { EIGHT_SCHOOLS_CLASSIC, EIGHT_SCHOOLS_PAPER } from '../data/eightSchools.js';
import type { EightSchoolsData } from '../data/eightSchools.js';
import type { BayesianModel } from './model.js';

const J = 8;
const summaryNames = ['mu', 'tau', ...Array.from({ length: J }, (_, j) => `theta_${j + 1}`)];

function likelihood(z: tf.Tensor2D, tau: tf.Tensor, d: EightSchoolsData): tf.Tensor1D {
  const mu = z.slice([0, 0], [-1, 1]);
  const eta = z.slice([0, 2], [-1, J]);
  const theta = tf.add(mu, tf.mul(tau, eta));
  const r = tf.div(tf.sub(tf.tensor1d(d.y), theta), tf.tensor1d(d.sigma));
  return tf.mul(tf.sum(tf.square(r), 1), -0.5) as tf.Tensor1D;
}

/**
 * The likelihood term and its gradient in doubles: sum_j -(y_j - theta_j)^2 / (2 sigma_j^2) with
 * theta_j = mu + tau eta_j; returns it with d/dmu, d/dtau and d/deta_j.
 */
function likelihoodAndGradient(mu: number, tau: number, z: Float64Array, d: EightSchoolsData) {
  let logLik = 0;
  let dMu = 0;
  let dTau = 0;
  const dEta = new Float64Array(J);
  for (let j = 0; j < J; j++) {
    const eta = z[2 + j];
    const resid = d.y[j] - (mu + tau * eta);
    const r = resid / d.sigma[j] ** 2; // d logLik / d theta_j
    logLik -= 0.5 * resid * r;
    dMu += r;
    dTau += r * eta;
    dEta[j] = r * tau;
  }
  return { logLik, dMu, dTau, dEta };
}

/**
 * The paper's eight schools (section 6.1): z = (mu, tau, eta_1..8), all N(0, 1) a priori, tau
 * unconstrained (so the posterior has two mirror modes in tau), theta_j = mu + tau eta_j,
 * y_j ~ N(theta_j, sigma_j) with the paper's rescaled data.
 */
export function eightSchoolsPaper(d: EightSchoolsData = EIGHT_SCHOOLS_PAPER): BayesianModel {
  return {
    name: 'eight-schools-paper',
    dim: 2 + J,
    parameterNames: ['mu', 'tau', ...Array.from({ length: J }, (_, j) => `eta_${j + 1}`)],
    logJoint: (z) =>
      tf.tidy(() => {
        const prior = tf.mul(tf.sum(tf.square(z), 1), -0.5);
        return tf.add(prior, likelihood(z, z.slice([0, 1], [-1, 1]), d)) as tf.Tensor1D;
      }),
    summaryNames,
    summarize: (z) => [z[0], z[1], ...Array.from({ length: J }, (_, j) => z[0] + z[1] * z[2 + j])],
    logDensityAndGradient: (z) => {
      const { logLik, dMu, dTau, dEta } = likelihoodAndGradient(z[0], z[1], z, d);
      let prior = 0;
      for (const v of z) prior -= 0.5 * v * v;
      const grad = new Float64Array(2 + J);
      grad[0] = dMu - z[0];
      grad[1] = dTau - z[1];
      for (let j = 0; j < J; j++) grad[2 + j] = dEta[j] - z[2 + j];
      return { logp: prior + logLik, grad };
    },
    // (tau, eta) -> (-tau, -eta) leaves theta and the density unchanged.
    mirror: (s) => [s[0], -s[1], ...s.slice(2)],
  };
}

/**
 * The classic eight schools (Rubin 1981; rstan's getting-started model): mu flat, tau >= 0 flat,
 * non-centred theta_j = mu + tau eta_j with eta_j ~ N(0, 1), y_j ~ N(theta_j, sigma_j). Sampled
 * on z = (mu, log tau, eta): the density gains the Jacobian tau = exp(log tau).
 */
export function eightSchoolsClassic(d: EightSchoolsData = EIGHT_SCHOOLS_CLASSIC): BayesianModel {
  return {
    name: 'eight-schools-classic',
    dim: 2 + J,
    parameterNames: ['mu', 'log_tau', ...Array.from({ length: J }, (_, j) => `eta_${j + 1}`)],
    logJoint: (z) =>
      tf.tidy(() => {
        const logTau = z.slice([0, 1], [-1, 1]);
        const eta = z.slice([0, 2], [-1, J]);
        const prior = tf.mul(tf.sum(tf.square(eta), 1), -0.5);
        const jacobian = logTau.reshape([-1]);
        return tf.add(tf.add(prior, jacobian), likelihood(z, tf.exp(logTau), d)) as tf.Tensor1D;
      }),
    summaryNames,
    summarize: (z) => {
      const tau = Math.exp(z[1]);
      return [z[0], tau, ...Array.from({ length: J }, (_, j) => z[0] + tau * z[2 + j])];
    },
    logDensityAndGradient: (z) => {
      const tau = Math.exp(z[1]);
      const { logLik, dMu, dTau, dEta } = likelihoodAndGradient(z[0], tau, z, d);
      let prior = z[1]; // the Jacobian of tau = exp(log tau)
      for (let j = 0; j < J; j++) prior -= 0.5 * z[2 + j] ** 2;
      const grad = new Float64Array(2 + J);
      grad[0] = dMu;
      grad[1] = 1 + dTau * tau;
      for (let j = 0; j < J; j++) grad[2 + j] = dEta[j] - z[2 + j];
      return { logp: prior + logLik, grad };
    },
  };
}

/**
 * Exact posterior moments of the classic model by one-dimensional quadrature over tau
 * (BDA section 5.4: mu and theta integrate out in closed form given tau).
 */
export function classicPosteriorMoments(d: EightSchoolsData = EIGHT_SCHOOLS_CLASSIC) {
  const grid = 20000;
  const tauMax = 200;
  let norm = 0;
  const acc = { mu: 0, mu2: 0, tau: 0, tau2: 0, theta1: 0, theta12: 0 };
  const logw: number[] = [];
  const rows: { muHat: number; vMu: number; tau: number }[] = [];
  for (let g = 0; g < grid; g++) {
    const tau = ((g + 0.5) / grid) * tauMax;
    let a = 0;
    let b = 0;
    for (let j = 0; j < J; j++) {
      const v = d.sigma[j] ** 2 + tau * tau;
      a += d.y[j] / v;
      b += 1 / v;
    }
    const muHat = a / b;
    const vMu = 1 / b;
    let lw = 0.5 * Math.log(vMu);
    for (let j = 0; j < J; j++) {
      const v = d.sigma[j] ** 2 + tau * tau;
      lw += -0.5 * Math.log(v) - (d.y[j] - muHat) ** 2 / (2 * v);
    }
    logw.push(lw);
    rows.push({ muHat, vMu, tau });
  }
  const mx = Math.max(...logw);
  rows.forEach(({ muHat, vMu, tau }, g) => {
    const w = Math.exp(logw[g] - mx);
    norm += w;
    acc.mu += w * muHat;
    acc.mu2 += w * (vMu + muHat * muHat);
    acc.tau += w * tau;
    acc.tau2 += w * tau * tau;
    // theta_1 | mu, tau ~ N((y1/s1^2 + mu/tau^2) / (1/s1^2 + 1/tau^2), 1 / (1/s1^2 + 1/tau^2)).
    const p1 = 1 / d.sigma[0] ** 2;
    const p0 = 1 / (tau * tau);
    const k = p0 / (p1 + p0);
    const mean1 = (1 - k) * d.y[0] + k * muHat; // E over mu | tau
    const var1 = 1 / (p1 + p0) + k * k * vMu;
    acc.theta1 += w * mean1;
    acc.theta12 += w * (var1 + mean1 * mean1);
  });
  const m = (v: number) => v / norm;
  return {
    mu: { mean: m(acc.mu), sd: Math.sqrt(m(acc.mu2) - m(acc.mu) ** 2) },
    tau: { mean: m(acc.tau), sd: Math.sqrt(m(acc.tau2) - m(acc.tau) ** 2) },
    theta_1: { mean: m(acc.theta1), sd: Math.sqrt(m(acc.theta12) - m(acc.theta1) ** 2) },
  };
}
