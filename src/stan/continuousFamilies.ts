import * as ad from '../modelling/autodiff.js';
import type { Node, Val } from '../modelling/autodiff.js';
import { lgammaOf } from '../modelling/distributions.js';
import { lgamma } from '../modelling/special.js';
import { logPhi } from './cdfs.js';

/**
 * Stan's univariate continuous families beyond the common ones of `builtins.ts`, as Stan's
 * functions reference defines them (normalising constants included), element by element with
 * broadcasting and then summed. Each is checked in the tests against quadrature (it integrates
 * to 1, with the mean its closed form gives) and its gradient against central differences.
 */
export function continuousLogDensity(family: string, y: Val, p: Val[]): Node | undefined {
  const each = elementwise(family, y, p);
  return each && ad.sum(each);
}

/** The families here: every one sums over broadcast vector arguments. */
export const CONTINUOUS_FAMILIES = [
  'skew_normal',
  'gumbel',
  'inv_chi_square',
  'scaled_inv_chi_square',
  'pareto',
  'pareto_type_2',
  'frechet',
  'rayleigh',
  'beta_proportion',
  'loglogistic',
  'exp_mod_normal',
  'von_mises',
] as const;

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

function elementwise(family: string, y: Val, p: Val[]): Node | undefined {
  return onTheLine(family, y, p) ?? onAHalfLine(family, y, p);
}

/** The families on the whole line (von Mises: on a circle). */
function onTheLine(family: string, y: Val, p: Val[]): Node | undefined {
  const z = () => ad.div(ad.sub(y, p[0]), p[1]);
  switch (family) {
    case 'skew_normal': {
      // 2/ω φ(z) Φ(αz), z = (y − ξ)/ω.
      const zz = z();
      return ad.add(
        ad.sub(ad.mul(ad.square(zz), -0.5), ad.add(ad.log(p[1]), HALF_LOG_2PI - Math.LN2)),
        logPhi(ad.mul(p[2], zz)),
      );
    }
    case 'gumbel': {
      const zz = z();
      return ad.sub(ad.neg(ad.add(ad.log(p[1]), zz)), ad.exp(ad.neg(zz)));
    }
    case 'exp_mod_normal': {
      // λ e^(λ(μ + λσ²/2 − y)) Φ((y − μ)/σ − λσ).
      const [mu, sigma, lambda] = p;
      return ad.add(
        ad.add(
          ad.log(lambda),
          ad.mul(lambda, ad.sub(ad.add(mu, ad.mul(0.5, ad.mul(lambda, ad.square(sigma)))), y)),
        ),
        logPhi(ad.sub(ad.div(ad.sub(y, mu), sigma), ad.mul(lambda, sigma))),
      );
    }
    case 'von_mises': {
      // e^(κ cos(y − μ)) / (2π I₀(κ)).
      const [mu, kappa] = p;
      const cos = ad.unary(ad.sub(y, mu), Math.cos, (x) => -Math.sin(x));
      return ad.sub(ad.mul(kappa, cos), ad.add(logBesselI0(kappa), Math.log(2 * Math.PI)));
    }
  }
  return undefined;
}

/** The families of positive outcomes (or above a minimum, or in (0, 1)). */
function onAHalfLine(family: string, y: Val, p: Val[]): Node | undefined {
  switch (family) {
    case 'inv_chi_square': {
      // 2^(−ν/2)/Γ(ν/2) y^(−ν/2−1) e^(−1/(2y)).
      const half = ad.mul(p[0], 0.5);
      return ad.sub(
        ad.sub(ad.neg(ad.add(ad.mul(half, Math.LN2), lgammaOf(half))), ad.div(0.5, y)),
        ad.mul(ad.add(half, 1), ad.log(y)),
      );
    }
    case 'scaled_inv_chi_square': {
      // (ν/2)^(ν/2)/Γ(ν/2) s^ν y^(−ν/2−1) e^(−ν s²/(2y)).
      const [nu, s] = p;
      const half = ad.mul(nu, 0.5);
      return ad.sub(
        ad.add(ad.sub(ad.mul(half, ad.log(half)), lgammaOf(half)), ad.mul(nu, ad.log(s))),
        ad.add(ad.mul(ad.add(half, 1), ad.log(y)), ad.div(ad.mul(half, ad.square(s)), y)),
      );
    }
    case 'pareto': {
      // α y_min^α / y^(α+1) on y ≥ y_min.
      const [ymin, alpha] = p;
      if (below(y, ymin)) return ad.lift(-Infinity);
      return ad.sub(
        ad.add(ad.log(alpha), ad.mul(alpha, ad.log(ymin))),
        ad.mul(ad.add(alpha, 1), ad.log(y)),
      );
    }
    case 'pareto_type_2': {
      // α/λ (1 + (y − μ)/λ)^(−(α+1)) on y ≥ μ.
      const [mu, lambda, alpha] = p;
      if (below(y, mu)) return ad.lift(-Infinity);
      return ad.sub(
        ad.sub(ad.log(alpha), ad.log(lambda)),
        ad.mul(ad.add(alpha, 1), ad.log1p(ad.div(ad.sub(y, mu), lambda))),
      );
    }
    case 'frechet': {
      // α/σ (y/σ)^(−1−α) e^(−(y/σ)^(−α)).
      const [alpha, sigma] = p;
      const logRatio = ad.sub(ad.log(y), ad.log(sigma));
      return ad.sub(
        ad.sub(ad.sub(ad.log(alpha), ad.log(sigma)), ad.mul(ad.add(alpha, 1), logRatio)),
        ad.exp(ad.mul(ad.neg(alpha), logRatio)),
      );
    }
    case 'rayleigh': {
      // y/σ² e^(−y²/(2σ²)).
      const sigma = p[0];
      return ad.sub(
        ad.sub(ad.log(y), ad.mul(2, ad.log(sigma))),
        ad.mul(0.5, ad.square(ad.div(y, sigma))),
      );
    }
    case 'beta_proportion': {
      // beta(y | μκ, (1 − μ)κ).
      const [mu, kappa] = p;
      const a = ad.mul(mu, kappa);
      const b = ad.mul(ad.sub(1, mu), kappa);
      return ad.add(
        ad.sub(lgammaOf(kappa), ad.add(lgammaOf(a), lgammaOf(b))),
        ad.add(ad.mul(ad.sub(a, 1), ad.log(y)), ad.mul(ad.sub(b, 1), ad.log1m(y))),
      );
    }
    case 'loglogistic': {
      // Stan's loglogistic(y | α, β), α the scale, β the shape:
      // (β/α)(y/α)^(β−1) / (1 + (y/α)^β)².
      const [alpha, beta] = p;
      const logRatio = ad.sub(ad.log(y), ad.log(alpha));
      return ad.sub(
        ad.add(ad.sub(ad.log(beta), ad.log(alpha)), ad.mul(ad.sub(beta, 1), logRatio)),
        ad.mul(2, ad.log1pExp(ad.mul(beta, logRatio))),
      );
    }
  }
  return undefined;
}

/** Whether any element of y (broadcast) lies below its bound. */
function below(y: Val, bound: Val): boolean {
  const [Y, B] = [ad.lift(y).value, ad.lift(bound).value];
  const n = Math.max(Y.length, B.length);
  for (let i = 0; i < n; i++)
    if (Y[Y.length === 1 ? 0 : i] < B[B.length === 1 ? 0 : i]) return true;
  return false;
}

/**
 * log I_ν(x), the modified Bessel function of the first kind, for real ν ≥ 0 and x ≥ 0, from
 * the series Σ_k (x/2)^(2k+ν) / (k! Γ(k+ν+1)) summed in log space (every term positive, so no
 * cancellation; the terms peak near k = x/2 and fall faster than geometrically after it).
 */
export function logBesselI(nu: number, x: number): number {
  if (x === 0) return nu === 0 ? 0 : -Infinity;
  const logHalf = Math.log(x / 2);
  const terms: number[] = [];
  let peak = -Infinity;
  let logFactK = 0;
  let logGammaKNu = lgamma(nu + 1); // log Γ(k + ν + 1) at k = 0
  for (let k = 0; ; k++) {
    if (k > 0) {
      logFactK += Math.log(k);
      logGammaKNu += Math.log(k + nu);
    }
    const t = (2 * k + nu) * logHalf - logFactK - logGammaKNu;
    terms.push(t);
    peak = Math.max(peak, t);
    if (k > x / 2 && t < peak - 40) break;
  }
  let s = 0;
  for (const t of terms) s += Math.exp(t - peak);
  return peak + Math.log(s);
}

/** log I₀(κ) on the kit: d/dκ = I₁(κ)/I₀(κ). */
const logBesselI0 = (kappa: Val): Node =>
  ad.unary(
    kappa,
    (x) => logBesselI(0, x),
    (x, out) => (x === 0 ? 0 : Math.exp(logBesselI(1, x) - out)),
  );
