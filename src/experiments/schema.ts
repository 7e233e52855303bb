import { z } from 'zod';
import { ADVERSARY_TYPES } from '../nn/adversaries.js';
import { DECODER_TYPES } from '../nn/decoders.js';
import { ENCODER_TYPES } from '../nn/encoders.js';
import { ACTIVATIONS } from '../nn/layers.js';

/** Method names, in the order the CLI lists them (their specs: `methods.ts`). */
export const METHODS = ['avb', 'avb-ac', 'vae'] as const;
export type Method = (typeof METHODS)[number];

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
  /**
   * A user's data file's values are divided by this (`--scale`); absent: 0/1 and floats as read,
   * uint8 reaching 128 as 8-bit intensities (/255), other integers refused as ambiguous.
   */
  scale: positiveNumber.optional(),
  method: oneOf(METHODS),
  latent: positiveInt,
  steps: positiveInt,
  batch: positiveInt,
  seed: nonNegativeInt,
  /** Primal (encoder + decoder) learning rate. */
  lr: positiveNumber,
  /**
   * The decoder's own learning rate; absent: `lr`. The decoder's gradient is a likelihood's
   * given z, so it may take the faster rate a VAE takes while the encoder, which races the
   * adversary, keeps `lr`.
   */
  lrDecoder: positiveNumber.optional(),
  lrAdversary: positiveNumber,
  beta1: beta,
  beta2: beta,
  /** Both learning rates over the run: constant, or cosine decay to 0 at `steps`. */
  lrSchedule: oneOf(['constant', 'cosine'] as const),
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
    /** `diagonal` (the paper) or `full`: see `AdaptiveContrastOptions.covariance`. */
    covariance: oneOf(['diagonal', 'full'] as const),
  }),
});

export type RunConfig = z.infer<typeof RunConfigSchema>;

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};
export type ConfigOverrides = DeepPartial<RunConfig>;
