import type { EncoderType } from '../nn/encoders.js';
import { adaptiveContrastObjective } from '../objectives/adaptiveContrast.js';
import { avbObjective } from '../objectives/avb.js';
import type { Objective } from '../objectives/objective.js';
import { vaeObjective } from '../objectives/vaeElbo.js';
import type { Method, RunConfig } from './schema.js';

/**
 * A training method as data: its objective, whether it trains an adversary, its default
 * encoder, and what it needs of the other settings (checked when the configuration is built,
 * not when a step runs). Adding a method is one entry here.
 */
export interface MethodSpec {
  /** Name in figures and reports. */
  label: string;
  description: string;
  needsAdversary: boolean;
  /** Default encoder on the synthetic data and on everything else (the authors' choices). */
  encoder: { synthetic: EncoderType; other: EncoderType };
  objective: (c: RunConfig) => Objective;
  /** A one-line problem with `c` for this method, or undefined. */
  check: (c: RunConfig) => string | undefined;
}

export const METHOD_SPECS: Record<Method, MethodSpec> = {
  avb: {
    label: 'AVB',
    description: 'AVB: an implicit encoder against an adversary T(x, z)',
    needsAdversary: true,
    encoder: { synthetic: 'implicit-concat', other: 'implicit-noise-added' },
    objective: () => avbObjective,
    check: () => undefined,
  },
  'avb-ac': {
    label: 'AVB + adaptive contrast',
    description: 'AVB with adaptive contrast: T compares q with a Gaussian of its moments',
    needsAdversary: true,
    encoder: { synthetic: 'basis-vector', other: 'basis-vector' },
    objective: (c) => adaptiveContrastObjective(c.ac),
    check: (c) =>
      c.ac.moments === 'encoder' && c.encoder.type !== 'basis-vector'
        ? `method avb-ac with ac.moments 'encoder' needs encoder.type 'basis-vector'; set ac.moments to 'samples' to use '${c.encoder.type}'`
        : c.ac.covariance === 'full' && c.ac.moments === 'samples' && c.ac.momentSamples <= c.latent
          ? `ac.covariance 'full' with ac.moments 'samples' needs ac.momentSamples above the latent dimension (${c.latent}), not ${c.ac.momentSamples}: the covariance of fewer draws is singular`
          : undefined,
  },
  vae: {
    label: 'VAE',
    description: 'VAE: a Gaussian encoder with the analytic KL',
    needsAdversary: false,
    encoder: { synthetic: 'gaussian', other: 'gaussian' },
    objective: () => vaeObjective,
    check: (c) =>
      c.encoder.type !== 'gaussian'
        ? `method vae needs encoder.type 'gaussian', got '${c.encoder.type}'`
        : undefined,
  },
};
