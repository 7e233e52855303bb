import * as tf from '../../tf.js';
import { WASM_BASE64 } from './simdMath.wasm.js';

/**
 * Elementwise kernels written in WebAssembly SIMD (simdMath.wat beside this file), run directly
 * on tfjs-backend-wasm's heap: our module imports the backend's own memory, so a kernel reads its
 * inputs and writes its output in place, without copies.
 *
 * - `Softplus` replaces the stock kernel, which calls scalar libm: ~44 ms per 3.1M values against
 *   ~4 ms for XNNPACK's vectorised sigmoid, a quarter of an AIS transition on MNIST. Ours: ~10 ms.
 * - {@link BERNOULLI_LL_KERNEL} and its gradient are new kernels: a Bernoulli decoder's
 *   log-likelihood summed per example, x l - softplus(l), in one pass over the logits instead of
 *   five, and its gradient dy (x - sigmoid(l)) in one pass instead of seven
 *   (see nn/bernoulliLogLikelihood.ts, which falls back to tfjs ops on other backends).
 */

/**
 * Kernel name: `{w, g, m, v}` (float32, one shape) with attrs `{alpha, beta1, c1, beta2, c2,
 * epsilon}` -> `[w', m', v']`, one Adam update (see simdMath.wat) in one pass.
 */
export const ADAM_KERNEL = 'AvbAdamUpdate';

/** Adam's attributes as the kernel takes them (c1 = 1 - beta1, c2 = 1 - beta2, in doubles). */
export interface AdamKernelAttrs {
  alpha: number;
  beta1: number;
  c1: number;
  beta2: number;
  c2: number;
  epsilon: number;
}

/** Kernel name: `{x [n, d], logits [n, d]}` (float32, d a multiple of 4) -> `[n]`. */
export const BERNOULLI_LL_KERNEL = 'AvbBernoulliLogLikelihood';
/** Kernel name: `{x, logits, dy [n]}` -> d/dlogits `[n, d]`. */
export const BERNOULLI_LL_GRAD_KERNEL = 'AvbBernoulliLogLikelihoodGrad';

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackendInternals {
  wasm: { asm?: { memory?: WebAssembly.Memory } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

type UnaryKernel = (args: {
  inputs: { x: tf.TensorInfo };
  backend: tf.KernelBackend;
}) => tf.TensorInfo;

interface SimdExports {
  softplus(xPtr: number, yPtr: number, n: number): void;
  adam(
    w: number,
    g: number,
    m: number,
    v: number,
    wOut: number,
    mOut: number,
    vOut: number,
    n: number,
    alpha: number,
    beta1: number,
    c1: number,
    beta2: number,
    c2: number,
    epsilon: number,
  ): void;
  bernoulli_ll(xPtr: number, lPtr: number, outPtr: number, rows: number, d: number): void;
  bernoulli_ll_grad(
    xPtr: number,
    lPtr: number,
    dyPtr: number,
    gPtr: number,
    rows: number,
    d: number,
  ): void;
}

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** One instance of the SIMD module per backend (null: not available there). */
const instances = new WeakMap<object, SimdExports | null>();

/**
 * The SIMD module instantiated on the backend's memory; undefined where WebAssembly SIMD or the
 * backend's memory is not available (older browsers, the threaded build's shared memory), in
 * which case the stock kernels stay.
 */
function simdFor(backend: WasmBackendInternals): SimdExports | undefined {
  let simd = instances.get(backend);
  if (simd === undefined) {
    simd = instantiate(backend) ?? null;
    instances.set(backend, simd);
  }
  return simd ?? undefined;
}

function instantiate(backend: WasmBackendInternals): SimdExports | undefined {
  const memory = backend.wasm.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  const bytes = decodeBase64(WASM_BASE64);
  if (!WebAssembly.validate(bytes)) return undefined;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    return instance.exports as unknown as SimdExports;
  } catch {
    return undefined;
  }
}

/** Scalar softplus for the last (n mod 4) values, which the 4-lane loop does not reach. */
function softplusScalar(v: number): number {
  return Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
}

/**
 * A Softplus kernel for the wasm backend `backend`, or undefined where SIMD is unavailable
 * (the caller then keeps the stock kernel). `stock` runs non-float32 inputs.
 */
export function simdSoftplusKernel(
  backend: tf.KernelBackend,
  stock: UnaryKernel,
): UnaryKernel | undefined {
  const b = backend as unknown as WasmBackendInternals;
  const simd = simdFor(b);
  if (!simd) return undefined;
  return (args) => {
    const { x } = args.inputs;
    if (x.dtype !== 'float32') return stock(args);
    const out = b.makeOutput(x.shape, 'float32');
    const xs = b.typedArrayFromHeap(x);
    const ys = b.typedArrayFromHeap(out);
    const n = xs.length;
    const vectorised = n - (n % 4);
    // Byte offsets into the shared heap; tfjs allocates every tensor's data there.
    if (vectorised > 0) simd.softplus(xs.byteOffset, ys.byteOffset, vectorised);
    for (let i = vectorised; i < n; i++) ys[i] = softplusScalar(xs[i]);
    return out;
  };
}

type Kernel = (args: {
  inputs: Record<string, tf.TensorInfo>;
  backend: tf.KernelBackend;
}) => tf.TensorInfo;

/**
 * The fused Bernoulli log-likelihood kernels for the wasm backend `backend` (forward, gradient),
 * or undefined where SIMD is unavailable.
 */
export function simdBernoulliKernels(
  backend: tf.KernelBackend,
): { forward: Kernel; gradient: Kernel } | undefined {
  const b = backend as unknown as WasmBackendInternals;
  const simd = simdFor(b);
  if (!simd) return undefined;
  const check = (x: tf.TensorInfo, logits: tf.TensorInfo) => {
    const [n, d] = logits.shape;
    if (logits.shape.length !== 2 || d % 4 !== 0 || x.shape.join() !== logits.shape.join()) {
      throw new Error(`${BERNOULLI_LL_KERNEL} needs x and logits [n, d] with d % 4 == 0`);
    }
    if (x.dtype !== 'float32' || logits.dtype !== 'float32') {
      throw new Error(`${BERNOULLI_LL_KERNEL} needs float32 inputs`);
    }
    return [n, d];
  };
  return {
    forward: ({ inputs: { x, logits } }) => {
      const [n, d] = check(x, logits);
      const out = b.makeOutput([n], 'float32');
      const ptr = (t: tf.TensorInfo) => b.typedArrayFromHeap(t).byteOffset;
      simd.bernoulli_ll(ptr(x), ptr(logits), ptr(out), n, d);
      return out;
    },
    gradient: ({ inputs: { x, logits, dy } }) => {
      const [n, d] = check(x, logits);
      const out = b.makeOutput([n, d], 'float32');
      const ptr = (t: tf.TensorInfo) => b.typedArrayFromHeap(t).byteOffset;
      simd.bernoulli_ll_grad(ptr(x), ptr(logits), ptr(dy), ptr(out), n, d);
      return out;
    },
  };
}

/**
 * The fused Adam kernel for the wasm backend `backend` (see {@link ADAM_KERNEL}), or undefined
 * where SIMD is unavailable. The last n mod 4 values are updated in JS with float32 rounding
 * after every operation, as the 4-lane loop does.
 */
export function simdAdamKernel(
  backend: tf.KernelBackend,
):
  | ((args: { inputs: Record<string, tf.TensorInfo>; attrs?: unknown }) => tf.TensorInfo[])
  | undefined {
  const b = backend as unknown as WasmBackendInternals;
  const simd = simdFor(b);
  if (!simd) return undefined;
  return ({ inputs: { w, g, m, v }, attrs }) => {
    const a = attrs as AdamKernelAttrs;
    const outs = [w, m, v].map((t) => b.makeOutput(t.shape, 'float32'));
    // Views after every allocation: an allocation may grow the heap and detach older views.
    const [W, G, M, V, WO, MO, VO] = [w, g, m, v, ...outs].map((t) => b.typedArrayFromHeap(t));
    const n = W.length;
    const vectorised = n - (n % 4);
    if (vectorised > 0) {
      simd.adam(
        W.byteOffset,
        G.byteOffset,
        M.byteOffset,
        V.byteOffset,
        WO.byteOffset,
        MO.byteOffset,
        VO.byteOffset,
        vectorised,
        a.alpha,
        a.beta1,
        a.c1,
        a.beta2,
        a.c2,
        a.epsilon,
      );
    }
    const f = Math.fround;
    const [alpha, b1, c1, b2, c2, eps] = [a.alpha, a.beta1, a.c1, a.beta2, a.c2, a.epsilon].map(f);
    for (let i = vectorised; i < n; i++) {
      const mi = f(f(M[i] * b1) + f(G[i] * c1));
      const vi = f(f(V[i] * b2) + f(f(G[i] * G[i]) * c2));
      MO[i] = mi;
      VO[i] = vi;
      WO[i] = f(W[i] - f(f(mi * alpha) / f(f(Math.sqrt(vi)) + eps)));
    }
    return outs;
  };
}
