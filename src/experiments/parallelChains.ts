import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WORKER_YOUNG_GENERATION_MB } from '../heap.js';
import { AvbUserError } from '../errors.js';
import type { BayesianModel } from '../inference/model.js';
import type { ChainJob, ChainPool, NutsChain } from '../inference/nuts.js';

/** Where a worker thread finds the model again: what `avb infer` was given. */
export interface ModelSource {
  /** A built-in model's name or a module's absolute path (as `loadModel` takes it). */
  spec: string;
  variant?: string;
  /** The absolute path of the `--data` file. */
  data?: string;
  /** A Stan program's hierarchical normals non-centred (default) or as written (false). */
  noncentre?: boolean;
  /** The run's seed, which draws a Stan program's transformed-data `_rng` calls. */
  seed?: number;
}

/** What the main thread sends a chain worker when it starts (`nutsChainWorker.ts`). */
export interface ChainWorkerData {
  source: ModelSource;
  job: Omit<ChainJob, 'indices'>;
}

/** A chain worker's messages: progress every 50 iterations, a finished chain, or a failure. */
export type ChainWorkerMessage =
  | { kind: 'progress'; index: number; done: number; divergences: number }
  | { kind: 'chain'; index: number; chain: NutsChain }
  | { kind: 'error'; message: string; userError: boolean };

/**
 * The worker's script. Built, it sits beside this module; under the test runner this module is
 * TypeScript and the worker is taken from `dist/` (built before the tests by test/buildFirst.ts).
 */
function workerScript(): string {
  const here = fileURLToPath(import.meta.url);
  const beside = join(dirname(here), 'nutsChainWorker.js');
  if (existsSync(beside)) return beside;
  return resolve(dirname(here), '../../dist/experiments/nutsChainWorker.js');
}

/**
 * NUTS chains in worker threads, `threads` at once (`avb infer --parallel-chains`), for models
 * whose log density is computed in doubles (declared models and the built-in eight schools):
 * each worker loads the model from `source` again and runs chains with `runChain`, so the draws
 * are those of chains run in turn. Models with a tfjs-only log density keep their chains in
 * the main thread (undefined here): a worker would need a tensor backend of its own, and the
 * wasm backend uses one core for its products either way.
 */
export function chainPoolFor(
  model: BayesianModel,
  source: ModelSource,
  threads: number,
): ChainPool | undefined {
  if (threads <= 1 || !model.logDensityAndGradient) return undefined;
  return (job, hooks) => runPool(source, job, threads, hooks);
}

/** The default `--parallel-chains`: one chain per core, at most one per chain. */
export function defaultParallelChains(chains: number): number {
  return Math.max(1, Math.min(chains, availableParallelism()));
}

function runPool(
  source: ModelSource,
  job: ChainJob,
  threads: number,
  hooks: Parameters<ChainPool>[1],
): Promise<'completed' | 'interrupted'> {
  return new Promise((resolvePool, reject) => {
    const queue = [...job.indices];
    const workers: Worker[] = [];
    let idle = 0;
    let ended = false;
    const end = (status: 'completed' | 'interrupted' | Error) => {
      if (ended) return;
      ended = true;
      for (const w of workers) void w.terminate();
      if (status instanceof Error) reject(status);
      else resolvePool(status);
    };
    const next = (w: Worker) => {
      const index = queue.shift();
      if (index !== undefined) w.postMessage({ index });
      else if (++idle === workers.length) end('completed');
    };
    const data: ChainWorkerData = {
      source,
      job: { options: job.options, whitening: job.whitening },
    };
    for (let t = 0; t < Math.min(threads, queue.length); t++) {
      const w = new Worker(workerScript(), {
        workerData: data,
        resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      });
      workers.push(w);
      w.on('message', (m: ChainWorkerMessage) => {
        if (ended) return;
        if (m.kind === 'progress') {
          hooks.onProgress(m.index, m.done, m.divergences);
          if (hooks.shouldStop()) end('interrupted');
        } else if (m.kind === 'chain') {
          hooks.onChain(m.chain, m.index);
          if (hooks.shouldStop()) end('interrupted');
          else next(w);
        } else end(m.userError ? new AvbUserError(m.message) : new Error(m.message));
      });
      w.on('error', (e) => end(e instanceof Error ? e : new Error(String(e))));
      w.on('exit', (code) => {
        if (!ended) end(new Error(`a NUTS chain's worker thread exited with code ${code}`));
      });
    }
    for (const w of workers) next(w);
  });
}
