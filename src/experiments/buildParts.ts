import type { DataInfo } from '../data/dataset.js';
import { exampleSize } from '../data/dataset.js';
import { AvbUserError } from '../errors.js';
import { makeAdversary } from '../nn/adversaries.js';
import { makeDecoder } from '../nn/decoders.js';
import { makeEncoder } from '../nn/encoders.js';
import { adaptiveContrastObjective } from '../objectives/adaptiveContrast.js';
import { avbObjective } from '../objectives/avb.js';
import type { Objective, Parts } from '../objectives/objective.js';
import { vaeObjective } from '../objectives/vaeElbo.js';
import type { Rng } from '../random/rng.js';
import type { RunConfig } from './config.js';

/**
 * Builds the parts named in `config` for examples of `ds`, with weights drawn from `rng`.
 * Checks that the data suits the decoder (a Bernoulli decoder needs values in [0, 1]).
 */
export function buildParts(
  config: RunConfig,
  ds: Pick<DataInfo, 'name' | 'kind' | 'exampleShape'>,
  rng: Rng,
): Parts {
  if (config.decoder.type === 'bernoulli' && ds.kind !== 'binary') {
    throw new AvbUserError(
      `${ds.name} has values outside [0, 1], which a Bernoulli decoder cannot model; ` +
        `use --decoder gaussian, or rescale the data to [0, 1]`,
    );
  }
  if (config.binarize && ds.kind !== 'binary') {
    throw new AvbUserError(
      `${ds.name} has values outside [0, 1], which cannot be binarised; drop --binarize ("binarize": false)`,
    );
  }
  const conv = config.encoder.net === 'conv' || config.decoder.net === 'conv';
  if (conv && ds.exampleShape.length !== 3) {
    throw new AvbUserError(
      `conv parts need image data [N, h, w] or [N, h, w, c]; ${ds.name} has examples of shape [${ds.exampleShape}]; use "net": "mlp"`,
    );
  }
  const { encoder: e, decoder: d, adversary: a } = config;
  const encoder = makeEncoder(e.type, rng, {
    ...e,
    exampleShape: ds.exampleShape,
    latentDim: config.latent,
  });
  const decoder = makeDecoder(d.type, rng, {
    ...d,
    exampleShape: ds.exampleShape,
    latentDim: config.latent,
  });
  const adversary =
    config.method === 'vae'
      ? undefined
      : makeAdversary(a.type, rng, { ...a, dataDim: exampleSize(ds), latentDim: config.latent });
  return { encoder, decoder, adversary };
}

/** The objective of a method. */
export function objectiveFor(config: RunConfig): Objective {
  switch (config.method) {
    case 'avb':
      return avbObjective;
    case 'avb-ac':
      return adaptiveContrastObjective(config.ac);
    case 'vae':
      return vaeObjective;
  }
}

export function disposeParts(parts: Parts): void {
  parts.encoder.dispose();
  parts.decoder.dispose();
  parts.adversary?.dispose();
}
