/**
 * A worker thread that runs NUTS chains for `parallelChains.ts`: it loads the model the main
 * thread sampled (the same module and data), applies the same whitening, and runs each chain it
 * is sent with `runChain`, posting progress every 50 iterations and the finished chain.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '../tf.js';
import { AvbUserError } from '../errors.js';
import { readJsonData } from '../io/jsonData.js';
import { whitenedModel } from '../inference/laplace.js';
import { loadModel } from '../inference/loadModel.js';
import type { BayesianModel } from '../inference/model.js';
import { runChain } from '../inference/nuts.js';
import type { ChainWorkerData, ChainWorkerMessage } from './parallelChains.js';

const port = parentPort!;
const { source, job } = workerData as ChainWorkerData;
const post = (m: ChainWorkerMessage) => port.postMessage(m);

async function target(): Promise<BayesianModel> {
  // The sampler uses the model's double-precision gradient; tensors (the load check, the
  // whitening's tfjs side) are few, so the pure-JS backend serves and needs no set-up.
  // PROD: no "use tfjs-node" banner from the cpu backend (as initBackend sets it).
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  const data = source.data !== undefined ? readJsonData(source.data) : undefined;
  const model = await loadModel(source.spec, source.variant, data, {
    noncentre: source.noncentre,
    seed: source.seed,
  });
  return job.whitening
    ? whitenedModel(model, job.whitening.fit, job.whitening.diagonal).model
    : model;
}

const ready = target();
port.on('message', (m: { index: number }) => {
  ready
    .then(async (model) => {
      const chain = await runChain(model, m.index, job.options, (done, divergences) => {
        post({ kind: 'progress', index: m.index, done, divergences });
        return false;
      });
      post({ kind: 'chain', index: m.index, chain: chain! });
    })
    .catch((e: unknown) =>
      post({
        kind: 'error',
        message: e instanceof Error ? e.message : String(e),
        userError: e instanceof AvbUserError,
      }),
    );
});
