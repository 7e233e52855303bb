import * as ad from '../modelling/autodiff.js';
import { Node } from '../modelling/autodiff.js';
import type { Val } from '../modelling/autodiff.js';
import { callFunction, isElementwise, logDensity } from './builtins.js';
import type { Expr, Index, Stmt } from './parser.js';
import { flat, isScalar, numberOf, real, vec } from './values.js';
import type { Value } from './values.js';

/**
 * Runs a Stan `for` loop over data points as one vectorised pass, where that gives the same
 * result: `for (n in 1:N) target += normal_lpdf(y[n] | mu[n], sigma);` becomes one normal density
 * over the N points instead of N scalar ones. Interpreted, each pass of such a loop records a
 * few autodiff nodes per point, and on posteriordb's radon_pooled (12,573 points) a gradient took
 * 84-123 ms, most of it garbage collection of that tape; as one pass it costs what the
 * vectorised program does.
 *
 * A loop qualifies when every statement of its body is
 * - `target += E`, where E is one univariate density call or an element-wise expression,
 * - `lhs ~ family(args)` of a univariate family (not truncated), or
 * - `x[n] = E` (or `+=`, `-=`, `*=`, `/=`) into a vector or an array of reals,
 * and the loop variable n appears only as the first index of a variable (`y[n]`, `X[n, k]`) or as
 * a value. Element-wise means: numbers, + - * / ^ and unary minus, Stan's element-wise functions
 * (exp, log, inv_logit, ...), and expressions free of n (evaluated once, and required to be
 * scalars), which may not read what the body assigns. Each point's computation then depends on
 * its own index only, so doing every point's first statement before any point's second gives
 * what the loop gives. A density term must depend on n, else the loop would add it N times. At
 * run time a value that is not what the plan assumed (a free variable that is a vector, integer
 * division, a matrix indexed by one index) abandons the pass before anything is changed, and the
 * loop runs as written.
 */

/** What a qualifying loop's body does, checked once per loop. */
interface Plan {
  body: Stmt[];
  /** Variables the body assigns elements of (x in `x[n] = ...`). */
  assigned: Set<string>;
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
]);

const DENSITY_SUFFIX = /_(lpdf|lpmf|lupdf|lupmf)$/;
const ARITHMETIC = new Set(['+', '-', '*', '/', '^']);
const OP_ASSIGN: Record<string, string> = { '=': '=', '+=': '+', '-=': '-', '*=': '*', '/=': '/' };

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
  if (to - from + 1 < 2) return false;
  let plan = plans.get(s);
  if (plan === undefined) plans.set(s, (plan = planOf(s, host)));
  if (!plan) return false;
  const pass = new Pass(s.v, from, to - from + 1, host, plan);
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
  const body = s.body.s === 'block' ? s.body.body : [s.body];
  const assigned = new Set<string>();
  for (const st of body)
    if (st.s === 'assign') {
      const t = st.target;
      if (t.e !== 'index' || t.a.e !== 'var' || t.idx.length !== 1 || !isLoopIndex(t.idx[0], s.v))
        return null;
      if (!(st.op in OP_ASSIGN)) return null;
      assigned.add(t.a.name);
    }
  if (assigned.has(s.v)) return null;
  const c = new Checker(s.v, assigned, host);
  for (const st of body) {
    const ok =
      st.s === 'target'
        ? isDensityCall(st.value, host)
          ? c.density(st.value as Extract<Expr, { e: 'call' }>)
          : c.elementwise(st.value) && c.mentionsN(st.value)
        : st.s === 'tilde'
          ? !st.truncation &&
            UNIVARIATE.has(st.dist) &&
            !['_lpdf', '_lpmf', '_log'].some((x) => host.isUserFunction(st.dist + x)) &&
            [st.lhs, ...st.args].every((a) => c.elementwise(a)) &&
            [st.lhs, ...st.args].some((a) => c.mentionsN(a))
          : st.s === 'assign'
            ? c.elementwise(st.value)
            : false;
    if (!ok) return null;
  }
  return { body, assigned };
}

function isLoopIndex(i: Index, v: string): boolean {
  return i.i === 'one' && i.at.e === 'var' && i.at.name === v;
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
    private readonly assigned: Set<string>,
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
      case 'index':
        // y[n] or X[n, k]: n first, the other indexes free of n; an assigned x only as x[n].
        return (
          e.a.e === 'var' &&
          isLoopIndex(e.idx[0], this.n) &&
          e.idx.slice(1).every((i) => i.i === 'one' && !this.mentionsN(i.at) && this.free(i.at)) &&
          (!this.assigned.has(e.a.name) || e.idx.length === 1)
        );
      case 'bin':
        return ARITHMETIC.has(e.op) && this.elementwise(e.a) && this.elementwise(e.b);
      case 'un':
        return e.op === '-' && this.elementwise(e.a);
      case 'call':
        return (
          isElementwise(e.name) &&
          !this.host.isUserFunction(e.name) &&
          e.args.length === 1 &&
          this.elementwise(e.args[0])
        );
      default:
        return false;
    }
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

/** Whether variable `name` appears in `e`. */
function mentions(e: Expr, name: string): boolean {
  let found = false;
  walk(e, (x) => {
    if (x.e === 'var' && x.name === name) found = true;
  });
  return found;
}

/** Calls `f` on every expression in `e`, indexes included. */
function walk(e: Expr, f: (x: Expr) => void): void {
  f(e);
  const index = (i: Index) => {
    if (i.i === 'one') walk(i.at, f);
    if (i.i === 'range') [i.from, i.to].forEach((x) => x && walk(x, f));
  };
  switch (e.e) {
    case 'bin':
      walk(e.a, f);
      walk(e.b, f);
      return;
    case 'un':
    case 'transpose':
      walk(e.a, f);
      return;
    case 'cond':
      [e.c, e.a, e.b].forEach((x) => walk(x, f));
      return;
    case 'call':
      e.args.forEach((x) => walk(x, f));
      return;
    case 'array':
    case 'rowvec':
      e.items.forEach((x) => walk(x, f));
      return;
    case 'index':
      walk(e.a, f);
      e.idx.forEach(index);
      return;
  }
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
  private readonly pending = new Map<string, Val>();

  constructor(
    private readonly n: string,
    /** The loop's first index (1-based) and its number of passes. */
    private readonly from: number,
    private readonly length: number,
    private readonly host: LoopHost,
    private readonly plan: Plan,
  ) {}

  statement(st: Stmt, terms: Val[]): void {
    if (st.s === 'target') {
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
      const name = (st.target as { a: { name: string } }).a.name;
      this.checkTarget(name);
      const x = this.term(st.value);
      const op = OP_ASSIGN[st.op];
      const old = op === '=' ? undefined : this.current(name);
      const v = old === undefined ? x : this.arithmetic(op, { v: old, each: true, int: false }, x);
      // A value the same at every point is spread over the range.
      this.pending.set(name, v.each ? v.v : ad.add(new Float64Array(this.length), v.v));
    }
  }

  /** Writes the assigned variables: a whole vector replaced at once, else its range. */
  commit(): void {
    for (const [name, v] of this.pending) {
      const x = this.host.get(name);
      const node = ad.lift(v);
      if (x.k === 'vec' && this.from === 1 && this.length === x.s.n)
        this.host.replace(name, vec(v, x.s.n, x.row));
      else if (x.k === 'vec')
        for (let i = 0; i < this.length; i++) x.s.set(this.from - 1 + i, scalarAt(node, i));
      else if (x.k === 'arr')
        for (let i = 0; i < this.length; i++) x.items[this.from - 1 + i] = real(scalarAt(node, i));
    }
  }

  /** An assigned variable must be a vector or an array of reals that holds the whole range. */
  private checkTarget(name: string): void {
    const x = this.host.get(name);
    const last = this.from + this.length - 1;
    const ok =
      (x.k === 'vec' && last <= x.s.n) ||
      (x.k === 'arr' && last <= x.items.length && x.items.every((i) => i.k === 'real'));
    if (!ok) throw new Abandon();
  }

  /** The assigned variable's values over the range: pending ones, else its own. */
  private current(name: string): Val {
    const p = this.pending.get(name);
    if (p !== undefined) return p;
    const x = this.host.get(name);
    if (x.k === 'vec') return this.rangeOf(x);
    if (x.k === 'arr' && x.items.every((i) => i.k === 'real'))
      return flat({ k: 'arr', items: x.items.slice(this.from - 1, this.from - 1 + this.length) });
    throw new Abandon();
  }

  private rangeOf(x: Extract<Value, { k: 'vec' }>): Val {
    if (this.from + this.length - 1 > x.s.n) throw new Abandon(); // the loop reports the index
    return x.s.range(this.from - 1, this.length);
  }

  /** A term as a Stan value, for a density's arguments. */
  private value(e: Expr): Value {
    const t = this.term(e);
    if (!t.each) return t.int ? { k: 'int', v: numberOf(t.v as number) } : real(scalarOf(t.v));
    return vec(t.v, this.length);
  }

  private term(e: Expr): Term {
    if (!this.mentionsN(e)) {
      const v = this.host.eval(e);
      if (!isScalar(v)) throw new Abandon();
      return { v: v.v, each: false, int: v.k === 'int' };
    }
    switch (e.e) {
      case 'var': {
        const ns = Float64Array.from({ length: this.length }, (_, i) => this.from + i);
        return { v: ns, each: true, int: true };
      }
      case 'index':
        return this.indexed(e);
      case 'bin':
        return this.arithmetic(e.op, this.term(e.a), this.term(e.b));
      case 'un': {
        const a = this.term(e.a);
        return { v: ad.neg(a.v), each: a.each, int: a.int };
      }
      case 'call': {
        const arg = this.term(e.args[0]);
        return { v: flat(callFunction(e.name, [vec(arg.v, this.length)])), each: true, int: false };
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

  /** `y[n]` or `X[n, k]` over the range: one value per point. */
  private indexed(e: Extract<Expr, { e: 'index' }>): Term {
    const name = (e.a as { name: string }).name;
    if (this.plan.assigned.has(name)) return { v: this.current(name), each: true, int: false };
    const x = this.host.get(name);
    const rest = e.idx.slice(1).map((i) => {
      const v = this.host.eval((i as { at: Expr }).at);
      if (v.k !== 'int') throw new Abandon();
      return v.v;
    });
    const last = this.from + this.length - 1;
    if (x.k === 'vec' && rest.length === 0) return { v: this.rangeOf(x), each: true, int: false };
    if (x.k === 'mat' && rest.length === 1) {
      const [k] = rest;
      if (last > x.rows || k < 1 || k > x.cols) throw new Abandon();
      const column = Array.from({ length: this.length }, (_, i) =>
        x.s.get((this.from - 1 + i) * x.cols + k - 1),
      );
      return { v: packed(column), each: true, int: false };
    }
    if (x.k !== 'arr' || last > x.items.length) throw new Abandon();
    const items = x.items.slice(this.from - 1, last).map((item) => {
      const v = rest.reduce<Value>((acc, k) => elementOf(acc, k), item);
      if (!isScalar(v)) throw new Abandon();
      return v;
    });
    return {
      v: packed(items.map((v) => v.v)),
      each: true,
      int: items.every((v) => v.k === 'int'),
    };
  }

  private mentionsN(e: Expr): boolean {
    return mentions(e, this.n);
  }
}

/** Element k (1-based) of an array or vector, for `X[n, k]`. */
function elementOf(v: Value, k: number): Value {
  if (v.k === 'arr' && k >= 1 && k <= v.items.length) return v.items[k - 1];
  if (v.k === 'vec' && k >= 1 && k <= v.s.n) return real(v.s.get(k - 1));
  throw new Abandon();
}

function packed(xs: (number | Node)[]): Val {
  return xs.every((x) => typeof x === 'number')
    ? Float64Array.from(xs as number[])
    : ad.concat(...xs);
}

function scalarAt(node: Node, i: number): number | Node {
  return node.variable ? ad.index(node, i) : node.value[i];
}

function scalarOf(v: Val): number | Node {
  if (typeof v === 'number' || v instanceof Node) return v;
  return (v as ArrayLike<number>)[0];
}
