/**
 * Reverse-mode automatic differentiation over doubles, for model log densities.
 *
 * A {@link Node} holds a vector of doubles (a scalar is a vector of length 1). Operations on nodes
 * record themselves on the active tape with their backward rule beside them; {@link gradient} runs
 * a function of the parameters once and walks the tape back. A log density costs microseconds per
 * evaluation, exact in double precision, with no tfjs graph: what NUTS needs per leapfrog step.
 *
 * ```ts
 * const { value, grad } = gradient((x) => sum(mul(x, x)), Float64Array.of(1, 2)); // 5, [2, 4]
 * ```
 *
 * Operands may be numbers, arrays of numbers (constants: data) or nodes. Binary operations
 * broadcast a length-1 operand against a vector; other lengths must agree.
 */

/** A value in a differentiated computation: a vector of doubles and, when it depends on the
 * parameters, its adjoint and the rule that passes the adjoint on to its inputs.
 *
 * In a batched evaluation ({@link gradientRows}) a node holds `batch` rows of `length` values,
 * one row per point, row-major in `data`; constants (data) have one row, shared by every point.
 * Reading `value` of a batched node throws {@link BatchedReadError}: code written for one point
 * (a model's own arithmetic on `.value`) cannot silently see only the first row, and the caller
 * evaluates row by row instead. */
export class Node {
  /** d(output) / d(this), filled in during the backward pass (parameter-dependent nodes only). */
  adjoint: Float64Array | undefined;
  /** The number of values of one row (of the node, for an unbatched one). */
  readonly length: number;

  constructor(
    /** The values: `batch` rows of `length`, row-major. */
    readonly data: Float64Array,
    /** Whether the node depends on the parameters (constants carry no adjoint). */
    readonly variable: boolean,
    /** Passes `this.adjoint` on to the inputs' adjoints. */
    readonly backward?: () => void,
    /** The number of points evaluated at once: 1 outside {@link gradientRows}. */
    readonly batch = 1,
  ) {
    this.length = batch === 1 ? data.length : data.length / batch;
  }

  /** The values of an unbatched node (a batched one throws {@link BatchedReadError}). */
  get value(): Float64Array {
    if (this.batch !== 1) throw new BatchedReadError();
    return this.data;
  }

  /** Element `i` (0-based) as a scalar node. */
  at(i: number): Node {
    return index(this, i);
  }

  /** The value of a scalar node (throws for vectors). */
  scalar(): number {
    if (this.length !== 1) throw new Error(`expected a scalar, got length ${this.length}`);
    return this.value[0];
  }
}

/**
 * Thrown where a batched evaluation meets code that works on one point only: an operation
 * without a batched form, or a read of a batched node's `value`. Callers evaluate the points one
 * at a time instead.
 */
export class BatchedReadError extends Error {
  constructor(what = "a batched node's value was read") {
    super(`${what}: this computation is evaluated one point at a time`);
    this.name = 'BatchedReadError';
  }
}

/** A constant, a data vector or a node. */
export type Val = number | ArrayLike<number> | Node;

let tape: Node[] | null = null;

/** Makes a node from a value computed by an operation; records it when it is a variable. */
function record(
  value: Float64Array,
  inputs: Node[],
  backward: (out: Node) => void,
  batch = 1,
): Node {
  if (!inputs.some((n) => n.variable)) return new Node(value, false, undefined, batch);
  const out: Node = new Node(value, true, () => backward(out), batch);
  tape?.push(out);
  return out;
}

/** The adjoint array of a variable input, created on first use. */
function adj(n: Node): Float64Array {
  return (n.adjoint ??= new Float64Array(n.data.length));
}

/** The batch of an operation's output: that of its batched inputs (all alike), else 1. */
function batchOf(nodes: readonly Node[]): number {
  let b = 1;
  let unbatchedVariable = false;
  for (const n of nodes) {
    if (n.batch === 1) {
      unbatchedVariable ||= n.variable;
      continue;
    }
    if (b !== 1 && n.batch !== b) throw new Error(`batches of ${b} and ${n.batch} rows`);
    b = n.batch;
  }
  // Every parameter-dependent node of a batched evaluation has its rows; one without them was
  // made outside the batch (a node kept from another evaluation), so its rows are unknown.
  if (b !== 1 && unbatchedVariable) throw new BatchedReadError('a one-row node among batched ones');
  return b;
}

/** Where row `b` of a node starts in its data: a constant (one row) is every point's. */
const rowStart = (x: Node, b: number): number => (x.batch === 1 ? 0 : b * x.length);

/** Lifts a number or array to a constant node; nodes pass through. */
export function lift(x: Val): Node {
  if (x instanceof Node) return x;
  if (typeof x === 'number') return new Node(Float64Array.of(x), false);
  // Constants are only read, so a Float64Array (a design matrix) is wrapped, not copied.
  return new Node(x instanceof Float64Array ? x : Float64Array.from(x), false);
}

/**
 * The value and gradient of `f` at `x`: `f` is called with one node holding `x` and must return a
 * scalar node (or number). Not re-entrant with itself (one tape at a time).
 */
export function gradient(
  f: (x: Node) => Val,
  x: ArrayLike<number>,
): { value: number; grad: Float64Array } {
  if (tape !== null) throw new Error('gradient() is not re-entrant');
  const input = new Node(Float64Array.from(x), true);
  tape = [];
  try {
    const out = lift(f(input));
    if (out.length !== 1)
      throw new Error(`the function must return a scalar, got length ${out.length}`);
    const value = out.value[0];
    if (!out.variable) return { value, grad: new Float64Array(x.length) };
    out.adjoint = Float64Array.of(1);
    for (let i = tape.length - 1; i >= 0; i--) {
      const n = tape[i];
      if (n.adjoint !== undefined) n.backward!();
    }
    return { value, grad: input.adjoint ?? new Float64Array(x.length) };
  } finally {
    tape = null;
  }
}

/**
 * The values and gradients of `f` at `n` points at once: `xs` holds them as rows (`n × d`,
 * row-major), `f` is called once with a batched node of `n` rows and every operation works on
 * all rows together. A variational fit's batch of 64 draws then records one tape, not 64, and a
 * regression's design matrix is read once for all of them. Throws {@link BatchedReadError} where
 * `f` uses something that has no batched form; {@link gradient} per point is the fallback.
 */
export function gradientRows(
  f: (x: Node) => Val,
  xs: Float64Array,
  n: number,
): { values: Float64Array; grads: Float64Array } {
  if (!Number.isInteger(n) || n < 1 || xs.length % n !== 0)
    throw new Error(`${xs.length} values are not ${n} rows`);
  if (n === 1) {
    // One row is an ordinary evaluation (a node of one row is an unbatched one).
    const { value, grad } = gradient(f, xs);
    return { values: Float64Array.of(value), grads: grad };
  }
  if (tape !== null) throw new Error('gradientRows() is not re-entrant');
  const input = new Node(Float64Array.from(xs), true, undefined, n);
  tape = [];
  try {
    const out = lift(f(input));
    if (out.length !== 1)
      throw new Error(`the function must return a scalar, got length ${out.length}`);
    if (out.batch === 1) {
      // A value that does not depend on the point (or a constant): every row's.
      if (out.variable) throw new BatchedReadError('an output of one row');
      return { values: new Float64Array(n).fill(out.data[0]), grads: new Float64Array(xs.length) };
    }
    out.adjoint = new Float64Array(n).fill(1);
    for (let i = tape.length - 1; i >= 0; i--) {
      const node = tape[i];
      if (node.adjoint !== undefined) node.backward!();
    }
    return {
      values: Float64Array.from(out.data),
      grads: input.adjoint ?? new Float64Array(xs.length),
    };
  } finally {
    tape = null;
  }
}

/** Evaluates `f` at `x` without recording anything (values only). */
export function evaluate<T>(f: (x: Node) => T, x: ArrayLike<number>): T {
  return f(new Node(Float64Array.from(x), false));
}

// ---------------------------------------------------------------- element-wise operations

function broadcastLength(a: Node, b: Node): number {
  return broadcastLengths(a.length, b.length);
}

function broadcastLengths(n: number, m: number): number {
  if (n === m || m === 1) return n;
  if (n === 1) return m;
  throw new Error(`lengths ${n} and ${m} do not broadcast`);
}

/** Adds `g[i]` into a's adjoint, summing over i when a was broadcast (length 1). */
function accumulate(a: Node, g: (i: number) => number, n: number): void {
  if (!a.variable) return;
  const d = adj(a);
  if (a.data.length === 1) {
    let s = 0;
    for (let i = 0; i < n; i++) s += g(i);
    d[0] += s;
  } else for (let i = 0; i < n; i++) d[i] += g(i);
}

type Binary = (x: number, y: number) => number;

/** An element-wise binary operation with broadcasting: values f(x, y), partial derivatives dx, dy. */
export function binary(
  a: Val,
  b: Val,
  f: Binary,
  /** ∂f/∂x and ∂f/∂y at (x, y), given the output value. */
  dx: (x: number, y: number, out: number) => number,
  dy: (x: number, y: number, out: number) => number,
): Node {
  const A = lift(a);
  const B = lift(b);
  const n = broadcastLength(A, B);
  if (A.batch !== 1 || B.batch !== 1) return batchedBinary(A, B, n, f, dx, dy);
  const av = A.value;
  const bv = B.value;
  const sa = A.length === 1 ? 0 : 1;
  const sb = B.length === 1 ? 0 : 1;
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = f(av[i * sa], bv[i * sb]);
  return record(v, [A, B], (out) => {
    const g = out.adjoint!;
    accumulate(A, (i) => g[i] * dx(av[i * sa], bv[i * sb], v[i]), n);
    accumulate(B, (i) => g[i] * dy(av[i * sa], bv[i * sb], v[i]), n);
  });
}

/**
 * An element-wise function of three operands with its partial derivatives, as one node (a
 * mixture's or an HMM's per-point log densities over thousands of points: one pass instead of
 * the half-dozen nodes, and their arrays, of the same formula written with {@link binary}).
 * `f(x, y, z, d)` returns the value and writes ∂/∂x, ∂/∂y, ∂/∂z into d[0..2]. Operands of
 * length 1 broadcast; batched rows as in {@link binary}.
 */
export function ternary(
  a: Val,
  b: Val,
  c: Val,
  f: (x: number, y: number, z: number, d: Float64Array) => number,
): Node {
  const ops = [lift(a), lift(b), lift(c)];
  const n = ops.reduce((len, x) => broadcastLengths(len, x.length), 1);
  const batch = batchOf(ops);
  const steps = ops.map((x) => (x.length === 1 ? 0 : 1));
  const starts = (k: number, row: number) => rowStart(ops[k], row);
  const v = new Float64Array(batch * n);
  // ∂v/∂operand k per output element, kept for the backward pass (variable operands only).
  const partials = ops.map((x) => (x.variable ? new Float64Array(batch * n) : undefined));
  const [pa, pb, pc] = partials;
  const [A, B, C] = ops.map((x) => x.data);
  const d = new Float64Array(3);
  for (let row = 0; row < batch; row++) {
    const [oa, ob, oc] = [starts(0, row), starts(1, row), starts(2, row)];
    const o = row * n;
    for (let i = 0; i < n; i++) {
      v[o + i] = f(A[oa + i * steps[0]], B[ob + i * steps[1]], C[oc + i * steps[2]], d);
      if (pa) pa[o + i] = d[0];
      if (pb) pb[o + i] = d[1];
      if (pc) pc[o + i] = d[2];
    }
  }
  return record(
    v,
    ops,
    (out) => {
      const g = out.adjoint!;
      ops.forEach((x, k) => {
        const p = partials[k];
        if (!p) return;
        const da = adj(x);
        for (let row = 0; row < batch; row++) {
          const start = starts(k, row);
          const o = row * n;
          for (let i = 0; i < n; i++) da[start + i * steps[k]] += g[o + i] * p[o + i];
        }
      });
    },
    batch,
  );
}

/**
 * Two operands of a batched element-wise operation: the batch, their data, their steps within a
 * row (0 for a length-1 operand, broadcast) and the output array of `batch` rows of n.
 */
function batchedPair(A: Node, B: Node, n: number) {
  const batch = batchOf([A, B]);
  return {
    batch,
    av: A.data,
    bv: B.data,
    sa: A.length === 1 ? 0 : 1,
    sb: B.length === 1 ? 0 : 1,
    v: new Float64Array(batch * n),
  };
}

/**
 * {@link binary} on batched operands: row b of the output from row b of each (a constant's one
 * row for every b), a length-1 operand broadcast within the row.
 */
function batchedBinary(
  A: Node,
  B: Node,
  n: number,
  f: Binary,
  dx: (x: number, y: number, out: number) => number,
  dy: (x: number, y: number, out: number) => number,
): Node {
  const { batch, av, bv, sa, sb, v } = batchedPair(A, B, n);
  for (let b = 0; b < batch; b++) {
    const oa = rowStart(A, b);
    const ob = rowStart(B, b);
    const o = b * n;
    for (let i = 0; i < n; i++) v[o + i] = f(av[oa + i * sa], bv[ob + i * sb]);
  }
  return record(
    v,
    [A, B],
    (out) => {
      const g = out.adjoint!;
      const da = A.variable ? adj(A) : undefined;
      const db = B.variable ? adj(B) : undefined;
      for (let b = 0; b < batch; b++) {
        const oa = rowStart(A, b);
        const ob = rowStart(B, b);
        const o = b * n;
        for (let i = 0; i < n; i++) {
          const x = av[oa + i * sa];
          const y = bv[ob + i * sb];
          if (da) da[oa + i * sa] += g[o + i] * dx(x, y, v[o + i]);
          if (db) db[ob + i * sb] += g[o + i] * dy(x, y, v[o + i]);
        }
      }
    },
    batch,
  );
}

/**
 * a + b (sign 1), a - b (-1) or a b (0) on batched operands, with their own loops as
 * {@link addOrSub} and {@link mul} (a call of a derivative function per element would cost more
 * than batching saves on a model's long vectors).
 */
function batchedSumOrProduct(A: Node, B: Node, sign: 1 | -1 | 0): Node {
  const n = broadcastLength(A, B);
  const { batch, av, bv, sa, sb, v } = batchedPair(A, B, n);
  for (let b = 0; b < batch; b++) {
    const oa = rowStart(A, b);
    const ob = rowStart(B, b);
    const o = b * n;
    if (sign === 0) for (let i = 0; i < n; i++) v[o + i] = av[oa + i * sa] * bv[ob + i * sb];
    else for (let i = 0; i < n; i++) v[o + i] = av[oa + i * sa] + sign * bv[ob + i * sb];
  }
  return record(
    v,
    [A, B],
    (out) => {
      const g = out.adjoint!;
      const da = A.variable ? adj(A) : undefined;
      const db = B.variable ? adj(B) : undefined;
      for (let b = 0; b < batch; b++) {
        const oa = rowStart(A, b);
        const ob = rowStart(B, b);
        const o = b * n;
        if (sign === 0) {
          if (da) for (let i = 0; i < n; i++) da[oa + i * sa] += g[o + i] * bv[ob + i * sb];
          if (db) for (let i = 0; i < n; i++) db[ob + i * sb] += g[o + i] * av[oa + i * sa];
        } else {
          if (da) for (let i = 0; i < n; i++) da[oa + i * sa] += g[o + i];
          if (db) for (let i = 0; i < n; i++) db[ob + i * sb] += sign * g[o + i];
        }
      }
    },
    batch,
  );
}

/** Two operands lifted to nodes, their broadcast length and an output array of it. */
function operands(a: Val, b: Val) {
  const A = lift(a);
  const B = lift(b);
  const n = broadcastLength(A, B);
  return { A, B, n, av: A.value, bv: B.value, v: new Float64Array(n) };
}

/**
 * a + sign b with broadcasting. Sums and products are most of a model's element-wise work (a
 * regression's linear predictor), so they have their own loops rather than {@link binary}'s
 * per-element calls of its derivative functions (with matVec's, a gradient of posteriordb's
 * diamonds fell from 0.82 to 0.61 ms, kidiq's from 0.094 to 0.025).
 */
function addOrSub(a: Val, b: Val, sign: 1 | -1): Node {
  const A = lift(a);
  const B = lift(b);
  if (A.batch !== 1 || B.batch !== 1) return batchedSumOrProduct(A, B, sign);
  const { n, av, bv, v } = operands(A, B);
  if (A.length === n && B.length === n) for (let i = 0; i < n; i++) v[i] = av[i] + sign * bv[i];
  else if (A.length === n) for (let i = 0; i < n; i++) v[i] = av[i] + sign * bv[0];
  else for (let i = 0; i < n; i++) v[i] = av[0] + sign * bv[i];
  return record(v, [A, B], (out) => {
    passOn(A, out.adjoint!, n, 1);
    passOn(B, out.adjoint!, n, sign);
  });
}

/** Adds sign g[i] into x's adjoint, summed when x was broadcast (length 1). */
function passOn(x: Node, g: Float64Array, n: number, sign: number): void {
  if (!x.variable) return;
  const d = adj(x);
  if (x.length === 1) {
    let s = 0;
    for (let i = 0; i < n; i++) s += g[i];
    d[0] += sign * s;
  } else for (let i = 0; i < n; i++) d[i] += sign * g[i];
}

/** Adds g[i] y[i] (y broadcast when of length 1) into x's adjoint, summed when x was broadcast. */
function passOnTimes(x: Node, g: Float64Array, y: Float64Array, n: number): void {
  if (!x.variable) return;
  const d = adj(x);
  const sy = y.length === 1 ? 0 : 1;
  if (x.length === 1) {
    let s = 0;
    for (let i = 0; i < n; i++) s += g[i] * y[i * sy];
    d[0] += s;
  } else for (let i = 0; i < n; i++) d[i] += g[i] * y[i * sy];
}

export const add = (a: Val, b: Val): Node => addOrSub(a, b, 1);
export const sub = (a: Val, b: Val): Node => addOrSub(a, b, -1);
/** a b element-wise with broadcasting (its own loops, as {@link addOrSub}). */
export function mul(a: Val, b: Val): Node {
  const A = lift(a);
  const B = lift(b);
  if (A.batch !== 1 || B.batch !== 1) return batchedSumOrProduct(A, B, 0);
  const { n, av, bv, v } = operands(A, B);
  if (A.length === n && B.length === n) for (let i = 0; i < n; i++) v[i] = av[i] * bv[i];
  else if (A.length === n) for (let i = 0; i < n; i++) v[i] = av[i] * bv[0];
  else for (let i = 0; i < n; i++) v[i] = av[0] * bv[i];
  return record(v, [A, B], (out) => {
    passOnTimes(A, out.adjoint!, bv, n);
    passOnTimes(B, out.adjoint!, av, n);
  });
}
export const div = (a: Val, b: Val): Node =>
  binary(
    a,
    b,
    (x, y) => x / y,
    (_x, y) => 1 / y,
    (_x, y, o) => -o / y,
  );
/** x^y (x > 0 where y is not an integer). */
export const pow = (a: Val, b: Val): Node =>
  binary(
    a,
    b,
    (x, y) => x ** y,
    (x, y) => (y === 0 ? 0 : y * x ** (y - 1)),
    (x, _y, o) => (o === 0 ? 0 : o * Math.log(x)),
  );

/** An element-wise operation: values f(x), derivative d(x, f(x)). */
export function unary(
  a: Val,
  f: (x: number) => number,
  d: (x: number, out: number) => number,
): Node {
  const A = lift(a);
  // Element by element, so a batched node's rows need nothing of their own.
  const av = A.data;
  const n = av.length;
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = f(av[i]);
  return record(
    v,
    [A],
    (out) => {
      const g = out.adjoint!;
      accumulate(A, (i) => g[i] * d(av[i], v[i]), n);
    },
    A.batch,
  );
}

export const neg = (a: Val): Node =>
  unary(
    a,
    (x) => -x,
    () => -1,
  );
export const exp = (a: Val): Node => unary(a, Math.exp, (_x, o) => o);
export const log = (a: Val): Node => unary(a, Math.log, (x) => 1 / x);
export const log1p = (a: Val): Node => unary(a, Math.log1p, (x) => 1 / (1 + x));
export const expm1 = (a: Val): Node => unary(a, Math.expm1, (x) => Math.exp(x));
export const sqrt = (a: Val): Node => unary(a, Math.sqrt, (_x, o) => 0.5 / o);
export const square = (a: Val): Node =>
  unary(
    a,
    (x) => x * x,
    (x) => 2 * x,
  );
export const abs = (a: Val): Node => unary(a, Math.abs, (x) => Math.sign(x));
export const tanh = (a: Val): Node => unary(a, Math.tanh, (_x, o) => 1 - o * o);

/** log(1 + e^x), without overflow. */
export function softplusOf(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}
/** 1 / (1 + e^-x). */
export function logisticOf(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** log(1 + e^x) (Stan's log1p_exp). */
export const log1pExp = (a: Val): Node => unary(a, softplusOf, logisticOf);
/** The logistic function 1 / (1 + e^-x) (Stan's inv_logit). */
export const invLogit = (a: Val): Node => unary(a, logisticOf, (_x, o) => o * (1 - o));
/** log inv_logit(x) = -log(1 + e^-x). */
export const logInvLogit = (a: Val): Node =>
  unary(
    a,
    (x) => -softplusOf(-x),
    (x) => logisticOf(-x),
  );
/** log(1 - inv_logit(x)) = -log(1 + e^x). */
export const log1mInvLogit = (a: Val): Node =>
  unary(
    a,
    (x) => -softplusOf(x),
    (x) => -logisticOf(x),
  );

// ---------------------------------------------------------------- reductions and structure

/** The sum of a vector's elements (a scalar). */
export function sum(a: Val): Node {
  const A = lift(a);
  if (A.batch !== 1)
    return rowReduce(
      A,
      (row, o, n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += row[o + i];
        return s;
      },
      (_row, o, n, _value, g, d) => {
        for (let i = 0; i < n; i++) d[o + i] += g;
      },
    );
  let s = 0;
  for (const x of A.value) s += x;
  return record(Float64Array.of(s), [A], (out) => {
    const g = out.adjoint![0];
    accumulate(A, () => g, A.length);
  });
}

/**
 * A scalar per row of a batched node: `value(data, start, length)` of each row, and
 * `backward(data, start, length, value, g, adjoint)` adding the row's share of g into the
 * adjoint at the same place.
 */
function rowReduce(
  A: Node,
  value: (row: Float64Array, o: number, n: number) => number,
  backward: (
    row: Float64Array,
    o: number,
    n: number,
    value: number,
    g: number,
    d: Float64Array,
  ) => void,
): Node {
  const batch = A.batch;
  const L = A.length;
  const av = A.data;
  const v = new Float64Array(batch);
  for (let b = 0; b < batch; b++) v[b] = value(av, b * L, L);
  return record(
    v,
    [A],
    (out) => {
      if (!A.variable) return;
      const g = out.adjoint!;
      const d = adj(A);
      for (let b = 0; b < batch; b++) backward(av, b * L, L, v[b], g[b], d);
    },
    batch,
  );
}

/**
 * A scalar computed in one pass with its partial derivatives (a fused operation: a log density
 * over thousands of points as one step instead of a dozen): `partials[k][i]` is
 * ∂value/∂inputs[k][i], or undefined for an input that is a constant.
 */
export function fusedScalar(
  inputs: Node[],
  value: number,
  partials: (Float64Array | undefined)[],
): Node {
  if (batchOf(inputs) !== 1) throw new BatchedReadError('fusedScalar on batched inputs');
  return record(Float64Array.of(value), inputs, (out) => {
    const g = out.adjoint![0];
    inputs.forEach((n, k) => {
      const p = partials[k];
      if (!n.variable || !p) return;
      const d = adj(n);
      for (let i = 0; i < p.length; i++) d[i] += g * p[i];
    });
  });
}

/**
 * {@link fusedScalar} for a batch: `values[b]` is row b's scalar and `partials[k]` has the shape
 * of `inputs[k].data` (for a constant input, which every row shares: undefined).
 */
export function fusedRows(
  inputs: Node[],
  values: Float64Array,
  partials: (Float64Array | undefined)[],
): Node {
  const batch = values.length;
  if (batchOf(inputs) !== batch)
    throw new Error(`${batch} values for a batch of ${batchOf(inputs)}`);
  return record(
    values,
    inputs,
    (out) => {
      const g = out.adjoint!;
      inputs.forEach((n, k) => {
        const p = partials[k];
        if (!n.variable || !p) return;
        const d = adj(n);
        const L = n.length;
        for (let b = 0; b < batch; b++) {
          const gb = g[b];
          const o = b * L;
          for (let i = 0; i < L; i++) d[o + i] += gb * p[o + i];
        }
      });
    },
    batch,
  );
}

/**
 * Sums several scalars or vectors into one scalar, as one node: a model's log density is often
 * thousands of terms (a Stan loop's `target +=` per point), and a sum and an add per term would
 * double the tape (on a 12,573-point loop, garbage collection was over half the gradient's time).
 */
export function total(...terms: Val[]): Node {
  const nodes = terms.map(lift);
  const batch = batchOf(nodes);
  if (batch !== 1) return batchedTotal(nodes, batch);
  let s = 0;
  for (const n of nodes) for (const x of n.value) s += x;
  return record(Float64Array.of(s), nodes, (out) => {
    const g = out.adjoint![0];
    for (const n of nodes) {
      if (!n.variable) continue;
      const d = adj(n);
      for (let i = 0; i < d.length; i++) d[i] += g;
    }
  });
}

/** {@link total} of batched terms: one sum per row, a constant term counted in every row. */
function batchedTotal(nodes: Node[], batch: number): Node {
  const v = new Float64Array(batch);
  for (const n of nodes) {
    const x = n.data;
    const L = n.length;
    if (n.batch === 1) {
      let s = 0;
      for (let i = 0; i < L; i++) s += x[i];
      for (let b = 0; b < batch; b++) v[b] += s;
    } else
      for (let b = 0; b < batch; b++) {
        let s = 0;
        for (let i = 0, o = b * L; i < L; i++) s += x[o + i];
        v[b] += s;
      }
  }
  return record(
    v,
    nodes,
    (out) => {
      const g = out.adjoint!;
      for (const n of nodes) {
        if (!n.variable) continue;
        const d = adj(n);
        const L = n.length;
        for (let b = 0; b < batch; b++) for (let i = 0, o = b * L; i < L; i++) d[o + i] += g[b];
      }
    },
    batch,
  );
}

/** Element `i` (0-based) as a scalar. */
export function index(a: Val, i: number): Node {
  const A = lift(a);
  if (!Number.isInteger(i) || i < 0 || i >= A.length)
    throw new Error(`index ${i} out of range for length ${A.length}`);
  if (A.batch !== 1) return rowSlice(A, i, 1);
  return record(Float64Array.of(A.value[i]), [A], (out) => {
    if (A.variable) adj(A)[i] += out.adjoint![0];
  });
}

/** Elements start .. start + length - 1. */
export function slice(a: Val, start: number, length: number): Node {
  const A = lift(a);
  if (start < 0 || length < 0 || start + length > A.length)
    throw new Error(`slice ${start}+${length} out of range for length ${A.length}`);
  if (A.batch !== 1) return rowSlice(A, start, length);
  return record(A.value.slice(start, start + length), [A], (out) => {
    if (!A.variable) return;
    const g = out.adjoint!;
    const d = adj(A);
    for (let i = 0; i < length; i++) d[start + i] += g[i];
  });
}

/** Elements start .. start + length - 1 of every row of a batched node. */
function rowSlice(A: Node, start: number, length: number): Node {
  const batch = A.batch;
  const L = A.length;
  const av = A.data;
  const v = new Float64Array(batch * length);
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < length; i++) v[b * length + i] = av[b * L + start + i];
  return record(
    v,
    [A],
    (out) => {
      const g = out.adjoint!;
      const d = adj(A);
      for (let b = 0; b < batch; b++)
        for (let i = 0; i < length; i++) d[b * L + start + i] += g[b * length + i];
    },
    batch,
  );
}

/**
 * a[at[0]], a[at[1]], ... (0-based, repeats allowed) as one vector node: a hierarchical model's
 * `alpha[county]` over its 919 houses is one node, not an element node and a concatenation per
 * house. Each row of a batched `a` is gathered alike.
 */
export function gather(a: Val, at: ArrayLike<number>): Node {
  const A = lift(a);
  const L = A.length;
  const n = at.length;
  for (let j = 0; j < n; j++)
    if (!(Number.isInteger(at[j]) && at[j] >= 0 && at[j] < L))
      throw new RangeError(`gather: position ${at[j]} is outside 0..${L - 1}`);
  const batch = A.batch;
  const v = new Float64Array(batch * n);
  for (let b = 0; b < batch; b++) for (let j = 0; j < n; j++) v[b * n + j] = A.data[b * L + at[j]];
  return record(
    v,
    [A],
    (out) => {
      const g = out.adjoint!;
      const d = adj(A);
      for (let b = 0; b < batch; b++) for (let j = 0; j < n; j++) d[b * L + at[j]] += g[b * n + j];
    },
    batch,
  );
}

/** The vectors (or scalars) one after another. */
export function concat(...parts: Val[]): Node {
  const nodes = parts.map(lift);
  const batch = batchOf(nodes);
  if (batch !== 1) return batchedConcat(nodes, batch);
  const v = new Float64Array(nodes.reduce((s, n) => s + n.length, 0));
  let o = 0;
  for (const n of nodes) {
    v.set(n.value, o);
    o += n.length;
  }
  return record(v, nodes, (out) => {
    const g = out.adjoint!;
    let k = 0;
    for (const n of nodes) {
      if (n.variable) {
        const d = adj(n);
        for (let i = 0; i < n.length; i++) d[i] += g[k + i];
      }
      k += n.length;
    }
  });
}

/** {@link concat} row by row; a constant part is repeated in every row. */
function batchedConcat(nodes: Node[], batch: number): Node {
  const width = nodes.reduce((s, n) => s + n.length, 0);
  const v = new Float64Array(batch * width);
  for (let b = 0; b < batch; b++) {
    let o = b * width;
    for (const n of nodes) {
      const start = rowStart(n, b);
      v.set(n.data.subarray(start, start + n.length), o);
      o += n.length;
    }
  }
  return record(
    v,
    nodes,
    (out) => {
      const g = out.adjoint!;
      let k = 0;
      for (const n of nodes) {
        if (n.variable) {
          const d = adj(n);
          const L = n.length;
          for (let b = 0; b < batch; b++)
            for (let i = 0; i < L; i++) d[b * L + i] += g[b * width + k + i];
        }
        k += n.length;
      }
    },
    batch,
  );
}

/** The inner product of two vectors of equal length (a scalar). */
export function dot(a: Val, b: Val): Node {
  const A = lift(a);
  const B = lift(b);
  if (A.length !== B.length) throw new Error(`dot of lengths ${A.length} and ${B.length}`);
  if (A.batch !== 1 || B.batch !== 1) return sum(mul(A, B));
  const av = A.value;
  const bv = B.value;
  let s = 0;
  for (let i = 0; i < av.length; i++) s += av[i] * bv[i];
  return record(Float64Array.of(s), [A, B], (out) => {
    const g = out.adjoint![0];
    accumulate(A, (i) => g * bv[i], av.length);
    accumulate(B, (i) => g * av[i], av.length);
  });
}

/**
 * out[oo + r] = Σ_c m[om + r cols + c] x[ox + c] for r < rows: a matrix times a vector, with
 * four partial sums a row (one chain of dependent additions would wait on each one's latency).
 * Every form of matVec runs it, so a point's product is the same batched or not.
 */
function matVecKernel(
  m: Float64Array,
  om: number,
  x: Float64Array,
  ox: number,
  rows: number,
  cols: number,
  out: Float64Array,
  oo: number,
): void {
  const c4 = cols - (cols % 4);
  for (let r = 0; r < rows; r++) {
    const o = om + r * cols;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let c = 0;
    for (; c < c4; c += 4) {
      s0 += m[o + c] * x[ox + c];
      s1 += m[o + c + 1] * x[ox + c + 1];
      s2 += m[o + c + 2] * x[ox + c + 2];
      s3 += m[o + c + 3] * x[ox + c + 3];
    }
    for (; c < cols; c++) s0 += m[o + c] * x[ox + c];
    out[oo + r] = s0 + s1 + (s2 + s3);
  }
}

/**
 * The backward pass of {@link matVecKernel}: dv[ox + c] += Σ_r m[om + r cols + c] g[og + r] into
 * the vector's adjoint, and dm[om + r cols + c] += x[ox + c] g[og + r] into the matrix's.
 */
function matVecBackward(
  m: Float64Array,
  om: number,
  x: Float64Array,
  ox: number,
  rows: number,
  cols: number,
  g: Float64Array,
  og: number,
  dv: Float64Array | undefined,
  dm: Float64Array | undefined,
): void {
  if (dv) {
    // Four rows a pass: each element of dv is loaded and stored once per four rows, not once
    // per row (posteriordb's diamonds, 5,000 × 24: a gradient 0.56 -> 0.45 ms, where this pass
    // had taken 1.5x the forward's time).
    const r4 = rows - (rows % 4);
    let r = 0;
    for (; r < r4; r += 4) {
      const g0 = g[og + r];
      const g1 = g[og + r + 1];
      const g2 = g[og + r + 2];
      const g3 = g[og + r + 3];
      const o = om + r * cols;
      for (let c = 0; c < cols; c++)
        dv[ox + c] +=
          m[o + c] * g0 +
          m[o + cols + c] * g1 +
          (m[o + 2 * cols + c] * g2 + m[o + 3 * cols + c] * g3);
    }
    for (; r < rows; r++) {
      const gr = g[og + r];
      const o = om + r * cols;
      for (let c = 0; c < cols; c++) dv[ox + c] += m[o + c] * gr;
    }
  }
  if (dm)
    for (let r = 0; r < rows; r++) {
      const gr = g[og + r];
      const o = om + r * cols;
      for (let c = 0; c < cols; c++) dm[o + c] += x[ox + c] * gr;
    }
}

/**
 * A matrix (row-major, `rows × cols`: a constant such as a design matrix, or a node) times a
 * vector: `[rows]`. The backward pass is one transposed product, so a regression on thousands
 * of rows costs two passes over the matrix.
 */
export function matVec(matrix: Val, rows: number, cols: number, v: Val): Node {
  const M = lift(matrix);
  const V = lift(v);
  if (M.length !== rows * cols)
    throw new Error(`matrix of ${M.length} values is not ${rows}×${cols}`);
  if (V.length !== cols)
    throw new Error(`matVec: vector of length ${V.length}, matrix has ${cols} columns`);
  if (M.batch === 1 && V.batch !== 1) return matTimesRows(M.data, rows, cols, V);
  // One point, or a batch whose matrix depends on the point (a GP's Cholesky factor): row by row.
  const batch = batchOf([M, V]);
  const m = M.data;
  const x = V.data;
  const out = new Float64Array(batch * rows);
  for (let b = 0; b < batch; b++)
    matVecKernel(m, rowStart(M, b), x, rowStart(V, b), rows, cols, out, b * rows);
  return record(
    out,
    [M, V],
    (node) => {
      const g = node.adjoint!;
      const dv = V.variable ? adj(V) : undefined;
      const dm = M.variable ? adj(M) : undefined;
      for (let b = 0; b < batch; b++)
        matVecBackward(m, rowStart(M, b), x, rowStart(V, b), rows, cols, g, b * rows, dv, dm);
    },
    batch,
  );
}

/**
 * A constant matrix times every row of a batched vector: one matrix-matrix product through the
 * installed {@link MatrixProduct} (native BLAS: the design matrix is read once for the batch, in
 * its vector kernels), else {@link matVecKernel} per row.
 */
function matTimesRows(m: Float64Array, rows: number, cols: number, V: Node): Node {
  const batch = V.batch;
  const x = V.data;
  const out = new Float64Array(batch * rows);
  const gemm = matrixProduct;
  if (gemm) gemm(false, true, batch, rows, cols, x, m, out, 0);
  else for (let b = 0; b < batch; b++) matVecKernel(m, 0, x, b * cols, rows, cols, out, b * rows);
  return record(
    out,
    [V],
    (node) => {
      if (!V.variable) return;
      const g = node.adjoint!;
      const dv = adj(V);
      if (gemm) gemm(false, false, batch, cols, rows, g, m, dv, 1);
      else
        for (let b = 0; b < batch; b++)
          matVecBackward(m, 0, x, b * cols, rows, cols, g, b * rows, dv, undefined);
    },
    batch,
  );
}

/**
 * A double-precision matrix product C = op(A) op(B) (+ C when `accumulate` is 1), row-major:
 * op(A) is `m × k`, op(B) `k × n`, each transposed when its flag is set. Where one is installed
 * ({@link useMatrixProduct}: avb's native BLAS in Node), a batched evaluation's products with a
 * design matrix run through it; otherwise through the loops above.
 */
export type MatrixProduct = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  accumulate: 0 | 1,
) => void;

let matrixProduct: MatrixProduct | undefined;

/** Installs (or, with undefined, removes) the matrix product batched evaluations use. */
export function useMatrixProduct(product: MatrixProduct | undefined): void {
  matrixProduct = product;
}

/**
 * An operation computed outside this module: its value from `inputs`, and `backward(g)` giving
 * each input's adjoint contribution from the output's adjoint g (undefined: none).
 */
export function custom(
  value: Float64Array,
  inputs: Node[],
  backward: (g: Float64Array) => (Float64Array | undefined)[],
): Node {
  // Its callers compute `value` from one point's `.value`: batched inputs must not reach them.
  if (batchOf(inputs) !== 1) throw new BatchedReadError('a custom operation on batched inputs');
  return customRows(value, inputs, backward);
}

/**
 * {@link custom} for a batched evaluation: `value` holds `batch` rows (the batch of `inputs`,
 * 1 outside one), and `backward(g)` gives each input's adjoint contribution in the shape of its
 * `data` (all its rows), from g, the output's adjoint of the same shape as `value`.
 */
export function customRows(
  value: Float64Array,
  inputs: Node[],
  backward: (g: Float64Array) => (Float64Array | undefined)[],
): Node {
  const batch = batchOf(inputs);
  if (value.length % batch !== 0) throw new Error(`${value.length} values for ${batch} rows`);
  return record(
    value,
    inputs,
    (out) => {
      const parts = backward(out.adjoint!);
      inputs.forEach((n, k) => {
        const p = parts[k];
        if (!n.variable || !p) return;
        const d = adj(n);
        for (let i = 0; i < p.length; i++) d[i] += p[i];
      });
    },
    batch,
  );
}

/** log Σ exp(a_i), stable (a scalar). */
export function logSumExp(a: Val): Node {
  const A = lift(a);
  if (A.batch !== 1)
    return rowReduce(
      A,
      (row, o, n) => {
        let m = -Infinity;
        for (let i = 0; i < n; i++) m = Math.max(m, row[o + i]);
        if (m === -Infinity) return -Infinity;
        let s = 0;
        for (let i = 0; i < n; i++) s += Math.exp(row[o + i] - m);
        return m + Math.log(s);
      },
      (row, o, n, lse, g, d) => {
        if (lse === -Infinity) return;
        for (let i = 0; i < n; i++) d[o + i] += g * Math.exp(row[o + i] - lse);
      },
    );
  const av = A.value;
  let m = -Infinity;
  for (const x of av) m = Math.max(m, x);
  if (m === -Infinity) return record(Float64Array.of(-Infinity), [A], () => {});
  let s = 0;
  for (const x of av) s += Math.exp(x - m);
  const lse = m + Math.log(s);
  return record(Float64Array.of(lse), [A], (out) => {
    const g = out.adjoint![0];
    accumulate(A, (i) => g * Math.exp(av[i] - lse), av.length);
  });
}

/** log(θ e^a + (1 - θ) e^b): Stan's log_mix of two log densities. */
export function logMix(theta: Val, a: Val, b: Val): Node {
  return ternary(theta, a, b, (t, x, y, d) => {
    const la = Math.log(t) + x;
    const lb = Math.log1p(-t) + y;
    const m = Math.max(la, lb);
    if (m === -Infinity) {
      d[0] = d[1] = d[2] = NaN;
      return -Infinity;
    }
    // Two exponentials and a log per element: the weights' shares give every partial.
    const ra = Math.exp(la - m);
    const rb = Math.exp(lb - m);
    const s = ra + rb;
    d[1] = ra / s;
    d[2] = rb / s;
    d[0] = t > 0 && t < 1 ? d[1] / t - d[2] / (1 - t) : Math.exp(x - m) - Math.exp(y - m);
    return m + Math.log(s);
  });
}

/** log(1 - x). */
export const log1m = (a: Val): Node => log1p(neg(a));

/**
 * x log y, 0 where x is 0 whatever y (Stan's lmultiply): a count's term in a density that the
 * count leaves out is absent, not 0 × −∞ = NaN (bernoulli(1 | p) at p = 1 exactly, which a
 * saturated inv_logit gives, is log 1 = 0).
 */
export const lmultiply = (a: Val, b: Val): Node =>
  binary(
    a,
    b,
    (x, y) => (x === 0 ? 0 : x * Math.log(y)),
    (x, y) => (x === 0 ? 0 : Math.log(y)),
    (x, y) => (x === 0 ? 0 : x / y),
  );

/** x log(1 − y), 0 where x is 0 whatever y (as {@link lmultiply}). */
export const l1mMultiply = (a: Val, b: Val): Node =>
  binary(
    a,
    b,
    (x, y) => (x === 0 ? 0 : x * Math.log1p(-y)),
    (x, y) => (x === 0 ? 0 : Math.log1p(-y)),
    (x, y) => (x === 0 ? 0 : -x / (1 - y)),
  );

/** log(e^a + e^b) element-wise. */
export function logSumExp2(a: Val, b: Val): Node {
  return binary(
    a,
    b,
    (x, y) => {
      const m = Math.max(x, y);
      return m === -Infinity ? -Infinity : m + Math.log(Math.exp(x - m) + Math.exp(y - m));
    },
    (x, _y, o) => Math.exp(x - o),
    (_x, y, o) => Math.exp(y - o),
  );
}
