import type { DataInfo } from '../data/dataset.js';
import { exampleSize } from '../data/dataset.js';
import { AvbUserError } from '../errors.js';
import { makeAdversary } from '../nn/adversaries.js';
import type { AdversaryOptions } from '../nn/adversaries.js';
import { makeDecoder } from '../nn/decoders.js';
import { makeEncoder } from '../nn/encoders.js';
import type { Objective, Parts } from '../objectives/objective.js';
import type { Rng } from '../random/rng.js';
import type { RunConfig } from './config.js';
import { METHOD_SPECS } from './methods.js';

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
      `conv parts need image data [N, h, w] or [N, h, w, c]; ${ds.name} has examples of shape [${ds.exampleShape.join(', ')}]; use "net": "mlp"`,
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
  const adversary = !METHOD_SPECS[config.method].needsAdversary
    ? undefined
    : makeAdversary(rng, adversaryOptions(a, exampleSize(ds), config.latent));
  return { encoder, decoder, adversary };
}

/** The part options of the configured adversary: `depth` is each type's own size parameter. */
function adversaryOptions(
  a: RunConfig['adversary'],
  dataDim: number,
  latentDim: number,
): AdversaryOptions {
  const common = { dataDim, latentDim, hidden: a.hidden, activation: a.activation };
  switch (a.type) {
    case 'concat-mlp':
      return { type: a.type, ...common, layers: a.depth };
    case 'residual-mlp':
      return { type: a.type, ...common, blocks: a.depth };
    case 'inner-product':
      return { type: a.type, ...common, depth: a.depth, innerDim: a.innerDim };
  }
}

/** The objective of a method. */
export function objectiveFor(config: RunConfig): Objective {
  return METHOD_SPECS[config.method].objective(config);
}

export function disposeParts(parts: Parts): void {
  parts.encoder.dispose();
  parts.decoder.dispose();
  parts.adversary?.dispose();
}
