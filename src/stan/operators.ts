import * as ad from '../modelling/autodiff.js';
import { Node } from '../modelling/autodiff.js';
import type { Val } from '../modelling/autodiff.js';
import { flat, int, isScalar, like, mat, numberOf, real, vec } from './values.js';
import type { Scalar, Value } from './values.js';

/** A Stan runtime error (the message names the operation); the caller adds the line. */
export class StanError extends Error {}

const typeName = (v: Value): string =>
  v.k === 'vec'
    ? v.row
      ? 'row_vector'
      : 'vector'
    : v.k === 'mat'
      ? 'matrix'
      : v.k === 'arr'
        ? 'array'
        : v.k;

const COMPARISONS = new Set(['<', '<=', '>', '>=', '==', '!=', '&&', '||']);

/** Stan's binary operators on values. */
export function binaryOp(op: string, a: Value, b: Value): Value {
  if (COMPARISONS.has(op)) return compare(op, a, b);
  if (a.k === 'int' && b.k === 'int') {
    const [x, y] = [a.v, b.v];
    switch (op) {
      case '+':
        return int(x + y);
      case '-':
        return int(x - y);
      case '*':
        return int(x * y);
      case '/':
      case '%/%':
        return int(Math.trunc(x / y));
      case '%':
        return int(x % y);
    }
  }
  if (a.k === 'arr' || b.k === 'arr') throw new StanError(`${op} is not defined for arrays`);
  switch (op) {
    case '+':
    case '-':
      return elementwise(op === '+' ? ad.add : ad.sub, a, b);
    case '.*':
      return elementwise(ad.mul, a, b);
    case './':
      return elementwise(ad.div, a, b);
    case '.^':
      return elementwise(ad.pow, a, b);
    case '^':
      if (!isScalar(a) || !isScalar(b))
        throw new StanError('^ takes scalars (use pow for vectors)');
      return real(ad.pow(a.v, b.v));
    case '/':
      if (!isScalar(b))
        throw new StanError(`${typeName(a)} / ${typeName(b)} is not supported; use ./`);
      return elementwise(ad.div, a, b);
    case '*':
      return multiply(a, b);
    case '%':
      return int(numberOf(scalarOf(a)) % numberOf(scalarOf(b)));
  }
  throw new StanError(`operator ${op} is not supported`);
}

function scalarOf(v: Value): Scalar {
  if (!isScalar(v)) throw new StanError(`expected a scalar, got a ${typeName(v)}`);
  return v.v;
}

function compare(op: string, a: Value, b: Value): Value {
  const x = numberOf(scalarOf(a));
  const y = numberOf(scalarOf(b));
  return int(holds(op, x, y) ? 1 : 0);
}

/** `x op y` for a comparison or logical operator (no object built per comparison in a loop). */
export function holds(op: string, x: number, y: number): boolean {
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
    case '==':
      return x === y;
    case '!=':
      return x !== y;
    case '&&':
      return !!x && !!y;
    default:
      return !!x || !!y;
  }
}

/** An element-wise kit operation with Stan's shapes (scalars broadcast; shapes must match). */
function elementwise(f: (x: Val, y: Val) => Node, a: Value, b: Value): Value {
  if (!isScalar(a) && !isScalar(b)) {
    const same =
      a.k === b.k &&
      (a.k === 'mat' && b.k === 'mat'
        ? a.rows === b.rows && a.cols === b.cols
        : a.k === 'vec' && b.k === 'vec' && a.s.n === b.s.n);
    if (!same)
      throw new StanError(`operands of shapes ${describe(a)} and ${describe(b)} do not match`);
  }
  const shape = isScalar(a) ? b : a;
  return like(shape, f(flat(a), flat(b)));
}

export function describe(v: Value): string {
  if (v.k === 'mat') return `matrix[${v.rows}, ${v.cols}]`;
  if (v.k === 'vec') return `${typeName(v)}[${v.s.n}]`;
  if (v.k === 'arr') return `array[${v.items.length}]`;
  return v.k;
}

/** Stan's `*`: scaling, inner product, matrix-vector and (data) matrix products. */
function multiply(a: Value, b: Value): Value {
  if (isScalar(a) || isScalar(b)) return elementwise(ad.mul, a, b);
  if (a.k === 'vec' && a.row && b.k === 'vec' && !b.row) {
    if (a.s.n !== b.s.n) throw new StanError(`row_vector[${a.s.n}] * vector[${b.s.n}]`);
    return real(ad.dot(a.s.val(), b.s.val()));
  }
  if (a.k === 'mat' && b.k === 'vec' && !b.row) {
    if (a.cols !== b.s.n) throw new StanError(`matrix[${a.rows}, ${a.cols}] * vector[${b.s.n}]`);
    return vec(ad.matVec(a.s.val(), a.rows, a.cols, b.s.val()), a.rows);
  }
  if (a.k === 'vec' && a.row && b.k === 'mat') {
    if (a.s.n !== b.rows)
      throw new StanError(`row_vector[${a.s.n}] * matrix[${b.rows}, ${b.cols}]`);
    return transpose(multiply(transpose(b), transpose(a)));
  }
  if (a.k === 'vec' && !a.row && b.k === 'vec' && b.row) {
    const out = Array.from({ length: a.s.n * b.s.n }, (_, i) =>
      ad.mul(a.s.get(Math.floor(i / b.s.n)), b.s.get(i % b.s.n)),
    );
    return mat(ad.concat(...out), a.s.n, b.s.n);
  }
  if (a.k === 'mat' && b.k === 'mat') {
    if (a.cols !== b.rows) throw new StanError(`${describe(a)} * ${describe(b)}`);
    const bt = transpose(b) as Extract<Value, { k: 'mat' }>;
    const cols = Array.from({ length: b.cols }, (_, j) =>
      ad.matVec(a.s.val(), a.rows, a.cols, ad.slice(bt.s.val(), j * b.rows, b.rows)),
    );
    // Columns side by side, then transposed back to row-major.
    return transpose(mat(ad.concat(...cols), b.cols, a.rows));
  }
  throw new StanError(`${describe(a)} * ${describe(b)} is not defined`);
}

/** Stan's `'`. */
export function transpose(v: Value): Value {
  if (v.k === 'vec') return { k: 'vec', row: !v.row, s: v.s };
  if (v.k !== 'mat') throw new StanError(`cannot transpose a ${typeName(v)}`);
  const { rows, cols } = v;
  const whole = v.s.val();
  if (!(whole instanceof Node)) {
    const w = whole as ArrayLike<number>;
    const out = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) out[j * rows + i] = w[i * cols + j];
    return mat(out, cols, rows);
  }
  const parts: Scalar[] = [];
  for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) parts.push(v.s.get(i * cols + j));
  return mat(ad.concat(...parts), cols, rows);
}

/** Unary minus and logical not. */
export function unaryOp(op: string, a: Value): Value {
  if (op === '!') return int(numberOf(scalarOf(a)) ? 0 : 1);
  if (a.k === 'int') return int(-a.v);
  if (a.k === 'arr') throw new StanError('- is not defined for arrays');
  return like(a, ad.neg(flat(a)));
}
