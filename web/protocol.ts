import type { Method } from '../src/index.js';

/** The backends the demo offers; wasm is the default (the fastest measured, see README). */
export const DEMO_BACKENDS = ['wasm', 'webgl', 'webgpu', 'cpu'] as const;
export type DemoBackend = (typeof DEMO_BACKENDS)[number];

export interface TrainSettings {
  method: Method;
  seed: number;
  lr: number;
  lrAdversary: number;
  stepsPerFrame: number;
}

/** Page to worker. */
export type ToWorker =
  | { type: 'init'; backend: DemoBackend }
  | { type: 'reset'; settings: TrainSettings }
  | { type: 'start' }
  | { type: 'pause' }
  | { type: 'stepsPerFrame'; value: number };

/** One update of the views: the state after `step` steps. */
export interface Frame {
  type: 'frame';
  step: number;
  /** Steps per second over the last frame (0 when not training). */
  rate: number;
  /** q(z|x) samples per data point: 4 flat [z1, z2, ...] arrays. */
  samples: Float32Array[];
  /** Exact average log-likelihood (grid), when computed at this step. */
  logLikelihood?: number;
  metrics?: { elbo?: number; reconstruction?: number; kl?: number; adversaryLoss?: number };
}

/** Worker to page. */
export type FromWorker =
  | { type: 'ready'; backend: DemoBackend; detail: string }
  | Frame
  | { type: 'error'; message: string };
