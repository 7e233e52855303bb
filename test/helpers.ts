import * as tf from '@tensorflow/tfjs';
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
