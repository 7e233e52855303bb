import type { Dataset } from '../data/dataset.js';
import { MinibatchSampler } from '../data/sampler.js';
import type { Parts } from '../objectives/objective.js';
import { Rng } from '../random/rng.js';
import { Trainer } from '../train/trainer.js';
import { buildParts, objectiveFor } from './buildParts.js';
import type { RunConfig } from './config.js';

/**
 * Everything a run trains, built from its configuration and data in one fixed order of random
 * draws (parts, then minibatch order, then the trainer's stream), so that the same seed gives
 * the same run in `trainRun`, in a browser worker, or anywhere else.
 */
export function buildTrainer(cfg: RunConfig, ds: Dataset): { parts: Parts; trainer: Trainer } {
  const root = new Rng(cfg.seed);
  const parts = buildParts(cfg, ds, root.fork());
  const sampler = new MinibatchSampler(ds, ds.train, {
    seed: root.uint32(),
    binarize: cfg.binarize,
  });
  const adam = (learningRate: number) => ({
    learningRate,
    beta1: cfg.beta1,
    beta2: cfg.beta2,
    epsilon: 1e-8,
  });
  const trainer = new Trainer(
    parts,
    objectiveFor(cfg),
    sampler,
    {
      batch: cfg.batch,
      primal: adam(cfg.lr),
      adversary: adam(cfg.lrAdversary),
      ...(cfg.lrDecoder !== undefined ? { decoderRateFactor: cfg.lrDecoder / cfg.lr } : {}),
      schedule: cfg.schedule,
      adversarySteps: cfg.adversarySteps,
      klAnnealSteps: cfg.klAnnealSteps,
      lrSchedule:
        cfg.lrSchedule === 'cosine'
          ? { kind: 'cosine', totalSteps: cfg.steps }
          : { kind: 'constant' },
    },
    root.fork(),
  );
  return { parts, trainer };
}
