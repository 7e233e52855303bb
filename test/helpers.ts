import * as tf from '../src/tf.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainerConfig } from '../src/train/trainer.js';
import { initBackend } from '../src/backend/initBackend.js';
import type { BackendName } from '../src/backend/initBackend.js';

/** Initialises `name` (wasm by default: what CI and browsers run) for a test file. */
export async function useBackend(name: BackendName = 'wasm'): Promise<void> {
  await initBackend(name);
  await tf.setBackend(name);
}

/** Largest |a - b| / (1 + |b|) over two equally long arrays. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return m;
}

/** Adam settings for small test problems: one learning rate for both groups, beta1 0.5. */
export function testTrainerConfig(
  learningRate: number,
  overrides: Partial<TrainerConfig> = {},
): TrainerConfig {
  const adam = { learningRate, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 };
  return {
    batch: 32,
    primal: adam,
    adversary: adam,
    schedule: 'alternating',
    adversarySteps: 2,
    klAnnealSteps: 0,
    ...overrides,
  };
}

/** A run folder's metrics.jsonl without the wall-clock step time, which differs between runs. */
export function metricsOf(runDir: string): Record<string, number>[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const m = JSON.parse(l) as Record<string, number>;
      delete m.stepMs;
      return m;
    });
}

/** Sample mean and sd (n - 1) of column `k` of draws `values[i][k]`. */
export function moments(values: number[][], k: number): { mean: number; sd: number } {
  const v = values.map((r) => r[k]);
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return { mean: m, sd: Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) };
}
