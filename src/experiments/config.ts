import type { DataInfo } from '../data/dataset.js';
import { exampleSize } from '../data/dataset.js';
import { AvbUserError } from '../errors.js';
import { ADVERSARY_TYPES } from '../nn/adversaries.js';
import type { AdversaryType } from '../nn/adversaries.js';
import { DECODER_TYPES } from '../nn/decoders.js';
import type { DecoderNet, DecoderType } from '../nn/decoders.js';
import { ENCODER_TYPES } from '../nn/encoders.js';
import type { EncoderNet, EncoderType } from '../nn/encoders.js';
import { ACTIVATIONS } from '../nn/layers.js';
import type { Activation } from '../nn/layers.js';

export const METHODS = ['avb', 'avb-ac', 'vae'] as const;
export type Method = (typeof METHODS)[number];

/**
 * Everything that defines a training run. Each experiment has the paper's settings as defaults
 * ({@link defaultConfig}); a JSON file (`--config`) and command-line options override them.
 */
export interface RunConfig {
  /** `synthetic`, `mnist`, `idx:PATH` or `npy:PATH`. */
  experiment: string;
  method: Method;
  latent: number;
  steps: number;
  batch: number;
  seed: number;
  /** Primal (encoder + decoder) learning rate. */
  lr: number;
  lrAdversary: number;
  beta1: number;
  beta2: number;
  schedule: 'simultaneous' | 'alternating';
  /** Adversary updates per primal update with the alternating schedule. */
  adversarySteps: number;
  klAnnealSteps: number;
  checkpointEvery: number;
  /**
   * A held-out estimate every `every` steps (0: never) on the first `points` examples of the
   * validation (else test, else training) split: the ELBO, and the IWAE bound with
   * `iwaeSamples` samples (0: none) where the encoder has a Gaussian.
   */
  heldOut: { every: number; points: number; iwaeSamples: number };
  /** What to do when a loss or gradient is not finite. */
  onNan: 'rollback' | 'stop';
  /**
   * Dynamic binarisation of data in [0, 1] (a fresh Bernoulli draw per read): the MNIST default;
   * for other data only when asked.
   */
  binarize: boolean;
  encoder: {
    type: EncoderType;
    net: EncoderNet;
    hidden: number[];
    activation: Activation;
    noiseDim: number;
    bases: number;
  };
  decoder: { type: DecoderType; net: DecoderNet; hidden: number[]; activation: Activation };
  adversary: {
    type: AdversaryType;
    hidden: number;
    depth: number;
    activation: Activation;
    innerDim: number;
  };
  /** Adaptive contrast: where the moments of q(z|x) come from. */
  ac: { moments: 'encoder' | 'samples'; momentSamples: number };
}

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};
export type ConfigOverrides = DeepPartial<RunConfig>;

/** The paper's settings for `experiment` and `method` (../shared/AVB.md, section 4). */
export function defaultConfig(experiment: string, method: Method): RunConfig {
  const isImage = experiment === 'mnist';
  if (experiment === 'synthetic') {
    // Synthetic: 4 one-hot points, z in R^2, 3 x FC64 ELU nets; the faster schedule measured in
    // AVB.md (primal 1e-4, adversary 3e-4, beta1 0.5, 1 primal + 2 adversary steps, batch 256)
    // with the smaller adversary (FC256 + 1 residual block).
    return {
      experiment,
      method,
      latent: 2,
      steps: 10000,
      batch: 256,
      seed: 1,
      lr: 1e-4,
      lrAdversary: 3e-4,
      beta1: 0.5,
      beta2: 0.999,
      schedule: 'alternating',
      adversarySteps: 2,
      klAnnealSteps: 0,
      checkpointEvery: 1000,
      heldOut: { every: 1000, points: 4, iwaeSamples: 100 },
      onNan: 'rollback',
      binarize: false,
      encoder: {
        type:
          method === 'vae' ? 'gaussian' : method === 'avb-ac' ? 'basis-vector' : 'implicit-concat',
        net: 'mlp',
        hidden: [64, 64, 64],
        activation: 'elu',
        noiseDim: 64,
        bases: 8,
      },
      decoder: { type: 'bernoulli', net: 'mlp', hidden: [64, 64, 64], activation: 'elu' },
      adversary: { type: 'residual-mlp', hidden: 256, depth: 1, activation: 'elu', innerDim: 0 },
      ac: { moments: 'encoder', momentSamples: 8 },
    };
  }
  // MNIST and user data: the authors' MNIST settings (conv parts for images, MLP otherwise).
  const latent = 32;
  return {
    experiment,
    method,
    latent,
    steps: 100000,
    batch: method === 'vae' ? 64 : 128,
    seed: 1,
    lr: method === 'vae' ? 1e-4 : 5e-5,
    lrAdversary: 1e-4,
    beta1: 0.5,
    beta2: 0.999,
    schedule: 'simultaneous',
    adversarySteps: 1,
    klAnnealSteps: 0,
    checkpointEvery: 1000,
    heldOut: { every: 1000, points: 500, iwaeSamples: 50 },
    onNan: 'rollback',
    binarize: experiment === 'mnist',
    encoder: {
      type:
        method === 'vae'
          ? 'gaussian'
          : method === 'avb-ac'
            ? 'basis-vector'
            : 'implicit-noise-added',
      net: isImage ? 'conv' : 'mlp',
      hidden: isImage ? [32, 64, 300] : [300, 300],
      activation: isImage ? 'elu' : 'softplus',
      noiseDim: 64,
      bases: 32,
    },
    decoder: {
      type: 'bernoulli',
      net: isImage ? 'conv' : 'mlp',
      hidden: isImage ? [64, 32] : [300, 300],
      activation: isImage ? 'elu' : 'softplus',
    },
    adversary: {
      type: 'inner-product',
      hidden: 1024,
      depth: 3,
      activation: 'leakyRelu',
      innerDim: 32,
    },
    ac: { moments: 'encoder', momentSamples: 8 },
  };
}

/** Sets the latent-size-dependent defaults the authors used (B = 16 with noise 32 for 8-dim z). */
function latentDefaults(c: RunConfig, o: ConfigOverrides): void {
  if (c.experiment === 'synthetic') return;
  if (o.encoder?.bases === undefined) c.encoder.bases = c.latent <= 8 ? 16 : 32;
  if (o.encoder?.noiseDim === undefined) c.encoder.noiseDim = c.latent <= 8 ? 32 : 64;
}

/** Data sets of this many values per example or more get the paper's MNIST-sized networks. */
export const LARGE_EXAMPLE_SIZE = 75;

/**
 * Defaults sized to a user's data (`idx:`/`npy:` experiments): the paper's MNIST networks suit
 * 784 pixels, but would give a 10-value data set a 4.5M-weight model training for hours. Smaller
 * examples get a latent of about half their size, hidden layers about four times it, a smaller
 * adversary and 20,000 steps. Real-valued data gets a Gaussian decoder. Explicit settings win.
 */
function dataDefaults(c: RunConfig, data: DataInfo, o: ConfigOverrides): string[] {
  const notes: string[] = [];
  if (o.decoder?.type === undefined && data.kind === 'real') {
    c.decoder.type = 'gaussian';
    notes.push('Gaussian decoder (real-valued data)');
  }
  if (o.batch === undefined && data.counts.train !== undefined && data.counts.train < c.batch) {
    c.batch = data.counts.train;
  }
  const d = exampleSize(data);
  if (d >= LARGE_EXAMPLE_SIZE) return notes;
  const width = Math.max(32, 2 ** Math.ceil(Math.log2(4 * d)));
  const sized: string[] = [];
  if (o.latent === undefined) {
    c.latent = Math.max(2, Math.round(d / 2));
    sized.push(`latent ${c.latent}`);
  }
  if (o.encoder?.hidden === undefined) c.encoder.hidden = [width, width];
  if (o.decoder?.hidden === undefined) c.decoder.hidden = [width, width];
  if (o.encoder?.hidden === undefined || o.decoder?.hidden === undefined)
    sized.push(`hidden [${width}, ${width}]`);
  if (o.adversary?.hidden === undefined) c.adversary.hidden = 4 * width;
  if (o.adversary?.depth === undefined) c.adversary.depth = 2;
  if (o.adversary?.innerDim === undefined) c.adversary.innerDim = 16;
  if (o.steps === undefined) {
    c.steps = 20000;
    sized.push('20000 steps');
  }
  if (sized.length) notes.push(`sized for ${d}-value examples: ${sized.join(', ')}`);
  return notes;
}

/**
 * Builds the configuration of a run: defaults for the experiment and method, then `file`
 * overrides (from `--config`), then `cli` overrides. Unknown fields and bad values throw
 * {@link AvbUserError} naming the field. With `data` (the loaded data set of a new run), the
 * defaults of a user's data set are sized to it; `notes` says what was chosen that way.
 */
export function resolveConfig(
  file: unknown,
  cli: ConfigOverrides,
  source = '--config',
  data?: DataInfo,
): RunConfig {
  return resolveConfigWithNotes(file, cli, source, data).config;
}

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
  if (!METHODS.includes(method as Method)) {
    throw new AvbUserError(`unknown method '${method}'; use one of: ${METHODS.join(', ')}`);
  }
  const base = defaultConfig(experiment, method as Method);
  checkFields(fromFile, base, source);
  const merged = merge(merge(base, fromFile), cli) as RunConfig;
  const overrides = merge(fromFile, cli) as ConfigOverrides;
  const notes = data && /^(idx|npy):/.test(experiment) ? dataDefaults(merged, data, overrides) : [];
  latentDefaults(merged, overrides);
  validate(merged);
  return { config: merged, notes };
}

function checkFields(o: unknown, ref: unknown, where: string, path = ''): void {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return;
  for (const [k, v] of Object.entries(o)) {
    const field = path ? `${path}.${k}` : k;
    if (ref === null || typeof ref !== 'object' || !(k in (ref as object))) {
      throw new AvbUserError(
        `${where}: unknown field '${field}'; see README (Configuration) for the fields`,
      );
    }
    const r = (ref as Record<string, unknown>)[k];
    if (r !== null && typeof r === 'object' && !Array.isArray(r)) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        throw new AvbUserError(`${where}: field '${field}' must be an object`);
      }
      checkFields(v, r, where, field);
    } else if (
      Array.isArray(r) !== Array.isArray(v) ||
      (!Array.isArray(r) && typeof r !== typeof v)
    ) {
      throw new AvbUserError(
        `${where}: field '${field}' must be ${Array.isArray(r) ? 'an array' : `a ${typeof r}`}, got ${JSON.stringify(v)}`,
      );
    }
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

function validate(c: RunConfig): void {
  const posInt = (v: number, name: string) => {
    if (!Number.isSafeInteger(v) || v < 1)
      throw new AvbUserError(`${name} must be a positive integer, got ${v}`);
  };
  const posNum = (v: number, name: string) => {
    if (!Number.isFinite(v) || v <= 0)
      throw new AvbUserError(`${name} must be a positive number, got ${v}`);
  };
  const oneOf = (v: string, allowed: readonly string[], name: string) => {
    if (!allowed.includes(v))
      throw new AvbUserError(`${name} must be one of ${allowed.join(', ')}, got '${v}'`);
  };
  posInt(c.latent, 'latent');
  posInt(c.steps, 'steps');
  posInt(c.batch, 'batch');
  posInt(c.checkpointEvery, 'checkpointEvery');
  posInt(c.heldOut.points, 'heldOut.points');
  for (const [v, n] of [
    [c.heldOut.every, 'heldOut.every'],
    [c.heldOut.iwaeSamples, 'heldOut.iwaeSamples'],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new AvbUserError(`${n} must be a non-negative integer (0: off), got ${v}`);
  }
  posInt(c.adversarySteps, 'adversarySteps');
  if (!Number.isSafeInteger(c.seed) || c.seed < 0)
    throw new AvbUserError(`seed must be a non-negative integer, got ${c.seed}`);
  if (!Number.isSafeInteger(c.klAnnealSteps) || c.klAnnealSteps < 0)
    throw new AvbUserError(`klAnnealSteps must be >= 0, got ${c.klAnnealSteps}`);
  posNum(c.lr, 'lr');
  posNum(c.lrAdversary, 'lrAdversary');
  for (const [v, n] of [
    [c.beta1, 'beta1'],
    [c.beta2, 'beta2'],
  ] as const) {
    if (!(v >= 0 && v < 1)) throw new AvbUserError(`${n} must be in [0, 1), got ${v}`);
  }
  oneOf(c.schedule, ['simultaneous', 'alternating'], 'schedule');
  oneOf(c.onNan, ['rollback', 'stop'], 'onNan');
  oneOf(c.encoder.type, ENCODER_TYPES, 'encoder.type');
  oneOf(c.encoder.net, ['mlp', 'conv'], 'encoder.net');
  oneOf(c.encoder.activation, ACTIVATIONS, 'encoder.activation');
  oneOf(c.decoder.type, DECODER_TYPES, 'decoder.type');
  oneOf(c.decoder.net, ['mlp', 'conv'], 'decoder.net');
  oneOf(c.decoder.activation, ACTIVATIONS, 'decoder.activation');
  oneOf(c.adversary.type, ADVERSARY_TYPES, 'adversary.type');
  oneOf(c.adversary.activation, ACTIVATIONS, 'adversary.activation');
  oneOf(c.ac.moments, ['encoder', 'samples'], 'ac.moments');
  posInt(c.encoder.noiseDim, 'encoder.noiseDim');
  posInt(c.encoder.bases, 'encoder.bases');
  posInt(c.adversary.hidden, 'adversary.hidden');
  posInt(c.ac.momentSamples, 'ac.momentSamples');
  for (const h of [...c.encoder.hidden, ...c.decoder.hidden]) posInt(h, 'hidden layer size');
  if (c.method === 'vae' && c.encoder.type !== 'gaussian') {
    throw new AvbUserError(`method vae needs encoder.type 'gaussian', got '${c.encoder.type}'`);
  }
  if (c.method === 'avb-ac' && c.ac.moments === 'encoder' && c.encoder.type !== 'basis-vector') {
    throw new AvbUserError(
      `method avb-ac with ac.moments 'encoder' needs encoder.type 'basis-vector'; set ac.moments to 'samples' to use '${c.encoder.type}'`,
    );
  }
  if (c.adversary.type === 'inner-product' && c.adversary.innerDim < 1) {
    throw new AvbUserError(
      'adversary.innerDim must be a positive integer for the inner-product adversary',
    );
  }
}
