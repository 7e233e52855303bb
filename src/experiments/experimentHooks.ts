import type { Dataset } from '../data/dataset.js';
import type { Parts } from '../objectives/objective.js';
import type { RunConfig } from './config.js';
import { METHOD_SPECS } from './methods.js';
import { evaluateSynthetic } from './synthetic.js';

/** What an experiment may add to a completed training run. */
export interface ExperimentHooks {
  /**
   * After a run completes: evaluations and figures of this experiment (written into `out`),
   * whose fields are added to `summary.json`.
   */
  afterTraining?: (run: {
    parts: Parts;
    ds: Dataset;
    out: string;
    config: RunConfig;
  }) => Promise<Record<string, unknown>>;
}

/**
 * Each experiment's own additions to the generic training run, by experiment name: the runner
 * (`trainRun`) knows none of them. Adding an experiment's evaluation is one entry here.
 */
const EXPERIMENT_HOOKS: Record<string, ExperimentHooks> = {
  synthetic: {
    afterTraining: async ({ parts, ds, out, config }) => ({
      ...(await evaluateSynthetic(parts, ds, out, config.seed, METHOD_SPECS[config.method].label)),
    }),
  },
};

/** The hooks of an experiment (none for MNIST and a user's data). */
export function experimentHooks(experiment: string): ExperimentHooks {
  return EXPERIMENT_HOOKS[experiment] ?? {};
}
