import * as tf from '../tf.js';

/**
 * The single seeded random source of avb.
 *
 * Every random number in a run — weight initialisation, encoder noise, prior draws, minibatch
 * shuffling, dynamic binarisation, HMC momenta — comes from an `Rng`, so one seed fixes the
 * whole run. The generator is xoshiro128** (Blackman & Vigna): 128 bits of state, fast in
 * 32-bit JavaScript arithmetic and with a state small enough to store in every checkpoint, which
 * is what makes `--resume` continue with exactly the numbers an uninterrupted run would draw.
 *
 * ```ts
 * const rng = new Rng(42);
 * const eps = rng.normalTensor([128, 64]); // caller disposes
 * const again = Rng.fromState(rng.state()); // continues the same stream
 * ```
 */
export class Rng {
  private s: Uint32Array;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    this.s = new Uint32Array(4);
    // SplitMix32 expands the seed so that nearby seeds give unrelated streams.
    let x = Math.trunc(seed) >>> 0;
    const hi = Math.floor(Math.trunc(seed) / 2 ** 32) >>> 0;
    x ^= Math.imul(hi, 0x9e3779b9);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s[0] === 0 && this.s[1] === 0 && this.s[2] === 0 && this.s[3] === 0) this.s[0] = 1;
  }

  /** Restores a generator from {@link Rng.state}. */
  static fromState(state: readonly number[]): Rng {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v >= 2 ** 32)) {
      throw new Error('random state must be four unsigned 32-bit integers');
    }
    const r = new Rng(0);
    r.s.set(state);
    return r;
  }

  /** The full generator state: four unsigned 32-bit integers (JSON-safe). */
  state(): number[] {
    return Array.from(this.s);
  }

  /** A new generator whose stream is independent of this one (consumes one draw here). */
  fork(): Rng {
    return new Rng(this.uint32() * 2 ** 20 + (this.uint32() >>> 12));
  }

  /** Uniform integer in [0, 2^32). */
  uint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    return ((this.uint32() >>> 5) * 67108864 + (this.uint32() >>> 6)) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal draw (Box–Muller; no cached spare, so the state alone defines the stream). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fills `out` with standard normal draws (two per Box–Muller pair). */
  fillNormal(out: Float32Array): Float32Array {
    const n = out.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
      const a = 2 * Math.PI * this.uniform();
      out[i] = r * Math.cos(a);
      out[i + 1] = r * Math.sin(a);
    }
    if (i < n) out[i] = this.normal();
    return out;
  }

  /** Fills `out` with uniform draws in [0, 1). */
  fillUniform(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.uint32() / 4294967296;
    return out;
  }

  /** Standard normal tensor of `shape`. Caller disposes. */
  normalTensor(shape: number[]): tf.Tensor {
    return tf.tensor(this.fillNormal(new Float32Array(sizeOf(shape))), shape, 'float32');
  }

  /** Uniform [0,1) tensor of `shape`. Caller disposes. */
  uniformTensor(shape: number[]): tf.Tensor {
    return tf.tensor(this.fillUniform(new Float32Array(sizeOf(shape))), shape, 'float32');
  }

  /** Fisher–Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
