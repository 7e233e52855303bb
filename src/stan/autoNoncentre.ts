import {
  baseName,
  callsArePure,
  indexedBy,
  sameExpr,
  substitute,
  variablesOf,
} from './exprWalk.js';
import { everyStatement, topLevel } from './stmtWalk.js';
import type { Decl, Expr, Program, Stmt } from './parser.js';

/** A parameter that avb non-centres: its value is offset + multiplier u, and u is what it samples. */
export interface Noncentred {
  offset: Expr;
  multiplier: Expr;
}

/**
 * The hierarchical normal parameters of a Stan program, which `avb infer` samples (unless
 * `--centred`) non-centred, and which a centred fit that warns names.
 *
 * A centred hierarchy, `b ~ normal(mu, sigma)` with `sigma` a parameter, is a funnel: as sigma
 * shrinks the b's are squeezed together, the log density grows like -N log sigma, and its mode
 * lies at sigma → 0. A mode search (the Laplace warm start of every method) falls into that
 * neck, and variational fits stay near it: on the BUGS surgical data (12 hospitals) AVB+AC
 * ended with sigma 0.19 against NUTS's 0.41, b's 1.6 sd off. Written as b = mu + sigma u with
 * u ~ normal(0, 1) — Stan's `<offset=mu, multiplier=sigma>` — the posterior of b is the same
 * but the geometry is not a funnel. So a parameter qualifies, and is given that offset and
 * multiplier, when
 * - it is a real, an array of reals, a vector or a row vector, without bounds, offset or
 *   multiplier of its own;
 * - its only density statement is one whole-variable `b ~ normal(mu, sigma)` (or
 *   `target += normal_lpdf(b | mu, sigma)`, `normal_lupdf`) in the model block, outside loops
 *   and conditions, or a loop over all of b, `for (j in 1:J) b[j] ~ normal(mu, sigma);` with J
 *   b's declared size and mu, sigma free of j or indexed by j alone (`mu[j]`: the vector mu);
 * - mu and sigma read only data, transformed data, other parameters, and transformed
 *   parameters defined once by an expression of those (`real sigma = sqrt(s2);`, substituted),
 *   and at least one of them reads a parameter (a fixed prior's scale is left to the methods'
 *   own preconditioning).
 * Not the default yet: on BUGS's seeds (gamma(0.001, 0.001) on a precision) non-centred and
 * centred NUTS disagree about the scale's tail, neither warning (README, _Beyond the eight_).
 * Stan's offset and multiplier may read only parameters declared before; avb evaluates the
 * parameters in an order that puts each after those it reads ({@link evaluationOrder}), so that
 * `vector[J] alpha; real mu; real<lower=0> tau;` with `alpha ~ normal(mu, tau)` qualifies too.
 */
export function hierarchicalNormals(program: Program): Map<string, Noncentred> {
  const fixed = new Set([
    ...program.data.map((d) => d.name),
    ...topLevel(program.transformedData).flatMap((s) => (s.s === 'decl' ? [s.decl.name] : [])),
  ]);
  const inlined = definedOnce(program.transformedParameters);
  const subjects = densitySubjects(program.model);
  const parameters = new Set(program.parameters.map((d) => d.name));
  const found = new Map<string, Noncentred>();
  for (const d of program.parameters) {
    const subject = subjects.get(d.name);
    if (!qualifies(d) || !subject) continue;
    const size = d.type.base === 'real' ? d.type.dims[0] : d.type.sizes[0];
    if (subject.over && !(size && sameExpr(size, subject.over))) continue;
    const [offset, multiplier] = subject.normal.map((a) => substitute(a, inlined));
    const reads = [...variablesOf(offset), ...variablesOf(multiplier)];
    const allowed = reads.every((v) => fixed.has(v) || (parameters.has(v) && v !== d.name));
    const pure = [offset, multiplier].every(callsArePure);
    if (allowed && pure && reads.some((v) => parameters.has(v)))
      found.set(d.name, { offset, multiplier });
  }
  return found;
}

/**
 * The parameters in an order in which each comes after the parameters its bounds, offset and
 * multiplier read (Stan's own order where it already is one), with the non-centred ones that
 * would close a cycle of such reads left centred (removed from `noncentred`).
 */
export function evaluationOrder(
  parameters: Decl[],
  noncentred: Map<string, Noncentred>,
  alsoReads: (d: Decl) => Expr[] = () => [],
): Decl[] {
  const names = new Set(parameters.map((d) => d.name));
  const reads = (d: Decl): string[] => {
    const t = { ...d.type, ...noncentred.get(d.name) };
    return [t.lower, t.upper, t.offset, t.multiplier, ...alsoReads(d)]
      .flatMap((e) => (e ? [...variablesOf(e)] : []))
      .filter((v) => names.has(v) && v !== d.name);
  };
  const placed: Decl[] = [];
  const done = new Set<string>();
  let left = [...parameters];
  while (left.length > 0) {
    const next = left.find((d) => reads(d).every((v) => done.has(v)));
    if (!next) {
      // A cycle: the first waiting parameter that is non-centred goes back to as written.
      const stuck = left.find((d) => noncentred.has(d.name));
      if (!stuck) throw new Error('parameter bounds read each other in a cycle');
      noncentred.delete(stuck.name);
      continue;
    }
    placed.push(next);
    done.add(next.name);
    left = left.filter((d) => d !== next);
  }
  return placed;
}

function qualifies(d: Decl): boolean {
  const t = d.type;
  if (t.lower || t.upper || t.offset || t.multiplier) return false;
  if (t.base === 'real') return t.dims.length <= 1;
  return (t.base === 'vector' || t.base === 'row_vector') && t.dims.length === 0;
}

/** The variable a density statement is about, and the statement's normal arguments if normal. */
function subjectOf(s: Stmt): { name?: string; normal?: [Expr, Expr] } | undefined {
  if (s.s === 'tilde') {
    const normal = s.dist === 'normal' && !s.truncation && s.lhs.e === 'var' && s.args.length === 2;
    return { name: baseName(s.lhs), normal: normal ? [s.args[0], s.args[1]] : undefined };
  }
  if (s.s === 'target' && s.value.e === 'call' && /_lu?pdf$|_lu?pmf$/.test(s.value.name)) {
    const [x, ...rest] = s.value.args;
    const normal = /^normal_lu?pdf$/.test(s.value.name) && x?.e === 'var' && rest.length === 2;
    return x && { name: baseName(x), normal: normal ? [rest[0], rest[1]] : undefined };
  }
  return undefined;
}

/** A variable's one normal density statement: its arguments, and the loop's end if in a loop over 1..end. */
interface NormalStatement {
  normal: [Expr, Expr];
  over?: Expr;
}

/**
 * Variables that are the subject of exactly one density statement, a normal at top level: of
 * the whole variable, or elementwise in a loop over all of it.
 */
function densitySubjects(model: Stmt[]): Map<string, NormalStatement> {
  const count = new Map<string, number>();
  for (const s of everyStatement(model)) {
    const name = subjectOf(s)?.name;
    if (name) count.set(name, (count.get(name) ?? 0) + 1);
  }
  const normals = new Map<string, NormalStatement>();
  for (const s of topLevel(model)) {
    const looped = s.s === 'for' ? loopedNormal(s) : undefined;
    const subject = looped ?? subjectOf(s);
    if (subject?.name && subject.normal && count.get(subject.name) === 1)
      normals.set(subject.name, { normal: subject.normal, over: looped?.over });
  }
  return normals;
}

/**
 * `for (j in 1:N) b[j] ~ normal(m, s);` as a normal of b over 1..N: m and s free of j, or a
 * variable indexed by j alone (`mu[j]`, read as the vector `mu`).
 */
function loopedNormal(
  s: Extract<Stmt, { s: 'for' }>,
): { name: string; normal: [Expr, Expr]; over: Expr } | undefined {
  const body = s.body.s === 'block' && s.body.body.length === 1 ? s.body.body[0] : s.body;
  if (!(s.from.e === 'num' && s.from.value === 1) || body.s !== 'tilde') return undefined;
  const byLoop = (e: Expr) => indexedBy(e, s.v);
  const lhs = byLoop(body.lhs);
  if (body.dist !== 'normal' || body.truncation || body.args.length !== 2 || lhs?.e !== 'var')
    return undefined;
  const args = body.args.map((a) => byLoop(a) ?? (variablesOf(a).has(s.v) ? undefined : a));
  if (!args[0] || !args[1]) return undefined;
  return { name: lhs.name, normal: [args[0], args[1]], over: s.to };
}

/**
 * Transformed parameters defined once, at top level, by one expression (a declaration's
 * initial value, or one whole-variable `=`), as expressions of what they read (earlier such
 * ones substituted in).
 */
function definedOnce(body: Stmt[]): Map<string, Expr> {
  const assignments = new Map<string, number>();
  for (const s of everyStatement(body))
    if (s.s === 'assign') {
      const name = baseName(s.target);
      if (name) assignments.set(name, (assignments.get(name) ?? 0) + 1);
    }
  const defined = new Map<string, Expr>();
  const declared = new Set<string>();
  for (const s of topLevel(body)) {
    if (s.s === 'decl') {
      declared.add(s.decl.name);
      if (s.decl.init && !assignments.has(s.decl.name))
        defined.set(s.decl.name, substitute(s.decl.init, defined));
    } else if (s.s === 'assign' && s.op === '=' && s.target.e === 'var') {
      const name = s.target.name;
      if (declared.has(name) && !defined.has(name) && assignments.get(name) === 1)
        defined.set(name, substitute(s.value, defined));
    }
  }
  return defined;
}
