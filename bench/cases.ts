import * as tf from '../src/tf.js';
import { loadDataset } from '../src/data/loadDataset.js';
import { MinibatchSampler } from '../src/data/sampler.js';
import { aisLogLikelihood, DEFAULT_AIS } from '../src/eval/ais.js';
import { buildParts, disposeParts, objectiveFor } from '../src/experiments/buildParts.js';
import { resolveConfig } from '../src/experiments/config.js';
import type { ConfigOverrides } from '../src/experiments/config.js';
import { Rng } from '../src/random/rng.js';
import { Trainer } from '../src/train/trainer.js';

/**
 * The benchmark cases. bench/torch_bench.py implements the identical computation (same layer
 * sizes, batch, losses, optimiser) in PyTorch; the names match.
 */
export const MLP_PARTS: ConfigOverrides = {
  encoder: { net: 'mlp', hidden: [300, 300], activation: 'softplus' },
  decoder: { net: 'mlp', hidden: [300, 300], activation: 'softplus' },
};

/** MNIST, loaded once for all cases and rounds (each copy is ~200 MB of float32). */
let mnist: ReturnType<typeof loadDataset> | undefined;
const loadMnist = () => (mnist ??= loadDataset('mnist'));

/** Runs one timed step `step` (e.g. under a profiler) and resolves when it is done. */
export type TimedStep = (step: () => void | Promise<void>) => Promise<void>;

/** Runs the step bare. */
const bare: TimedStep = async (step) => {
  await step();
};

export interface CaseSpec {
  name: string;
  description: string;
  /**
   * Runs `iterations` steps and returns per-step milliseconds. `timed`, when given, runs each
   * timed step (the profiler wraps it in `tf.profile`); warm-up steps run bare.
   */
  run: (iterations: number, timed?: TimedStep) => Promise<number[]>;
}

function trainerCase(
  name: string,
  description: string,
  overrides: ConfigOverrides,
  cli: ConfigOverrides,
  experiment: 'mnist' | 'synthetic' = 'mnist',
): CaseSpec {
  return {
    name,
    description,
    run: async (iterations, timed = bare) => {
      const config = resolveConfig(overrides, {
        experiment,
        ...(experiment === 'mnist' ? { latent: 32 } : {}),
        ...cli,
      });
      const ds = experiment === 'mnist' ? loadMnist() : loadDataset('synthetic');
      const parts = buildParts(config, ds, new Rng(1));
      const trainer = new Trainer(
        parts,
        objectiveFor(config),
        new MinibatchSampler(ds, ds.train, { seed: 1, binarize: config.binarize }),
        {
          batch: config.batch,
          primal: { learningRate: config.lr, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 },
          adversary: { learningRate: config.lrAdversary, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 },
          schedule: config.schedule,
          adversarySteps: config.adversarySteps,
          klAnnealSteps: 0,
        },
        new Rng(2),
      );
      // Warm-up: at least 3 steps and 2 seconds (JIT compilation, wasm memory growth and XNNPACK
      // operator set-up make the first steps of a short case several times slower).
      const warmUntil = performance.now() + 2000;
      for (let i = 0; i < 3 || performance.now() < warmUntil; i++) {
        if (!trainer.step().ok) throw new Error(`bench ${name} diverged`);
      }
      const times: number[] = [];
      for (let i = 0; i < iterations; i++) {
        const t0 = performance.now();
        await timed(() => {
          if (!trainer.step().ok) throw new Error(`bench ${name} diverged`);
        });
        times.push(performance.now() - t0);
      }
      trainer.dispose();
      disposeParts(parts);
      return times;
    },
  };
}

export const CASES: CaseSpec[] = [
  trainerCase(
    'avb-mlp',
    'AVB step, MNIST, MLP parts (noise-added encoder 784-300-300-32, decoder 32-300-300-784, inner-product adversary 3x1024), batch 128',
    MLP_PARTS,
    { method: 'avb', batch: 128 },
  ),
  trainerCase(
    'avb-ac-conv',
    'AVB+AC step, MNIST, conv parts (basis-vector conv encoder, conv decoder, inner-product adversary), batch 64',
    {},
    { method: 'avb-ac', batch: 64 },
  ),
  trainerCase(
    'vae-mlp',
    'VAE step, MNIST, MLP parts (784-300-300-2x32, 32-300-300-784), batch 64',
    MLP_PARTS,
    {
      method: 'vae',
      batch: 64,
    },
  ),
  trainerCase(
    'synthetic-avb',
    'the npm start model: AVB on the 4 synthetic points, 3xFC64 ELU encoder (noise 64) and decoder, residual adversary FC256, batch 256, 2 adversary + 1 primal updates per step',
    {},
    { method: 'avb' },
    'synthetic',
  ),
  {
    name: 'ais-transition',
    description:
      'one AIS transition (HMC, 10 leapfrog steps) for 500 points x 8 chains, MLP decoder 32-300-300-784',
    // `timed` wraps the whole AIS run (its set-up and first transitions too: AIS has no step
    // function to wrap one by one).
    run: async (iterations, timed = bare) => {
      const config = resolveConfig(MLP_PARTS, { experiment: 'mnist', method: 'vae', latent: 32 });
      const ds = loadMnist();
      const parts = buildParts(config, ds, new Rng(1));
      const x = tf.tensor(
        Float32Array.from(ds.test!.x.subarray(0, 500 * 784), (p) => (p > 0.5 ? 1 : 0)),
        [500, 28, 28, 1],
      );
      // One AIS run of iterations + 2 transitions, timed between progress callbacks: set-up and
      // the first transition are left out, as the PyTorch script's 3 warm-up steps are.
      const times: number[] = [];
      let last = 0;
      await timed(async () => {
        await aisLogLikelihood(
          parts.decoder,
          x,
          32,
          // The transition alone: a fixed step size (the pilot pass would be timed too).
          { ...DEFAULT_AIS, steps: iterations + 2, adapt: 'global' },
          new Rng(1),
          { kind: 'prior' },
          (t) => {
            const now = performance.now();
            if (t > 2) times.push(now - last);
            last = now;
          },
        );
      });
      x.dispose();
      disposeParts(parts);
      return times;
    },
  },
];
