import * as ad from '../modelling/autodiff.js';
import { Node } from '../modelling/autodiff.js';
import type { Val } from '../modelling/autodiff.js';

/**
 * Values of a running Stan program. Scalars are numbers (data, constants) or scalar autodiff
 * {@link Node}s (anything that depends on the parameters); vectors and matrices keep either one
 * whole value (a data array or a node, which vectorised operations use directly) or, once an
 * element has been assigned, their elements one by one.
 */
export type Scalar = number | Node;

export type Value =
  | { k: 'int'; v: number }
  | { k: 'real'; v: Scalar }
  | { k: 'vec'; row: boolean; s: Store }
  | { k: 'mat'; rows: number; cols: number; s: Store }
  | { k: 'arr'; items: Value[] };

/** The elements of a vector or (row-major) matrix. */
export class Store {
  private whole: Val | undefined;
  private elems: Scalar[] | undefined;
  /** The elements of a whole parameter-dependent node, made on first read. */
  private parts: Node[] | undefined;
  constructor(
    readonly n: number,
    whole?: Val,
  ) {
    if (whole === undefined) this.elems = new Array<Scalar>(n).fill(NaN);
    else this.whole = typeof whole === 'number' ? Float64Array.of(whole) : whole;
  }

  get(i: number): Scalar {
    if (this.elems) return this.elems[i];
    const w = this.whole!;
    if (!(w instanceof Node)) return (w as ArrayLike<number>)[i];
    if (!w.variable) return w.value[i];
    // One element node per position, however often a loop reads it (beta[k] in y[t - k] * beta[k]).
    const parts = (this.parts ??= new Array<Node>(this.n));
    return (parts[i] ??= ad.index(w, i));
  }

  set(i: number, x: Scalar): void {
    if (!this.elems) this.elems = Array.from({ length: this.n }, (_, j) => this.get(j));
    this.elems[i] = x;
    this.whole = undefined;
  }

  /**
   * Elements at positions `at` (0-based) as one vector: a gather from the whole where it is a
   * parameter-dependent node (one node, not an element node each), else the elements packed.
   */
  gather(at: number[]): Val {
    const w = this.whole;
    if (w instanceof Node && w.variable) return ad.gather(w, at);
    return packScalars(at.map((i) => this.get(i)));
  }

  /**
   * Elements `from` .. `from + length - 1` (0-based) as one vector: a slice of the whole where
   * there is one (one node, not an element node each), else the elements packed.
   */
  range(from: number, length: number): Val {
    const w = this.whole;
    if (w === undefined) return packScalars(this.elems!.slice(from, from + length));
    if (w instanceof Node) return from === 0 && length === w.length ? w : ad.slice(w, from, length);
    if (typeof w === 'number') return Float64Array.of(w);
    // Constants are only read: a data vector's range is a view, not a copy.
    if (w instanceof Float64Array) return w.subarray(from, from + length);
    return Float64Array.from(Array.prototype.slice.call(w, from, from + length) as number[]);
  }

  /** The whole vector: a constant array, or a node when an element depends on the parameters. */
  val(): Val {
    if (this.whole !== undefined) return this.whole;
    const e = this.elems!;
    this.whole = e.every((x) => typeof x === 'number')
      ? Float64Array.from(e as number[])
      : ad.concat(...e);
    return this.whole;
  }

  copy(): Store {
    return this.elems
      ? Object.assign(new Store(this.n), { elems: [...this.elems] })
      : new Store(this.n, this.whole);
  }
}

export const int = (v: number): Value => ({ k: 'int', v });
export const real = (v: Scalar): Value => ({ k: 'real', v: constant(v) as Scalar });
export const vec = (v: Val, n: number, row = false): Value => ({
  k: 'vec',
  row,
  s: new Store(n, constant(v)),
});
export const mat = (v: Val, rows: number, cols: number): Value => ({
  k: 'mat',
  rows,
  cols,
  s: new Store(rows * cols, constant(v)),
});

/** A node that does not depend on the parameters, as plain numbers (so data stays data). */
export function constant<T extends Val>(v: T): T | number | Float64Array {
  if (v instanceof Node && !v.variable) return v.length === 1 ? v.value[0] : v.value;
  return v;
}

/** A scalar's value as a double (for control flow and integer arithmetic). */
export function numberOf(x: Scalar): number {
  return typeof x === 'number' ? x : x.value[0];
}

export function isScalar(v: Value): v is Extract<Value, { k: 'int' | 'real' }> {
  return v.k === 'int' || v.k === 'real';
}

/** Number of scalars in a value. */
export function sizeOf(v: Value): number {
  if (isScalar(v)) return 1;
  if (v.k === 'arr') return v.items.reduce((a, x) => a + sizeOf(x), 0);
  return v.s.n;
}

/** A value flattened to one vector (arrays in order; matrices row-major), for the kit. */
export function flat(v: Value): Val {
  if (isScalar(v)) return v.v;
  if (v.k !== 'arr') return v.s.val();
  const parts = v.items.map(flat);
  if (parts.every((p) => typeof p === 'number')) return Float64Array.from(parts as number[]);
  if (parts.every((p) => !(p instanceof Node)))
    return Float64Array.from(
      parts.flatMap((p) => Array.from(typeof p === 'number' ? [p] : (p as ArrayLike<number>))),
    );
  return ad.concat(...parts);
}

/** An independent copy (Stan assigns by value). */
export function copyValue(v: Value): Value {
  if (isScalar(v)) return { ...v };
  if (v.k === 'arr') return { k: 'arr', items: v.items.map(copyValue) };
  return { ...v, s: v.s.copy() };
}

/** A vector result of a kit operation on `a` (and `b`), shaped like the non-scalar operand. */
export function like(shape: Value, v: Val): Value {
  const c = constant(v);
  if (shape.k === 'mat')
    return {
      k: 'mat',
      rows: shape.rows,
      cols: shape.cols,
      s: new Store(shape.rows * shape.cols, c),
    };
  if (shape.k === 'vec') return { k: 'vec', row: shape.row, s: new Store(shape.s.n, c) };
  if (shape.k === 'arr') return { k: 'vec', row: false, s: new Store(sizeOf(shape), c) };
  return real(typeof c === 'number' ? c : (c as Node));
}

/** A value's scalars in order (arrays flattened, matrices row-major). */
export function elementsOf(v: Value): Scalar[] {
  if (isScalar(v)) return [v.v];
  if (v.k === 'arr') return v.items.flatMap(elementsOf);
  return Array.from({ length: v.s.n }, (_, i) => v.s.get(i));
}

/** Scalars as one vector: plain numbers stay a constant array, else one concatenated node. */
export function packScalars(xs: Scalar[]): Float64Array | Node {
  return xs.every((x) => typeof x === 'number')
    ? Float64Array.from(xs as number[])
    : ad.concat(...xs);
}
