import * as tf from '../tf.js';
import { add, evaluate, gradient, gradientRows, lift, slice } from '../modelling/autodiff.js';
import type { Node, Val } from '../modelling/autodiff.js';
import type { ParameterBlock } from '../modelling/constraints.js';
import type { BayesianModel, RowsEvaluation } from './model.js';
import { Rng } from '../random/rng.js';

/** Parameter values inside a model's functions: one node per declared or transformed name. */
export type ParameterValues = Record<string, Node>;

/**
 * A model declared the Stan way: constrained parameter blocks, optional transformed parameters,
 * and a log density written with avb's distributions (`../modelling/distributions.ts`) on the
 * constrained values. {@link declareModel} turns it into a {@link BayesianModel} on R^d.
 */
export interface ModelDeclaration {
  name: string;
  /** The parameters, in order (Stan's `parameters` block). Later bounds may use earlier values. */
  parameters: Record<string, ParameterBlock>;
  /**
   * The order in which the parameters are reported, where it is not that of `parameters` (which
   * is the order they are constrained in: a Stan program's hierarchical parameters non-centred
   * by avb come after the parameters their offset and multiplier read).
   */
  reportOrder?: readonly string[];
  /** Parameters sampled as a centred hierarchy (see {@link BayesianModel.centredHierarchies}). */
  centredHierarchies?: readonly string[];
  /** Parameters sampled as written whose location only is another parameter (see {@link BayesianModel.centredLocations}). */
  centredLocations?: readonly string[];
  /** How avb samples the model where that differs from its declaration (see {@link BayesianModel.notes}). */
  notes?: readonly string[];
  /** Stan's `transformed parameters`: reported beside the parameters, and passed on. */
  transformed?: (p: ParameterValues) => Record<string, Val>;
  /** log p(parameters, data) up to a constant, on the constrained values (Stan's `model`). */
  logDensity: (p: ParameterValues) => Val;
  /**
   * Stan's `generated quantities`: values computed per draw (posterior-predictive replicates,
   * derived quantities), reported after the parameters and transformed ones. `rng` is seeded
   * from the draw itself, so a draw always generates the same values.
   */
  generated?: (p: ParameterValues, rng: Rng) => Record<string, Val>;
  /**
   * The shape of a reported quantity with more than one index (outermost first, its values
   * row-major): named Stan's way, `x[i,j,k]`, as posteriordb's reference draws are. Parameters
   * may give theirs in their block's `shape` instead.
   */
  shapes?: Record<string, readonly number[]>;
}

/** A declared model as avb runs it, keeping its declaration (for tests and tools). */
export interface DeclaredModel extends BayesianModel {
  declaration: ModelDeclaration;
  /** The unconstrained point of constrained parameter values (Stan's `unconstrain_pars`). */
  unconstrain: (values: Record<string, ArrayLike<number> | number>) => Float64Array;
}

/**
 * The log density and its gradient at z; a value outside a function's domain (Stan: "rejecting
 * the current sample"), such as a covariance that is not positive definite, is a point of zero
 * density, not a crash.
 */
function zeroOutsideDomain(
  logDensity: (z: Node) => Node,
  z: Float64Array,
): { logp: number; grad: Float64Array } {
  try {
    const { value, grad } = gradient(logDensity, z);
    return { logp: value, grad };
  } catch (e) {
    if (e instanceof RangeError) return { logp: -Infinity, grad: new Float64Array(z.length) };
    throw e;
  }
}

/**
 * Builds a {@link BayesianModel} from a declaration:
 * - `logDensityAndGradient`: the log density plus the transforms' log-Jacobians, and its exact
 *   gradient, by reverse-mode differentiation in doubles (what NUTS and the Laplace
 *   approximation use);
 * - `logJoint`: the same for a batch of tfjs rows, as one custom-gradient op (so the variational
 *   methods train through it) that evaluates the rows in doubles, together where the model's
 *   code allows (`gradientRows`), else one by one;
 * - reported names the Stan way (`sigma`, `beta[1]`, ...): parameters, then transformed ones.
 *
 * ```ts
 * declareModel({
 *   name: 'regression',
 *   parameters: { beta: vector(2), sigma: real({ lower: 0 }) },
 *   logDensity: ({ beta, sigma }) => normal(y, add(beta.at(0), mul(beta.at(1), x)), sigma),
 * });
 * ```
 */
export function declareModel(declaration: ModelDeclaration): DeclaredModel {
  const blocks = Object.entries(declaration.parameters);
  if (blocks.length === 0) throw new Error(`model ${declaration.name} declares no parameters`);
  const offsets: number[] = [];
  let dim = 0;
  for (const [, block] of blocks) {
    offsets.push(dim);
    dim += block.free;
  }

  /** The constrained values of z and the transforms' summed log-Jacobian. */
  const constrain = (z: Node): { values: ParameterValues; logJacobian: Node } => {
    const values: ParameterValues = {};
    let logJacobian: Node = lift(0);
    blocks.forEach(([name, block], i) => {
      const c = block.constrain(slice(z, offsets[i], block.free), values);
      values[name] = c.value;
      logJacobian = add(logJacobian, c.logJacobian);
    });
    return { values, logJacobian };
  };
  const withTransformed = (values: ParameterValues): ParameterValues =>
    declaration.transformed
      ? merged(values, declaration.transformed(values), 'transformed parameter')
      : values;
  const logDensity = (z: Node): Node => {
    const { values, logJacobian } = constrain(z);
    return add(lift(declaration.logDensity(withTransformed(values))), logJacobian);
  };
  const logDensityAndGradient = (z: Float64Array) => zeroOutsideDomain(logDensity, z);

  const generated = generatedQuantities(
    (node) => withTransformed(inOrder(constrain(node).values, declaration.reportOrder)),
    declaration.generated,
    dim,
  );
  const nameOf = (name: string, value: Node, scalar: boolean): string[] => {
    if (scalar && value.length === 1) return [name];
    const given = declaration.shapes?.[name] ?? declaration.parameters[name]?.shape;
    const shape = given && given.reduce((a, b) => a * b, 1) === value.length ? given : undefined;
    return Array.from({ length: value.length }, (_, i) => `${name}[${indexOf(i, shape)}]`);
  };
  const rows = rowsEvaluator(logDensityAndGradient, (zs, n) => gradientRows(logDensity, zs, n));
  const scalars = new Set(blocks.filter(([, b]) => b.scalar).map(([n]) => n));
  const atZero = generated.reported(new Float64Array(dim));
  const summaryNames = Object.entries(atZero).flatMap(([name, v]) =>
    nameOf(name, v, scalars.has(name) || (!declaration.parameters[name] && v.length === 1)),
  );

  return {
    name: declaration.name,
    dim,
    parameterNames: unconstrainedNames(blocks),
    logJoint: batchedLogJoint(rows),
    logDensityAndGradient,
    logDensityAndGradientRows: (zs, n) => rows(zs, n, dim),
    summaryNames,
    centredHierarchies: declaration.centredHierarchies,
    centredLocations: declaration.centredLocations,
    notes: generated.note ? [...(declaration.notes ?? []), generated.note] : declaration.notes,
    ...(generated.count !== undefined
      ? {
          generatedQuantities: {
            names: summaryNames.slice(summaryNames.length - generated.count),
            lastError: generated.lastError,
          },
        }
      : {}),
    summarize: (z) => Object.values(generated.reported(z)).flatMap((v) => Array.from(v.value)),
    declaration,
    unconstrain: (values) => {
      const z = new Float64Array(dim);
      const earlier: ParameterValues = {};
      blocks.forEach(([name, block], i) => {
        const given = values[name];
        if (given === undefined) throw new Error(`no value for parameter '${name}'`);
        const x = typeof given === 'number' ? [given] : given;
        z.set(block.unconstrain(x, earlier), offsets[i]);
        earlier[name] = lift(x);
      });
      return z;
    },
  };
}

/**
 * The reported values of a draw, its generated quantities (if any) after the rest. The block is
 * tried at z = 0 and a few more points first: one that fails at all of them (a function avb does
 * not run) is left out with a note, so the fit still runs; one that fails at a later draw (a
 * family's parameter outside its domain there) reports NaN for that draw, and the fit's warnings
 * count those draws (`compare.ts`).
 */
function generatedQuantities(
  own: (node: Node) => ParameterValues,
  generate: ModelDeclaration['generated'],
  dim: number,
): {
  reported: (z: ArrayLike<number>) => ParameterValues;
  /** How many reported scalars are generated, where the block runs. */
  count?: number;
  note?: string;
  lastError: () => string | undefined;
} {
  // The generated values' sizes, set where the block first runs (until then a failure is the
  // block's, not a draw's).
  let shape: Record<string, number> | undefined;
  let lastError: string | undefined;
  const reported = (z: ArrayLike<number>): ParameterValues =>
    evaluate((node) => {
      const values = own(node);
      if (!generate) return values;
      let extra: Record<string, Val>;
      try {
        extra = generate(values, new Rng(seedOf(z)));
        shape ??= Object.fromEntries(
          Object.entries(extra).map(([name, v]) => [name, lift(v).length]),
        );
      } catch (e) {
        if (!shape || !(e instanceof Error)) throw e;
        lastError = e.message;
        extra = Object.fromEntries(
          Object.entries(shape).map(([name, n]) => [name, new Float64Array(n).fill(NaN)]),
        );
      }
      return merged(values, extra, 'generated quantity');
    }, z);
  const result = { reported, lastError: () => lastError };
  if (!generate) return result;
  const zero = new Float64Array(dim);
  // z = 0 can be where a draw is invalid (a scale of exactly 0): a few more points are tried.
  let first: ParameterValues | undefined;
  let failure: unknown;
  for (let k = 0; k < 5 && !first; k++) {
    try {
      first = reported(k === 0 ? zero : Float64Array.from(zero, (_, i) => Math.sin(1.7 * i + k)));
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      failure ??= e;
    }
  }
  if (!first) {
    generate = undefined;
    return { ...result, note: `generated quantities are not run: ${(failure as Error).message}` };
  }
  return { ...result, count: Object.values(shape!).reduce((a, b) => a + b, 0) };
}

/**
 * Points evaluated together: enough that a model's small operations cost once for many points,
 * few enough that a long vector's rows stay in cache (64 at once ran slower than one by one on
 * posteriordb's 1,000-point mixture; 16 at once was 1.1-3x faster than one by one on the
 * mixture, the HMM, kidiq and diamonds, measured on this 2-core machine under load).
 */
const ROWS_TOGETHER = 16;

/**
 * Values and gradients of n points (rows of `zs`, `n × d`) from a density in doubles. The points
 * are evaluated together ({@link gradientRows}: one tape for a chunk of them, a design matrix
 * read once), which on posteriordb's regressions and HMM is several times faster than one point
 * at a time. A model whose code has no batched form (it reads a parameter's `.value`, or uses an
 * operation written for one point) throws on the first chunk and is evaluated point by point
 * from then on. The first chunk is also evaluated point by point and the two compared: a
 * batched evaluation that disagrees with the model's own is never used.
 */
function rowsEvaluator(
  logDensityAndGradient: (z: Float64Array) => { logp: number; grad: Float64Array },
  together: (zs: Float64Array, n: number) => RowsEvaluation,
): (zs: Float64Array, n: number, d: number) => RowsEvaluation {
  let mode: 'untried' | 'together' | 'one by one' = 'untried';
  const oneByOne = (zs: Float64Array, n: number, d: number): RowsEvaluation => {
    const values = new Float64Array(n);
    const grads = new Float64Array(n * d);
    for (let r = 0; r < n; r++) {
      const e = logDensityAndGradient(zs.slice(r * d, (r + 1) * d));
      values[r] = e.logp;
      grads.set(e.grad, r * d);
    }
    return { values, grads };
  };
  /** Points start .. start + n - 1 together, or one by one where they cannot be. */
  const chunk = (zs: Float64Array, start: number, n: number, d: number): RowsEvaluation => {
    const rows = zs.subarray(start * d, (start + n) * d);
    if (mode === 'one by one' || n < 2) return oneByOne(rows, n, d);
    let batch: RowsEvaluation;
    try {
      batch = together(rows, n);
    } catch (e) {
      // A point outside a function's domain (RangeError: zero density) fails the whole chunk,
      // which is then evaluated point by point. Anything else means no batched form.
      if (!(e instanceof RangeError)) mode = 'one by one';
      return oneByOne(rows, n, d);
    }
    if (mode === 'together') return batch;
    const single = oneByOne(rows, n, d);
    mode = agree(batch, single) ? 'together' : 'one by one';
    return single;
  };
  const evaluateRows = (zs: Float64Array, n: number, d: number): RowsEvaluation => {
    const values = new Float64Array(n);
    const grads = new Float64Array(n * d);
    for (let start = 0; start < n; start += ROWS_TOGETHER) {
      const rows = Math.min(ROWS_TOGETHER, n - start);
      const e = chunk(zs, start, rows, d);
      values.set(e.values, start);
      grads.set(e.grads, start * d);
    }
    return { values, grads };
  };
  return evaluateRows;
}

/**
 * The largest gradient component a batched log joint hands to tfjs: far inside float32's range
 * (3.4e38), so that the whitening's product and the fit's sums of squares stay finite too.
 */
const FLOAT32_SAFE = 1e30;

/**
 * A batched tfjs log joint `z [n, dim] -> [n]` from {@link rowsEvaluator}'s evaluation: one
 * custom-gradient op that evaluates the rows (values and gradients together) and hands the
 * gradients to backprop, so the variational methods train through a declared model.
 */
function batchedLogJoint(
  evaluateRows: (zs: Float64Array, n: number, d: number) => RowsEvaluation,
): (z: tf.Tensor2D) => tf.Tensor1D {
  return tf.customGrad((...args: unknown[]) => {
    const z = args[0] as tf.Tensor2D;
    const save = args[1] as tf.GradSaveFunc;
    const [n, d] = z.shape;
    const { values, grads } = evaluateRows(Float64Array.from(z.dataSync()), n, d);
    // A row whose gradient is not finite is outside the support (-inf, a zero gradient), as NUTS
    // and the mode search count it: the fits then drop it from their batch (variational.ts).
    for (let r = 0; r < n; r++) {
      const g = grads.subarray(r * d, (r + 1) * d);
      if (!g.every(Number.isFinite)) {
        values[r] = -Infinity;
        g.fill(0);
        continue;
      }
      // A gradient finite in doubles but past float32's range (accel_gp one Laplace sd out)
      // keeps its direction, shortened into range: the fits clip its length (batchLogJoint.ts).
      const big = g.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      if (big > FLOAT32_SAFE) for (let j = 0; j < d; j++) g[j] *= FLOAT32_SAFE / big;
    }
    // The gradient is computed with the value (it is as cheap) and kept for the backward pass.
    save([tf.tensor2d(Float32Array.from(grads), [n, d])]);
    return {
      value: tf.tensor1d(Float32Array.from(values)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(tf.expandDims(dy, 1), saved[0])],
    };
  }) as unknown as (z: tf.Tensor2D) => tf.Tensor1D;
}

/**
 * Whether a batched evaluation gives the model's own values and gradients: the same arithmetic
 * in the same order but where a product runs through BLAS, so equal but for the last bits. A
 * gradient is compared on the scale of the chunk's largest component (a component that cancels
 * to near zero keeps the rounding of its terms). 1e-9 relative is far above double rounding over
 * a model's sums and far below any real mistake, such as every row given the first row's value.
 */
function agree(a: RowsEvaluation, b: RowsEvaluation): boolean {
  const close = (x: number, y: number, scale: number) =>
    x === y || (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= 1e-9 * scale;
  const gradScale =
    1 + b.grads.reduce((m, g) => (Number.isFinite(g) ? Math.max(m, Math.abs(g)) : m), 0);
  return (
    a.values.every((x, i) => close(x, b.values[i], 1 + Math.abs(b.values[i]))) &&
    a.grads.every((x, i) => close(x, b.grads[i], gradScale))
  );
}

/** The values with the names of `order` first, in that order. */
function inOrder(values: ParameterValues, order: readonly string[] | undefined): ParameterValues {
  if (!order) return values;
  const ordered: ParameterValues = {};
  for (const name of order) ordered[name] = values[name];
  return Object.assign(ordered, values);
}

/** The values with more named ones added (transformed or generated), refusing a name clash. */
function merged(
  values: ParameterValues,
  extra: Record<string, Val>,
  what: string,
): ParameterValues {
  const all = { ...values };
  for (const [name, v] of Object.entries(extra)) {
    if (name in values) throw new Error(`${what} '${name}' has the name of a parameter`);
    all[name] = lift(v);
  }
  return all;
}

/** Stan's 1-based index of element `i` of a row-major array of `shape`: `2,3` (or `7` in 1-D). */
function indexOf(i: number, shape: readonly number[] | undefined): string {
  if (!shape || shape.length < 2) return String(i + 1);
  const out: number[] = [];
  for (let k = shape.length - 1; k >= 0; k--) {
    out.unshift((i % shape[k]) + 1);
    i = Math.floor(i / shape[k]);
  }
  return out.join(',');
}

/** A 32-bit seed from a draw's exact bits (FNV-1a): the same draw, the same generated values. */
function seedOf(z: ArrayLike<number>): number {
  const bytes = new Uint8Array(Float64Array.from(z).buffer);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** Names of the unconstrained coordinates: a block's own for unbounded reals, else marked. */
function unconstrainedNames(blocks: [string, ParameterBlock][]): string[] {
  return blocks.flatMap(([name, block]) => {
    const names = Array.from({ length: block.free }, (_, i) =>
      block.scalar ? name : `${name}[${i + 1}]`,
    );
    const identity = /^(real|vector\[\d+\])$/.test(block.kind);
    return identity ? names : names.map((n) => `${n} (unconstrained)`);
  });
}
