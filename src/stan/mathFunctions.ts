import * as ad from '../modelling/autodiff.js';
import type { Node, Val } from '../modelling/autodiff.js';
import { digamma, lgamma } from '../modelling/special.js';
import { normalQuantile } from '../math/mcmcDiagnostics.js';
import { lgammaOf } from '../modelling/distributions.js';
import { Phi, erfc, logDiffExp } from './cdfs.js';
import { logBesselI } from './continuousFamilies.js';
import { StanError } from './operators.js';
import { flat, int, isScalar, like, numberOf } from './values.js';
import type { Value } from './values.js';

/**
 * Stan's scalar special functions beyond the basic ones in `builtins.ts`: element-wise (a vector
 * gives a vector) and differentiable wherever Stan's are; the integer and rounding functions are
 * flat (zero derivative), as in Stan.
 */

const SQRT_PI = Math.sqrt(Math.PI);
const flatZero = (f: (x: number) => number) => (x: Val) => ad.unary(x, f, () => 0);

/** ψ'(x) by recurrence and the asymptotic series (the derivative of digamma). */
function trigammaOf(x: number): number {
  let r = 0;
  while (x < 6) r += 1 / (x * x++);
  const f = 1 / (x * x);
  return r + 1 / x + f / 2 + (f / x) * (1 / 6 - f * (1 / 30 - f / 42));
}

export const SPECIAL_ELEMENTWISE: Record<string, (x: Val) => Node> = {
  sin: (x) => ad.unary(x, Math.sin, Math.cos),
  cos: (x) => ad.unary(x, Math.cos, (v) => -Math.sin(v)),
  tan: (x) => ad.unary(x, Math.tan, (_v, o) => 1 + o * o),
  asin: (x) => ad.unary(x, Math.asin, (v) => 1 / Math.sqrt(1 - v * v)),
  acos: (x) => ad.unary(x, Math.acos, (v) => -1 / Math.sqrt(1 - v * v)),
  atan: (x) => ad.unary(x, Math.atan, (v) => 1 / (1 + v * v)),
  sinh: (x) => ad.unary(x, Math.sinh, Math.cosh),
  cosh: (x) => ad.unary(x, Math.cosh, Math.sinh),
  asinh: (x) => ad.unary(x, Math.asinh, (v) => 1 / Math.sqrt(v * v + 1)),
  acosh: (x) => ad.unary(x, Math.acosh, (v) => 1 / Math.sqrt(v * v - 1)),
  atanh: (x) => ad.unary(x, Math.atanh, (v) => 1 / (1 - v * v)),
  cbrt: (x) => ad.unary(x, Math.cbrt, (_v, o) => 1 / (3 * o * o)),
  exp2: (x) =>
    ad.unary(
      x,
      (v) => 2 ** v,
      (_v, o) => o * Math.LN2,
    ),
  erf: (x) =>
    ad.unary(
      x,
      (v) => 1 - erfc(v),
      (v) => (2 / SQRT_PI) * Math.exp(-v * v),
    ),
  erfc: (x) => ad.unary(x, erfc, (v) => (-2 / SQRT_PI) * Math.exp(-v * v)),
  Phi,
  // Stan's logistic approximation of Φ.
  Phi_approx: (x) => ad.invLogit(ad.add(ad.mul(0.07056, ad.pow(x, 3)), ad.mul(1.5976, x))),
  inv_Phi: (x) =>
    ad.unary(x, normalQuantile, (_v, o) => Math.sqrt(2 * Math.PI) * Math.exp(0.5 * o * o)),
  inv_cloglog: (x) => ad.sub(1, ad.exp(ad.neg(ad.exp(x)))),
  tgamma: (x) =>
    ad.unary(
      x,
      (v) => Math.exp(lgamma(v)),
      (v, o) => o * digamma(v),
    ),
  digamma: (x) => ad.unary(x, digamma, trigammaOf),
  trigamma: (x) =>
    ad.unary(x, trigammaOf, () => {
      throw new StanError('trigamma of parameters is not supported yet');
    }),
  floor: flatZero(Math.floor),
  ceil: flatZero(Math.ceil),
  round: flatZero(Math.round),
  trunc: flatZero(Math.trunc),
};

/** Functions of two or three scalars (or element-wise), or undefined when `name` is not one. */
export function specialFunction(name: string, a: Value[]): Value | undefined {
  const f = SPECIAL_ELEMENTWISE[name];
  if (f && a.length === 1) return like(a[0], f(flat(a[0])));
  const x = () => flat(a[0]);
  const y = () => flat(a[1]);
  const shaped = (v: Node) => like(isScalar(a[0]) ? a[1] : a[0], v);
  switch (name) {
    case 'atan2':
      return shaped(atan2(x(), y()));
    case 'hypot':
      return shaped(ad.sqrt(ad.add(ad.square(x()), ad.square(y()))));
    case 'fma':
      return like(a[0], ad.add(ad.mul(x(), y()), flat(a[2])));
    case 'fdim':
      return shaped(
        ad.unary(
          ad.sub(x(), y()),
          (d) => Math.max(d, 0),
          (d) => (d > 0 ? 1 : 0),
        ),
      );
    case 'fmod':
      return shaped(ad.sub(x(), ad.mul(y(), flatZero(Math.trunc)(ad.div(x(), y())))));
    case 'lbeta':
      return shaped(lbeta(x(), y()));
    case 'lchoose':
    case 'binomial_coefficient_log':
      // log C(n, k) = −log(n + 1) − lbeta(n − k + 1, k + 1).
      return shaped(
        ad.neg(ad.add(ad.log1p(x()), lbeta(ad.add(ad.sub(x(), y()), 1), ad.add(y(), 1)))),
      );
    case 'choose': {
      const [n, k] = [scalar(a[0]), scalar(a[1])];
      return int(
        k < 0 || k > n
          ? 0
          : Math.round(Math.exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1))),
      );
    }
    case 'log_diff_exp':
      return shaped(logDiffExp(x(), y()));
    case 'log_inv_logit_diff':
      // log(inv_logit(x) − inv_logit(y)).
      return shaped(logDiffExp(ad.logInvLogit(x()), ad.logInvLogit(y())));
    case 'lmultiply':
    case 'multiply_log':
      // 0 where x is 0, whatever y: Stan's lmultiply(0, 0) is 0.
      return shaped(ad.lmultiply(x(), y()));
    case 'log_falling_factorial':
      return shaped(ad.sub(lgammaOf(ad.add(x(), 1)), lgammaOf(ad.add(ad.sub(x(), y()), 1))));
    case 'log_rising_factorial':
      return shaped(ad.sub(lgammaOf(ad.add(x(), y())), lgammaOf(x())));
    case 'modified_bessel_first_kind':
      return shaped(besselI(x(), y()));
    case 'log_modified_bessel_first_kind':
      return shaped(logBesselIOf(x(), y()));
    case 'is_inf':
      return int(Math.abs(scalar(a[0])) === Infinity ? 1 : 0);
    case 'is_nan':
      return int(Number.isNaN(scalar(a[0])) ? 1 : 0);
    case 'to_int':
      return int(Math.trunc(scalar(a[0])));
  }
  return undefined;
}

/**
 * I_v(z) for integer order v (GP spectral densities of periodic kernels: posteriordb's
 * hilbert_gp and birthday models): I_{-v} = I_v, I_v(−z) = (−1)^v I_v(z), and
 * d/dz I_v(z) = (I_{v−1}(z) + I_{v+1}(z)) / 2. The order is data, as in Stan.
 */
function besselI(order: Val, zv: Val): Node {
  const value = (v: number, z: number) => {
    if (!Number.isInteger(v)) throw new StanError('modified_bessel_first_kind needs an int order');
    const m = Math.abs(v);
    return (z < 0 && m % 2 === 1 ? -1 : 1) * Math.exp(logBesselI(m, Math.abs(z)));
  };
  return ad.binary(
    order,
    zv,
    value,
    () => {
      throw new StanError('modified_bessel_first_kind: the order is an int');
    },
    (v, z) => (value(v - 1, z) + value(v + 1, z)) / 2,
  );
}

/**
 * log I_ν(z) for real ν ≥ 0 and z ≥ 0: ∂/∂z = I_{ν+1}(z) / I_ν(z) + ν / z. Its derivative in ν
 * (a series of digammas) is not implemented: ν must be data.
 */
function logBesselIOf(nu: Val, zv: Val): Node {
  return ad.binary(
    nu,
    zv,
    (v, z) => {
      if (!(v >= 0 && z >= 0))
        throw new StanError(`log_modified_bessel_first_kind(${v}, ${z}): needs v, z >= 0`);
      return logBesselI(v, z);
    },
    () => {
      throw new StanError(
        'log_modified_bessel_first_kind of a parameter order is not supported yet',
      );
    },
    (v, z, out) =>
      z === 0 ? (v === 0 ? 0 : Infinity) : Math.exp(logBesselI(v + 1, z) - out) + v / z,
  );
}

/** A scalar argument's value. */
function scalar(v: Value): number {
  if (!isScalar(v)) throw new StanError('expected a scalar');
  return numberOf(v.v);
}

/** log B(p, q) on the kit. */
export const lbeta = (p: Val, q: Val) =>
  ad.sub(ad.add(lgammaOf(p), lgammaOf(q)), lgammaOf(ad.add(p, q)));

/** atan2(y, x) on the kit: ∂/∂y = x / (x² + y²), ∂/∂x = −y / (x² + y²). */
function atan2(yv: Val, xv: Val): Node {
  return ad.binary(
    yv,
    xv,
    Math.atan2,
    (y, x) => x / (x * x + y * y),
    (y, x) => -y / (x * x + y * y),
  );
}
