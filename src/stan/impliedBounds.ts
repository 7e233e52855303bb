import { callsArePure, indexedBy, sameExpr, variablesOf } from './exprWalk.js';
import type { Decl, Expr, Program, Stmt } from './parser.js';
import { familySupport } from './familySupports.js';
import { topLevel } from './stmtWalk.js';

/** A support implied by one statement of the model block: either side may be absent. */
export interface ImpliedBound {
  lower?: Expr;
  upper?: Expr;
  /** What implied it, for notes: `uniform`, `truncation`, or the family (`gamma`). */
  source: string;
  line: number;
}

/** A parameter's implied supports: of all of it, or of single elements (1-based positions). */
export interface ImpliedSupport {
  whole?: ImpliedBound;
  elements?: Map<number, ImpliedBound>;
}

/**
 * The supports that a Stan program's model block implies for parameters it declares without
 * those bounds, which avb then declares for it.
 *
 * Programs translated from BUGS or JAGS often give a parameter a uniform prior without the
 * matching bounds: posteriordb's dogs_log declares `vector[2] beta;` and states
 * `beta[1] ~ uniform(-100, 0); beta[2] ~ uniform(0, 100);`. The log density is then -inf
 * outside (lo, hi), and a posterior near such a wall (dogs_log's beta[2] sits 2 sds from 0)
 * breaks every method: NUTS diverges on each proposal past it, the Laplace warm start finds
 * the density not finite near its mode, and q, an unbounded density, puts draws past it, so
 * the ELBO is -inf and ADVI and AVB diverge. Declared `real<lower=lo, upper=hi>`, the
 * parameter is sampled on an unconstrained coordinate that never leaves (lo, hi): the
 * posterior is the same (the statement's density is unchanged inside, and the transform adds
 * its log-Jacobian as for any bound), but there is no wall.
 *
 * A statement implies a support when it runs unconditionally: at the model block's top level
 * (plain `{ }` blocks opened), or in a loop `for (j in 1:N) x[j] ~ ...` over all of a
 * parameter of declared size N. Since the log density is a sum of the statements' terms, a
 * term that is -inf outside (lo, hi) makes the whole -inf there, whatever the others say. The
 * statements:
 * - `x ~ uniform(lo, hi)`, `target += uniform_lpdf(x | lo, hi)` (or `uniform_lupdf`): (lo, hi);
 * - `x ~ family(...) T[L, U]` (either side may be absent): (L, U);
 * - `x ~ family(...)` or `target += family_lpdf(x | ...)` for a family whose variate has a
 *   support of its own (familySupports.ts: gamma's (0, inf), beta's (0, 1)), which Stan rejects
 *   a value outside of.
 * `x` is a whole parameter or one element `x[k]` with k a literal; in a loop, `lo` and `hi`
 * are free of j or a variable indexed by j alone (`lo[j]`, read as the vector `lo`). The
 * parameter is a real, an array of reals, a vector or a row vector without an offset or
 * multiplier, and the bounds read only data, transformed data and parameters declared before
 * it (as Stan's own bounds may), and call no function with side effects.
 */
export function impliedSupports(program: Program): Map<string, ImpliedSupport> {
  const fixed = new Set([
    ...program.data.map((d) => d.name),
    ...topLevel(program.transformedData).flatMap((s) => (s.s === 'decl' ? [s.decl.name] : [])),
  ]);
  const declaredBefore = new Map<string, Set<string>>();
  const seen = new Set<string>();
  const candidates = new Map<string, Decl>();
  for (const d of program.parameters) {
    declaredBefore.set(d.name, new Set(seen));
    seen.add(d.name);
    if (qualifies(d)) candidates.set(d.name, d);
  }
  const found = new Map<string, ImpliedSupport>();
  const add = (name: string, at: number | 'whole', bound: ImpliedBound) => {
    const d = candidates.get(name);
    if (!d) return;
    const reads = [bound.lower, bound.upper].flatMap((e) => (e ? [...variablesOf(e)] : []));
    const allowed = reads.every((v) => fixed.has(v) || declaredBefore.get(name)!.has(v));
    const pure = [bound.lower, bound.upper].every((e) => !e || callsArePure(e));
    if (!allowed || !pure) return;
    const support = found.get(name) ?? {};
    if (at === 'whole') support.whole ??= bound;
    else {
      support.elements ??= new Map();
      if (!support.elements.has(at)) support.elements.set(at, bound);
    }
    found.set(name, support);
  };
  for (const s of topLevel(program.model)) {
    if (s.s === 'for') {
      for (const looped of loopedBounds(s, candidates)) add(looped.name, 'whole', looped.bound);
      continue;
    }
    const stated = statedBound(s);
    if (!stated) continue;
    const { subject, bound } = stated;
    if (subject.e === 'var') add(subject.name, 'whole', bound);
    const at = literalIndex(subject);
    if (at !== undefined) add(at.name, at.position, bound);
  }
  return found;
}

function qualifies(d: Decl): boolean {
  const t = d.type;
  if (t.offset || t.multiplier) return false;
  if (t.base === 'real') return t.dims.length <= 1;
  return (t.base === 'vector' || t.base === 'row_vector') && t.dims.length === 0;
}

/** The subject and the support of a uniform statement, a truncated one, or a family's. */
function statedBound(s: Stmt): { subject: Expr; bound: ImpliedBound } | undefined {
  if (s.s === 'tilde') {
    if (s.dist === 'uniform' && s.args.length === 2 && !s.truncation)
      return {
        subject: s.lhs,
        bound: { lower: s.args[0], upper: s.args[1], source: 'uniform', line: s.line },
      };
    const family = familyBound(s.lhs, s.dist, s.line);
    if (!s.truncation || !(s.truncation.lower || s.truncation.upper)) return family;
    // A side the truncation leaves open is the family's (gamma(2, 1) T[, 5]: (0, 5)).
    const lower = s.truncation.lower ?? family?.bound.lower;
    const upper = s.truncation.upper ?? family?.bound.upper;
    return { subject: s.lhs, bound: { lower, upper, source: 'truncation', line: s.line } };
  }
  if (
    s.s === 'target' &&
    s.value.e === 'call' &&
    /^uniform_lu?pdf$/.test(s.value.name) &&
    s.value.args.length === 3
  ) {
    const [x, lower, upper] = s.value.args;
    return { subject: x, bound: { lower, upper, source: 'uniform', line: s.line } };
  }
  const density = s.s === 'target' && s.value.e === 'call' && /^(.+)_lu?pdf$/.exec(s.value.name);
  if (density && s.value.e === 'call' && s.value.args.length > 0)
    return familyBound(s.value.args[0], density[1], s.line);
  return undefined;
}

/** `x ~ gamma(...)`, `target += beta_lpdf(x | ...)`: the family's support (familySupports.ts). */
function familyBound(
  subject: Expr,
  family: string,
  line: number,
): { subject: Expr; bound: ImpliedBound } | undefined {
  const support = familySupport(family);
  if (!support) return undefined;
  const constant = (v: number): Expr => ({ e: 'num', value: v, int: Number.isInteger(v) });
  const upper = support.upper !== undefined ? constant(support.upper) : undefined;
  return { subject, bound: { lower: constant(support.lower), upper, source: family, line } };
}

/** `x[k]` with k an integer literal: the variable and k. */
function literalIndex(e: Expr): { name: string; position: number } | undefined {
  if (e.e !== 'index' || e.a.e !== 'var' || e.idx.length !== 1) return undefined;
  const i = e.idx[0];
  if (i.i !== 'one' || i.at.e !== 'num' || !i.at.int || i.at.value < 1) return undefined;
  return { name: e.a.name, position: i.at.value };
}

/**
 * `for (j in 1:N) { x[j] ~ uniform(lo, hi); ... }` over all of x: each statement of the body
 * that bounds `x[j]`, its bounds free of j or indexed by j alone (`lo[j]` read as `lo`).
 */
function loopedBounds(
  s: Extract<Stmt, { s: 'for' }>,
  candidates: Map<string, Decl>,
): { name: string; bound: ImpliedBound }[] {
  if (!(s.from.e === 'num' && s.from.value === 1)) return [];
  const body = s.body.s === 'block' ? topLevel(s.body.body) : [s.body];
  const byLoop = (e: Expr) => indexedBy(e, s.v);
  const out: { name: string; bound: ImpliedBound }[] = [];
  for (const b of body) {
    const stated = statedBound(b);
    const subject = stated && byLoop(stated.subject);
    if (!stated || subject?.e !== 'var') continue;
    const d = candidates.get(subject.name);
    const size = d && (d.type.base === 'real' ? d.type.dims[0] : d.type.sizes[0]);
    if (!size || !sameExpr(size, s.to)) continue;
    const side = (e?: Expr): Expr | undefined | null =>
      e && (byLoop(e) ?? (variablesOf(e).has(s.v) ? null : e));
    const [lower, upper] = [side(stated.bound.lower), side(stated.bound.upper)];
    if (lower === null || upper === null) continue;
    out.push({ name: subject.name, bound: { ...stated.bound, lower, upper } });
  }
  return out;
}
