import type { Expr, Index } from './parser.js';

/** Calls `f` on every expression in `e`, indexes included. */
export function walk(e: Expr, f: (x: Expr) => void): void {
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

/** A copy of `e` with every variable named in `by` replaced by its expression. */
export function substitute(e: Expr, by: ReadonlyMap<string, Expr>): Expr {
  const s = (x: Expr) => substitute(x, by);
  const index = (i: Index): Index =>
    i.i === 'one'
      ? { i: 'one', at: s(i.at) }
      : i.i === 'range'
        ? { i: 'range', from: i.from && s(i.from), to: i.to && s(i.to) }
        : i;
  switch (e.e) {
    case 'var':
      return by.get(e.name) ?? e;
    case 'bin':
      return { ...e, a: s(e.a), b: s(e.b) };
    case 'un':
    case 'transpose':
      return { ...e, a: s(e.a) };
    case 'cond':
      return { ...e, c: s(e.c), a: s(e.a), b: s(e.b) };
    case 'call':
      return { ...e, args: e.args.map(s) };
    case 'array':
    case 'rowvec':
      return { ...e, items: e.items.map(s) };
    case 'index':
      return { ...e, a: s(e.a), idx: e.idx.map(index) };
    default:
      return e;
  }
}

/** The names of the variables `e` reads. */
export function variablesOf(e: Expr): Set<string> {
  const names = new Set<string>();
  walk(e, (x) => {
    if (x.e === 'var') names.add(x.name);
  });
  return names;
}

/** The variable an lvalue or density subject names: `x`, `x[i]`, `x[i][j]`; undefined otherwise. */
export function baseName(e: Expr): string | undefined {
  return e.e === 'var' ? e.name : e.e === 'index' ? baseName(e.a) : undefined;
}

/** `v[j]` with j the loop variable `j`: the variable `v` (read as the whole vector); else undefined. */
export function indexedBy(e: Expr, j: string): Expr | undefined {
  return e.e === 'index' &&
    e.a.e === 'var' &&
    e.idx.length === 1 &&
    e.idx[0].i === 'one' &&
    e.idx[0].at.e === 'var' &&
    e.idx[0].at.name === j
    ? e.a
    : undefined;
}

/** Whether two expressions are the same, their source lines aside. */
export function sameExpr(a: Expr, b: Expr): boolean {
  const plain = (e: Expr) => JSON.stringify(e, (k, v: unknown) => (k === 'line' ? undefined : v));
  return plain(a) === plain(b);
}

/**
 * Whether `e` calls no function with side effects (`_rng`, `_lp`) or whose value depends on
 * when it is called (`target()`, the log density so far).
 */
export function callsArePure(e: Expr): boolean {
  let pure = true;
  walk(e, (x) => {
    if (x.e === 'call' && (/_(rng|lp)$/.test(x.name) || /^(target|get_lp)$/.test(x.name)))
      pure = false;
  });
  return pure;
}

const PRECEDENCE: Record<string, number> = {
  '||': 1,
  '&&': 2,
  '==': 3,
  '!=': 3,
  '<': 4,
  '<=': 4,
  '>': 4,
  '>=': 4,
  '+': 5,
  '-': 5,
  '^': 7,
  '.^': 7,
};

/** `e` as Stan source, for messages and notes (parenthesised where precedence needs it). */
export function exprText(e: Expr): string {
  const level = (x: Expr) =>
    x.e === 'bin' ? (PRECEDENCE[x.op] ?? 6) : x.e === 'cond' ? 0 : x.e === 'un' ? 6.5 : 8;
  const operand = (x: Expr, above: number, tieNeedsParens = false) =>
    level(x) < above || (tieNeedsParens && level(x) === above) ? `(${exprText(x)})` : exprText(x);
  const list = (xs: Expr[]) => xs.map(exprText).join(', ');
  const index = (i: Index) =>
    i.i === 'one'
      ? exprText(i.at)
      : i.i === 'range'
        ? `${i.from ? exprText(i.from) : ''}:${i.to ? exprText(i.to) : ''}`
        : ':';
  switch (e.e) {
    case 'num':
      return String(e.value);
    case 'var':
      return e.name;
    case 'call':
      return `${e.name}(${list(e.args)})`;
    case 'bin': {
      // Stan's ^ groups to the right, the others to the left.
      const power = e.op === '^' || e.op === '.^';
      return `${operand(e.a, level(e), power)} ${e.op} ${operand(e.b, level(e), !power)}`;
    }
    case 'un':
      return `${e.op}${operand(e.a, level(e))}`;
    case 'cond':
      return `${operand(e.c, 1)} ? ${operand(e.a, 1)} : ${operand(e.b, 1)}`;
    case 'index':
      return `${operand(e.a, 8)}[${e.idx.map(index).join(', ')}]`;
    case 'transpose':
      return `${operand(e.a, 8)}'`;
    case 'array':
      return `{${list(e.items)}}`;
    case 'rowvec':
      return `[${list(e.items)}]`;
  }
}
