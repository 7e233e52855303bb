import * as tf from '../tf.js';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AvbUserError } from '../errors.js';
import { eightSchoolsClassic, eightSchoolsPaper } from './eightSchoolsModel.js';
import type { BayesianModel } from './model.js';
import { declareModel } from './declaredModel.js';
import type { ModelDeclaration } from './declaredModel.js';
import { randomFiniteStart } from './laplace.js';
import { MODEL_KIT } from './modelKit.js';
import { stanModel } from '../stan/stanModel.js';
import { Rng } from '../random/rng.js';

/** Built-in models and their variants; the first variant is the default. */
export const BUILT_IN_MODELS: Record<string, Record<string, () => BayesianModel>> = {
  'eight-schools': { paper: eightSchoolsPaper, classic: eightSchoolsClassic },
};

/**
 * The argument a model module's exported function is called with: the tfjs namespace (so
 * `(tf) => ...` modules keep working) extended with `avb` (the {@link MODEL_KIT}: parameter
 * blocks, distributions, operations, `model`) and `data` (the `--data` file's contents, or
 * undefined).
 */
export function moduleArgument(
  data: unknown,
): typeof tf & { avb: typeof MODEL_KIT; data: unknown } {
  return Object.assign(Object.create(tf) as typeof tf, { avb: MODEL_KIT, data });
}

/**
 * Resolves `avb infer <model>`: a built-in name (with `variant`), or the path of an ES module
 * whose default export (or export `model`) is a {@link BayesianModel}, a {@link ModelDeclaration}
 * (parameters and logDensity), or a function returning either, called with
 * {@link moduleArgument} (tfjs, the modelling kit `avb` and `data`), so the module needs no
 * install of its own. Checks the model before any computing: its fields, and a finite log joint
 * of the right shape at z = 0, where samplers and variational families start. Every failure is
 * an {@link AvbUserError} naming the fix. A Stan program's hierarchical normals are sampled
 * non-centred unless `noncentre` is false (`avb infer --centred`; `stan/autoNoncentre.ts`).
 */
export async function loadModel(
  spec: string,
  variant?: string,
  data?: unknown,
  options: { noncentre?: boolean; seed?: number } = {},
): Promise<BayesianModel> {
  if (options.noncentre === false && !spec.endsWith('.stan'))
    throw new AvbUserError('--centred applies to Stan programs only; remove it');
  const builtIn = BUILT_IN_MODELS[spec];
  if (builtIn) {
    const name = variant ?? Object.keys(builtIn)[0];
    const make = builtIn[name];
    if (!make) {
      throw new AvbUserError(
        `unknown variant '${name}' of ${spec}; use one of: ${Object.keys(builtIn).join(', ')}`,
      );
    }
    if (data !== undefined)
      throw new AvbUserError(`--data applies to model modules; ${spec} has its data built in`);
    return make();
  }
  const looksLikePath = /[/\\]|\.(m?js|cjs|stan)$/.test(spec);
  if (!looksLikePath) {
    throw new AvbUserError(
      `unknown model '${spec}'; use a built-in model (${Object.keys(BUILT_IN_MODELS).join(', ')}), the path of a .mjs/.js module or of a Stan program (.stan)`,
    );
  }
  if (variant !== undefined)
    throw new AvbUserError('--variant applies to built-in models only; remove it');
  const path = resolve(spec);
  if (!existsSync(path))
    throw new AvbUserError(`model module ${spec} does not exist; check the path`);
  if (path.endsWith('.stan')) {
    let declared: BayesianModel;
    try {
      declared = declareModel(
        stanModel(readFileSync(path, 'utf8'), spec, data, {
          noncentre: options.noncentre ?? true,
          seed: options.seed,
        }),
      );
    } catch (e) {
      if (e instanceof AvbUserError) throw e;
      throw new AvbUserError(`Stan program ${spec}: ${(e as Error).message.split('\n')[0]}`);
    }
    return checkModel(declared, spec);
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    const first = ((e as Error).message ?? String(e)).split('\n')[0];
    throw new AvbUserError(`model module ${spec} does not load: ${first}`);
  }
  let exported = mod.default ?? mod.model;
  if (exported === undefined)
    throw new AvbUserError(
      `model module ${spec} exports no model; export default a BayesianModel or a function (tf) => BayesianModel`,
    );
  if (typeof exported === 'function') {
    try {
      exported = (exported as (t: unknown) => unknown)(moduleArgument(data));
    } catch (e) {
      throw new AvbUserError(
        `model module ${spec}: building the model failed: ${(e as Error).message}`,
      );
    }
  }
  if (isDeclaration(exported)) {
    try {
      exported = declareModel(exported);
    } catch (e) {
      throw new AvbUserError(`model module ${spec}: ${(e as Error).message}`);
    }
  }
  return checkModel(exported, spec);
}

function isDeclaration(m: unknown): m is ModelDeclaration {
  return (
    typeof m === 'object' &&
    m !== null &&
    'parameters' in m &&
    'logDensity' in m &&
    !('logJoint' in m)
  );
}

/** Validates a model's fields and its log joint at z = 0; returns it typed. */
function checkModel(m: unknown, where: string): BayesianModel {
  const bad = (what: string) => new AvbUserError(`model ${where}: ${what}`);
  if (typeof m !== 'object' || m === null)
    throw bad('the export is not an object with dim and logJoint');
  const model = m as Partial<BayesianModel>;
  if (!Number.isSafeInteger(model.dim) || model.dim! < 1)
    throw bad(`dim must be a positive integer, got ${String(model.dim)}`);
  const dim = model.dim!;
  if (typeof model.logJoint !== 'function')
    throw bad('logJoint must be a function z [n, dim] -> [n]');
  const names = model.parameterNames ?? Array.from({ length: dim }, (_, i) => `z${i + 1}`);
  if (!Array.isArray(names) || names.length !== dim)
    throw bad(`parameterNames must have dim = ${dim} entries, got ${String(names?.length)}`);
  const summarize = model.summarize ?? ((z: ArrayLike<number>) => Array.from(z));
  const summaryNames = model.summaryNames ?? names;
  const probe = tf.tidy(() => {
    const z = tf.zeros([2, dim]) as tf.Tensor2D;
    let out: tf.Tensor;
    try {
      out = model.logJoint!(z);
    } catch (e) {
      throw bad(`logJoint fails on z of shape [2, ${dim}]: ${(e as Error).message.split('\n')[0]}`);
    }
    if (!(out instanceof tf.Tensor) || out.shape.length !== 1 || out.shape[0] !== 2)
      throw bad(`logJoint must return a tensor of shape [n] for z of shape [n, ${dim}]`);
    return Array.from(out.dataSync());
  });
  // A declared model's batched log joint counts a point whose gradient is not finite as -inf
  // (declaredModel.ts); whether the density is defined at z = 0 is its value's question.
  const exact = model.logDensityAndGradient;
  const atZero = exact ? [exact(new Float64Array(dim)).logp] : probe;
  const notes = [...(model.notes ?? [])];
  if (!atZero.every(Number.isFinite)) {
    // Stan draws its inits uniformly in [-2, 2] until the density is finite; avb's mode search
    // does too, then in wider boxes (laplace.ts), and a model is refused only if none is finite.
    const finite = (z: Float64Array) =>
      exact
        ? Number.isFinite(exact(z).logp)
        : tf.tidy(() =>
            Number.isFinite(model.logJoint!(tf.tensor2d([Array.from(z)])).dataSync()[0]),
          );
    if (!randomFiniteStart(dim, finite, new Rng(1)))
      throw bad(
        `log joint is not finite at z = 0 (${atZero[0]}) nor at random points in [-8, 8]^${dim}, where samplers start: fix the model`,
      );
    notes.push(
      `the log density is not finite at z = 0 (${atZero[0]}), the centre of the unconstrained coordinates; fits start from the mode search's random starts where it is finite`,
    );
  }
  const s = summarize(new Float64Array(dim));
  if (!Array.isArray(s) || s.length !== summaryNames.length)
    throw bad(`summarize must return ${summaryNames.length} values (one per summaryNames entry)`);
  return {
    ...(model as BayesianModel),
    name: model.name ?? where,
    parameterNames: names,
    summaryNames,
    summarize,
    ...(notes.length > 0 ? { notes } : {}),
  };
}
