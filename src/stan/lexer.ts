import { AvbUserError } from '../errors.js';

/**
 * Tokens of the Stan language (the subset avb runs: see `stanModel.ts`). Comments (`//`, `#`,
 * block comments) are dropped; every token keeps its line for error messages.
 */
export interface Token {
  kind: 'ident' | 'number' | 'string' | 'op' | 'eof';
  text: string;
  line: number;
}

/** Operators, longest first so that `<=` is not read as `<` then `=`. */
const OPERATORS = [
  '%/%',
  '<-',
  '+=',
  '-=',
  '*=',
  '/=',
  '.*',
  './',
  '.^',
  '==',
  '!=',
  '<=',
  '>=',
  '&&',
  '||',
  '+',
  '-',
  '*',
  '/',
  '%',
  '^',
  "'",
  '\\',
  '!',
  '<',
  '>',
  '=',
  '~',
  ':',
  '?',
  '|',
  ',',
  ';',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
];

export function tokenize(source: string, file: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const fail = (what: string): never => {
    throw new AvbUserError(`${file}:${line}: ${what}`);
  };
  while (i < source.length) {
    const c = source[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (source.startsWith('//', i) || c === '#') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (source.startsWith('/*', i)) {
      const end = source.indexOf('*/', i + 2);
      if (end < 0) fail('a /* comment is never closed');
      for (let k = i; k < end; k++) if (source[k] === '\n') line++;
      i = end + 2;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))![0];
      tokens.push({ kind: 'ident', text: m, line });
      i += m.length;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(source[i + 1] ?? ''))) {
      const m = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(source.slice(i))![0];
      tokens.push({ kind: 'number', text: m, line });
      i += m.length;
    } else if (c === '"') {
      const end = source.indexOf('"', i + 1);
      if (end < 0) fail('a string is never closed');
      tokens.push({ kind: 'string', text: source.slice(i + 1, end), line });
      i = end + 1;
    } else {
      const op = OPERATORS.find((o) => source.startsWith(o, i));
      if (!op) fail(`unexpected character '${c}'`);
      tokens.push({ kind: 'op', text: op!, line });
      i += op!.length;
    }
  }
  tokens.push({ kind: 'eof', text: '', line });
  return tokens;
}
