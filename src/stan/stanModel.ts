import { evaluationOrder, hierarchicalNormals } from './autoNoncentre.js';
import type { Noncentred } from './autoNoncentre.js';
import { exprText, variablesOf } from './exprWalk.js';
import { impliedSupports } from './impliedBounds.js';
import type { ImpliedBound, ImpliedSupport } from './impliedBounds.js';
import { basename } from 'node:path';
import { AvbUserError } from '../errors.js';
import * as ad from '../modelling/autodiff.js';
import { Node } from '../modelling/autodiff.js';
import type { Val } from '../modelling/autodiff.js';
import * as constraints from '../modelling/constraints.js';
import type { Bound, ParameterBlock } from '../modelling/constraints.js';
import type { ModelDeclaration, ParameterValues } from '../inference/declaredModel.js';
import { callFunction, logDensity } from './builtins.js';
import { StanError, binaryOp, describe, transpose, unaryOp } from './operators.js';
import { parseStan } from './parser.js';
import type { Decl, Expr, FunctionDef, Index, Program, Stmt, TypeSpec } from './parser.js';
import { logTruncation } from './cdfs.js';
import { discreteLogTruncation, isDiscreteFamily } from './discreteTruncation.js';
import { ODE_SOLVERS, solveOde } from './ode.js';
import { runVectorized } from './loopVectorizer.js';
import { hoistDataOnly } from './hoistDataOnly.js';
import { rngFunction } from './rngFunctions.js';
import { Rng } from '../random/rng.js';
import type { LoopHost } from './loopVectorizer.js';
import {
  copyValue,
  elementsOf,
  flat,
  int,
  isScalar,
  mat,
  numberOf,
  real,
  sizeOf,
  vec,
} from './values.js';
import type { Scalar, Value } from './values.js';

/**
 * A Stan program run by avb: `stanModel(source, file, data)` reads the program and its data and
 * returns a {@link ModelDeclaration} (parameters, transformed parameters, log density), so that
 * posteriordb's models run without a hand translation. The program is interpreted on avb's
 * modelling kit, which differentiates it (user-defined functions and ODE solvers included);
 * what avb does not run (some types, an unknown function, truncating a family without a
 * closed-form cdf) is refused by name. `generated quantities` run once per reported draw, their
 * `_rng` functions drawing from a generator seeded by the draw (`rngFunctions.ts`); `_rng` calls
 * in `transformed data` (a program that simulates its own data, say) run once, as the program is
 * read, from a generator seeded by `options.seed` (Stan seeds them with the run's seed too, so
 * the same seed gives the same data; default 1).
 */
export function stanModel(
  source: string,
  file: string,
  data: unknown,
  options: { vectorizeLoops?: boolean; noncentre?: boolean; seed?: number } = {},
): ModelDeclaration {
  const program = parseStan(source, file);
  // Hierarchical normals sampled non-centred where asked (autoNoncentre.ts).
  const hierarchies = hierarchicalNormals(program);
  const noncentred = options.noncentre ? hierarchies : new Map<string, Noncentred>();
  const run = new Interpreter(file, program.functions, options.vectorizeLoops ?? true);
  const global = new Scope();
  run.atLoad(() => {
    readData(program.data, data, global, run, file);
    // Its own stream (a fork), not the start of the one a method seeded alike draws from.
    run.rng = new Rng(options.seed ?? 1).fork();
    try {
      run.exec(program.transformedData, global);
    } finally {
      run.rng = undefined;
    }
  });
  const { parameters, types, order, notes } = declareParameters(program, noncentred, run, global);
  const tpTypes = new Map<string, { type: TypeSpec; sizes: number[]; dims: number[] }>();
  const withParameters = (p: ParameterValues): Scope => {
    const scope = new Scope(global);
    for (const [name, t] of [...types, ...tpTypes])
      if (p[name] !== undefined)
        scope.declare(name, reshape(p[name], t.type.base, t.sizes, t.dims));
    return scope;
  };
  const tpNames = program.transformedParameters.flatMap((s) => (s.s === 'decl' ? [s.decl] : []));
  for (const d of tpNames) tpTypes.set(d.name, declaredShape(d, global, run));
  const gqDecls = program.generatedQuantities.flatMap((s) => (s.s === 'decl' ? [s.decl] : []));
  const gqTypes = gqDecls.map((d) => [d.name, declaredShape(d, global, run)] as const);
  const declaration: ModelDeclaration = {
    name: basename(file).replace(/\.stan$/, ''),
    parameters,
    // Reported in the program's order where the transforms run in another.
    reportOrder: order.some((d, i) => d !== program.parameters[i])
      ? program.parameters.map((d) => d.name).filter((name) => parameters[name])
      : undefined,
    ...centredLists(options.noncentre ? new Map<string, Noncentred>() : hierarchies, program),
    ...(notes.length > 0 ? { notes } : {}),
    shapes: Object.fromEntries(
      [...types, ...tpTypes, ...gqTypes].map(([name, t]) => [
        name,
        fullShape(t.type.base, t.sizes, t.dims),
      ]),
    ),
    logDensity: (p) => {
      const scope = withParameters(p);
      const target: Val[] = [];
      run.target = target;
      try {
        run.exec(program.model, scope, target);
      } finally {
        run.target = undefined;
      }
      return ad.total(...target);
    },
  };
  if (program.transformedParameters.length > 0)
    declaration.transformed = transformedParameters(
      program.transformedParameters,
      Object.keys(parameters),
      { run, global, file },
      withParameters,
      tpNames,
    );
  if (program.generatedQuantities.length > 0)
    declaration.generated = generatedQuantities(program.generatedQuantities, gqDecls, {
      run,
      file,
      withParameters,
    });
  return declaration;
}

/** A declared variable's type and its sizes, evaluated as the program is read. */
function declaredShape(d: Decl, global: Scope, run: Interpreter) {
  return { type: d.type, ...run.atLoad(() => evaluateShape(d.type, global, run), d.line) };
}

/**
 * The generated quantities block as a function of a draw's values and a generator: its
 * top-level variables, each checked against its declared bounds (as Stan checks them). Any
 * failure is a Stan error naming the block and line; declaredModel.ts makes it that draw's NaN.
 */
function generatedQuantities(
  block: Stmt[],
  decls: Decl[],
  at: { run: Interpreter; file: string; withParameters: (p: ParameterValues) => Scope },
): (p: ParameterValues, rng: Rng) => Record<string, Val> {
  const { run, file, withParameters } = at;
  const where = `${basename(file)}: generated quantities`;
  return (p, rng) => {
    const scope = new Scope(withParameters(p));
    run.rng = rng;
    try {
      run.exec(block, scope);
    } catch (e) {
      if (e instanceof StanError || e instanceof RangeError)
        throw new StanError(`${where}, ${e.message}`);
      throw e;
    } finally {
      run.rng = undefined;
    }
    const out: Record<string, Val> = {};
    for (const d of decls) {
      const value = scope.get(d.name, d.line, file);
      const outside = firstOutside(d.type, elementsOf(value).map(numberOf), scope, run);
      if (outside)
        throw new StanError(
          `${where}, line ${d.line}: ${d.name} is ${outside.value}, outside its declared ${outside.side} bound`,
        );
      out[d.name] = flat(value);
    }
    return out;
  };
}

/**
 * The transformed parameters block as a function of the parameters' values: its data-only part
 * computed once, here, where that is exact (`hoistDataOnly.ts`), the rest at every call.
 */
function transformedParameters(
  block: Stmt[],
  parameterNames: string[],
  at: { run: Interpreter; global: Scope; file: string },
  withParameters: (p: ParameterValues) => Scope,
  tpNames: Decl[],
): (p: ParameterValues) => Record<string, Val> {
  const { run, global, file } = at;
  const values = (scope: Scope) => {
    const out: Record<string, Val> = {};
    for (const d of tpNames) out[d.name] = flat(scope.get(d.name, d.line, file));
    return out;
  };
  const whole = (p: ParameterValues) => {
    const scope = new Scope(withParameters(p));
    run.exec(block, scope);
    return values(scope);
  };
  const split = hoistDataOnly(block, parameterNames);
  if (!split) return whole;
  // Exact only if no element the rest reads is written twice (hoistDataOnly.ts).
  const once = new Scope(global);
  const counter = new WriteCounter(new Set(split.readByEach));
  run.writes = counter;
  try {
    run.atLoad(() => run.exec(split.once, once));
  } finally {
    run.writes = undefined;
  }
  if (counter.rewritten.size > 0) return whole;
  const cached = split.names.map((n) => [n, once.get(n, 0, file)] as const);
  return (p) => {
    const scope = new Scope(withParameters(p));
    for (const [name, value] of cached) scope.declare(name, value);
    run.exec(split.each, scope);
    return values(scope);
  };
}

/**
 * Variables by name: the program's (data, transformed data), a model evaluation's or a function
 * call's. Blocks and loops declare into the scope they run in and forget their names when they
 * end: Stan forbids shadowing a name in scope, so one map per evaluation holds every local, and a
 * lookup is one or two map reads instead of a walk up a scope per block and loop.
 */
class Scope {
  private vars: Map<string, Value> | undefined;
  constructor(private readonly parent?: Scope) {}
  get(name: string, line: number, file: string): Value {
    const v = this.lookup(name);
    if (!v) throw new AvbUserError(`${file}:${line}: '${name}' is not declared`);
    return v;
  }
  lookup(name: string): Value | undefined {
    return this.vars?.get(name) ?? this.parent?.lookup(name);
  }
  declare(name: string, v: Value): void {
    (this.vars ??= new Map()).set(name, v);
  }
  /** Ends a block's or loop's variable. */
  forget(name: string): void {
    this.vars?.delete(name);
  }
  /** Replaces `name` where it was declared. */
  replace(name: string, v: Value): void {
    if (this.vars?.has(name)) this.vars.set(name, v);
    else this.parent?.replace(name, v);
  }
}

/** How a statement ends: normally, by break or continue, or by a function's return. */
type Flow = 'break' | 'continue' | { ret: Value | undefined } | undefined;

class Interpreter {
  private readonly functions = new Map<string, FunctionDef>();
  /** The model block's log density terms while it runs (for `_lp` functions' `target +=`). */
  target: Val[] | undefined;
  /** Counts the writes to some variables while set (the data-only part of hoistDataOnly.ts). */
  writes: WriteCounter | undefined;
  /** The generator `_rng` functions draw from, while transformed data or generated quantities run. */
  rng: Rng | undefined;

  constructor(
    private readonly file: string,
    functions: FunctionDef[],
    /** Whether loops over data points run as one vectorised pass where that is exact. */
    private readonly vectorizeLoops = true,
  ) {
    for (const f of functions) this.functions.set(f.name, f);
  }

  /** Runs `f` while the model is read: any Stan error becomes a one-line user error. */
  atLoad<T>(f: () => T, line?: number): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof StanError)
        throw new AvbUserError(`${this.file}${line ? `:${line}` : ''}: ${e.message}`);
      throw e;
    }
  }

  private at(line: number, e: unknown): never {
    if (e instanceof StanError)
      throw new StanError(`line ${line}: ${e.message.replace(/^line \d+: /, '')}`);
    throw e;
  }

  exec(body: Stmt[], scope: Scope, target?: Val[]): Flow {
    for (const s of body) {
      const flow = this.stmt(s, scope, target);
      if (flow) return flow;
    }
    return undefined;
  }

  private stmt(s: Stmt, scope: Scope, target?: Val[]): Flow {
    switch (s.s) {
      case 'decl': {
        const d = s.decl;
        let init: Value;
        try {
          const shape = evaluateShape(d.type, scope, this);
          init = d.init
            ? this.converted(this.eval(d.init, scope), d.type)
            : defaultValue(d.type.base, shape.sizes, shape.dims);
        } catch (e) {
          this.at(d.line, e);
        }
        scope.declare(d.name, init);
        if (d.init) this.writes?.record(d.name, init);
        return undefined;
      }
      case 'assign':
        try {
          this.assign(s.target, s.op, this.eval(s.value, scope), scope);
        } catch (e) {
          this.at(s.line, e);
        }
        return undefined;
      case 'tilde':
      case 'target': {
        if (!target)
          throw new AvbUserError(
            `${this.file}:${s.line}: only the model block adds to the log density`,
          );
        try {
          target.push(s.s === 'target' ? flat(this.eval(s.value, scope)) : this.sampling(s, scope));
        } catch (e) {
          this.at(s.line, e);
        }
        return undefined;
      }
      case 'for':
      case 'foreach':
        return this.loop(s, scope, target);
      case 'while':
        while (this.truthy(s.c, scope)) {
          const flow = this.stmt(s.body, scope, target);
          if (flow === 'break') break;
          if (typeof flow === 'object') return flow;
        }
        return undefined;
      case 'if':
        // A branch that declares variables is a block, whose names end with it.
        if (this.truthy(s.c, scope)) return this.stmt(s.then, scope, target);
        return s.else ? this.stmt(s.else, scope, target) : undefined;
      case 'block':
        return this.block(s.body, scope, target);
      case 'break':
      case 'continue':
        return s.s;
      case 'reject':
        // Stan rejects the draw: a point of zero density (declaredModel catches RangeError).
        throw new RangeError(`${this.file}:${s.line}: reject`);
      case 'return':
        return { ret: s.value ? this.eval(s.value, scope) : undefined };
      case 'expr':
        this.eval(s.value, scope);
        return undefined;
    }
  }

  /**
   * `lhs ~ dist(args)`, optionally `T[L, U]`: a user-defined `dist_lpdf` (or `_lpmf`, `_log`) or
   * a built-in family, a truncated one less its log probability of [L, U] (an outcome outside
   * the bounds has zero density).
   */
  private sampling(s: Extract<Stmt, { s: 'tilde' }>, scope: Scope): Val {
    const lhs = this.eval(s.lhs, scope);
    const values = s.args.map((a) => this.eval(a, scope));
    const user = ['_lpdf', '_lpmf', '_log']
      .map((x) => this.functions.get(s.dist + x))
      .find(Boolean);
    if (user && s.truncation)
      throw new StanError(`truncating the user-defined ${s.dist} is not supported yet`);
    if (user) return flat(this.call(user, [lhs, ...values]));
    const lp = logDensity(s.dist, lhs, values);
    if (!s.truncation) return lp;
    const bound = (e?: Expr) => (e ? flat(this.eval(e, scope)) : undefined);
    const [lower, upper] = [bound(s.truncation.lower), bound(s.truncation.upper)];
    const y = flat(lhs);
    const ys = y instanceof Node ? y.value : typeof y === 'number' ? [y] : y;
    const outside = Array.from(ys).some(
      (v) =>
        (lower !== undefined && v < numberOf(lower as Scalar)) ||
        (upper !== undefined && v > numberOf(upper as Scalar)),
    );
    if (outside) return -Infinity;
    const truncation = isDiscreteFamily(s.dist) ? discreteLogTruncation : logTruncation;
    return ad.sub(lp, truncation(s.dist, ys.length, values.map(flat), lower, upper));
  }

  /** Calls a user-defined function: its own scope (Stan's functions see only their arguments). */
  call(f: FunctionDef, args: Value[]): Value {
    if (args.length !== f.params.length)
      throw new StanError(`${f.name} takes ${f.params.length} arguments, got ${args.length}`);
    const scope = new Scope();
    f.params.forEach((p, i) => scope.declare(p.name, p.base === 'int' ? args[i] : asReal(args[i])));
    const flow = this.stmt(f.body, scope, this.target);
    const value = typeof flow === 'object' ? flow.ret : undefined;
    if (f.returns === 'void') return int(0);
    if (!value) throw new StanError(`${f.name} ended without returning a value`);
    return f.returns === 'int' ? value : asReal(value);
  }

  /** A user-defined function by the name a call uses (`foo_lupdf` calls `foo_lpdf`). */
  private userFunction(name: string): FunctionDef | undefined {
    if (this.functions.size === 0) return undefined;
    return this.functions.get(name) ?? this.functions.get(name.replace(/_lup([dm]f)$/, '_lp$1'));
  }

  /** A block: its declarations end with it. */
  private block(body: Stmt[], scope: Scope, target?: Val[]): Flow {
    const names = declaredNames(body);
    try {
      return this.exec(body, scope, target);
    } finally {
      for (const name of names) scope.forget(name);
    }
  }

  /** `for (i in a:b)` and `for (x in container)`; the loop variable ends with the loop. */
  private loop(s: Extract<Stmt, { s: 'for' | 'foreach' }>, scope: Scope, target?: Val[]): Flow {
    try {
      return this.passes(s, scope, target);
    } finally {
      scope.forget(s.v);
    }
  }

  private passes(s: Extract<Stmt, { s: 'for' | 'foreach' }>, scope: Scope, target?: Val[]): Flow {
    // A pass's flow: 'break' ends the loop, a return ends it and is passed on.
    const pass = (item: Value): Flow => {
      scope.declare(s.v, item);
      const flow = this.stmt(s.body, scope, target);
      return flow === 'continue' ? undefined : flow;
    };
    const ended = (flow: Flow): Flow => (flow === 'break' ? undefined : flow);
    if (s.s === 'for') {
      const to = this.int(s.to, scope);
      const from = this.int(s.from, scope);
      if (this.vectorizeLoops && runVectorized(s, from, to, this.host(scope, s.line), target))
        return undefined;
      for (let i = from; i <= to; i++) {
        const flow = pass(int(i));
        if (flow) return ended(flow);
      }
      return undefined;
    }
    const over = this.eval(s.over, scope);
    const items =
      over.k === 'arr'
        ? over.items
        : isScalar(over)
          ? [over]
          : Array.from({ length: over.s.n }, (_, i) => real(over.s.get(i)));
    for (const item of items) {
      const flow = pass(item);
      if (flow) return ended(flow);
    }
    return undefined;
  }

  /** What the loop vectorizer may do in `scope`. */
  private host(scope: Scope, line: number): LoopHost {
    return {
      eval: (e) => this.eval(e, scope),
      get: (name) => scope.get(name, line, this.file),
      replace: (name, v) => scope.replace(name, v),
      isUserFunction: (name) => this.userFunction(name) !== undefined,
    };
  }

  private truthy(e: Expr, scope: Scope): boolean {
    const v = this.eval(e, scope);
    if (!isScalar(v)) throw new StanError('a condition must be a scalar');
    return numberOf(v.v) !== 0;
  }

  private int(e: Expr, scope: Scope): number {
    const v = this.eval(e, scope);
    if (v.k !== 'int') throw new StanError(`expected an integer, got ${describe(v)}`);
    return v.v;
  }

  /** A value assigned to a variable of type `type` (ints become reals where reals are declared). */
  private converted(v: Value, type: TypeSpec): Value {
    if (v.k === 'int' && type.base !== 'int') return real(v.v);
    return copyValue(v);
  }

  eval(e: Expr, scope: Scope): Value {
    switch (e.e) {
      case 'num':
        return e.int ? int(e.value) : real(e.value);
      case 'var':
        return scope.get(e.name, e.line, this.file);
      case 'bin': {
        // && and || stop at their first operand when it decides, as in Stan: posteriordb's
        // prophet loops `while (i <= S && t >= t_change[i])`, whose right side is out of range
        // once the left is false.
        const a = this.eval(e.a, scope);
        if ((e.op === '&&' || e.op === '||') && isScalar(a)) {
          const left = numberOf(a.v) !== 0;
          if (left === (e.op === '||')) return int(left ? 1 : 0);
        }
        return binaryOp(e.op, a, this.eval(e.b, scope));
      }
      case 'un':
        return unaryOp(e.op, this.eval(e.a, scope));
      case 'cond':
        return this.truthy(e.c, scope) ? this.eval(e.a, scope) : this.eval(e.b, scope);
      case 'transpose':
        return transpose(this.eval(e.a, scope));
      case 'call': {
        if (ODE_SOLVERS.has(e.name)) return this.ode(e, scope);
        if ((e.name === 'target' || e.name === 'get_lp') && e.args.length === 0) {
          // The log density accumulated so far (Stan: model block and `_lp` functions only).
          if (!this.target)
            throw new StanError(
              `${e.name}() reads the log density, which exists in the model block only`,
            );
          return real(ad.total(...this.target));
        }
        const args = e.args.map((a) => this.eval(a, scope));
        const user = this.userFunction(e.name);
        if (user) return this.call(user, args);
        if (e.name.endsWith('_rng')) {
          if (!this.rng)
            throw new StanError(
              `${e.name} draws random numbers, which Stan allows in transformed data and generated quantities only`,
            );
          return rngFunction(e.name, args, this.rng)!;
        }
        return callFunction(e.name, args);
      }
      case 'array': {
        const items = e.items.map((x) => this.eval(x, scope));
        return {
          k: 'arr',
          items: items.some((x) => x.k === 'real')
            ? items.map((x) => (x.k === 'int' ? real(x.v) : x))
            : items,
        };
      }
      case 'rowvec': {
        const items = e.items.map((x) => this.eval(x, scope));
        // [[1, 2], [3, 4]]: a row vector of row vectors is a matrix, row by row.
        if (items.length > 0 && items.every((x) => x.k === 'vec' && x.row)) {
          const cols = sizeOf(items[0]);
          if (items.some((x) => sizeOf(x) !== cols))
            throw new StanError(`the rows of a matrix literal must have the same size`);
          return mat(ad.concat(...items.map(flat)), items.length, cols);
        }
        if (items.some((x) => !isScalar(x)))
          throw new StanError('a row vector literal takes scalars, or row vectors for a matrix');
        return vec(ad.concat(...items.map(flat)), items.length, true);
      }
      case 'index':
        return indexed(
          this.eval(e.a, scope),
          e.idx.map((i) => this.index(i, scope)),
        );
    }
  }

  /** An ODE solver's call: its first argument names the user-defined right-hand side. */
  private ode(e: Extract<Expr, { e: 'call' }>, scope: Scope): Value {
    const [fn, ...rest] = e.args;
    const f = fn?.e === 'var' ? this.functions.get(fn.name) : undefined;
    if (!f) throw new StanError(`${e.name}'s first argument must name a user-defined function`);
    return solveOde(
      e.name,
      (args) => this.call(f, args),
      rest.map((a) => this.eval(a, scope)),
    );
  }

  private index(i: Index, scope: Scope): Ix {
    if (i.i === 'all') return { all: true };
    if (i.i === 'range')
      return {
        from: i.from ? this.int(i.from, scope) : 1,
        to: i.to ? this.int(i.to, scope) : Infinity,
      };
    const v = this.eval(i.at, scope);
    if (v.k === 'int') return { one: v.v };
    if (v.k === 'arr' && v.items.every((x) => x.k === 'int'))
      return { many: v.items.map((x) => (x as { v: number }).v) };
    throw new StanError(`an index must be an integer or an array of integers, not ${describe(v)}`);
  }

  private assign(lhs: Expr, op: string, value: Value, scope: Scope): void {
    // x[i][j, k] is x[i, j, k] where the first indexes pick one element each.
    let target = lhs;
    while (
      target.e === 'index' &&
      target.a.e === 'index' &&
      target.a.idx.every((i) => i.i === 'one')
    )
      target = { ...target, a: target.a.a, idx: [...target.a.idx, ...target.idx] };
    const name =
      target.e === 'var'
        ? target.name
        : target.e === 'index' && target.a.e === 'var'
          ? target.a.name
          : undefined;
    if (!name) throw new StanError('only a variable or its elements can be assigned to');
    const line = (target as { line: number }).line;
    const current = scope.get(name, line, this.file);
    if (target.e === 'var') {
      const v = op === '=' ? value : binaryOp(op[0], current, value);
      scope.replace(name, current.k === 'real' && v.k === 'int' ? real(v.v) : copyValue(v));
      this.writes?.record(name, current);
      return;
    }
    const idx = (target as Extract<Expr, { e: 'index' }>).idx.map((i) => this.index(i, scope));
    this.writes?.record(name, current, idx);
    const v = op === '=' ? value : binaryOp(op[0], indexed(current, idx), value);
    setIndexed(current, idx, v);
  }
}

/** A value with its integers as reals (an argument of a function declared real). */
function asReal(v: Value): Value {
  if (v.k === 'int') return real(v.v);
  if (v.k === 'arr' && v.items.some((x) => x.k === 'int' || x.k === 'arr'))
    return { k: 'arr', items: v.items.map(asReal) };
  return v;
}

/** An evaluated index: one position, several, a range (1-based, inclusive) or all. */
type Ix = { one: number } | { many: number[] } | { from: number; to: number } | { all: true };

function positions(ix: Ix, n: number): number[] | number {
  if ('one' in ix) return check(ix.one, n);
  if ('many' in ix) return ix.many.map((i) => check(i, n));
  if ('all' in ix) return Array.from({ length: n }, (_, i) => i);
  const to = Math.min(ix.to, n);
  return Array.from({ length: Math.max(0, to - ix.from + 1) }, (_, i) => check(ix.from + i, n));
}

function check(i: number, n: number): number {
  if (!(i >= 1 && i <= n)) throw new StanError(`index ${i} is outside 1..${n}`);
  return i - 1;
}

/** The names a block's statements declare (forgotten when it ends); cached per block. */
const declaring = new WeakMap<Stmt[], string[]>();
function declaredNames(body: Stmt[]): string[] {
  let d = declaring.get(body);
  if (d === undefined)
    declaring.set(body, (d = body.flatMap((x) => (x.s === 'decl' ? [x.decl.name] : []))));
  return d;
}

/** `v[idx...]`. */
function indexed(v: Value, idx: Ix[]): Value {
  if (idx.length === 0) return v;
  // The common single positions, without building position lists.
  const [first, ...rest] = idx;
  if ('one' in first) {
    const second = rest[0];
    if (v.k === 'arr') return indexed(v.items[check(first.one, v.items.length)], rest);
    if (v.k === 'vec' && idx.length === 1) return real(v.s.get(check(first.one, v.s.n)));
    if (v.k === 'mat' && idx.length === 2 && 'one' in second)
      return real(v.s.get(check(first.one, v.rows) * v.cols + check(second.one, v.cols)));
  }
  if (v.k === 'arr') {
    const p = positions(first, v.items.length);
    if (typeof p === 'number') return indexed(v.items[p], rest);
    return { k: 'arr', items: p.map((i) => indexed(v.items[i], rest)) };
  }
  if (v.k === 'vec') {
    if (rest.length) throw new StanError('too many indexes for a vector');
    const p = positions(first, v.s.n);
    if (typeof p === 'number') return real(v.s.get(p));
    return vec(v.s.gather(p), p.length, v.row);
  }
  if (v.k === 'mat') {
    const r = positions(first, v.rows);
    const c = positions(rest[0] ?? { all: true }, v.cols);
    if (rest.length > 1) throw new StanError('too many indexes for a matrix');
    const rows = typeof r === 'number' ? [r] : r;
    const cols = typeof c === 'number' ? [c] : c;
    const at = rows.flatMap((i) => cols.map((j) => i * v.cols + j));
    if (typeof r === 'number' && typeof c === 'number') return real(v.s.get(at[0]));
    if (typeof r === 'number') return vec(v.s.gather(at), at.length, true);
    if (typeof c === 'number') return vec(v.s.gather(at), at.length);
    return mat(v.s.gather(at), rows.length, cols.length);
  }
  throw new StanError(`cannot index a ${v.k}`);
}

/** `v[idx...] = x`, in place. */
function setIndexed(v: Value, idx: Ix[], x: Value): void {
  const [first, ...rest] = idx;
  if (v.k === 'arr') {
    const p = positions(first, v.items.length);
    const targets = typeof p === 'number' ? [p] : p;
    targets.forEach((i, k) => {
      const item = typeof p === 'number' ? x : (x as Extract<Value, { k: 'arr' }>).items[k];
      if (rest.length) setIndexed(v.items[i], rest, item);
      else
        v.items[i] = v.items[i].k === 'real' && item.k === 'int' ? real(item.v) : copyValue(item);
    });
    return;
  }
  let at: number[];
  if (v.k === 'vec') {
    const p = positions(first, v.s.n);
    at = typeof p === 'number' ? [p] : p;
  } else if (v.k === 'mat') {
    const r = positions(first, v.rows);
    const c = positions(rest[0] ?? { all: true }, v.cols);
    at = (typeof r === 'number' ? [r] : r).flatMap((i) =>
      (typeof c === 'number' ? [c] : c).map((j) => i * v.cols + j),
    );
  } else throw new StanError(`cannot index a ${v.k}`);
  const source: Scalar[] = isScalar(x)
    ? [x.v]
    : x.k === 'arr'
      ? x.items.map((i) => (isScalar(i) ? i.v : NaN))
      : Array.from({ length: x.s.n }, (_, i) => x.s.get(i));
  if (source.length !== at.length)
    throw new StanError(`assigning ${source.length} values to ${at.length} places`);
  at.forEach((i, k) => v.s.set(i, source[k]));
}

/**
 * Writes per element of some variables, while the data-only part of a transformed parameters
 * block runs once: a variable any element of which is written twice is `rewritten`.
 */
class WriteCounter {
  private readonly counts = new Map<string, Uint8Array>();
  readonly rewritten = new Set<string>();
  constructor(private readonly names: ReadonlySet<string>) {}

  /** A write of `v` (the variable's value), whole or at `idx`. */
  record(name: string, v: Value, idx?: Ix[]): void {
    if (!this.names.has(name)) return;
    const n = sizeOf(v);
    let c = this.counts.get(name);
    if (!c) this.counts.set(name, (c = new Uint8Array(n)));
    const at = idx ? writtenPositions(v, idx, 0) : Array.from({ length: n }, (_, i) => i);
    for (const p of at) if (++c[p] > 1) this.rewritten.add(name);
  }
}

/** The positions among `v`'s elements (arrays in order, matrices row-major) that `idx` selects. */
function writtenPositions(v: Value, idx: Ix[], base: number): number[] {
  if (idx.length === 0) return Array.from({ length: sizeOf(v) }, (_, i) => base + i);
  const [first, ...rest] = idx;
  const list = (p: number | number[]) => (typeof p === 'number' ? [p] : p);
  if (v.k === 'arr') {
    const starts: number[] = [];
    let offset = base;
    for (const item of v.items) {
      starts.push(offset);
      offset += sizeOf(item);
    }
    return list(positions(first, v.items.length)).flatMap((i) =>
      writtenPositions(v.items[i], rest, starts[i]),
    );
  }
  if (v.k === 'vec') return list(positions(first, v.s.n)).map((i) => base + i);
  if (v.k === 'mat') {
    const cols = list(positions(rest[0] ?? { all: true }, v.cols));
    return list(positions(first, v.rows)).flatMap((i) => cols.map((j) => base + i * v.cols + j));
  }
  return [base];
}

/** The evaluated sizes and array dimensions of a type. */
function evaluateShape(
  t: TypeSpec,
  scope: Scope,
  run: Interpreter,
): { sizes: number[]; dims: number[] } {
  const ints = (es: Expr[]) =>
    es.map((e) => {
      const v = run.eval(e, scope);
      if (v.k !== 'int' || v.v < 0)
        throw new StanError(`a size must be a non-negative integer, not ${describe(v)}`);
      return v.v;
    });
  return { sizes: ints(t.sizes), dims: ints(t.dims) };
}

/** A declared type's full shape, array dimensions then the base type's (a matrix: rows, cols). */
function fullShape(base: string, sizes: number[], dims: number[]): number[] {
  if (base === 'int' || base === 'real') return dims;
  if (base === 'matrix' || base === 'cholesky_factor_cov')
    return [...dims, sizes[0], sizes[1] ?? sizes[0]];
  if (['cholesky_factor_corr', 'corr_matrix', 'cov_matrix'].includes(base))
    return [...dims, sizes[0], sizes[0]];
  return [...dims, sizes[0]];
}

/** Elements of one base value (a vector's length, a matrix's rows × cols, 1 for a scalar). */
function baseSize(base: string, sizes: number[]): number {
  if (base === 'int' || base === 'real') return 1;
  if (base === 'matrix' || base === 'cholesky_factor_cov') return sizes[0] * (sizes[1] ?? sizes[0]);
  if (['cholesky_factor_corr', 'corr_matrix', 'cov_matrix'].includes(base))
    return sizes[0] * sizes[0];
  return sizes[0];
}

function baseValue(base: string, sizes: number[], v: Val): Value {
  if (base === 'int') return int(numberOf(v as Scalar));
  if (base === 'real')
    return real(v instanceof Node ? v : typeof v === 'number' ? v : (v as ArrayLike<number>)[0]);
  const rows = sizes[0];
  if (base === 'matrix' || base.includes('matrix') || base.startsWith('cholesky'))
    return mat(v, rows, sizes[1] ?? rows);
  return vec(v, rows, base === 'row_vector');
}

/** A flat value shaped as a declared type (arrays of base values, outermost first). */
function reshape(v: Val, base: string, sizes: number[], dims: number[]): Value {
  const node = ad.lift(v);
  const each = baseSize(base, sizes);
  const build = (offset: number, d: number[]): Value => {
    if (d.length === 0) {
      const part = each === node.length ? node : ad.slice(node, offset, each);
      // Constants stay plain numbers (data indexes, sizes); parameters stay nodes.
      return baseValue(base, sizes, part.variable ? part : each === 1 ? part.value[0] : part.value);
    }
    const inner = d.slice(1).reduce((a, b) => a * b, each);
    return {
      k: 'arr',
      items: Array.from({ length: d[0] }, (_, i) => build(offset + i * inner, d.slice(1))),
    };
  };
  return build(0, dims);
}

function defaultValue(base: string, sizes: number[], dims: number[]): Value {
  const each = baseSize(base, sizes);
  const n = dims.reduce((a, b) => a * b, each);
  const value = reshape(new Float64Array(n).fill(base === 'int' ? 0 : NaN), base, sizes, dims);
  return base === 'int' ? value : copyValue(value);
}

/** Reads the data block's variables from `data`, checking shape, type and bounds. */
function readData(
  decls: Decl[],
  data: unknown,
  scope: Scope,
  run: Interpreter,
  file: string,
): void {
  if (decls.length > 0 && (typeof data !== 'object' || data === null || Array.isArray(data)))
    throw new AvbUserError(
      `${file} declares data (${decls.map((d) => d.name).join(', ')}); give them as a JSON object with --data FILE.json`,
    );
  const record = (data ?? {}) as Record<string, unknown>;
  for (const d of decls) {
    const where = `data '${d.name}'`;
    if (!(d.name in record))
      throw new AvbUserError(`${file}: ${where} is missing from the data file; add it`);
    const { sizes, dims } = evaluateShape(d.type, scope, run);
    const each = baseSize(d.type.base, sizes);
    const values: number[] = [];
    const walk = (x: unknown, shape: number[], path: string): void => {
      if (shape.length === 0) {
        if (typeof x !== 'number' || (d.type.base === 'int' && !Number.isInteger(x)))
          throw new AvbUserError(
            `${file}: ${where}${path} must be ${d.type.base === 'int' ? 'an integer' : 'a number'}, not ${JSON.stringify(x)}`,
          );
        values.push(x);
        return;
      }
      // A data file may give a length-1 array as a bare number.
      const list = Array.isArray(x) ? x : shape[0] === 1 ? [x] : undefined;
      if (!list || list.length !== shape[0])
        throw new AvbUserError(
          `${file}: ${where}${path} must have ${shape[0]} entries, got ${Array.isArray(x) ? x.length : JSON.stringify(x)}`,
        );
      list.forEach((item, i) => walk(item, shape.slice(1), `${path}[${i + 1}]`));
    };
    const baseShape =
      d.type.base === 'int' || d.type.base === 'real'
        ? []
        : d.type.base === 'matrix'
          ? [sizes[0], sizes[1]]
          : each === sizes[0]
            ? [sizes[0]]
            : [sizes[0], sizes[0]];
    walk(record[d.name], [...dims, ...baseShape], '');
    const outside = firstOutside(d.type, values, scope, run);
    if (outside)
      throw new AvbUserError(
        `${file}: ${where} has ${outside.value}, outside its declared ${outside.side} bound; fix the data`,
      );
    scope.declare(d.name, reshape(Float64Array.from(values), d.type.base, sizes, dims));
  }
}

/** The first of a declared variable's values outside its type's bounds, if any. */
function firstOutside(
  t: TypeSpec,
  values: number[],
  scope: Scope,
  run: Interpreter,
): { value: number; side: 'lower' | 'upper' } | undefined {
  for (const [bound, side, test] of [
    [t.lower, 'lower', (x: number, b: number) => x >= b],
    [t.upper, 'upper', (x: number, b: number) => x <= b],
  ] as const) {
    if (!bound) continue;
    const b = flat(run.eval(bound, scope));
    const bv = b instanceof Node ? b.value : typeof b === 'number' ? [b] : b;
    const bad = values.findIndex((x, i) => !test(x, bv[bv.length === 1 ? 0 : i % bv.length]));
    if (bad >= 0) return { value: values[bad], side };
  }
  return undefined;
}

/** The modelling kit's block for a declared parameter. */
function parameterBlock(
  d: Decl,
  shape: { sizes: number[]; dims: number[] },
  global: Scope,
  run: Interpreter,
  types: Map<string, { type: TypeSpec; sizes: number[]; dims: number[] }>,
): ParameterBlock {
  const { base } = d.type;
  const bound = (e: Expr | undefined): Bound | undefined => {
    if (!e) return undefined;
    try {
      const v = flat(run.eval(e, global));
      if (typeof v === 'number') return v;
    } catch (err) {
      if (!(err instanceof AvbUserError)) throw err;
      // Depends on earlier parameters: evaluated with them.
    }
    return (earlier) => {
      const scope = new Scope(global);
      for (const [name, t] of types)
        if (earlier[name])
          scope.declare(name, reshape(earlier[name], t.type.base, t.sizes, t.dims));
      return flat(run.eval(e, scope));
    };
  };
  if ((d.type.offset || d.type.multiplier) && (d.type.lower || d.type.upper))
    throw new StanError(`${d.name} takes bounds or an offset and multiplier, not both`);
  const bounds = {
    lower: bound(d.type.lower),
    upper: bound(d.type.upper),
    offset: bound(d.type.offset),
    multiplier: bound(d.type.multiplier),
  };
  const n = shape.dims.reduce((a, b) => a * b, baseSize(base, shape.sizes));
  if (base === 'int') throw new StanError('parameters cannot be integers');
  if (['real', 'vector', 'row_vector', 'matrix'].includes(base)) {
    if (base === 'real' && shape.dims.length === 0) return constraints.real(bounds);
    const block = constraints.vector(n, bounds);
    const cols =
      base === 'matrix' && shape.dims.length === 0
        ? shape.sizes[1]
        : shape.dims.length === 1 && base !== 'real'
          ? shape.sizes[base === 'matrix' ? 1 : 0]
          : undefined;
    // Arrays of vectors and matrices are named Stan's way, name[i,j].
    return cols && (base !== 'matrix' || shape.dims.length === 0)
      ? { ...block, shape: [n / cols, cols] }
      : block;
  }
  const K = shape.sizes[0];
  const one = (): ParameterBlock => {
    switch (base) {
      case 'simplex':
        return constraints.simplex(K);
      case 'ordered':
        return constraints.ordered(K);
      case 'positive_ordered':
        return constraints.positiveOrdered(K);
      case 'unit_vector':
        // u/|u| is singular at u = 0, where the log density's mode in u lies and where avb's
        // samplers and mode search start.
        throw new StanError(
          'unit_vector parameters are not supported (their transform is singular at the origin, where avb starts)',
        );
      case 'sum_to_zero_vector':
        return constraints.sumToZeroVector(K);
      case 'cholesky_factor_corr':
        return constraints.choleskyFactorCorr(K);
      case 'corr_matrix':
        return constraints.corrMatrix(K);
      case 'cov_matrix':
      case 'cholesky_factor_cov':
        if (shape.sizes.length > 1 && shape.sizes[1] !== K)
          throw new StanError('non-square cholesky_factor_cov parameters are not supported yet');
        return constraints.lowerTriangular(K, base === 'cov_matrix');
    }
    throw new StanError(`${base} parameters are not supported yet`);
  };
  if (shape.dims.length > 1 || (shape.dims.length === 1 && /cholesky|cov|corr/.test(base)))
    throw new StanError(`arrays of ${base} parameters of this shape are not supported yet`);
  return shape.dims.length === 1 ? arrayOfBlocks(one(), shape.dims[0]) : one();
}

/**
 * The program's parameter blocks, in the order their transforms run (autoNoncentre.ts), with
 * the non-centred ones' offset and multiplier and the supports the model block implies
 * (impliedBounds.ts) declared, and a note for each such support.
 */
function declareParameters(
  program: Program,
  noncentred: Map<string, Noncentred>,
  run: Interpreter,
  global: Scope,
) {
  const types = new Map<string, { type: TypeSpec; sizes: number[]; dims: number[] }>();
  const parameters: Record<string, ParameterBlock> = {};
  const implied = impliedSupports(program);
  for (const name of noncentred.keys()) implied.delete(name);
  const order = evaluationOrder(program.parameters, noncentred, (d) =>
    impliedReads(implied.get(d.name)),
  );
  const notes: string[] = [];
  const parameterNames = new Set(program.parameters.map((d) => d.name));
  const constant = (e: Expr) => run.atLoad(() => constantOf(e, run, global));
  for (const written of order) {
    const affine = noncentred.get(written.name);
    const support = implied.get(written.name);
    const bounded = support?.whole && withImpliedBound(written, support.whole, constant);
    const d = affine
      ? { ...written, type: { ...written.type, ...affine } }
      : (bounded?.decl ?? written);
    const shape = run.atLoad(() => evaluateShape(d.type, global, run), d.line);
    types.set(d.name, { type: d.type, ...shape });
    if (fullShape(d.type.base, shape.sizes, shape.dims).includes(0)) {
      // A parameter with no elements (Stan's `vector[D - 2] y_rest` at D = 2) has no
      // coordinates: it is an empty constant, as in Stan.
      global.declare(d.name, reshape(new Float64Array(0), d.type.base, shape.sizes, shape.dims));
      continue;
    }
    if (bounded) notes.push(bounded.note(d.name));
    if (affine) notes.push(noncentredNote(d.name, affine, parameterNames));
    const scalar = (x: Decl) => parameterBlock(x, { sizes: [], dims: [] }, global, run, types);
    parameters[d.name] = run.atLoad(
      () =>
        (support?.elements &&
          elementwiseBlock(d, shape, support.elements, scalar, constant, notes)) ||
        parameterBlock(d, shape, global, run, types),
      d.line,
    );
  }
  return { parameters, types, order, notes };
}

/**
 * The hierarchies left as written, split by what makes them hard: a scale that is another
 * parameter (a funnel), or only a location (a curved ridge).
 */
function centredLists(left: Map<string, Noncentred>, program: Program) {
  const parameters = new Set(program.parameters.map((d) => d.name));
  const names = [...left.keys()];
  const funnel = (n: string) => isFunnel(left.get(n)!, parameters);
  return {
    centredHierarchies: names.filter(funnel),
    centredLocations: names.filter((n) => !funnel(n)),
  };
}

/** Whether a hierarchy's scale reads a parameter: b = mu + sigma u is then a funnel in (sigma, b). */
function isFunnel(affine: Noncentred, parameters: Set<string>): boolean {
  return [...variablesOf(affine.multiplier)].some((v) => parameters.has(v));
}

/** What `avb infer` prints of a parameter it samples non-centred (autoNoncentre.ts). */
function noncentredNote(name: string, affine: Noncentred, parameters: Set<string>): string {
  const m = affine.multiplier;
  const scale = m.e === 'bin' || m.e === 'cond' ? `(${exprText(m)})` : exprText(m);
  const gain = isFunnel(affine, parameters)
    ? 'without the funnel'
    : 'without the ridge its location draws';
  const shifted = m.e === 'num' && m.value === 1 ? 'u' : `${scale} * u`;
  return `${name} is sampled non-centred, as ${exprText(affine.offset)} + ${shifted} with u standard normal (the same posterior, ${gain}); --centred samples it as written`;
}

/** The parameters an implied support's bounds read (for the order of the transforms). */
function impliedReads(support: ImpliedSupport | undefined): Expr[] {
  if (!support) return [];
  const bounds = [support.whole, ...(support.elements?.values() ?? [])];
  return bounds.flatMap((b) => (b ? [b.lower, b.upper].filter((e) => e !== undefined) : []));
}

/** The value of a constant expression of the data (undefined if it reads a parameter or is not a number). */
function constantOf(e: Expr, run: Interpreter, global: Scope): number | undefined {
  try {
    const v = flat(run.eval(e, global));
    return typeof v === 'number' ? v : undefined;
  } catch (err) {
    if (err instanceof AvbUserError) return undefined;
    throw err;
  }
}

/**
 * `d` with the sides of an implied support it does not declare; where it declares a side too,
 * the tighter of the two when both are constants, else its own. Undefined when nothing changes
 * (or the sides would cross: the program's density is then -inf everywhere, left as written).
 */
function withImpliedBound(
  d: Decl,
  implied: ImpliedBound,
  constant: (e: Expr) => number | undefined,
): { decl: Decl; note: (name: string) => string } | undefined {
  const side = (declared: Expr | undefined, given: Expr | undefined, lower: boolean) => {
    if (!given || !declared) return declared ?? given;
    const [a, b] = [constant(declared), constant(given)];
    if (a === undefined || b === undefined) return declared;
    return (lower ? b > a : b < a) ? given : declared;
  };
  const lower = side(d.type.lower, implied.lower, true);
  const upper = side(d.type.upper, implied.upper, false);
  if (lower === d.type.lower && upper === d.type.upper) return undefined;
  const [lo, hi] = [lower && constant(lower), upper && constant(upper)];
  if (lo !== undefined && hi !== undefined && !(lo < hi)) return undefined;
  const shown = (e: Expr | undefined, v: number | undefined, infinite: string) =>
    e === undefined ? infinite : v !== undefined ? String(v) : 'its expression';
  const what = implied.source === 'truncation' ? 'truncation' : `${implied.source} statement`;
  return {
    decl: { ...d, type: { ...d.type, lower, upper } },
    note: (name) =>
      `${name} is sampled on (${shown(lower, lo, '-inf')}, ${shown(upper, hi, 'inf')}), the support its ${what} on line ${implied.line} implies`,
  };
}

/**
 * A real array, vector or row vector some of whose elements have supports of their own: one
 * scalar block an element, the declared bounds (scalar constants, or none) and the element's
 * implied ones. Undefined (the parameter as declared) where a declared bound is not a constant.
 */
function elementwiseBlock(
  d: Decl,
  shape: { sizes: number[]; dims: number[] },
  elements: Map<number, ImpliedBound>,
  scalar: (d: Decl) => ParameterBlock,
  constant: (e: Expr) => number | undefined,
  notes: string[],
): ParameterBlock | undefined {
  const declared = [d.type.lower, d.type.upper].filter((e) => e !== undefined);
  if (declared.some((e) => constant(e) === undefined)) return undefined;
  const n = d.type.base === 'real' ? shape.dims[0] : shape.sizes[0];
  const own = new Map([...elements].filter(([k]) => k <= n));
  if (n === undefined || own.size === 0) return undefined;
  const changed: string[] = [];
  const parts = Array.from({ length: n }, (_, i) => {
    const one: Decl = {
      name: `${d.name}[${i + 1}]`,
      line: d.line,
      type: { base: 'real', sizes: [], dims: [], lower: d.type.lower, upper: d.type.upper },
    };
    const implied = own.get(i + 1);
    const bounded = implied && withImpliedBound(one, implied, constant);
    if (bounded) changed.push(bounded.note(one.name));
    return scalar(bounded?.decl ?? one);
  });
  // Every element as declared already (vector<lower=0> v with v[1] ~ exponential(1)): as is.
  if (changed.length === 0) return undefined;
  notes.push(...changed);
  return constraints.concatenated(parts, `${d.type.base}[${n}] (bounds by element)`);
}

/** `array[n]` of a constrained block (simplexes, ordered vectors): each its own transform. */
function arrayOfBlocks(inner: ParameterBlock, n: number): ParameterBlock {
  // Named Stan's way, theta[m,k].
  return constraints.concatenated(Array(n).fill(inner), `array[${n}] ${inner.kind}`, [
    n,
    inner.size,
  ]);
}
