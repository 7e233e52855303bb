import { z } from 'zod';
import type { DataInfo } from '../data/dataset.js';
import { AvbUserError } from '../errors.js';
import { ADVERSARY_TYPES } from '../nn/adversaries.js';
import { DECODER_TYPES } from '../nn/decoders.js';
import { ENCODER_TYPES } from '../nn/encoders.js';
import { ACTIVATIONS } from '../nn/layers.js';
import { METHOD_SPECS, METHODS } from './methods.js';
import type { Method } from './methods.js';
import { latentDefaults, presetFor, sizeToData } from './presets.js';

export { METHODS } from './methods.js';
export type { Method } from './methods.js';
export { LARGE_EXAMPLE_SIZE } from './presets.js';

// Field checks that read as the one-line message "<field> must be ..., got <value>".
const positiveInt = z
  .number()
  .refine((v) => Number.isSafeInteger(v) && v >= 1, { error: 'must be a positive integer' });
const nonNegativeInt = z
  .number()
  .refine((v) => Number.isSafeInteger(v) && v >= 0, { error: 'must be a non-negative integer' });
const positiveNumber = z
  .number()
  .refine((v) => Number.isFinite(v) && v > 0, { error: 'must be a positive number' });
const beta = z.number().refine((v) => v >= 0 && v < 1, { error: 'must be in [0, 1)' });
const oneOf = <T extends readonly [string, ...string[]]>(values: T) => z.enum(values);
const activation = oneOf(ACTIVATIONS);
const net = oneOf(['mlp', 'conv'] as const);

/**
 * Everything that defines a training run: one schema gives the type, the allowed values and the
 * unknown-field errors. Defaults come from the experiment presets (`presets.ts`); a JSON file
 * (`--config`) and command-line options override them.
 */
export const RunConfigSchema = z.strictObject({
  /** `synthetic`, `mnist`, `idx:PATH` or `npy:PATH`. */
  experiment: z.string(),
  method: oneOf(METHODS),
  latent: positiveInt,
  steps: positiveInt,
  batch: positiveInt,
  seed: nonNegativeInt,
  /** Primal (encoder + decoder) learning rate. */
  lr: positiveNumber,
  lrAdversary: positiveNumber,
  beta1: beta,
  beta2: beta,
  schedule: oneOf(['simultaneous', 'alternating'] as const),
  /** Adversary updates per primal update with the alternating schedule. */
  adversarySteps: positiveInt,
  klAnnealSteps: nonNegativeInt,
  checkpointEvery: positiveInt,
  /**
   * A held-out estimate every `every` steps (0: never) on the first `points` examples of the
   * validation (else test, else training) split: the ELBO, and the IWAE bound with
   * `iwaeSamples` samples (0: none) where the encoder has a Gaussian.
   */
  heldOut: z.strictObject({
    every: nonNegativeInt,
    points: positiveInt,
    iwaeSamples: nonNegativeInt,
  }),
  /** What to do when a loss or gradient is not finite. */
  onNan: oneOf(['rollback', 'stop'] as const),
  /**
   * Dynamic binarisation of data in [0, 1] (a fresh Bernoulli draw per read): the MNIST default;
   * for other data only when asked.
   */
  binarize: z.boolean(),
  encoder: z.strictObject({
    type: oneOf(ENCODER_TYPES),
    net,
    hidden: z.array(positiveInt),
    activation,
    noiseDim: positiveInt,
    bases: positiveInt,
  }),
  decoder: z.strictObject({
    type: oneOf(DECODER_TYPES),
    net,
    hidden: z.array(positiveInt),
    activation,
  }),
  adversary: z.strictObject({
    type: oneOf(ADVERSARY_TYPES),
    hidden: positiveInt,
    /** concat-mlp: hidden layers; residual-mlp: residual blocks; inner-product: tower depth. */
    depth: positiveInt,
    activation,
    /** K of the inner-product adversary (unused by the others). */
    innerDim: nonNegativeInt,
  }),
  /** Adaptive contrast: where the moments of q(z|x) come from. */
  ac: z.strictObject({
    moments: oneOf(['encoder', 'samples'] as const),
    momentSamples: positiveInt,
  }),
});

export type RunConfig = z.infer<typeof RunConfigSchema>;

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};
export type ConfigOverrides = DeepPartial<RunConfig>;

/** The paper's settings for `experiment` and `method` (../shared/AVB.md, section 4). */
export function defaultConfig(experiment: string, method: Method): RunConfig {
  return presetFor(experiment, method);
}

/**
 * Builds the configuration of a run: the experiment's preset for the method, then `file`
 * overrides (from `--config`), then `cli` overrides, checked against {@link RunConfigSchema}
 * and the method's needs. Problems throw {@link AvbUserError} naming the field. With `data`
 * (the loaded data set of a new run), the defaults of a user's data set are sized to it.
 */
export function resolveConfig(
  file: unknown,
  cli: ConfigOverrides,
  source = '--config',
  data?: DataInfo,
): RunConfig {
  return resolveConfigWithNotes(file, cli, source, data).config;
}

/** {@link resolveConfig}, with the defaults that were sized to the data, for the start line. */
export function resolveConfigWithNotes(
  file: unknown,
  cli: ConfigOverrides,
  source = '--config',
  data?: DataInfo,
): { config: RunConfig; notes: string[] } {
  const fromFile = (file ?? {}) as ConfigOverrides;
  if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
    throw new AvbUserError(`${source}: expected a JSON object of settings`);
  }
  const experiment = cli.experiment ?? fromFile.experiment ?? 'synthetic';
  const method = cli.method ?? fromFile.method ?? 'avb';
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new AvbUserError(`unknown method '${method}'; use one of: ${METHODS.join(', ')}`);
  }
  const merged = merge(merge(presetFor(String(experiment), method), fromFile), cli);
  const config = parseConfig(merged, source);
  const overrides = merge(fromFile, cli) as ConfigOverrides;
  const notes =
    data && /^(idx|npy):/.test(config.experiment) ? sizeToData(config, data, overrides) : [];
  latentDefaults(config, overrides);
  const problem =
    METHOD_SPECS[config.method].check(config) ??
    (config.adversary.type === 'inner-product' && config.adversary.innerDim < 1
      ? 'adversary.innerDim must be a positive integer for the inner-product adversary'
      : undefined);
  if (problem) throw new AvbUserError(problem);
  return { config, notes };
}

/** Checks a merged configuration against the schema; the first problem becomes one line. */
function parseConfig(value: unknown, source: string): RunConfig {
  const r = RunConfigSchema.safeParse(value, { reportInput: true });
  if (r.success) return r.data;
  // Unknown fields first: a misspelt name explains the other problems.
  const issue = r.error.issues.find((i) => i.code === 'unrecognized_keys') ?? r.error.issues[0];
  const field = issue.path.join('.');
  const got = JSON.stringify(issue.input);
  switch (issue.code) {
    case 'unrecognized_keys':
      throw new AvbUserError(
        `${source}: unknown field '${[...issue.path, issue.keys[0]].join('.')}'; see README (Configuration) for the fields`,
      );
    case 'invalid_type':
      throw new AvbUserError(
        `${source}: field '${field}' must be ${issue.expected === 'array' ? 'an array' : `a ${issue.expected}`}, got ${got}`,
      );
    case 'invalid_value':
      throw new AvbUserError(
        `${source}: ${field} must be one of ${issue.values.join(', ')}, got ${got}`,
      );
    default:
      throw new AvbUserError(`${source}: ${field} ${issue.message}, got ${got}`);
  }
}

function merge(a: unknown, b: unknown): unknown {
  if (b === undefined) return a;
  if (
    a === null ||
    typeof a !== 'object' ||
    Array.isArray(a) ||
    b === null ||
    typeof b !== 'object' ||
    Array.isArray(b)
  ) {
    return structuredClone(b);
  }
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b)) if (v !== undefined) out[k] = merge(out[k], v);
  return out;
}
