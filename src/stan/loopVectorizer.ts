import * as ad from '../modelling/autodiff.js';
import { Node } from '../modelling/autodiff.js';
import type { Val } from '../modelling/autodiff.js';
import { callFunction, isElementwise, logDensity } from './builtins.js';
import { CONTINUOUS_FAMILIES } from './continuousFamilies.js';
import { ELEMENTWISE_COUNT_FAMILIES } from './countFamilies.js';
import { holds } from './operators.js';
import { hasPointwise, pointwiseLogDensity } from './pointwiseDensities.js';
import { callsArePure, walk } from './exprWalk.js';
import { everyStatement, expressionsOf } from './stmtWalk.js';
import type { Expr, Index, Stmt } from './parser.js';
import { flat, isScalar, numberOf, packScalars, real, vec } from './values.js';
import type { Value } from './values.js';

/**
 * Runs a Stan `for` loop over data points as one vectorised pass, where that gives the same
 * result: `for (n in 1:N) target += normal_lpdf(y[n] | mu[n], sigma);` becomes one normal density
 * over the N points instead of N scalar ones. Interpreted, each pass of such a loop records a
 * few autodiff nodes per point, and on posteriordb's radon_pooled (12,573 points) a gradient took
 * 62 ms, most of it garbage collection of that tape; as one pass it takes 0.5 ms.
 *
 * A loop qualifies when every statement of its body is
 * - `target += E`, where E is one univariate density call or an element-wise expression,
 * - `lhs ~ family(args)` of a univariate family (not truncated), or
 * - `x[n] = E` (or `+=`, `-=`, `*=`, `/=`) into reals of a vector, matrix or array,
 * and the loop variable n appears only as one index of a variable (`y[n]`, `X[n, k]`, `p[i, n]`,
 * its other indexes free of n; an assigned variable read with the indexes it is assigned with), in
 * the one index of a vector or array read through the data (`alpha[county[n]]`, the index an
 * element-wise integer-data term; the array not assigned in the loop), or as a value. Element-wise means: numbers, + - * / ^ and unary minus, Stan's element-wise
 * functions (exp, log, inv_logit, ...), `log_mix` and `log_sum_exp` of scalars, a density of one
 * point inside them (`normal_lpdf(y[n] | ...)`: pointwiseDensities.ts), and expressions free of n
 * (evaluated once, and required to be scalars), which may not read what the body assigns. Each
 * point's computation then depends on its own index only, so doing every point's first statement
 * before any point's second gives what the loop gives. A density term must depend on n, else the
 * loop would add it N times; a `target +=` term free of n is added once per point. A body that
 * assigns nothing may also branch on the data, `if (s[n] > 0) ... else ...` (comparisons and
 * `&&`, `||`, `!` of element-wise data terms): the points are split by the condition and each
 * branch, which must qualify by the same rules, runs as one pass over its own points (a
 * capture-recapture model's loop over 200 animals, posteriordb's M0, 33 ms a gradient as written).
 * At run time a value that is not what the plan assumed (a free variable that is a vector, integer
 * division, an index out of range, a condition on a parameter) abandons the pass before anything
 * is changed, and the loop runs as written.
 */

/** What a qualifying loop's body does, checked once per loop. */
interface Plan {
  body: Stmt[];
  /** Variables the body assigns elements of (x in `x[n] = ...`), with the index pattern used. */
  assigned: Map<string, string>;
}

/** The interpreter's side: evaluating free expressions, reading and replacing variables. */
export interface LoopHost {
  eval(e: Expr): Value;
  get(name: string): Value;
  replace(name: string, v: Value): void;
  /** Whether `name` is a user-defined function (which may have side effects, or shadow a family). */
  isUserFunction(name: string): boolean;
}

/** Families whose log density sums over broadcast vector arguments. */
const UNIVARIATE = new Set([
  'normal',
  'std_normal',
  'student_t',
  'cauchy',
  'lognormal',
  'exponential',
  'gamma',
  'inv_gamma',
  'beta',
  'chi_square',
  'uniform',
  'double_exponential',
  'logistic',
  'weibull',
  'bernoulli',
  'bernoulli_logit',
  'binomial',
  'binomial_logit',
  'poisson',
  'poisson_log',
  'neg_binomial_2',
  'neg_binomial_2_log',
  ...CONTINUOUS_FAMILIES,
  ...ELEMENTWISE_COUNT_FAMILIES,
]);

const DENSITY_SUFFIX = /_(lpdf|lpmf|lupdf|lupmf)$/;

/** Functions of several arguments that act element by element on scalars, with their arity. */
const POINTWISE_ARITY: Record<string, number> = { log_mix: 3, log_sum_exp: 2 };

/** The family of a density call that has a pointwise form (`normal_lpdf` inside `log_mix`). */
function pointwiseFamily(name: string): string | undefined {
  if (!DENSITY_SUFFIX.test(name)) return undefined;
  const family = name.replace(DENSITY_SUFFIX, '');
  return hasPointwise(family) ? family : undefined;
}

/** The arguments an element-wise call takes (-1: it is not one). */
function arity(name: string, given: number): number {
  if (Object.hasOwn(POINTWISE_ARITY, name)) return POINTWISE_ARITY[name];
  if (isElementwise(name)) return 1;
  return pointwiseFamily(name) ? given : -1;
}

const ARITHMETIC = new Set(['+', '-', '*', '/', '^']);
const COMPARISON = new Set(['<', '<=', '>', '>=', '==', '!=']);
const LOGICAL = new Set(['&&', '||']);
const OP_ASSIGN: Record<string, string> = { '=': '=', '+=': '+', '-=': '-', '*=': '*', '/=': '/' };

/**
 * Fewer passes than this run as written: planning and gathering a pass costs about what a few
 * scalar passes do (the HMM's two-state inner loops were 40% slower as one pass).
 */
const MIN_PASSES = 8;

/** Loops run as one pass since the process started (for tests and benchmarks to see it happen). */
export const vectorizedLoops = { passes: 0 };

/** Thrown while a pass is evaluated when a value is not what the plan assumed. */
class Abandon extends Error {}

const plans = new WeakMap<Stmt, Plan | null>();

/**
 * Runs loop `s` from `from` to `to` (both included) as one pass when it qualifies, adding its log
 * density terms to `target` and writing what it assigns; false (nothing done) when the loop must
 * run as written.
 */
export function runVectorized(
  s: Extract<Stmt, { s: 'for' }>,
  from: number,
  to: number,
  host: LoopHost,
  target: Val[] | undefined,
): boolean {
  if (to - from + 1 < MIN_PASSES) return false;
  let plan = plans.get(s);
  if (plan === undefined) plans.set(s, (plan = planOf(s, host)));
  if (!plan) return false;
  const points = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const pass = new Pass(s.v, points, host, plan);
  try {
    const terms: Val[] = [];
    for (const st of plan.body) pass.statement(st, terms);
    if (terms.length > 0 && !target) return false;
    pass.commit();
    target?.push(...terms);
    vectorizedLoops.passes++;
    return true;
  } catch (e) {
    if (e instanceof Abandon) return false;
    throw e;
  }
}

// ------------------------------------------------------------------------- the static check

function planOf(s: Extract<Stmt, { s: 'for' }>, host: LoopHost): Plan | null {
  const body = statementsOf(s.body);
  const assigned = new Map<string, string>();
  for (const st of body)
    if (st.s === 'assign') {
      const t = st.target;
      if (t.e !== 'index' || t.a.e !== 'var' || loopPosition(t, s.v) < 0) return null;
      if (!(st.op in OP_ASSIGN)) return null;
      // One index pattern per assigned variable: x[i, n] assigned, x[i, n] read.
      const pattern = shown(t);
      if ((assigned.get(t.a.name) ?? pattern) !== pattern) return null;
      assigned.set(t.a.name, pattern);
    }
  if (assigned.has(s.v)) return null;
  // Each pass of `y[n] = normal_rng(0, 1)` draws anew: one draw for all points would be wrong
  // (and `target()` in a pass reads what the passes before it added).
  if (body.some(callsImpure)) return null;
  const c = new Checker(s.v, assigned, host);
  // The free indexes of assigned elements may not read what the body assigns.
  for (const st of body)
    if (st.s === 'assign' && !(st.target as IndexExpr).idx.every((i) => c.freeIndex(i)))
      return null;
  const qualifies = (st: Stmt): boolean =>
    st.s === 'target'
      ? !c.mentionsN(st.value)
        ? c.elementwise(st.value) // free of n: added once per point
        : isDensityCall(st.value, host)
          ? c.density(st.value as Extract<Expr, { e: 'call' }>)
          : c.elementwise(st.value)
      : st.s === 'tilde'
        ? !st.truncation &&
          UNIVARIATE.has(st.dist) &&
          !['_lpdf', '_lpmf', '_log'].some((x) => host.isUserFunction(st.dist + x)) &&
          [st.lhs, ...st.args].every((a) => c.elementwise(a)) &&
          [st.lhs, ...st.args].some((a) => c.mentionsN(a))
        : st.s === 'assign'
          ? c.elementwise(st.value)
          : // Branches on the data, in a body that assigns nothing (a branch's points would see
            // only their own share of an assigned variable's new values).
            st.s === 'if' &&
            assigned.size === 0 &&
            c.condition(st.c) &&
            [st.then, st.else].every(
              (b) => !b || statementsOf(b).every((x) => x.s !== 'assign' && qualifies(x)),
            );
  return body.every(qualifies) ? { body, assigned } : null;
}

/** A statement's statements: a block's body, else the statement itself. */
function statementsOf(s: Stmt): Stmt[] {
  return s.s === 'block' ? s.body : [s];
}

type IndexExpr = Extract<Expr, { e: 'index' }>;

function isLoopIndex(i: Index, v: string): boolean {
  return i.i === 'one' && i.at.e === 'var' && i.at.name === v;
}

/** `x[e]` with one index that mentions n but is not n itself (`alpha[county[n]]`). */
function isIndirect(e: IndexExpr, n: string): boolean {
  return (
    e.idx.length === 1 &&
    e.idx[0].i === 'one' &&
    !isLoopIndex(e.idx[0], n) &&
    mentions(e.idx[0].at, n)
  );
}

/**
 * Where n is the index of `e` (`y[n]`: 0, `p[i, n]`: 1) when it is exactly one of its indexes and
 * the others are single positions free of n; -1 otherwise.
 */
function loopPosition(e: IndexExpr, n: string): number {
  const at = e.idx.findIndex((i) => isLoopIndex(i, n));
  const ok = e.idx.every((i, k) => k === at || (i.i === 'one' && !mentions(i.at, n)));
  return at >= 0 && ok ? at : -1;
}

/** An expression as text, without its lines: two writings of one element compare equal. */
function shown(e: Expr): string {
  return JSON.stringify(e, (key, v: unknown) => (key === 'line' ? undefined : v));
}

function isDensityCall(e: Expr, host: LoopHost): boolean {
  return (
    e.e === 'call' &&
    DENSITY_SUFFIX.test(e.name) &&
    UNIVARIATE.has(e.name.replace(DENSITY_SUFFIX, '')) &&
    !host.isUserFunction(e.name)
  );
}

/** The static rules of the module comment, for one loop. */
class Checker {
  constructor(
    private readonly n: string,
    private readonly assigned: Map<string, string>,
    private readonly host: LoopHost,
  ) {}

  /** A density call whose arguments are element-wise and depend on n. */
  density(e: Extract<Expr, { e: 'call' }>): boolean {
    return e.args.every((a) => this.elementwise(a)) && e.args.some((a) => this.mentionsN(a));
  }

  elementwise(e: Expr): boolean {
    if (!this.mentionsN(e)) return this.free(e);
    switch (e.e) {
      case 'var':
        return true; // n itself
      case 'index': {
        // alpha[g[n]]: one index, an element-wise term (the pass checks it is integer data).
        if (e.a.e === 'var' && isIndirect(e, this.n))
          return !this.assigned.has(e.a.name) && this.elementwise((e.idx[0] as { at: Expr }).at);
        // y[n], X[n, k], p[i, n]: n one index, the others free; an assigned x as it is assigned.
        if (e.a.e !== 'var' || loopPosition(e, this.n) < 0) return false;
        const pattern = this.assigned.get(e.a.name);
        return pattern === undefined ? e.idx.every((i) => this.freeIndex(i)) : pattern === shown(e);
      }
      case 'bin':
        return ARITHMETIC.has(e.op) && this.elementwise(e.a) && this.elementwise(e.b);
      case 'un':
        return e.op === '-' && this.elementwise(e.a);
      case 'call':
        return (
          !this.host.isUserFunction(e.name) &&
          arity(e.name, e.args.length) === e.args.length &&
          e.args.every((a) => this.elementwise(a))
        );
      default:
        return false;
    }
  }

  /** A branch's condition: comparisons and `&&`, `||`, `!` of element-wise terms. */
  condition(e: Expr): boolean {
    if (e.e === 'bin' && LOGICAL.has(e.op)) return this.condition(e.a) && this.condition(e.b);
    if (e.e === 'bin' && COMPARISON.has(e.op))
      return this.elementwise(e.a) && this.elementwise(e.b);
    if (e.e === 'un' && e.op === '!') return this.condition(e.a);
    return this.elementwise(e);
  }

  /** An index other than n (free of n, as loopPosition checked): it must be free. */
  freeIndex(i: Index): boolean {
    return i.i !== 'one' || mentions(i.at, this.n) || this.free(i.at);
  }

  /** An expression free of n: evaluated once; it may not read what the body assigns or call a user function. */
  private free(e: Expr): boolean {
    let ok = true;
    walk(e, (x) => {
      if (x.e === 'var' && this.assigned.has(x.name)) ok = false;
      if (x.e === 'call' && this.host.isUserFunction(x.name)) ok = false;
    });
    return ok;
  }

  mentionsN(e: Expr): boolean {
    return mentions(e, this.n);
  }
}

/** Whether a statement calls an impure function (`callsArePure`) anywhere, nested ones too. */
function callsImpure(st: Stmt): boolean {
  return everyStatement([st]).some((x) => !expressionsOf(x).every(callsArePure));
}

/** Whether variable `name` appears in `e`. */
function mentions(e: Expr, name: string): boolean {
  let found = false;
  walk(e, (x) => {
    if (x.e === 'var' && x.name === name) found = true;
  });
  return found;
}

// ------------------------------------------------------------------------------ one pass

/** A value of the pass: one per point (`Val` of the pass's length) or one for all (a scalar). */
interface Term {
  v: Val;
  each: boolean;
  int: boolean;
}

class Pass {
  /** The new values of assigned variables over the loop's range, in the order assigned. */
  private readonly pending = new Map<string, { path: Path; v: Val }>();

  /** The number of points, the first, and whether they are consecutive (a vector's slice). */
  private readonly length: number;
  private readonly from: number;
  private readonly consecutive: boolean;

  constructor(
    private readonly n: string,
    /** The loop's indexes (1-based, ascending) this pass covers. */
    private readonly points: number[],
    private readonly host: LoopHost,
    private readonly plan: Plan,
  ) {
    this.length = points.length;
    this.from = points[0];
    this.consecutive = points[points.length - 1] - points[0] + 1 === points.length;
  }

  statement(st: Stmt, terms: Val[]): void {
    if (st.s === 'if') {
      // Each branch over its own points (the plan allows no assignment here).
      const truth = this.truth(st.c);
      const branches: [number[], Stmt | undefined][] = [
        [this.points.filter((_, t) => truth(t)), st.then],
        [this.points.filter((_, t) => !truth(t)), st.else],
      ];
      for (const [points, branch] of branches) {
        if (!branch || points.length === 0) continue;
        const pass = new Pass(this.n, points, this.host, this.plan);
        for (const x of statementsOf(branch)) pass.statement(x, terms);
      }
    } else if (st.s === 'target' && !mentions(st.value, this.n)) {
      // The same term at every point: added once per point.
      const v = this.host.eval(st.value);
      if (!isScalar(v)) throw new Abandon();
      terms.push(ad.mul(v.v, this.length));
    } else if (st.s === 'target') {
      const e = st.value;
      if (e.e === 'call' && DENSITY_SUFFIX.test(e.name)) {
        const [y, ...args] = e.args.map((a) => this.value(a));
        terms.push(logDensity(e.name.replace(DENSITY_SUFFIX, ''), y, args));
      } else terms.push(this.term(e).v);
    } else if (st.s === 'tilde') {
      terms.push(
        logDensity(
          st.dist,
          this.value(st.lhs),
          st.args.map((a) => this.value(a)),
        ),
      );
    } else if (st.s === 'assign') {
      const target = st.target as IndexExpr;
      const name = (target.a as { name: string }).name;
      const path = this.path(target);
      this.checkTarget(this.host.get(name), path);
      const x = this.term(st.value);
      const op = OP_ASSIGN[st.op];
      const old = op === '=' ? undefined : this.current(name, path);
      const v = old === undefined ? x : this.arithmetic(op, { v: old, each: true, int: false }, x);
      // A value the same at every point is spread over the range.
      const spread = v.each ? v.v : ad.add(new Float64Array(this.length), v.v);
      this.pending.set(name, { path, v: spread });
    }
  }

  /** Writes the assigned elements: a whole vector replaced at once, else element by element. */
  commit(): void {
    for (const [name, { path, v }] of this.pending) {
      const x = this.host.get(name);
      if (x.k === 'vec' && path.ints.length === 1 && this.from === 1 && this.length === x.s.n) {
        this.host.replace(name, vec(v, x.s.n, x.row));
        continue;
      }
      const node = ad.lift(v);
      for (let t = 0; t < this.length; t++)
        setLeaf(x, this.positions(path, t), node.variable ? ad.index(node, t) : node.value[t]);
    }
  }

  /** Every element assigned must exist and hold a real (Stan arrays are rectangular: the ends do). */
  private checkTarget(x: Value, path: Path): void {
    for (const t of [0, this.length - 1]) {
      const idx = this.positions(path, t);
      if (x.k === 'vec' && !(idx[0] >= 1 && idx[0] <= x.s.n)) throw new Abandon();
      if (leafAt(x, idx).k !== 'real') throw new Abandon();
    }
  }

  /** The indexes of `e` with n's place marked, the others evaluated (integers). */
  private path(e: IndexExpr): Path {
    const at = loopPosition(e, this.n);
    const ints = e.idx.map((i, k) => {
      if (k === at) return 0;
      const v = this.host.eval((i as { at: Expr }).at);
      if (v.k !== 'int') throw new Abandon();
      return v.v;
    });
    return { at, ints };
  }

  /** The path's indexes at pass t. */
  private positions(path: Path, t: number): number[] {
    const idx = path.ints.slice();
    idx[path.at] = this.points[t];
    return idx;
  }

  /** A condition's truth at each pass t; its terms must be data (no parameter decides a branch). */
  private truth(e: Expr): (t: number) => boolean {
    const x = ad.lift(this.term(e).v);
    if (x.variable) throw new Abandon();
    const v = x.value;
    return v.length === 1 ? () => v[0] !== 0 : (t) => v[t] !== 0;
  }

  /** An assigned variable's values over the range: pending ones, else its own. */
  private current(name: string, path: Path): Val {
    return this.pending.get(name)?.v ?? this.gather(this.host.get(name), path, true);
  }

  /**
   * Element `path` of `x` at every pass, as one vector; `real` asks that they be reals (an
   * element assigned to). Out of range, or not a scalar: the loop as written says why.
   */
  private gather(x: Value, path: Path, real = false): Val {
    const last = this.points[this.length - 1];
    // A vector's consecutive points in one slice (no element node each).
    if (x.k === 'vec' && path.ints.length === 1 && this.consecutive) {
      if (last > x.s.n) throw new Abandon();
      return x.s.range(this.from - 1, this.length);
    }
    if (x.k === 'vec' && path.ints.length === 1) {
      const at = Array.from({ length: this.length }, (_, t) => this.points[t] - 1);
      if (at.some((i) => !(i >= 0 && i < x.s.n))) throw new Abandon();
      return x.s.gather(at);
    }
    const leaves = Array.from({ length: this.length }, (_, t) =>
      leafAt(x, this.positions(path, t)),
    );
    if (real && leaves.some((l) => l.k !== 'real')) throw new Abandon();
    return packScalars(leaves.map((l) => l.v));
  }

  /** A term as a Stan value, for a density's arguments. */
  private value(e: Expr): Value {
    const t = this.term(e);
    if (!t.each) return t.int ? { k: 'int', v: numberOf(t.v as number) } : real(scalarOf(t.v));
    return vec(t.v, this.length);
  }

  private term(e: Expr): Term {
    if (!mentions(e, this.n)) {
      const v = this.host.eval(e);
      if (!isScalar(v)) throw new Abandon();
      return { v: v.v, each: false, int: v.k === 'int' };
    }
    switch (e.e) {
      case 'var':
        return { v: Float64Array.from(this.points), each: true, int: true };
      case 'index':
        return this.indexed(e);
      case 'bin':
        return COMPARISON.has(e.op) || LOGICAL.has(e.op)
          ? this.compare(e.op, this.term(e.a), this.term(e.b))
          : this.arithmetic(e.op, this.term(e.a), this.term(e.b));
      case 'un': {
        const a = this.term(e.a);
        if (e.op === '!') return this.compare('==', a, { v: 0, each: false, int: true });
        return { v: ad.neg(a.v), each: a.each, int: a.int };
      }
      case 'call': {
        const args = e.args.map((a) => this.term(a).v);
        const family = pointwiseFamily(e.name);
        const v =
          e.name === 'log_mix'
            ? ad.logMix(args[0], args[1], args[2])
            : e.name === 'log_sum_exp'
              ? ad.logSumExp2(args[0], args[1])
              : family
                ? pointwiseLogDensity(family, args[0], args.slice(1))
                : flat(callFunction(e.name, [vec(args[0], this.length)]));
        return { v, each: true, int: false };
      }
    }
    throw new Abandon();
  }

  private arithmetic(op: string, a: Term, b: Term): Term {
    const each = a.each || b.each;
    const int = a.int && b.int && op !== '/' && op !== '^';
    switch (op) {
      case '+':
        return { v: ad.add(a.v, b.v), each, int };
      case '-':
        return { v: ad.sub(a.v, b.v), each, int };
      case '*':
        return { v: ad.mul(a.v, b.v), each, int };
      case '/':
        // Stan divides integers by truncating: left to the loop as written.
        if (a.int && b.int) throw new Abandon();
        return { v: ad.div(a.v, b.v), each, int };
      case '^':
        return { v: ad.pow(a.v, b.v), each, int };
    }
    throw new Abandon();
  }

  /** A comparison or logical operator point by point, on data only: 1 where it holds, else 0. */
  private compare(op: string, a: Term, b: Term): Term {
    const [x, y] = [ad.lift(a.v), ad.lift(b.v)];
    if (x.variable || y.variable) throw new Abandon();
    const each = a.each || b.each;
    const out = new Float64Array(each ? this.length : 1);
    const at = (v: Float64Array, t: number) => v[v.length === 1 ? 0 : t];
    for (let t = 0; t < out.length; t++) out[t] = holds(op, at(x.value, t), at(y.value, t)) ? 1 : 0;
    return { v: each ? out : out[0], each, int: true };
  }

  /** `x[g[n]]` over the range (x not assigned in the loop, as the plan checked). */
  private indirect(name: string, index: Expr): Term {
    return indirectTerm(this.host.get(name), this.term(index), this.length);
  }

  /** `y[n]`, `X[n, k]`, `p[i, n]` over the range: one value per pass. */
  private indexed(e: IndexExpr): Term {
    const name = (e.a as { name: string }).name;
    if (isIndirect(e, this.n)) return this.indirect(name, (e.idx[0] as { at: Expr }).at);
    const path = this.path(e);
    if (this.plan.assigned.has(name))
      return { v: this.current(name, path), each: true, int: false };
    const x = this.host.get(name);
    if (x.k === 'vec' && path.ints.length === 1)
      return { v: this.gather(x, path), each: true, int: false };
    const leaves = Array.from({ length: this.length }, (_, t) =>
      leafAt(x, this.positions(path, t)),
    );
    return {
      v: packScalars(leaves.map((l) => l.v)),
      each: true,
      int: leaves.every((l) => l.k === 'int'),
    };
  }
}

/**
 * `x[g[n]]` over the range: g's values (integer data, in range, else the loop runs as written)
 * pick x's elements, a vector's as one gather node.
 */
function indirectTerm(x: Value, at: Term, length: number): Term {
  const g = ad.lift(at.v);
  if (!at.int || g.variable) throw new Abandon();
  const v = g.value;
  const pos = Array.from({ length }, (_, t) => v[v.length === 1 ? 0 : t] - 1);
  const size = x.k === 'vec' ? x.s.n : x.k === 'arr' ? x.items.length : 0;
  if (pos.some((i) => !(Number.isInteger(i) && i >= 0 && i < size))) throw new Abandon();
  if (x.k === 'vec') return { v: x.s.gather(pos), each: true, int: false };
  const leaves = pos.map((i) => (x as Extract<Value, { k: 'arr' }>).items[i]);
  if (!leaves.every((l) => l.k === 'int' || l.k === 'real')) throw new Abandon();
  return {
    v: packScalars(leaves.map((l) => (l as Extract<Value, { k: 'int' | 'real' }>).v)),
    each: true,
    int: leaves.every((l) => l.k === 'int'),
  };
}

/** Where n goes among an element's indexes, and the other indexes' values. */
interface Path {
  at: number;
  ints: number[];
}

/** The scalar at 1-based indexes `idx` of `v` (every index used); else the pass is abandoned. */
function leafAt(v: Value, idx: number[]): Extract<Value, { k: 'int' | 'real' }> {
  let x = v;
  let k = 0;
  while (k < idx.length && x.k === 'arr') {
    const i = idx[k++];
    if (!(i >= 1 && i <= x.items.length)) throw new Abandon();
    x = x.items[i - 1];
  }
  const rest = idx.slice(k);
  if (x.k === 'vec' && rest.length === 1 && rest[0] >= 1 && rest[0] <= x.s.n)
    return real(x.s.get(rest[0] - 1)) as Extract<Value, { k: 'real' }>;
  if (
    x.k === 'mat' &&
    rest.length === 2 &&
    rest[0] >= 1 &&
    rest[0] <= x.rows &&
    rest[1] >= 1 &&
    rest[1] <= x.cols
  )
    return real(x.s.get((rest[0] - 1) * x.cols + rest[1] - 1)) as Extract<Value, { k: 'real' }>;
  if (rest.length === 0 && isScalar(x)) return x;
  throw new Abandon();
}

/** Sets the element at `idx` of `v` (checked by {@link leafAt} before). */
function setLeaf(v: Value, idx: number[], x: number | Node): void {
  let c = v;
  let k = 0;
  while (c.k === 'arr' && k < idx.length - 1) c = c.items[idx[k++] - 1];
  const rest = idx.slice(k);
  if (c.k === 'arr') c.items[rest[0] - 1] = real(x);
  else if (c.k === 'vec') c.s.set(rest[0] - 1, x);
  else if (c.k === 'mat') c.s.set((rest[0] - 1) * c.cols + rest[1] - 1, x);
}

function scalarOf(v: Val): number | Node {
  if (typeof v === 'number' || v instanceof Node) return v;
  return (v as ArrayLike<number>)[0];
}
