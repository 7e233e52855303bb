import { yieldToEventLoop } from './yieldToEventLoop.js';

/**
 * How long work reports progress (AIS, NUTS, ADVI, AVB inference, evaluation): `done` of
 * `total` units finished, with optional figures to show beside the count (`elbo -2.31`), and
 * the phase of the work when it has more than one (`polish`: a new count and total begin).
 * Training reports each step's metrics instead (`TrainRunOptions.onStep`).
 */
export type Progress = (done: number, total: number, figures?: string, phase?: string) => void;

/**
 * What long work outside a training loop is handed (the affine refit and the HMC polish after a
 * variational fit): where it reports progress, and when it must stop. Such work evaluates the
 * model at thousands of draws together, which on an ODE model takes seconds a time (posteriordb's
 * one_comp: a polish of 22 min), so it calls {@link pausePoint} after each evaluation.
 */
export interface WorkHooks {
  onProgress?: Progress;
  /** Polled at each pause point: true ends the work there (Ctrl-C, SIGTERM). */
  shouldStop?: () => boolean;
}

/**
 * Lets signal handlers and progress output run (the work is synchronous between its pause
 * points, so without one Ctrl-C would wait for its end), then says whether to stop.
 */
export async function pausePoint(hooks: WorkHooks): Promise<boolean> {
  await yieldToEventLoop();
  return hooks.shouldStop?.() ?? false;
}
