import { outsideSupport } from './familySupports.js';
import * as ad from '../modelling/autodiff.js';
import { cholesky } from '../modelling/cholesky.js';
import { Node } from '../modelling/autodiff.js';
import type { Val } from '../modelling/autodiff.js';
import * as dist from '../modelling/distributions.js';
import { logCdf } from './cdfs.js';
import { specialFunction } from './mathFunctions.js';
import {
  lkjCorr,
  multiNormal,
  multiNormalPrecision,
  multiStudentT,
  wishart,
} from './matrixDensities.js';
import { continuousLogDensity } from './continuousFamilies.js';
import { categoricalLogitGlm, countLogDensity } from './countFamilies.js';
import { log1mExp, moreFunction } from './moreFunctions.js';
import { pointwiseLogDensity } from './pointwiseDensities.js';
import { arrayFunction, matrixFunction } from './matrixFunctions.js';
import { StanError, describe, transpose } from './operators.js';
import {
  elementsOf,
  flat,
  int,
  isScalar,
  like,
  mat,
  numberOf,
  packScalars,
  real,
  sizeOf,
  vec,
} from './values.js';
import type { Scalar, Value } from './values.js';

/**
 * Stan's built-in functions and distributions that avb runs, on {@link Value}s, through the
 * modelling kit (`../modelling`): each differentiates in every argument that depends on the
 * parameters. A function outside this list is refused by name when the model is read.
 */

const num = (v: Value): number => {
  if (!isScalar(v)) throw new StanError(`expected a scalar, got ${describe(v)}`);
  return numberOf(v.v);
};
const isConstant = (v: Value): boolean => {
  const f = flat(v);
  return !(f instanceof Node) || !f.variable;
};

/** Functions applied element by element (a scalar gives a real, a vector or matrix its shape). */
const ELEMENTWISE: Record<string, (x: Val) => Node> = {
  exp: ad.exp,
  log: ad.log,
  sqrt: ad.sqrt,
  square: ad.square,
  inv_logit: ad.invLogit,
  logit: (x) => ad.sub(ad.log(x), ad.log1m(x)),
  log1p: ad.log1p,
  log1m: ad.log1m,
  expm1: ad.expm1,
  fabs: ad.abs,
  abs: ad.abs,
  inv: (x) => ad.div(1, x),
  inv_square: (x) => ad.div(1, ad.square(x)),
  inv_sqrt: (x) => ad.div(1, ad.sqrt(x)),
  lgamma: dist.lgammaOf,
  tanh: ad.tanh,
  log_inv_logit: ad.logInvLogit,
  log1m_inv_logit: ad.log1mInvLogit,
  log1p_exp: ad.log1pExp,
  log1m_exp: log1mExp,
  log10: (x) => ad.div(ad.log(x), Math.LN10),
  log2: (x) => ad.div(ad.log(x), Math.LN2),
};

/** Whether `name` is one of Stan's element-wise functions of one argument (exp, log, ...). */
export function isElementwise(name: string): boolean {
  return Object.hasOwn(ELEMENTWISE, name);
}

const CONSTANTS: Record<string, number> = {
  pi: Math.PI,
  e: Math.E,
  sqrt2: Math.SQRT2,
  log2: Math.LN2,
  log10: Math.LN10,
  negative_infinity: -Infinity,
  positive_infinity: Infinity,
  not_a_number: NaN,
  machine_precision: 2 ** -52,
};

/** The element whose value is the largest (or smallest): Stan's max/min, differentiable. */
function extreme(v: Value[], sign: number): Value {
  const all = v.flatMap(elementsOf);
  if (all.length === 0) throw new StanError('max/min of nothing');
  let best = all[0];
  for (const x of all) if (sign * numberOf(x) > sign * numberOf(best)) best = x;
  const ints = v.every(
    (x) => x.k === 'int' || (x.k === 'arr' && x.items.every((i) => i.k === 'int')),
  );
  return ints ? int(numberOf(best)) : real(best);
}

function size(v: Value): number {
  if (v.k === 'arr') return v.items.length;
  if (v.k === 'vec') return v.s.n;
  if (v.k === 'mat') return v.rows * v.cols;
  return 1;
}

function repeated(x: Value, n: number): Value {
  return { k: 'arr', items: Array.from({ length: n }, () => x) };
}

/** Stan's built-in functions by name (arguments already evaluated). */
export function callFunction(name: string, a: Value[]): Value {
  if (name in CONSTANTS && a.length === 0) return real(CONSTANTS[name]);
  const f = ELEMENTWISE[name];
  if (f && a.length === 1) return like(a[0], f(flat(a[0])));
  // Densities straight away (they are the calls a model makes most).
  if (DENSITY_NAME.test(name)) return densityOrFail(name, a);
  return (
    matrixFunction(name, a) ??
    reduction(name, a) ??
    reshaping(name, a) ??
    linearAlgebra(name, a) ??
    specialFunction(name, a) ??
    arrayFunction(name, a) ??
    moreFunction(name, a) ??
    densityOrFail(name, a)
  );
}

/** Sums, means, extremes, sizes and other functions to a scalar. */
function reduction(name: string, a: Value[]): Value | undefined {
  const v = () => flat(a[0]);
  switch (name) {
    case 'pow':
      return isScalar(a[0]) && isScalar(a[1])
        ? real(ad.pow(a[0].v, a[1].v))
        : like(isScalar(a[0]) ? a[1] : a[0], ad.pow(flat(a[0]), flat(a[1])));
    case 'sum':
      return a[0].k === 'arr' && a[0].items.every((x) => x.k === 'int')
        ? int(a[0].items.reduce((s, x) => s + num(x), 0))
        : real(ad.sum(v()));
    case 'mean':
      return real(ad.div(ad.sum(v()), sizeOf(a[0])));
    case 'variance':
    case 'sd': {
      const n = sizeOf(a[0]);
      const m = ad.div(ad.sum(v()), n);
      const s2 = ad.div(ad.sum(ad.square(ad.sub(v(), m))), n - 1);
      return real(name === 'sd' ? ad.sqrt(s2) : s2);
    }
    case 'log_sum_exp':
      return real(a.length === 2 ? ad.logSumExp2(flat(a[0]), flat(a[1])) : ad.logSumExp(v()));
    case 'log_mix':
      if (a.length === 2) {
        // log_mix(theta, lps): log Σ_k theta_k exp(lps_k), mixing proportions and component
        // log densities as vectors (or arrays).
        const [theta, lps] = [flat(a[0]), flat(a[1])];
        if (ad.lift(theta).length !== ad.lift(lps).length)
          throw new StanError('log_mix: as many mixing proportions as log densities');
        return real(ad.logSumExp(ad.add(ad.log(theta), lps)));
      }
      if (a.length !== 3) throw new StanError('log_mix takes (theta, lp1, lp2) or (thetas, lps)');
      return real(ad.logMix(flat(a[0]), flat(a[1]), flat(a[2])));
    case 'dot_product':
      return real(ad.dot(flat(a[0]), flat(a[1])));
    case 'dot_self':
      return real(ad.dot(v(), v()));
    case 'max':
    case 'fmax':
      return extreme(a, 1);
    case 'min':
    case 'fmin':
      return extreme(a, -1);
    case 'int_step':
      return int(num(a[0]) > 0 ? 1 : 0);
    case 'step':
      return real(num(a[0]) < 0 ? 0 : 1);
    case 'num_elements':
      return int(sizeOf(a[0]));
    case 'size':
      return int(size(a[0]));
    case 'rows':
      return int(a[0].k === 'mat' ? a[0].rows : size(a[0]));
    case 'cols':
      return int(a[0].k === 'mat' ? a[0].cols : a[0].k === 'vec' && a[0].row ? a[0].s.n : 1);
  }
  return undefined;
}

/** Functions that build, reshape or transform vectors and matrices. */
function reshaping(name: string, a: Value[]): Value | undefined {
  const v = () => flat(a[0]);
  switch (name) {
    case 'rep_vector':
    case 'rep_row_vector': {
      const n = num(a[1]);
      return vec(
        isConstant(a[0])
          ? new Float64Array(n).fill(num(a[0]))
          : ad.concat(...Array.from({ length: n }, () => flat(a[0]))),
        n,
        name === 'rep_row_vector',
      );
    }
    case 'rep_matrix':
      return repMatrix(a);
    case 'rep_array':
      return a.length === 2
        ? repeated(a[0], num(a[1]))
        : a.length === 3
          ? repeated(repeated(a[0], num(a[2])), num(a[1]))
          : repeated(repeated(repeated(a[0], num(a[3])), num(a[2])), num(a[1]));
    case 'to_vector':
    case 'to_row_vector':
      // A matrix goes column by column, as in Stan (its values are stored row by row here).
      return vec(
        a[0].k === 'mat' ? columnMajor(a[0]) : v(),
        sizeOf(a[0]),
        name === 'to_row_vector',
      );
    case 'to_array_1d':
      return {
        k: 'arr',
        items: (a[0].k === 'mat'
          ? elementsOf(vec(columnMajor(a[0]), sizeOf(a[0])))
          : elementsOf(a[0])
        ).map((x) =>
          a[0].k === 'arr' && typeof x === 'number' && Number.isInteger(x) && allInts(a[0])
            ? int(x)
            : real(x),
        ),
      };
    case 'diag_matrix': {
      const n = sizeOf(a[0]);
      const parts: Val[] = [];
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) parts.push(i === j ? ad.index(v(), i) : 0);
      return mat(ad.concat(...parts), n, n);
    }
    case 'cumulative_sum': {
      const e = elementsOf(a[0]);
      const out: Scalar[] = [];
      e.forEach((x, i) => out.push(i === 0 ? x : ad.add(out[i - 1], x)));
      return like(a[0].k === 'arr' ? vec(0, e.length) : a[0], ad.concat(...out));
    }
    case 'softmax':
      return like(a[0], ad.exp(ad.sub(v(), ad.logSumExp(v()))));
    case 'log_softmax':
      return like(a[0], ad.sub(v(), ad.logSumExp(v())));
    case 'append_row':
    case 'append_col':
      return appendVectors(name, a);
    case 'head':
      return like(vec(0, num(a[1])), ad.slice(v(), 0, num(a[1])));
    case 'tail':
      return like(vec(0, num(a[1])), ad.slice(v(), sizeOf(a[0]) - num(a[1]), num(a[1])));
    case 'segment':
      return like(vec(0, num(a[2])), ad.slice(v(), num(a[1]) - 1, num(a[2])));
  }
  return undefined;
}

/** Stan's rep_matrix: of a scalar (rows, cols), a vector (n columns) or a row vector (m rows). */
function repMatrix(a: Value[]): Value {
  // rep_matrix(v, n): n copies of column v; rep_matrix(rv, m): m copies of row rv.
  const x = a[0];
  if (x.k === 'vec') {
    const k = num(a[1]);
    const at = x.row
      ? Array.from({ length: k * x.s.n }, (_, i) => x.s.get(i % x.s.n))
      : Array.from({ length: x.s.n * k }, (_, i) => x.s.get(Math.floor(i / k)));
    return x.row ? mat(ad.concat(...at), k, x.s.n) : mat(ad.concat(...at), x.s.n, k);
  }
  const [r, c] = [num(a[1]), num(a[2])];
  return mat(
    isConstant(a[0])
      ? new Float64Array(r * c).fill(num(a[0]))
      : ad.concat(...Array.from({ length: r * c }, () => flat(a[0]))),
    r,
    c,
  );
}

/** Matrix functions: decompositions, covariances, scalings. */
function linearAlgebra(name: string, a: Value[]): Value | undefined {
  const v = () => flat(a[0]);
  switch (name) {
    case 'transpose':
      return transpose(a[0]);
    case 'diagonal': {
      const m = a[0];
      if (m.k !== 'mat') throw new StanError('diagonal takes a matrix');
      const d = Math.min(m.rows, m.cols);
      return vec(packScalars(Array.from({ length: d }, (_, i) => m.s.get(i * m.cols + i))), d);
    }
    case 'cholesky_decompose': {
      const m = a[0];
      if (m.k !== 'mat' || m.rows !== m.cols)
        throw new StanError('cholesky_decompose takes a square matrix');
      return mat(cholesky(m.s.val(), m.rows), m.rows, m.rows);
    }
    case 'diag_pre_multiply': {
      const m = a[1];
      if (m.k !== 'mat') throw new StanError('diag_pre_multiply(vector, matrix)');
      const scale: Scalar[] = [];
      for (let i = 0; i < m.rows; i++)
        for (let j = 0; j < m.cols; j++) scale.push(ad.index(v(), i));
      return mat(ad.mul(ad.concat(...scale), m.s.val()), m.rows, m.cols);
    }
  }
  return undefined;
}

function densityOrFail(name: string, a: Value[]): Value {
  const density = densityCall(name, a);
  if (density !== undefined) return real(density);
  throw new StanError(`function ${name} is not supported yet`);
}

function allInts(v: Value): boolean {
  return v.k === 'int' || (v.k === 'arr' && v.items.every(allInts));
}

const SUFFIXES = ['_lpdf', '_lpmf', '_lupdf', '_lupmf'];
const DENSITY_NAME = /_lu?p[dm]f$/;

/** Families under their own names (so `poisson_log(...)` is not read as Stan's old `poisson_log`). */
const FAMILIES_ENDING_IN_LOG = new Set(['poisson_log', 'neg_binomial_2_log']);

/** `normal_lpdf(y | ...)` and friends, and constant `_lcdf`/`_lccdf` terms; undefined otherwise. */
function densityCall(name: string, a: Value[]): Node | number | undefined {
  const suffix = SUFFIXES.find((s) => name.endsWith(s));
  if (suffix) return logDensity(name.slice(0, -suffix.length), a[0], a.slice(1));
  // Stan's old names: normal_log(y, mu, sigma) for normal_lpdf(y | mu, sigma).
  if (name.endsWith('_log') && !FAMILIES_ENDING_IN_LOG.has(name))
    return logDensity(name.slice(0, -'_log'.length), a[0], a.slice(1));
  const cdf = /^(.*)_(lcdf|lccdf|cdf)$/.exec(name);
  if (cdf) return cumulative(cdf[1], cdf[2], a);
  return undefined;
}

/**
 * `family_lcdf`, `_lccdf` or `_cdf` (whose value is the product over elements): the closed forms
 * of `cdfs.ts`, else a symmetric family's at its own centre for constant arguments (log 1/2: brms's
 * half-t priors subtract `student_t_lccdf(0 | 3, 0, s)`).
 */
function cumulative(family: string, which: string, a: Value[]): Node | number {
  const log = logCdf(family, which === 'lccdf', flat(a[0]), a.slice(1).map(flat));
  if (log) return which === 'cdf' ? ad.exp(log) : log;
  const centre: Record<string, number> = { student_t: 2 };
  const at = centre[family];
  if (at !== undefined && a.every(isConstant) && num(a[0]) === num(a[at]))
    return which === 'cdf' ? 0.5 : Math.log(0.5);
  throw new StanError(`${family}_${which} is not supported yet`);
}

/** alpha + x beta for a GLM's matrix of predictors x (one row per outcome). */
function glmPredictor(x: Val, alpha: Val, beta: Val, y: Value): Val {
  return ad.add(alpha, ad.matVec(x, sizeOf(y), ad.lift(beta).length, beta));
}

/**
 * append_row / append_col of vectors and scalars: two row vectors stacked (append_row) or two
 * column vectors side by side (append_col) make a matrix; otherwise a vector of the same
 * orientation. (Either argument a matrix: `matrixFunctions.ts`.)
 */
function appendVectors(name: string, a: Value[]): Value {
  const across = name === 'append_row';
  if (a.every((x) => x.k === 'vec' && x.row === across)) {
    const n = sizeOf(a[0]);
    if (sizeOf(a[1]) !== n)
      throw new StanError(`${name} of vectors of sizes ${n} and ${sizeOf(a[1])}`);
    if (across) return mat(ad.concat(flat(a[0]), flat(a[1])), 2, n);
    const cells = Array.from({ length: 2 * n }, (_, i) =>
      ad.index(flat(a[i % 2]), Math.floor(i / 2)),
    );
    return mat(ad.concat(...cells), n, 2);
  }
  return vec(ad.concat(flat(a[0]), flat(a[1])), sizeOf(a[0]) + sizeOf(a[1]), name === 'append_col');
}

/** A matrix's values column by column (Stan's order for to_vector, to_array_1d). */
function columnMajor(m: Extract<Value, { k: 'mat' }>): Node {
  const cells: Scalar[] = [];
  for (let j = 0; j < m.cols; j++)
    for (let i = 0; i < m.rows; i++) cells.push(m.s.get(i * m.cols + j));
  return ad.lift(packScalars(cells));
}

/** The integer outcomes of a discrete distribution (data). */
function counts(y: Value): ArrayLike<number> | number {
  const f = flat(y);
  if (f instanceof Node) throw new StanError('a discrete outcome must be data');
  return f as ArrayLike<number> | number;
}

/** Σ log p(y | args) of Stan's family `family` (normalising constants included). */
export function logDensity(family: string, y: Value, args: Value[]): Node {
  // Flattening would run an array of cutpoint vectors together into one long vector.
  if (family.startsWith('ordered_') && args[1]?.k === 'arr')
    throw new StanError(`${family} with cutpoints per outcome is not supported yet`);
  // Stan rejects a variate outside its family's support: log density -inf (familySupports.ts).
  const Y = flat(y);
  if (outsideSupport(family, Y)) return ad.lift(-Infinity);
  return familyLogDensity(family, y, Y, args);
}

function familyLogDensity(family: string, y: Value, Y: Val, args: Value[]): Node {
  const p = args.map(flat);
  switch (family) {
    case 'normal':
      return dist.normal(Y, p[0], p[1]);
    case 'std_normal':
      return dist.normal(Y, 0, 1);
    case 'multi_normal':
    case 'multi_normal_cholesky':
      return multiNormal(y, args[0], args[1], family === 'multi_normal');
    case 'categorical_logit_glm':
      return categoricalLogitGlm(counts(y), args[0], p[1], args[2]);
    case 'multi_normal_prec':
      return multiNormalPrecision(y, args[0], args[1]);
    case 'multi_student_t':
      return multiStudentT(y, p[0], args[1], args[2]);
    case 'wishart':
    case 'inv_wishart':
      return wishart(y, p[0], args[1], family === 'inv_wishart');
    case 'normal_id_glm': {
      const x = args[0];
      if (x.k !== 'mat') throw new StanError('normal_id_glm needs a matrix of predictors');
      return dist.normal(Y, ad.add(p[1], ad.matVec(p[0], x.rows, x.cols, p[2])), p[3]);
    }
    case 'student_t':
      return dist.studentT(Y, p[0], p[1], p[2]);
    case 'cauchy':
      return dist.cauchy(Y, p[0], p[1]);
    case 'lognormal':
      return dist.lognormal(Y, p[0], p[1]);
    case 'exponential':
      return dist.exponential(Y, p[0]);
    case 'gamma':
      return dist.gamma(Y, p[0], p[1]);
    case 'inv_gamma':
      return dist.invGamma(Y, p[0], p[1]);
    case 'beta':
      return dist.beta(Y, p[0], p[1]);
    case 'chi_square':
      return dist.gamma(Y, ad.div(p[0], 2), 0.5);
    case 'uniform': {
      const yv = ad.lift(Y).value;
      const [lo, hi] = [ad.lift(p[0]).value, ad.lift(p[1]).value];
      const outside = Array.from(yv).some(
        (v, i) => v < lo[lo.length === 1 ? 0 : i] || v > hi[hi.length === 1 ? 0 : i],
      );
      if (outside) return ad.lift(-Infinity);
      const n = Math.max(yv.length, lo.length, hi.length);
      const width = ad.log(ad.sub(p[1], p[0]));
      return ad.neg(width.length === 1 ? ad.mul(width, n) : ad.sum(width));
    }
    case 'double_exponential': {
      const n = Math.max(ad.lift(Y).length, ad.lift(p[0]).length, ad.lift(p[1]).length);
      const logScale = ad.log(ad.mul(p[1], 2));
      return ad.neg(
        ad.add(
          logScale.length === 1 ? ad.mul(logScale, n) : ad.sum(logScale),
          ad.sum(ad.div(ad.abs(ad.sub(Y, p[0])), p[1])),
        ),
      );
    }
    case 'logistic': {
      const z = ad.div(ad.sub(Y, p[0]), p[1]);
      return ad.sum(ad.sub(ad.sub(ad.neg(z), ad.log(p[1])), ad.mul(ad.log1pExp(ad.neg(z)), 2)));
    }
    case 'weibull': {
      const logYs = ad.sub(ad.log(Y), ad.log(p[1]));
      return ad.sum(
        ad.sub(
          ad.add(ad.sub(ad.log(p[0]), ad.log(p[1])), ad.mul(ad.sub(p[0], 1), logYs)),
          ad.exp(ad.mul(p[0], logYs)),
        ),
      );
    }
  }
  return continuousLogDensity(family, Y, p) ?? discreteLogDensity(family, y, p);
}

/** The families of integer outcomes (data: counts, successes, categories), and on simplexes and correlations. */
function discreteLogDensity(family: string, y: Value, p: Val[]): Node {
  const Y = flat(y);
  switch (family) {
    // One formula with the point-by-point path's: each term absent where its count is 0.
    case 'bernoulli':
    case 'binomial':
      return ad.sum(pointwiseLogDensity(family, counts(y), p));
    case 'bernoulli_logit':
      return dist.bernoulliLogit(counts(y), p[0]);
    case 'bernoulli_logit_glm':
      return dist.bernoulliLogit(counts(y), glmPredictor(p[0], p[1], p[2], y));
    case 'poisson_log_glm':
      return dist.poissonLog(counts(y), glmPredictor(p[0], p[1], p[2], y));
    case 'binomial_logit':
      return dist.binomialLogit(counts(y), p[0] as ArrayLike<number> | number, p[1]);
    case 'poisson':
      return dist.poisson(counts(y), p[0]);
    case 'poisson_log':
      return dist.poissonLog(counts(y), p[0]);
    case 'neg_binomial_2':
      return dist.negBinomial2(counts(y), p[0], p[1]);
    case 'neg_binomial_2_log':
      return dist.negBinomial2Log(counts(y), p[0], p[1]);
    case 'categorical':
    case 'categorical_logit': {
      const ks = counts(y);
      const logits = family === 'categorical' ? ad.log(p[0]) : p[0];
      const list = typeof ks === 'number' ? [ks] : Array.from(ks);
      return ad.total(...list.map((k) => dist.categoricalLogit(k, logits)));
    }
    case 'dirichlet': {
      const alpha = p[0];
      return ad.add(
        ad.sub(dist.lgammaOf(ad.sum(alpha)), ad.sum(dist.lgammaOf(alpha))),
        ad.sum(ad.mul(ad.sub(alpha, 1), ad.log(Y))),
      );
    }
    case 'lkj_corr':
      return lkjCorr(y, p[0]);
    case 'lkj_corr_cholesky': {
      if (y.k !== 'mat') throw new StanError('lkj_corr_cholesky takes a Cholesky factor');
      return dist.lkjCorrCholesky(Y, y.rows, p[0]);
    }
  }
  const more = countLogDensity(
    family,
    () => counts(y),
    p,
    (x, alpha, beta) => glmPredictor(x, alpha, beta, y),
  );
  if (more) return more;
  throw new StanError(`distribution ${family} is not supported yet`);
}
