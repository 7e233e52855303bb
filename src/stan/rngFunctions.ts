import type { Rng } from '../random/rng.js';
import { betaDraw, binomialDraw, gammaDraw, poissonDraw } from '../random/variates.js';
import { cholesky } from '../math/denseMatrix.js';
import { StanError, describe } from './operators.js';
import { elementsOf, int, isScalar, numberOf, real, vec } from './values.js';
import type { Value } from './values.js';

/**
 * Stan's `_rng` functions, as `generated quantities` calls them: each draws from the run's
 * seeded generator (declaredModel.ts seeds it from the draw, so a draw always generates the same
 * values). A parameter outside its family's domain is a Stan error naming it, as in Stan.
 */

/** What a family's parameter must be: any finite real, positive, in [0, 1], a count. */
type Domain = 'real' | 'positive' | 'probability' | 'count' | 'nonnegative';

interface Univariate {
  params: [string, Domain][];
  /** An integer outcome (Stan's `_rng` of a discrete family returns `int`). */
  discrete?: boolean;
  draw: (rng: Rng, p: number[]) => number;
}

const inFamily = (x: number, d: Domain): boolean => {
  switch (d) {
    case 'real':
      return Number.isFinite(x);
    case 'positive':
      return x > 0 && Number.isFinite(x);
    case 'nonnegative':
      return x >= 0 && Number.isFinite(x);
    case 'probability':
      return x >= 0 && x <= 1;
    case 'count':
      return Number.isInteger(x) && x >= 0;
  }
};

const open01 = (rng: Rng) => 1 - rng.uniform(); // (0, 1]: its log is finite
const invLogit = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const chiSquare = (rng: Rng, nu: number) => 2 * gammaDraw(rng, nu / 2);

const R: Domain = 'real';
const P: Domain = 'positive';
const UNIVARIATE: Record<string, Univariate> = {
  normal: {
    params: [
      ['mu', R],
      ['sigma', P],
    ],
    draw: (g, [m, s]) => m + s * g.normal(),
  },
  std_normal: { params: [], draw: (g) => g.normal() },
  lognormal: {
    params: [
      ['mu', R],
      ['sigma', P],
    ],
    draw: (g, [m, s]) => Math.exp(m + s * g.normal()),
  },
  student_t: {
    params: [
      ['nu', P],
      ['mu', R],
      ['sigma', P],
    ],
    draw: (g, [nu, m, s]) => m + (s * g.normal()) / Math.sqrt(chiSquare(g, nu) / nu),
  },
  cauchy: {
    params: [
      ['mu', R],
      ['sigma', P],
    ],
    draw: (g, [m, s]) => m + s * Math.tan(Math.PI * (g.uniform() - 0.5)),
  },
  double_exponential: {
    params: [
      ['mu', R],
      ['sigma', P],
    ],
    draw: (g, [m, s]) => m + s * (g.uniform() < 0.5 ? 1 : -1) * Math.log(open01(g)),
  },
  logistic: {
    params: [
      ['mu', R],
      ['sigma', P],
    ],
    draw: (g, [m, s]) => {
      const u = open01(g);
      return m + s * Math.log(u / (1 - u));
    },
  },
  gumbel: {
    params: [
      ['mu', R],
      ['beta', P],
    ],
    draw: (g, [m, b]) => m - b * Math.log(-Math.log(open01(g))),
  },
  skew_normal: {
    params: [
      ['xi', R],
      ['omega', P],
      ['alpha', R],
    ],
    // Azzalini's representation: δ u0 + √(1 − δ²) v, reflected where u0 < 0.
    draw: (g, [xi, omega, alpha]) => {
      const delta = alpha / Math.sqrt(1 + alpha * alpha);
      const u0 = g.normal();
      const u1 = delta * u0 + Math.sqrt(1 - delta * delta) * g.normal();
      return xi + omega * (u0 >= 0 ? u1 : -u1);
    },
  },
  exp_mod_normal: {
    params: [
      ['mu', R],
      ['sigma', P],
      ['lambda', P],
    ],
    draw: (g, [m, s, l]) => m + s * g.normal() - Math.log(open01(g)) / l,
  },
  exponential: { params: [['beta', P]], draw: (g, [b]) => -Math.log(open01(g)) / b },
  gamma: {
    params: [
      ['alpha', P],
      ['beta', P],
    ],
    draw: (g, [a, b]) => gammaDraw(g, a) / b,
  },
  inv_gamma: {
    params: [
      ['alpha', P],
      ['beta', P],
    ],
    draw: (g, [a, b]) => b / gammaDraw(g, a),
  },
  chi_square: { params: [['nu', P]], draw: (g, [nu]) => chiSquare(g, nu) },
  inv_chi_square: { params: [['nu', P]], draw: (g, [nu]) => 1 / chiSquare(g, nu) },
  scaled_inv_chi_square: {
    params: [
      ['nu', P],
      ['s', P],
    ],
    draw: (g, [nu, s]) => (nu * s * s) / chiSquare(g, nu),
  },
  weibull: {
    params: [
      ['alpha', P],
      ['sigma', P],
    ],
    draw: (g, [a, s]) => s * Math.pow(-Math.log(open01(g)), 1 / a),
  },
  frechet: {
    params: [
      ['alpha', P],
      ['sigma', P],
    ],
    draw: (g, [a, s]) => s * Math.pow(-Math.log(open01(g)), -1 / a),
  },
  rayleigh: { params: [['sigma', P]], draw: (g, [s]) => s * Math.sqrt(-2 * Math.log(open01(g))) },
  pareto: {
    params: [
      ['y_min', P],
      ['alpha', P],
    ],
    draw: (g, [y, a]) => y * Math.pow(open01(g), -1 / a),
  },
  pareto_type_2: {
    params: [
      ['mu', R],
      ['lambda', P],
      ['alpha', P],
    ],
    draw: (g, [m, l, a]) => m + l * (Math.pow(open01(g), -1 / a) - 1),
  },
  beta: {
    params: [
      ['alpha', P],
      ['beta', P],
    ],
    draw: (g, [a, b]) => betaDraw(g, a, b),
  },
  beta_proportion: {
    params: [
      ['mu', 'probability'],
      ['kappa', P],
    ],
    draw: (g, [m, k]) => betaDraw(g, m * k, (1 - m) * k),
  },
  uniform: {
    params: [
      ['alpha', R],
      ['beta', R],
    ],
    draw: (g, [a, b]) => a + (b - a) * g.uniform(),
  },
  bernoulli: {
    params: [['theta', 'probability']],
    discrete: true,
    draw: (g, [t]) => (g.uniform() < t ? 1 : 0),
  },
  bernoulli_logit: {
    params: [['alpha', R]],
    discrete: true,
    draw: (g, [a]) => (g.uniform() < invLogit(a) ? 1 : 0),
  },
  binomial: {
    params: [
      ['N', 'count'],
      ['theta', 'probability'],
    ],
    discrete: true,
    draw: (g, [n, t]) => binomialDraw(g, n, t),
  },
  binomial_logit: {
    params: [
      ['N', 'count'],
      ['alpha', R],
    ],
    discrete: true,
    draw: (g, [n, a]) => binomialDraw(g, n, invLogit(a)),
  },
  beta_binomial: {
    params: [
      ['N', 'count'],
      ['alpha', P],
      ['beta', P],
    ],
    discrete: true,
    draw: (g, [n, a, b]) => binomialDraw(g, n, betaDraw(g, a, b)),
  },
  poisson: {
    params: [['lambda', 'nonnegative']],
    discrete: true,
    draw: (g, [l]) => poissonDraw(g, l),
  },
  poisson_log: {
    params: [['alpha', R]],
    discrete: true,
    draw: (g, [a]) => poissonDraw(g, Math.exp(a)),
  },
  neg_binomial: {
    params: [
      ['alpha', P],
      ['beta', P],
    ],
    discrete: true,
    draw: (g, [a, b]) => poissonDraw(g, gammaDraw(g, a) / b),
  },
  neg_binomial_2: {
    params: [
      ['mu', P],
      ['phi', P],
    ],
    discrete: true,
    draw: (g, [m, phi]) => poissonDraw(g, (gammaDraw(g, phi) * m) / phi),
  },
  neg_binomial_2_log: {
    params: [
      ['eta', R],
      ['phi', P],
    ],
    discrete: true,
    draw: (g, [eta, phi]) => poissonDraw(g, (gammaDraw(g, phi) * Math.exp(eta)) / phi),
  },
  discrete_range: {
    params: [
      ['lower', 'real'],
      ['upper', 'real'],
    ],
    discrete: true,
    draw: (g, [lo, hi]) => lo + g.int(hi - lo + 1),
  },
};

/** Stan refuses counts an `int` cannot hold (poisson_rng's rate must be below 2^30). */
const INT_LIMIT = 2 ** 31 - 1;

/** The `_rng` call `name(args)`, or undefined when `name` is not one. */
export function rngFunction(name: string, a: Value[], rng: Rng): Value | undefined {
  if (!name.endsWith('_rng')) return undefined;
  const family = name.slice(0, -4);
  const u = UNIVARIATE[family];
  if (u) return univariate(name, u, a, rng);
  const m = multivariate(name, family, a, rng);
  if (m) return m;
  throw new StanError(
    `${name} is not one of the random-number functions avb runs (${Object.keys(UNIVARIATE)
      .map((f) => `${f}_rng`)
      .join(', ')}, and ${MULTIVARIATE.join(', ')})`,
  );
}

/** A univariate family's draw; vectorised as Stan's: any container argument gives an array. */
function univariate(name: string, u: Univariate, a: Value[], rng: Rng): Value {
  if (a.length !== u.params.length)
    throw new StanError(`${name} takes ${u.params.length} arguments, got ${a.length}`);
  const values = a.map((v) => elementsOf(v).map(numberOf));
  const lengths = new Set(a.flatMap((v, i) => (isScalar(v) ? [] : [values[i].length])));
  if (lengths.size > 1)
    throw new StanError(
      `${name}'s container arguments differ in size (${a.map(describe).join(', ')})`,
    );
  const n = lengths.size === 0 ? undefined : [...lengths][0];
  if (
    name === 'discrete_range_rng' &&
    a.some((v) => elementsOf(v).some((x) => !Number.isInteger(numberOf(x))))
  )
    throw new StanError(`${name} takes integer bounds`);
  const one = (i: number): number => {
    const p = values.map((v) => v[v.length === 1 ? 0 : i]);
    u.params.forEach(([param, domain], j) => {
      if (!inFamily(p[j], domain))
        throw new StanError(`${name}: ${param} is ${p[j]}, outside its domain (${domain})`);
    });
    if (name === 'discrete_range_rng' && p[0] > p[1])
      throw new StanError(`${name}: lower ${p[0]} is above upper ${p[1]}`);
    const x = u.draw(rng, p);
    if (u.discrete && !(Math.abs(x) <= INT_LIMIT))
      throw new StanError(`${name}: a draw of ${x} does not fit an int (its rate is too large)`);
    return x;
  };
  const wrap = (x: number): Value => (u.discrete ? int(x) : real(x));
  if (n === undefined) return wrap(one(0));
  return { k: 'arr', items: Array.from({ length: n }, (_, i) => wrap(one(i))) };
}

const MULTIVARIATE = [
  'multi_normal_rng',
  'multi_normal_cholesky_rng',
  'multi_student_t_rng',
  'dirichlet_rng',
  'categorical_rng',
  'categorical_logit_rng',
  'multinomial_rng',
  'multinomial_logit_rng',
  'ordered_logistic_rng',
  'ordered_probit_rng',
];

/** A vector's or row vector's elements as doubles; anything else is refused. */
function vectorOf(name: string, what: string, v: Value): number[] {
  if (v.k !== 'vec') throw new StanError(`${name}'s ${what} must be a vector, not ${describe(v)}`);
  return elementsOf(v).map(numberOf);
}

/** A square matrix's elements (row-major) and its size. */
function squareOf(name: string, what: string, v: Value, n: number): Float64Array {
  if (v.k !== 'mat' || v.rows !== n || v.cols !== n)
    throw new StanError(`${name}'s ${what} must be a ${n} x ${n} matrix, not ${describe(v)}`);
  return Float64Array.from(elementsOf(v).map(numberOf));
}

/** L z for the lower-triangular L (row-major, n × n) and a fresh standard normal z. */
function correlatedNormal(rng: Rng, l: Float64Array, n: number): number[] {
  const z = Array.from({ length: n }, () => rng.normal());
  return Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j <= i; j++) s += l[i * n + j] * z[j];
    return s;
  });
}

function factorOf(name: string, sigma: Float64Array, n: number): Float64Array {
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++)
      if (Math.abs(sigma[i * n + j] - sigma[j * n + i]) > 1e-8 * (1 + Math.abs(sigma[i * n + j])))
        throw new StanError(`${name}: the covariance matrix is not symmetric`);
  const l = cholesky(sigma, n);
  if (!l) throw new StanError(`${name}: the covariance matrix is not positive definite`);
  return l;
}

/** Probabilities that must sum to 1, as Stan's simplex check. */
function checkSimplex(name: string, p: number[]): void {
  const total = p.reduce((s, x) => s + x, 0);
  if (p.some((x) => !(x >= 0)) || Math.abs(total - 1) > 1e-8)
    throw new StanError(`${name}: theta is not a simplex (its elements sum to ${total})`);
}

/** An index in 1..K from probabilities. */
function categoricalIndex(name: string, rng: Rng, p: number[]): number {
  checkSimplex(name, p);
  let u = rng.uniform();
  for (let k = 0; k < p.length - 1; k++) {
    if (u < p[k]) return k + 1;
    u -= p[k];
  }
  return p.length;
}

const softmax = (x: number[]): number[] => {
  const top = Math.max(...x);
  const e = x.map((v) => Math.exp(v - top));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

function multivariate(name: string, family: string, a: Value[], rng: Rng): Value | undefined {
  const scalarOf = (v: Value, what: string): number => {
    if (!isScalar(v)) throw new StanError(`${name}'s ${what} must be a scalar, not ${describe(v)}`);
    return numberOf(v.v);
  };
  const asVector = (x: number[]) => vec(Float64Array.from(x), x.length);
  switch (family) {
    case 'multi_normal':
    case 'multi_normal_cholesky':
    case 'multi_student_t': {
      const student = family === 'multi_student_t';
      const expected = student ? 3 : 2;
      if (a.length !== expected) throw new StanError(`${name} takes ${expected} arguments`);
      const nu = student ? scalarOf(a[0], 'nu') : Infinity;
      if (student && !(nu > 0)) throw new StanError(`${name}: nu is ${nu}, not positive`);
      const mu = vectorOf(name, 'location', a[student ? 1 : 0]);
      const n = mu.length;
      const given = squareOf(name, 'scale', a[student ? 2 : 1], n);
      const l = family === 'multi_normal_cholesky' ? given : factorOf(name, given, n);
      const scale = student ? Math.sqrt(nu / chiSquare(rng, nu)) : 1;
      const z = correlatedNormal(rng, l, n);
      return asVector(mu.map((m, i) => m + scale * z[i]));
    }
    case 'dirichlet': {
      if (a.length !== 1) throw new StanError(`${name} takes 1 argument`);
      const alpha = vectorOf(name, 'alpha', a[0]);
      if (alpha.some((x) => !(x > 0))) throw new StanError(`${name}: alpha must be positive`);
      const g = alpha.map((x) => gammaDraw(rng, x));
      const s = g.reduce((x, y) => x + y, 0);
      // All underflowed (every alpha tiny): one coordinate takes the mass, chosen by alpha.
      if (s === 0) {
        const at = categoricalIndex(name, rng, softmax(alpha.map(Math.log)));
        return asVector(alpha.map((_, i) => (i + 1 === at ? 1 : 0)));
      }
      return asVector(g.map((x) => x / s));
    }
    case 'categorical':
    case 'categorical_logit': {
      if (a.length !== 1) throw new StanError(`${name} takes 1 argument`);
      const v = vectorOf(name, 'theta', a[0]);
      return int(categoricalIndex(name, rng, family === 'categorical' ? v : softmax(v)));
    }
    case 'multinomial':
    case 'multinomial_logit': {
      if (a.length !== 2) throw new StanError(`${name} takes 2 arguments`);
      const v = vectorOf(name, 'theta', a[0]);
      const p = family === 'multinomial' ? v : softmax(v);
      checkSimplex(name, p);
      const n = scalarOf(a[1], 'N');
      if (!inFamily(n, 'count')) throw new StanError(`${name}: N is ${n}, not a count`);
      // Sequential binomials: each category's share of what the earlier ones left.
      let left = n;
      let mass = 1;
      const counts = p.map((x, k) => {
        if (k === p.length - 1) return left;
        const c = left > 0 && mass > 0 ? binomialDraw(rng, left, Math.min(1, x / mass)) : 0;
        left -= c;
        mass -= x;
        return c;
      });
      return { k: 'arr', items: counts.map((c) => int(c)) };
    }
    case 'ordered_logistic':
    case 'ordered_probit': {
      if (a.length !== 2) throw new StanError(`${name} takes 2 arguments`);
      const eta = scalarOf(a[0], 'eta');
      const c = vectorOf(name, 'cut points', a[1]);
      if (c.some((x, i) => i > 0 && !(x > c[i - 1])))
        throw new StanError(`${name}: the cut points are not increasing`);
      // The latent outcome eta + noise; the category is how many cut points lie below it.
      const noise = () => {
        const u = open01(rng);
        return Math.log(u / (1 - u));
      };
      const latent = eta + (family === 'ordered_logistic' ? noise() : rng.normal());
      return int(1 + c.filter((x) => x < latent).length);
    }
  }
  return undefined;
}
