import * as tf from '../tf.js';
import { stopGradient } from '../backend/stopGradient.js';
import type { Rng } from '../random/rng.js';

/**
 * A named collection of trainable weights, the unit avb's parts are built from.
 *
 * Weights live in `tf.Variable`s created with explicit random initial values from an {@link Rng}.
 * Names are paths (`encoder/fc0/w`) used by checkpoints, which check names and shapes so a
 * checkpoint of another architecture is refused instead of silently misloaded.
 *
 * `frozen` makes every weight read go through {@link stopGradient}: the primal loss uses the
 * adversary frozen, so one backward pass over `primal + adversary` gives each parameter group the
 * gradient of its own loss only.
 */
export class Module {
  private readonly weights = new Map<string, tf.Variable>();
  private readonly children = new Map<string, Module>();
  private frozenDepth = 0;

  /** Creates a weight initialised with `values` (`[...shape]`). */
  protected weight(name: string, shape: number[], values: Float32Array): tf.Variable {
    const v = tf.variable(tf.tensor(values, shape, 'float32'), true);
    this.weights.set(name, v);
    return v;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Reads a weight, through a stop-gradient while frozen. */
  protected read(v: tf.Variable): tf.Tensor {
    return this.isFrozen() ? stopGradient(v) : v;
  }

  private isFrozen(): boolean {
    return this.frozenDepth > 0;
  }

  /** Runs `f` with every weight of this module and its children seen as a constant. */
  frozen<T>(f: () => T): T {
    const all = this.modules();
    for (const m of all) m.frozenDepth++;
    try {
      return f();
    } finally {
      for (const m of all) m.frozenDepth--;
    }
  }

  private modules(): Module[] {
    return [this, ...[...this.children.values()].flatMap((c) => c.modules())];
  }

  /** All weights, keyed by path, in a stable order. */
  namedWeights(prefix = ''): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [k, v] of this.weights) out.set(prefix + k, v);
    for (const [k, c] of this.children)
      for (const [kk, v] of c.namedWeights(`${prefix}${k}/`)) out.set(kk, v);
    return out;
  }

  /** Number of scalar weights. */
  size(): number {
    let n = 0;
    for (const v of this.namedWeights().values()) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.namedWeights().values()) v.dispose();
  }
}

/** Glorot/Xavier uniform initial values for a weight with the given fan-in and fan-out. */
export function glorotUniform(rng: Rng, n: number, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.uniform() - 1) * limit;
  return out;
}
