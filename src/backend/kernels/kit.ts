import * as tf from '../../tf.js';

/**
 * What every one of avb's wasm kernels is built from: the stock kernels it composes (captured
 * before any replacement is registered), scratch tensors disposed in one place, and the
 * backend's heap where the native addon works in place.
 */
export type Info = tf.TensorInfo;
export type KernelArgs = {
  inputs: Record<string, Info>;
  backend: tf.KernelBackend;
  attrs?: Record<string, unknown>;
};
export type Kernel = (args: KernelArgs) => Info;

/**
 * One kernel avb registers on the wasm backend: its name, the stock kernels it calls, and how
 * to build it (undefined where it cannot run, e.g. without WebAssembly SIMD: the stock kernel
 * stays).
 */
export interface KernelPatch {
  name: string;
  stock: string[];
  make: (backend: tf.KernelBackend) => Kernel | undefined;
}

export const BACKEND = 'wasm';

/** Stock wasm kernels we compose from, captured before any replacement is registered. */
const stock: Record<string, Kernel> = {};

/** Keeps the stock kernel `name` (call before registering replacements). */
export function captureStock(name: string): void {
  if (stock[name]) return;
  const cfg = tf.getKernel(name, BACKEND);
  if (!cfg) throw new Error(`avb: the wasm backend has no ${name} kernel`);
  stock[name] = cfg.kernelFunc as unknown as Kernel;
}

export function stockKernel(name: string): Kernel {
  const k = stock[name];
  if (!k) throw new Error(`avb: stock wasm kernel ${name} was not captured`);
  return k;
}

// ---------------------------------------------------------------------------------------------
// Helpers that run stock kernels on TensorInfos and track temporaries for disposal.

export class Scratch {
  private temps: Info[] = [];
  constructor(readonly backend: tf.KernelBackend) {}

  run(name: string, inputs: Record<string, Info>, attrs: Record<string, unknown> = {}): Info {
    const out = stockKernel(name)({ inputs, backend: this.backend, attrs });
    this.temps.push(out);
    return out;
  }

  make(values: Float32Array, shape: number[]): Info {
    const dataId = this.backend.write(values, shape, 'float32');
    const info: Info = { dataId, shape, dtype: 'float32' };
    this.temps.push(info);
    return info;
  }

  /** Disposes every temporary except `keep` (the kernel's output). */
  done(keep: Info): Info {
    for (const t of this.temps) if (t !== keep) this.backend.disposeData(t.dataId);
    this.temps = [];
    return keep;
  }
}

export function read(backend: tf.KernelBackend, info: Info): Float32Array {
  return backend.readSync(info.dataId) as Float32Array;
}

/** The wasm backend's allocation of outputs and views of its heap, where the addon works in place. */
export function heapOf(backend: tf.KernelBackend) {
  return backend as unknown as {
    makeOutput(shape: number[], dtype: tf.DataType): Info;
    typedArrayFromHeap(info: Info): Float32Array;
  };
}

/** Products smaller than this many multiply-adds stay on XNNPACK (the call costs more). */
export const BLAS_MIN_WORK = 16 * 16 * 16;
