import * as ad from '../modelling/autodiff.js';
import { eigenvaluesSym, eigenvectorsSym } from '../modelling/symmetricEigen.js';
import { StanError, binaryOp, transpose } from './operators.js';
import {
  elementsOf,
  flat,
  int,
  isScalar,
  mat,
  numberOf,
  packScalars,
  real,
  sizeOf,
  vec,
} from './values.js';
import type { Scalar, Value } from './values.js';

/**
 * Stan's matrix functions beyond products and Cholesky factors: slices (`block`, `col`, `row`),
 * builders (`to_matrix`, `append_col` of matrices, `add_diag`, `linspaced_*`), products
 * (`crossprod`, `quad_form`, `columns_dot_product`, ...), triangular solves, inverses and
 * determinants. Written on scalar kit operations: meant for the small matrices of models.
 */

type Mat = Extract<Value, { k: 'mat' }>;

/**
 * Stan's thin SVD C = U diag(d) Vᵀ (d descending, K = min(rows, cols)) through the symmetric
 * eigendecomposition of the smaller Gram matrix: for K = cols, d² and V are CᵀC's eigenvalues
 * and vectors and U = C V diag(1/d); for K = rows, from CCᵀ the other way round. U and V then
 * agree in order and sign, as products like V Uᵀ (posteriordb's statrml_var) need, and every
 * piece is differentiable.
 */
function svd(name: string, c: Mat): Value {
  const tall = c.rows >= c.cols;
  const k = tall ? c.cols : c.rows;
  const gram = tall ? binaryOp('*', transpose(c), c) : binaryOp('*', c, transpose(c));
  const g = flat(gram);
  // Descending: the ascending eigenpairs reversed.
  const values = elementsOf(vec(eigenvaluesSym(g, k), k)).reverse();
  const d = values.map((x) => ad.sqrt(x));
  if (name === 'singular_values') return vec(packScalars(d), k);
  const vectors = grid(asMatrix(mat(eigenvectorsSym(g, k), k, k), name)).map((row) =>
    row.slice().reverse(),
  );
  const w = fromGrid(vectors); // CᵀC's (tall) or CCᵀ's (wide) vectors, descending
  // A zero singular value leaves its column of the other side undefined (any unit vector will
  // do, as for Stan); a zero column keeps the value finite (C = 0 at the origin of R^d).
  const inverse = vec(packScalars(d.map((x) => (ad.lift(x).value[0] > 0 ? ad.div(1, x) : 0))), k);
  if ((name === 'svd_V') === tall) return w;
  // The other side: C V diag(1/d) (tall, U) or Cᵀ U diag(1/d) (wide, V).
  const other = binaryOp('*', tall ? c : transpose(c), w);
  return matrixFunction('diag_post_multiply', [other, inverse])!;
}

function asMatrix(v: Value, what: string): Mat {
  if (v.k !== 'mat') throw new StanError(`${what} takes a matrix`);
  return v;
}

const num = (v: Value): number => {
  if (!isScalar(v)) throw new StanError('expected an integer');
  return numberOf(v.v);
};

/** A matrix's cells as a row-major grid of scalars. */
function grid(m: Mat): Scalar[][] {
  return Array.from({ length: m.rows }, (_, i) =>
    Array.from({ length: m.cols }, (_, j) => m.s.get(i * m.cols + j)),
  );
}

const fromGrid = (g: Scalar[][]): Value => mat(packScalars(g.flat()), g.length, g[0]?.length ?? 0);

/** x = L⁻¹ B for lower-triangular L (forward substitution), B given by columns. */
function solveLower(L: Scalar[][], columns: Scalar[][]): Scalar[][] {
  const n = L.length;
  return columns.map((b) => {
    const x: Scalar[] = [];
    for (let i = 0; i < n; i++) {
      let r: Scalar = b[i];
      for (let j = 0; j < i; j++) r = ad.sub(r, ad.mul(L[i][j], x[j]));
      x.push(ad.div(r, L[i][i]));
    }
    return x;
  });
}

const transposeGrid = (g: Scalar[][]): Scalar[][] =>
  g[0] ? g[0].map((_, j) => g.map((row) => row[j])) : [];

/** LU decomposition with partial pivoting (pivots chosen by value): rows permuted, sign of the permutation. */
function lu(m: Mat): { U: Scalar[][]; L: Scalar[][]; perm: number[]; sign: number } {
  const n = m.rows;
  if (m.cols !== n) throw new StanError('expected a square matrix');
  const U = grid(m);
  const L: Scalar[][] = Array.from({ length: n }, () => new Array<Scalar>(n).fill(0));
  const perm = Array.from({ length: n }, (_, i) => i);
  let sign = 1;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++)
      if (Math.abs(numberOf(U[i][k])) > Math.abs(numberOf(U[p][k]))) p = i;
    if (numberOf(U[p][k]) === 0) throw new RangeError('the matrix is singular');
    if (p !== k) {
      [U[p], U[k]] = [U[k], U[p]];
      [L[p], L[k]] = [L[k], L[p]];
      [perm[p], perm[k]] = [perm[k], perm[p]];
      sign = -sign;
    }
    L[k][k] = 1;
    for (let i = k + 1; i < n; i++) {
      const f = ad.div(U[i][k], U[k][k]);
      L[i][k] = f;
      for (let j = k; j < n; j++) U[i][j] = ad.sub(U[i][j], ad.mul(f, U[k][j]));
    }
  }
  return { U, L, perm, sign };
}

/** A⁻¹ by LU: solve L y = P e_j, then U x = y (as a lower solve on the reversed system). */
function inverse(m: Mat): Value {
  const { U, L, perm } = lu(m);
  const n = m.rows;
  const identity = (j: number) => perm.map((p) => (p === j ? 1 : 0));
  const ys = solveLower(
    L,
    Array.from({ length: n }, (_, j) => identity(j)),
  );
  // U x = y  ⇔  (J U J)(J x) = J y with J the reversal: J U J is lower-triangular.
  const rev = <T>(xs: T[]) => [...xs].reverse();
  const UL = rev(U.map(rev));
  const xs = solveLower(UL, ys.map(rev)).map(rev);
  return fromGrid(transposeGrid(xs));
}

function logAbsDet(m: Mat): Scalar {
  const { U } = lu(m);
  return ad.total(...U.map((row, i) => ad.log(ad.abs(row[i]))));
}

/** The matrix function `name`, or undefined when it is not one: slices and builders here. */
export function matrixFunction(name: string, a: Value[]): Value | undefined {
  switch (name) {
    case 'block': {
      const m = asMatrix(a[0], name);
      const [i, j, r, c] = a.slice(1).map(num);
      return fromGrid(
        grid(m)
          .slice(i - 1, i - 1 + r)
          .map((row) => row.slice(j - 1, j - 1 + c)),
      );
    }
    case 'col':
    case 'row': {
      const m = asMatrix(a[0], name);
      const k = num(a[1]) - 1;
      const cells = name === 'col' ? grid(m).map((row) => row[k]) : grid(m)[k];
      if (!cells || cells.some((x) => x === undefined))
        throw new StanError(`${name} ${k + 1} is outside the matrix`);
      return vec(packScalars(cells), cells.length, name === 'row');
    }
    case 'sub_col':
    case 'sub_row': {
      // sub_col(m, i, j, n): n cells down from (i, j); sub_row(m, i, j, n): n cells across.
      const m = asMatrix(a[0], name);
      const [i, j, n] = a.slice(1).map(num);
      const down = name === 'sub_col';
      const g = grid(m);
      const cells = Array.from({ length: n }, (_, k) =>
        down ? g[i - 1 + k]?.[j - 1] : g[i - 1]?.[j - 1 + k],
      );
      if (n < 0 || i < 1 || j < 1 || cells.some((x) => x === undefined))
        throw new StanError(
          `${name}(${i}, ${j}, ${n}) runs outside the ${m.rows} × ${m.cols} matrix`,
        );
      return vec(packScalars(cells as Scalar[]), n, !down);
    }
    case 'to_matrix':
      return toMatrix(a);
    case 'append_col':
    case 'append_row':
      return a[0].k === 'mat' || a[1].k === 'mat' ? appendMatrices(name, a[0], a[1]) : undefined;
    case 'add_diag': {
      const m = asMatrix(a[0], name);
      const d = isScalar(a[1]) ? undefined : elementsOf(a[1]);
      const g = grid(m).map((row, i) =>
        row.map((x, j) => (i === j ? ad.add(x, d ? d[i] : (a[1] as { v: Scalar }).v) : x)),
      );
      return fromGrid(g);
    }
    case 'diag_post_multiply': {
      const m = asMatrix(a[0], name);
      const d = elementsOf(a[1]);
      return fromGrid(grid(m).map((row) => row.map((x, j) => ad.mul(x, d[j]))));
    }
    case 'quad_form_diag': {
      const m = asMatrix(a[0], name);
      const d = elementsOf(a[1]);
      return fromGrid(grid(m).map((row, i) => row.map((x, j) => ad.mul(x, ad.mul(d[i], d[j])))));
    }
  }
  return algebra(name, a);
}

/** Products, traces, solves, inverses and determinants. */
function algebra(name: string, a: Value[]): Value | undefined {
  switch (name) {
    case 'crossprod':
      return binaryOp('*', transpose(a[0]), a[0]);
    case 'tcrossprod':
      return binaryOp('*', a[0], transpose(a[0]));
    case 'multiply_lower_tri_self_transpose': {
      const m = asMatrix(a[0], name);
      const lower = fromGrid(grid(m).map((row, i) => row.map((x, j) => (j <= i ? x : 0))));
      return binaryOp('*', lower, transpose(lower));
    }
    case 'quad_form':
    case 'quad_form_sym': {
      const out = binaryOp('*', binaryOp('*', transpose(a[1]), a[0]), a[1]);
      return out.k === 'mat' && out.rows === 1 && out.cols === 1 ? real(out.s.get(0)) : out;
    }
    case 'trace': {
      const m = asMatrix(a[0], name);
      return real(ad.total(...grid(m).map((row, i) => row[i])));
    }
    case 'columns_dot_product':
    case 'rows_dot_product':
    case 'columns_dot_self':
    case 'rows_dot_self':
      return dotProducts(name, a);
    case 'mdivide_left_tri_low': {
      const L = grid(asMatrix(a[0], name));
      if (a[1].k === 'mat')
        return fromGrid(transposeGrid(solveLower(L, transposeGrid(grid(a[1])))));
      const x = solveLower(L, [elementsOf(a[1])])[0];
      return vec(packScalars(x), x.length);
    }
    case 'mdivide_right_tri_low': {
      // b L⁻¹ = (L⁻ᵀ bᵀ)ᵀ: solve with Lᵀ (upper) by reversing to a lower system.
      const L = grid(asMatrix(a[1], name));
      const rev = <T>(xs: T[]) => [...xs].reverse();
      const Ut = rev(transposeGrid(L).map(rev));
      const rows = a[0].k === 'mat' ? grid(a[0]) : [elementsOf(a[0])];
      const solved = solveLower(Ut, rows.map(rev)).map(rev);
      return a[0].k === 'mat'
        ? fromGrid(solved)
        : vec(packScalars(solved[0]), solved[0].length, true);
    }
    case 'inverse':
    case 'inverse_spd':
      return inverse(asMatrix(a[0], name));
    case 'log_determinant':
    case 'log_determinant_spd':
      return real(logAbsDet(asMatrix(a[0], name)));
    case 'determinant': {
      const m = asMatrix(a[0], name);
      const { U, sign } = lu(m);
      return real(
        ad.mul(
          sign,
          U.reduce<Scalar>((p, row, i) => ad.mul(p, row[i]), 1),
        ),
      );
    }
    case 'singular_values':
    case 'svd_U':
    case 'svd_V':
      return svd(name, asMatrix(a[0], name));
    case 'eigenvalues_sym': {
      const m = asMatrix(a[0], name);
      return vec(eigenvaluesSym(flat(a[0]), m.rows), m.rows);
    }
    case 'eigenvectors_sym': {
      const m = asMatrix(a[0], name);
      return mat(eigenvectorsSym(flat(a[0]), m.rows), m.rows, m.rows);
    }
    case 'mdivide_left':
    case 'mdivide_left_spd':
      return binaryOp('*', inverse(asMatrix(a[0], name)), a[1]);
    case 'mdivide_right':
    case 'mdivide_right_spd':
      return binaryOp('*', a[0], inverse(asMatrix(a[1], name)));
  }
  return undefined;
}

function dotProducts(name: string, a: Value[]): Value {
  const byColumn = name.startsWith('columns');
  const self = name.endsWith('self');
  const lines = (v: Value): Scalar[][] => {
    if (v.k === 'mat') return byColumn ? transposeGrid(grid(v)) : grid(v);
    const e = elementsOf(v);
    // A vector is one column; a row vector one row.
    return (v.k === 'vec' && v.row) === byColumn ? e.map((x) => [x]) : [e];
  };
  const A = lines(a[0]);
  const B = self ? A : lines(a[1]);
  const out = A.map((x, i) => ad.dot(packScalars(x), packScalars(B[i])));
  return vec(packScalars(out), out.length, byColumn);
}

/** to_matrix(v, m, n) (column-major fill, Stan's default), to_matrix(array2d), to_matrix(m, r, c). */
function toMatrix(a: Value[]): Value {
  const [x] = a;
  if (a.length === 1) {
    if (x.k === 'mat') return x;
    if (x.k === 'vec') return mat(flat(x), x.row ? 1 : x.s.n, x.row ? x.s.n : 1);
    if (x.k === 'arr' && x.items.every((r) => r.k === 'arr'))
      return fromGrid(x.items.map((r) => elementsOf(r)));
    throw new StanError('to_matrix takes a matrix, vector or 2-d array');
  }
  const [m, n] = [num(a[1]), num(a[2])];
  const e = x.k === 'mat' ? transposeGrid(grid(x)).flat() : elementsOf(x);
  if (e.length !== m * n) throw new StanError(`to_matrix: ${e.length} values are not ${m}×${n}`);
  // The fourth argument is Stan's col_major flag: 0 fills row by row.
  const rowMajor = a.length > 3 && num(a[3]) === 0;
  return fromGrid(
    Array.from({ length: m }, (_, i) =>
      Array.from({ length: n }, (_, j) => e[rowMajor ? i * n + j : j * m + i]),
    ),
  );
}

function appendMatrices(name: string, x: Value, y: Value): Value {
  const gridOf = (v: Value, asColumn: boolean): Scalar[][] =>
    v.k === 'mat' ? grid(v) : asColumn ? elementsOf(v).map((e) => [e]) : [elementsOf(v)];
  const byCol = name === 'append_col';
  const [gx, gy] = [gridOf(x, byCol), gridOf(y, byCol)];
  if (byCol) {
    if (gx.length !== gy.length) throw new StanError('append_col: the row counts differ');
    return fromGrid(gx.map((row, i) => [...row, ...gy[i]]));
  }
  if (gx[0].length !== gy[0].length) throw new StanError('append_row: the column counts differ');
  return fromGrid([...gx, ...gy]);
}

/** Functions over arrays and sizes: `dims`, `prod`, `reverse`, sorting, `linspaced_*`, `append_array`. */
export function arrayFunction(name: string, a: Value[]): Value | undefined {
  switch (name) {
    case 'dims': {
      const d: number[] = [];
      let v = a[0];
      while (v.k === 'arr') {
        d.push(v.items.length);
        if (!v.items.length) break;
        v = v.items[0];
      }
      if (v.k === 'mat') d.push(v.rows, v.cols);
      else if (v.k === 'vec') d.push(v.s.n);
      return { k: 'arr', items: d.map(int) };
    }
    case 'prod': {
      const e = elementsOf(a[0]);
      const allInt = a[0].k === 'arr' && a[0].items.every((x) => x.k === 'int');
      const p = e.reduce<Scalar>(
        (acc, x) => (typeof acc === 'number' && typeof x === 'number' ? acc * x : ad.mul(acc, x)),
        1,
      );
      return allInt ? int(p as number) : real(p);
    }
    case 'reverse':
      if (a[0].k === 'arr') return { k: 'arr', items: [...a[0].items].reverse() };
      return vec(
        packScalars(elementsOf(a[0]).reverse()),
        sizeOf(a[0]),
        a[0].k === 'vec' && a[0].row,
      );
    case 'sort_asc':
    case 'sort_desc': {
      const e = elementsOf(a[0]).map((x, i) => ({ x, i }));
      const s = name === 'sort_asc' ? 1 : -1;
      e.sort((p, q) => s * (numberOf(p.x) - numberOf(q.x)));
      if (a[0].k === 'arr')
        return { k: 'arr', items: e.map((p) => (a[0] as { items: Value[] }).items[p.i]) };
      return vec(packScalars(e.map((p) => p.x)), e.length, a[0].k === 'vec' && a[0].row);
    }
    case 'sort_indices_asc':
    case 'sort_indices_desc': {
      const e = elementsOf(a[0]).map((x, i) => ({ x: numberOf(x), i }));
      const s = name === 'sort_indices_asc' ? 1 : -1;
      e.sort((p, q) => s * (p.x - q.x));
      return { k: 'arr', items: e.map((p) => int(p.i + 1)) };
    }
    case 'linspaced_vector':
    case 'linspaced_row_vector':
    case 'linspaced_array': {
      const n = num(a[0]);
      const [lo, hi] = [num(a[1]), num(a[2])];
      const xs = Array.from({ length: n }, (_, i) =>
        n === 1 ? hi : lo + ((hi - lo) * i) / (n - 1),
      );
      if (name === 'linspaced_array') return { k: 'arr', items: xs.map(real) };
      return vec(Float64Array.from(xs), n, name === 'linspaced_row_vector');
    }
    case 'append_array':
      if (a[0].k !== 'arr' || a[1].k !== 'arr')
        throw new StanError('append_array takes two arrays');
      return { k: 'arr', items: [...a[0].items, ...a[1].items] };
  }
  return undefined;
}
