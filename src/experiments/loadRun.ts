import type { DataInfo } from '../data/dataset.js';
import { dataInfo } from '../data/dataset.js';
import { loadDataset } from '../data/loadDataset.js';
import type { Parts } from '../objectives/objective.js';
import { Rng } from '../random/rng.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { buildParts, disposeParts } from './buildParts.js';
import { resolveConfig } from './config.js';
import type { RunConfig } from './config.js';
import { readRunData, requireRunFolder } from './runFolder.js';

/** A trained model, rebuilt from its run folder. */
export interface LoadedRun {
  dir: string;
  config: RunConfig;
  /** Shape, kind and source of the training data (from `data.json`). */
  data: DataInfo;
  /** Encoder, decoder (and adversary) with the checkpoint's weights. */
  parts: Parts;
  /** Training steps the weights have had. */
  step: number;
  /** Frees the weights' tensors. */
  dispose(): void;
}

/**
 * Loads the run in `dir`: its configuration and its parts with the latest checkpoint's weights.
 * Needs no data file (the example shape comes from `data.json`; only runs written before
 * avb kept that file read their data once to learn it). Call after `initBackend`.
 *
 * ```ts
 * const run = loadRun('runs/mnist');
 * const images = run.parts.decoder.mean(tf.randomNormal([16, run.config.latent]));
 * run.dispose();
 * ```
 */
export function loadRun(dir: string): LoadedRun {
  const paths = requireRunFolder(dir);
  const checkpoint = loadCheckpoint(paths.checkpoint);
  const config = resolveConfig(checkpoint.config, {}, paths.checkpoint);
  const data =
    readRunData(dir) ?? dataInfo(loadDataset(config.experiment, { scale: config.scale }));
  const parts = buildParts(config, data, new Rng(0));
  try {
    checkpoint.loadWeights(parts);
  } catch (e) {
    disposeParts(parts);
    throw e;
  }
  return { dir, config, data, parts, step: checkpoint.step, dispose: () => disposeParts(parts) };
}
