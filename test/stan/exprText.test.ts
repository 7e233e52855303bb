import { describe, expect, it } from 'vitest';
import { exprText, sameExpr } from '../../src/stan/exprWalk.js';
import type { Expr } from '../../src/stan/parser.js';
import { parseStan } from '../../src/stan/parser.js';

/** The expression of `target += <source>;`. */
const parsed = (source: string): Expr => {
  const [s] = parseStan(`model { target += ${source}; }`, 'test.stan').model;
  if (s.s !== 'target') throw new Error('not a target statement');
  return s.value;
};

describe('Stan: expressions as source text (notes and messages)', () => {
  it('reads back as the same expression, with parentheses only where precedence needs them', () => {
    for (const [source, shown] of [
      ['mu + sigma_alpha * u', 'mu + sigma_alpha * u'],
      ['-(a - b) * c / (d * e) - f ^ -2', '-(a - b) * c / (d * e) - f ^ (-2)'],
      ['a - (b - c) + (a - b) - c', 'a - (b - c) + (a - b) - c'],
      [
        "(x > 0 && y <= 1) || !z ? y[1, 2:3] : w[:, n]'",
        "x > 0 && y <= 1 || !z ? y[1, 2:3] : w[:, n]'",
      ],
      ['{1, 2.5}[1] + [1, 2] * v + sqrt(s2)', '{1, 2.5}[1] + [1, 2] * v + sqrt(s2)'],
      ['2 ^ 3 ^ 2 + (2 ^ 3) ^ 2', '2 ^ 3 ^ 2 + (2 ^ 3) ^ 2'],
    ]) {
      const e = parsed(source);
      expect(exprText(e)).toBe(shown);
      // Parsing the text again gives the same tree: the text means what the program says.
      expect(sameExpr(parsed(exprText(e)), e), source).toBe(true);
    }
  });
});
