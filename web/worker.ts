/// <reference lib="webworker" />
// Trains the synthetic experiment off the page's thread and posts what the views show.
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import {
  buildTrainer,
  disposeParts,
  fit,
  gridLogLikelihood,
  initBackend,
  posteriorSamples,
  resolveConfig,
  Rng,
  syntheticDataset,
  tf,
} from '../src/index.js';
import type { Parts, Trainer } from '../src/index.js';
import type { DemoBackend, Frame, FromWorker, ToWorker, TrainSettings } from './protocol.js';

/** Samples of q(z|x) drawn per data point for each frame. */
const SAMPLES = 300;
/** The exact log-likelihood is integrated every this many steps, on a 161 x 161 grid. */
const LL_EVERY = 100;
const GRID = { radius: 8, points: 161, chunk: 26000 };

const ds = syntheticDataset();
let run: { parts: Parts; trainer: Trainer; x: tf.Tensor; rng: Rng } | undefined;
let running = false;
let stepsPerFrame = 20;

const post = (m: FromWorker, transfer: Transferable[] = []) => self.postMessage(m, { transfer });

async function init(backend: DemoBackend): Promise<void> {
  if (backend === 'wasm') {
    // The bundler serves the .wasm files under hashed names: tell tfjs where they are.
    const info = await initBackend('wasm', {
      wasmPaths: {
        'tfjs-backend-wasm.wasm': wasmPlain,
        'tfjs-backend-wasm-simd.wasm': wasmSimd,
        'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
      },
    });
    post({ type: 'ready', backend, detail: `wasm, avb kernels: ${info.patchedKernels.length}` });
    return;
  }
  if (backend === 'webgl') await import('@tensorflow/tfjs-backend-webgl');
  if (backend === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend(backend))) throw new Error(`${backend} is not available here`);
  await tf.ready();
  post({ type: 'ready', backend, detail: backend });
}

function reset(s: TrainSettings): void {
  if (run) {
    run.trainer.dispose();
    disposeParts(run.parts);
    run.x.dispose();
  }
  stepsPerFrame = s.stepsPerFrame;
  const cfg = resolveConfig(
    { lr: s.lr, lrAdversary: s.lrAdversary },
    { experiment: 'synthetic', method: s.method, seed: s.seed, steps: 1_000_000 },
  );
  const { parts, trainer } = buildTrainer(cfg, ds);
  const x = tf.tensor(ds.train.x, [4, 4]);
  run = { parts, trainer, x, rng: new Rng(s.seed + 7) };
  postFrame(0, true);
}

/** Draws the samples (and, every LL_EVERY steps, the exact log-likelihood) and posts them. */
function postFrame(rate: number, withLl: boolean, metrics?: Frame['metrics']): void {
  const r = run!;
  const samples = posteriorSamples(r.parts, ds, r.rng, SAMPLES);
  const frame: Frame = { type: 'frame', step: r.trainer.completedSteps, rate, samples, metrics };
  if (withLl) {
    const ll = gridLogLikelihood(r.parts.decoder, r.x, GRID);
    frame.logLikelihood = ll.reduce((a, b) => a + b, 0) / ll.length;
  }
  post(
    frame,
    samples.map((s) => s.buffer as ArrayBuffer),
  );
}

async function loop(): Promise<void> {
  while (running && run) {
    const began = performance.now();
    let last: Frame['metrics'];
    // A frame is a fit of `stepsPerFrame` steps: the same loop, divergence check and schedule
    // as the command line's training.
    const r = await fit(run.trainer, {
      until: run.trainer.completedSteps + stepsPerFrame,
      onNan: 'stop',
      yieldEvery: stepsPerFrame,
      onStep: (m) => {
        last = m;
      },
    });
    if (r.status === 'diverged') {
      running = false;
      post({
        type: 'error',
        message: `step ${r.divergence!.step}: ${r.divergence!.quantity} is not finite; reset`,
      });
      return;
    }
    const rate = (stepsPerFrame * 1000) / (performance.now() - began);
    const step = run.trainer.completedSteps;
    postFrame(
      rate,
      Math.floor(step / LL_EVERY) > Math.floor((step - stepsPerFrame) / LL_EVERY),
      last,
    );
    // Let 'pause' and other messages in between frames.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

self.addEventListener('message', (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  const fail = (err: unknown) =>
    post({ type: 'error', message: String((err as Error).message ?? err) });
  try {
    if (m.type === 'init') init(m.backend).catch(fail);
    else if (m.type === 'reset') reset(m.settings);
    else if (m.type === 'start' && !running) {
      running = true;
      loop().catch(fail);
    } else if (m.type === 'pause') running = false;
    else if (m.type === 'stepsPerFrame') stepsPerFrame = m.value;
  } catch (err) {
    fail(err);
  }
});
