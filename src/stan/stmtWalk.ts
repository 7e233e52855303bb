import type { Stmt } from './parser.js';

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
