import * as tf from '../tf.js';
import { add, evaluate, gradient, lift, slice } from '../modelling/autodiff.js';
import type { Node, Val } from '../modelling/autodiff.js';
import type { ParameterBlock } from '../modelling/constraints.js';
import type { BayesianModel } from './model.js';
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
 * Builds a {@link BayesianModel} from a declaration:
 * - `logDensityAndGradient`: the log density plus the transforms' log-Jacobians, and its exact
 *   gradient, by reverse-mode differentiation in doubles (what NUTS and the Laplace
 *   approximation use);
 * - `logJoint`: the same for a batch of tfjs rows, as one custom-gradient op (so the variational
 *   methods train through it) that evaluates each row in doubles;
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
  // A value outside a function's domain (Stan: "rejecting the current sample"), such as a
  // covariance that is not positive definite, is a point of zero density, not a crash.
  const logDensityAndGradient = (z: Float64Array) => {
    try {
      const { value, grad } = gradient(logDensity, z);
      return { logp: value, grad };
    } catch (e) {
      if (e instanceof RangeError) return { logp: -Infinity, grad: new Float64Array(z.length) };
      throw e;
    }
  };

  const reported = (z: ArrayLike<number>): ParameterValues =>
    evaluate((node) => {
      const values = withTransformed(inOrder(constrain(node).values, declaration.reportOrder));
      if (!declaration.generated) return values;
      const extra = declaration.generated(values, new Rng(seedOf(z)));
      return merged(values, extra, 'generated quantity');
    }, z);
  const nameOf = (name: string, value: Node, scalar: boolean): string[] => {
    if (scalar && value.length === 1) return [name];
    const given = declaration.shapes?.[name] ?? declaration.parameters[name]?.shape;
    const shape = given && given.reduce((a, b) => a * b, 1) === value.length ? given : undefined;
    return Array.from({ length: value.length }, (_, i) => `${name}[${indexOf(i, shape)}]`);
  };
  const scalars = new Set(blocks.filter(([, b]) => b.scalar).map(([n]) => n));
  const atZero = reported(new Float64Array(dim));
  const summaryNames = Object.entries(atZero).flatMap(([name, v]) =>
    nameOf(name, v, scalars.has(name) || (!declaration.parameters[name] && v.length === 1)),
  );
  const parameterNames = unconstrainedNames(blocks);
  const logJoint = batchedLogJoint(logDensityAndGradient);

  return {
    name: declaration.name,
    dim,
    parameterNames,
    logJoint,
    logDensityAndGradient,
    summaryNames,
    centredHierarchies: declaration.centredHierarchies,
    summarize: (z) => Object.values(reported(z)).flatMap((v) => Array.from(v.value)),
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
 * A batched tfjs log joint `z [n, dim] -> [n]` from a density in doubles: one custom-gradient
 * op that evaluates each row (value and gradient together) and hands the gradient to backprop,
 * so the variational methods train through a declared model.
 */
function batchedLogJoint(
  logDensityAndGradient: (z: Float64Array) => { logp: number; grad: Float64Array },
): (z: tf.Tensor2D) => tf.Tensor1D {
  return tf.customGrad((...args: unknown[]) => {
    const z = args[0] as tf.Tensor2D;
    const save = args[1] as tf.GradSaveFunc;
    const [n, d] = z.shape;
    const rows = z.dataSync();
    const logp = new Float32Array(n);
    const grads = new Float32Array(n * d);
    for (let r = 0; r < n; r++) {
      const e = logDensityAndGradient(Float64Array.from(rows.subarray(r * d, (r + 1) * d)));
      logp[r] = e.logp;
      grads.set(e.grad, r * d);
    }
    // The gradient is computed with the value (it is as cheap) and kept for the backward pass.
    save([tf.tensor2d(grads, [n, d])]);
    return {
      value: tf.tensor1d(logp),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(tf.expandDims(dy, 1), saved[0])],
    };
  }) as unknown as (z: tf.Tensor2D) => tf.Tensor1D;
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
