import type { Expr, Stmt } from './parser.js';

/** Statements of a block, plain `{ ... }` blocks opened (not loops or conditions). */
export function topLevel(body: Stmt[]): Stmt[] {
  return body.flatMap((s) => (s.s === 'block' ? topLevel(s.body) : [s]));
}

/** Every statement, nested ones included. */
export function everyStatement(body: Stmt[]): Stmt[] {
  return body.flatMap((s): Stmt[] => {
    switch (s.s) {
      case 'block':
        return everyStatement(s.body);
      case 'for':
      case 'foreach':
      case 'while':
        return [s, ...everyStatement([s.body])];
      case 'if':
        return [s, ...everyStatement(s.else ? [s.then, s.else] : [s.then])];
      default:
        return [s];
    }
  });
}

/** The expressions a statement holds itself (not those of the statements nested in it). */
export function expressionsOf(st: Stmt): Expr[] {
  switch (st.s) {
    case 'decl':
      return st.decl.init ? [st.decl.init] : [];
    case 'assign':
      return [st.target, st.value];
    case 'tilde':
      return [st.lhs, ...st.args];
    case 'target':
      return [st.value];
    case 'for':
      return [st.from, st.to];
    case 'foreach':
      return [st.over];
    case 'while':
    case 'if':
      return [st.c];
    case 'return':
      return st.value ? [st.value] : [];
    case 'expr':
      return [st.value];
    default:
      return [];
  }
}
