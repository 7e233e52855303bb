/**
 * Constrained parameter blocks, Stan's way: each maps unconstrained coordinates u ∈ R^free to a
 * constrained value and adds log |det ∂x/∂u| to the log density, so that samplers and
 * variational families work on R^d while a model is written on its natural space.
 *
 * ```ts
 * const parameters = { beta: vector(3), sigma: real({ lower: 0 }), theta: simplex(4) };
 * ```
 *
 * Bounds may be numbers or functions of the parameters declared before (Stan's
 * `real<lower=0, upper=1 - alpha1> beta1`): `real({ lower: 0, upper: (p) => sub(1, p.alpha1) })`.
 * The transforms are Stan's (reference manual, "Constraint transforms"), so unconstrained
 * coordinates mean the same as in Stan.
 */
import {
  add,
  concat,
  dot,
  exp,
  log1m,
  sqrt,
  square,
  tanh,
  index,
  invLogit,
  lift,
  log,
  log1mInvLogit,
  logInvLogit,
  mul,
  Node,
  slice,
  sub,
  sum,
  total,
} from './autodiff.js';
import type { Val } from './autodiff.js';

/** A bound: a constant, or a function of the parameters declared before this one. */
export type Bound = number | ((earlier: Record<string, Node>) => Val);

/** A declared parameter: its shape, its free dimension and its transform. */
export interface ParameterBlock {
  /** What it is, for messages: `real`, `real<lower=0>`, `simplex[3]`, ... */
  readonly kind: string;
  /** Length of the constrained value; `scalar` blocks report one name without an index. */
  readonly size: number;
  readonly scalar: boolean;
  /** Number of unconstrained coordinates. */
  readonly free: number;
  /** A matrix's [rows, cols] (its value is row-major, reported as `name[i,j]`); absent: a vector. */
  readonly shape?: readonly [number, number];
  /** u [free] → value [size] and its log-Jacobian (a scalar). */
  constrain(u: Node, earlier: Record<string, Node>): { value: Node; logJacobian: Node };
  /** The inverse, in doubles: a constrained value → u (for starting points and tests). */
  unconstrain(x: ArrayLike<number>, earlier: Record<string, Node>): Float64Array;
}

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`${what} must be a positive integer, got ${n}`);
}

function boundValue(b: Bound | undefined, earlier: Record<string, Node>): Node | undefined {
  if (b === undefined) return undefined;
  return lift(typeof b === 'function' ? b(earlier) : b);
}

const at = (v: Node, i: number): number => v.value[v.length === 1 ? 0 : i];

function describeBound(b: Bound | undefined): string | undefined {
  if (b === undefined) return undefined;
  return typeof b === 'number' ? String(b) : '(expression)';
}

/**
 * Options of a real scalar or vector: optional lower and upper bounds, or Stan's offset and
 * multiplier (x = offset + multiplier u: the posterior of x is the same, but the sampler and q
 * see u, which non-centres a hierarchical parameter: `theta` with offset mu and multiplier tau).
 */
export interface BoundOptions {
  lower?: Bound;
  upper?: Bound;
  offset?: Bound;
  multiplier?: Bound;
}

function boundedBlock(size: number, scalar: boolean, o: BoundOptions): ParameterBlock {
  checkSize(size, 'a vector length');
  if (typeof o.lower === 'number' && typeof o.upper === 'number' && !(o.lower < o.upper))
    throw new RangeError(`lower bound ${o.lower} is not below upper bound ${o.upper}`);
  if (o.offset !== undefined || o.multiplier !== undefined) {
    if (o.lower !== undefined || o.upper !== undefined)
      throw new RangeError('a parameter takes bounds or an offset and multiplier, not both');
    return affineBlock(size, scalar, o);
  }
  const limits = [
    o.lower !== undefined ? `lower=${describeBound(o.lower)}` : '',
    o.upper !== undefined ? `upper=${describeBound(o.upper)}` : '',
  ].filter(Boolean);
  const kind = `${scalar ? 'real' : `vector[${size}]`}${limits.length ? `<${limits.join(', ')}>` : ''}`;
  return {
    kind,
    size,
    scalar,
    free: size,
    constrain(u, earlier) {
      const lo = boundValue(o.lower, earlier);
      const hi = boundValue(o.upper, earlier);
      if (lo && hi) {
        // x = lo + (hi - lo) inv_logit(u); log J = log(hi - lo) + log σ(u) + log(1 - σ(u)).
        const width = sub(hi, lo);
        const value = add(lo, mul(width, invLogit(u)));
        const logJ = add(
          mul(sum(log(width)), width.length === 1 ? size : 1),
          sum(add(logInvLogit(u), log1mInvLogit(u))),
        );
        return { value, logJacobian: logJ };
      }
      if (lo) return { value: add(lo, exp(u)), logJacobian: sum(u) };
      if (hi) return { value: sub(hi, exp(u)), logJacobian: sum(u) };
      return { value: u, logJacobian: lift(0) };
    },
    unconstrain(x, earlier) {
      const lo = boundValue(o.lower, earlier);
      const hi = boundValue(o.upper, earlier);
      return Float64Array.from({ length: size }, (_, i) => {
        if (lo && hi) {
          const p = (x[i] - at(lo, i)) / (at(hi, i) - at(lo, i));
          return Math.log(p / (1 - p));
        }
        if (lo) return Math.log(x[i] - at(lo, i));
        if (hi) return Math.log(at(hi, i) - x[i]);
        return x[i];
      });
    },
  };
}

/** x = offset + multiplier u (either may be absent: 0 and 1); log J = Σ log multiplier. */
function affineBlock(size: number, scalar: boolean, o: BoundOptions): ParameterBlock {
  const affineOf = (earlier: Parameters<typeof boundValue>[1]) => ({
    shift: boundValue(o.offset, earlier) ?? lift(0),
    scale: boundValue(o.multiplier, earlier) ?? lift(1),
  });
  return {
    kind: `${scalar ? 'real' : `vector[${size}]`}<offset, multiplier>`,
    size,
    scalar,
    free: size,
    constrain(u, earlier) {
      const { shift, scale } = affineOf(earlier);
      const logScale = log(scale);
      return {
        value: add(shift, mul(scale, u)),
        logJacobian: scale.length === 1 ? mul(logScale, size) : sum(logScale),
      };
    },
    unconstrain(x, earlier) {
      const { shift, scale } = affineOf(earlier);
      return Float64Array.from({ length: size }, (_, i) => (x[i] - at(shift, i)) / at(scale, i));
    },
  };
}

/** A real scalar, optionally bounded: `real()`, `real({ lower: 0 })`. */
export function real(o: BoundOptions = {}): ParameterBlock {
  return boundedBlock(1, true, o);
}

/** A real vector of length n, optionally bounded (the same bounds for every element). */
export function vector(n: number, o: BoundOptions = {}): ParameterBlock {
  return boundedBlock(n, false, o);
}

/** A positive scalar (n undefined) or vector: Stan's `real<lower=0>`. */
export function positive(n?: number): ParameterBlock {
  return n === undefined ? real({ lower: 0 }) : vector(n, { lower: 0 });
}

/**
 * Blocks one after another as one vector: each part transforms its own coordinates (the parts'
 * `free` coordinates in turn) into its own values, and the log-Jacobians add. An array of
 * simplexes is one (`array[n] simplex[K]`), and so is a vector whose elements have bounds of
 * their own (a Stan program's `beta[1] ~ uniform(-100, 0); beta[2] ~ uniform(0, 100);`).
 */
export function concatenated(
  parts: readonly ParameterBlock[],
  kind: string,
  shape?: readonly [number, number],
): ParameterBlock {
  if (parts.length === 0) throw new RangeError('concatenated needs at least one block');
  const starts: number[] = [];
  let free = 0;
  for (const p of parts) {
    starts.push(free);
    free += p.free;
  }
  const size = parts.reduce((n, p) => n + p.size, 0);
  return {
    kind,
    size,
    scalar: false,
    free,
    ...(shape ? { shape } : {}),
    constrain(u, earlier) {
      const each = parts.map((p, i) => p.constrain(slice(u, starts[i], p.free), earlier));
      return {
        value: concat(...each.map((p) => p.value)),
        logJacobian: total(...each.map((p) => p.logJacobian)),
      };
    },
    unconstrain(x, earlier) {
      const out = new Float64Array(free);
      const values = Array.from(x);
      let at = 0;
      parts.forEach((p, i) => {
        out.set(p.unconstrain(values.slice(at, at + p.size), earlier), starts[i]);
        at += p.size;
      });
      return out;
    },
  };
}

/**
 * A simplex of K elements (non-negative, summing to 1): Stan's stick-breaking transform on
 * K - 1 coordinates, centred so that u = 0 is the uniform simplex.
 */
export function simplex(K: number): ParameterBlock {
  checkSize(K, 'a simplex size');
  if (K < 2) throw new RangeError('a simplex needs at least 2 elements');
  return {
    kind: `simplex[${K}]`,
    size: K,
    scalar: false,
    free: K - 1,
    constrain(u) {
      let stick: Node = lift(1);
      let logJ: Node = lift(0);
      const parts: Node[] = [];
      for (let k = 0; k < K - 1; k++) {
        const y = sub(index(u, k), Math.log(K - 1 - k));
        const xk = mul(stick, invLogit(y));
        logJ = add(logJ, add(log(stick), add(logInvLogit(y), log1mInvLogit(y))));
        parts.push(xk);
        stick = sub(stick, xk);
      }
      parts.push(stick);
      return { value: concat(...parts), logJacobian: logJ };
    },
    unconstrain(x) {
      const u = new Float64Array(K - 1);
      let stick = 1;
      for (let k = 0; k < K - 1; k++) {
        const z = x[k] / stick;
        u[k] = Math.log(z / (1 - z)) + Math.log(K - 1 - k);
        stick -= x[k];
      }
      return u;
    },
  };
}

/**
 * A vector of K elements summing to 0 (Stan's `sum_to_zero_vector[K]`), from K − 1 coordinates
 * through an orthonormal basis of the sum-zero subspace (Helmert's: column j has 1/√(j(j+1)) in
 * rows 1..j and −j/√(j(j+1)) in row j + 1). The map is linear and isometric, so its Jacobian is
 * constant (0), and u ~ N(0, I) gives x the isotropic normal of the subspace: as well
 * conditioned as the model allows. Which basis is used changes no posterior of x.
 */
export function sumToZeroVector(K: number): ParameterBlock {
  checkSize(K, 'a sum-to-zero vector size');
  if (K < 2) throw new RangeError('a sum-to-zero vector needs at least 2 elements');
  const column = (j: number) => 1 / Math.sqrt(j * (j + 1)); // j from 1
  return {
    kind: `sum_to_zero_vector[${K}]`,
    size: K,
    scalar: false,
    free: K - 1,
    constrain(u) {
      // x_i = Σ_{j ≥ i} u_j c_j − (i − 1) c_{i−1} u_{i−1} (1-based), by a running suffix sum.
      const parts: Node[] = new Array<Node>(K);
      let suffix: Node = lift(0);
      for (let i = K; i >= 1; i--) {
        const below = i >= 2 ? mul(index(u, i - 2), -(i - 1) * column(i - 1)) : lift(0);
        parts[i - 1] = add(suffix, below);
        if (i >= 2) suffix = add(suffix, mul(index(u, i - 2), column(i - 1)));
      }
      return { value: concat(...parts), logJacobian: lift(0) };
    },
    unconstrain(x) {
      // u_j = <x, column j>, the basis being orthonormal.
      return Float64Array.from({ length: K - 1 }, (_, jj) => {
        const j = jj + 1;
        let s = 0;
        for (let i = 0; i < j; i++) s += x[i];
        return (s - j * x[j]) * column(j);
      });
    },
  };
}

function orderedBlock(K: number, positiveFirst: boolean): ParameterBlock {
  checkSize(K, 'an ordered vector length');
  return {
    kind: `${positiveFirst ? 'positive_ordered' : 'ordered'}[${K}]`,
    size: K,
    scalar: false,
    free: K,
    constrain(u) {
      // x_1 = u_1 (or e^{u_1}), x_k = x_{k-1} + e^{u_k}: log J = Σ_{k≥2} u_k (+ u_1).
      let prev = positiveFirst ? exp(index(u, 0)) : index(u, 0);
      const parts = [prev];
      for (let k = 1; k < K; k++) {
        prev = add(prev, exp(index(u, k)));
        parts.push(prev);
      }
      const logJ = positiveFirst ? sum(u) : K > 1 ? sum(sub(sum(u), index(u, 0))) : lift(0);
      return { value: concat(...parts), logJacobian: logJ };
    },
    unconstrain(x) {
      return Float64Array.from({ length: K }, (_, k) =>
        k === 0 ? (positiveFirst ? Math.log(x[0]) : x[0]) : Math.log(x[k] - x[k - 1]),
      );
    },
  };
}

/** An increasing vector of K reals (Stan's `ordered[K]`). */
export function ordered(K: number): ParameterBlock {
  return orderedBlock(K, false);
}

/** An increasing vector of K positive reals (Stan's `positive_ordered[K]`). */
export function positiveOrdered(K: number): ParameterBlock {
  return orderedBlock(K, true);
}

/**
 * The Cholesky factor L of a K × K correlation matrix (Stan's `cholesky_factor_corr[K]`): lower
 * triangular, unit rows, positive diagonal, L Lᵀ a correlation matrix. Stan's transform: the
 * K(K−1)/2 coordinates become canonical partial correlations z = tanh(u) (row by row), and
 * row i is x_i0 = z_i0, x_ij = z_ij √(1 − Σ_{k<j} x_ik²), x_ii = √(1 − Σ_{k<i} x_ik²). The
 * log-Jacobian, over the entries below the diagonal, is Σ log(1 − z²) + Σ_{0<j<i} ½ log(1 − Σ_{k<j} x_ik²).
 * With `lkjCorrCholesky(L, K, eta)` as its prior; L's value is row-major, `L.at(i * K + j)`.
 */
export function choleskyFactorCorr(K: number): ParameterBlock {
  checkSize(K, 'a correlation matrix size');
  if (K < 2) throw new RangeError('a Cholesky factor of a correlation matrix needs K ≥ 2');
  return {
    kind: `cholesky_factor_corr[${K}]`,
    size: K * K,
    scalar: false,
    shape: [K, K],
    free: (K * (K - 1)) / 2,
    constrain(u) {
      const z = tanh(u);
      let logJ: Node = sum(log1m(square(z)));
      const zero = lift(0);
      const cells: Node[] = [lift(1), ...Array.from({ length: K - 1 }, () => zero)];
      let k = 0;
      for (let i = 1; i < K; i++) {
        const first = index(z, k++);
        const row: Node[] = [first];
        let sumSq: Node = square(first);
        for (let j = 1; j < i; j++) {
          const rest = log1m(sumSq);
          logJ = add(logJ, mul(0.5, rest));
          const x = mul(index(z, k++), sqrt(sub(1, sumSq)));
          row.push(x);
          sumSq = add(sumSq, square(x));
        }
        row.push(sqrt(sub(1, sumSq)));
        for (let j = i + 1; j < K; j++) row.push(zero);
        cells.push(...row);
      }
      return { value: concat(...cells), logJacobian: logJ };
    },
    unconstrain(x) {
      const u = new Float64Array((K * (K - 1)) / 2);
      let k = 0;
      for (let i = 1; i < K; i++) {
        let sumSq = 0;
        for (let j = 0; j < i; j++) {
          const v = x[i * K + j];
          u[k++] = Math.atanh(j === 0 ? v : v / Math.sqrt(1 - sumSq));
          sumSq += v * v;
        }
      }
      return u;
    },
  };
}

/**
 * A K × K correlation matrix (Stan's `corr_matrix[K]`): Ω = L Lᵀ with L the Cholesky factor
 * {@link choleskyFactorCorr} makes of the same K(K−1)/2 free numbers. The map from L's free
 * entries to Ω's adds Σ_{i=2}^{K} (K − i) log L_ii to the log-Jacobian: lkj_corr_cholesky(η) is
 * the density LKJ(η) on Ω induces on L, and their ratio, Π L_ii^{K−i}, is that Jacobian.
 */
export function corrMatrix(K: number): ParameterBlock {
  const factor = choleskyFactorCorr(K);
  return {
    ...factor,
    kind: `corr_matrix[${K}]`,
    constrain(u, earlier) {
      const { value: L, logJacobian } = factor.constrain(u, earlier);
      let logJ = logJacobian;
      for (let i = 1; i < K - 1; i++) logJ = add(logJ, mul(K - 1 - i, log(index(L, i * K + i))));
      const rows = Array.from({ length: K }, (_, i) =>
        Array.from({ length: i + 1 }, (_, j) => index(L, i * K + j)),
      );
      // L's rows have unit norm: Ω's diagonal is 1 exactly.
      return { value: timesTranspose(rows, true), logJacobian: logJ };
    },
    unconstrain(x, earlier) {
      return factor.unconstrain(choleskyValues(x, K), earlier);
    },
  };
}

/**
 * A lower-triangular K × K factor with a positive diagonal (Stan's `cholesky_factor_cov[K]`):
 * the diagonal on the log scale, the K(K-1)/2 entries below it free. `covariance` makes it Stan's
 * `cov_matrix[K]`, Σ = L Lᵀ, whose log-Jacobian adds K log 2 + Σ_k (K - k + 1) log L_kk (k from
 * 1) for the product on top of the diagonal's Σ_k log L_kk.
 */
export function lowerTriangular(K: number, covariance: boolean): ParameterBlock {
  checkSize(K, 'a covariance matrix size');
  const free = (K * (K + 1)) / 2;
  return {
    kind: covariance ? `cov_matrix[${K}]` : `cholesky_factor_cov[${K}]`,
    size: K * K,
    scalar: false,
    shape: [K, K],
    free,
    constrain(u) {
      // Row by row: row i's i entries below the diagonal, then its diagonal's logarithm.
      const rows: Node[][] = [];
      let k = 0;
      let logJ: Node = lift(0);
      for (let i = 0; i < K; i++) {
        const row = Array.from({ length: i }, () => index(u, k++));
        const logDiag = index(u, k++);
        row.push(exp(logDiag));
        rows.push(row);
        logJ = add(logJ, mul(covariance ? K - i + 1 : 1, logDiag));
      }
      if (!covariance) {
        const zero = lift(0);
        const cells = rows.flatMap((r) => [
          ...r,
          ...Array.from({ length: K - r.length }, () => zero),
        ]);
        return { value: concat(...cells), logJacobian: logJ };
      }
      return { value: timesTranspose(rows), logJacobian: add(logJ, K * Math.LN2) };
    },
    unconstrain(x) {
      const L = covariance ? choleskyValues(x, K) : Float64Array.from(x);
      const u = new Float64Array(free);
      let k = 0;
      for (let i = 0; i < K; i++) {
        for (let j = 0; j < i; j++) u[k++] = L[i * K + j];
        u[k++] = Math.log(L[i * K + i]);
      }
      return u;
    },
  };
}

/**
 * L Lᵀ, row-major, for a lower-triangular L given by its rows' entries up to the diagonal (row i
 * has i + 1); `unitDiagonal`: the diagonal is 1 (rows of unit norm), not computed.
 */
function timesTranspose(rows: Node[][], unitDiagonal = false): Node {
  const K = rows.length;
  const cells: Node[] = [];
  for (let i = 0; i < K; i++)
    for (let j = 0; j < K; j++) {
      const m = Math.min(i, j) + 1;
      cells.push(
        unitDiagonal && i === j
          ? lift(1)
          : dot(concat(...rows[i].slice(0, m)), concat(...rows[j].slice(0, m))),
      );
    }
  return concat(...cells);
}

/** The lower Cholesky factor of a symmetric positive-definite K × K matrix (row-major numbers). */
function choleskyValues(x: ArrayLike<number>, K: number): Float64Array {
  const L = new Float64Array(K * K);
  for (let j = 0; j < K; j++) {
    let d = x[j * K + j];
    for (let m = 0; m < j; m++) d -= L[j * K + m] ** 2;
    if (!(d > 0)) throw new RangeError('not a positive-definite matrix');
    L[j * K + j] = Math.sqrt(d);
    for (let i = j + 1; i < K; i++) {
      let s = x[i * K + j];
      for (let m = 0; m < j; m++) s -= L[i * K + m] * L[j * K + m];
      L[i * K + j] = s / L[j * K + j];
    }
  }
  return L;
}
