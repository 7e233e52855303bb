import { useMatrixProduct, type MatrixProduct } from '../modelling/autodiff.js';
import { CORE_MARK, chooseOpenblasCore } from './openblasCore.js';

/**
 * The optional native addon (native/blas.c): single-precision matrix products through OpenBLAS,
 * the library PyTorch runs its products on. The wasm backend's BatchMatMul hands products to it
 * on views of the wasm heap (see wasmKernels.ts); XNNPACK's 4-lane kernels reach about half of
 * OpenBLAS's GFLOP/s on this kind of CPU. Loaded in Node only, when built; everywhere else (and
 * with AVB_NO_NATIVE=1) the wasm kernels run alone.
 */
export interface NativeBlas {
  /**
   * For i < batch: C[i] = op(A[i]) op(B[i]), row-major, op a transpose when asked; strides in
   * values between batch entries (0 broadcasts an operand).
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    batch: number,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    strideA: number,
    b: Float32Array,
    strideB: number,
    c: Float32Array,
  ): void;
  /**
   * A convolution as im2col blocks times the filter: x `[n, h, w, c]` (NHWC), filter
   * `[fh, fw, c, o]` (given as `filterShape` `[fh, fw, o]`), y `[n, oh, ow, o]`; `geometry` is
   * `[strideH, strideW, dilationH, dilationW, padTop, padLeft]` (zero padding). `mode` 0 writes
   * y = conv(x, filter); 1 writes into `x` the input gradient for dy in `y`; 2 writes into
   * `filter` the filter gradient for dy in `y`.
   */
  conv2d(
    mode: 0 | 1 | 2,
    x: Float32Array,
    xShape: number[],
    filter: Float32Array,
    filterShape: number[],
    geometry: number[],
    outHW: number[],
    y: Float32Array,
  ): void;
  /**
   * The matrix product in doubles, one thread: a batched log-density evaluation's products with
   * a model's design matrix (the modelling kit's {@link MatrixProduct}).
   */
  dgemm: MatrixProduct;
  /** out[j] = sum over i < rows of x[i d + j]: a reduction over leading axes. */
  sumRows(x: Float32Array, rows: number, d: number, out: Float32Array): void;
  /** out[at] = sum of x[i]² (a gradient's squared norm). */
  sumSquares(x: Float32Array, out: Float32Array, at: number): void;
  /** y = x > 0 ? x : alpha x; with `dy`, its gradient into `y`: x > 0 ? dy : alpha dy. */
  leakyRelu(alpha: number, x: Float32Array, y: Float32Array, dy?: Float32Array): void;
  /**
   * Element-wise into `y`: op 0 softplus(x), 1 its gradient dy sigmoid(x), 2 elu(x), 3 elu's
   * gradient from its output x: x > 0 ? dy : dy (x + 1). Vectorised (16 lanes on AVX-512).
   */
  unary(op: 0 | 1 | 2 | 3, x: Float32Array, y: Float32Array, dy?: Float32Array): void;
  /**
   * The Bernoulli log-likelihood of x under logits l, both `[rows, d]`: per row into `out`
   * `[rows]`, or with `dy` `[rows]` its gradient in the logits into `out` `[rows, d]`.
   */
  bernoulli(
    x: Float32Array,
    l: Float32Array,
    out: Float32Array,
    rows: number,
    d: number,
    dy?: Float32Array,
  ): void;
  /**
   * One Adam update of a weight into new buffers: `k` is `[alpha, beta1, 1 - beta1, beta2,
   * 1 - beta2, epsilon]` in float32; the float32 operations of `train/adam.ts` in its order.
   */
  adam(
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    wOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
    k: Float32Array,
  ): void;
  setThreads(n: number): void;
  /** `config|core|threads` as OpenBLAS reports them. */
  info(): string;
}

/** What `avb backend` reports of the native path. */
export interface NativeBlasInfo {
  /** OpenBLAS's build configuration, or why the native path is off. */
  library: string;
  /** The kernel set OpenBLAS runs (its `openblas_get_corename`). */
  core?: string;
  /** Who chose `core` where OpenBLAS did not: avb from the CPU's flags, or OPENBLAS_CORETYPE. */
  coreChosenBy?: string;
  threads?: number;
}

/** OpenBLAS's idle-thread timeout that avb sets unless the environment does (log2 of cycles). */
export const OPENBLAS_THREAD_TIMEOUT = 4;

let loaded: NativeBlas | undefined;
let status: NativeBlasInfo = { library: 'not loaded' };
/** Who chose OpenBLAS's core, where OpenBLAS's own detection did not. */
let coreChosenBy: string | undefined;

/** The addon when it is loaded and enabled. */
export function nativeBlas(): NativeBlas | undefined {
  return loaded;
}

export function nativeBlasInfo(): NativeBlasInfo {
  return status;
}

/**
 * Loads the addon (once) and sets its thread count (default: every core). Returns undefined, with the reason in
 * {@link nativeBlasInfo}, where it is disabled, not built, or not loadable.
 */
export async function loadNativeBlas(threads?: number): Promise<NativeBlas | undefined> {
  const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
  if (!isNode) {
    status = { library: 'off (not Node.js)' };
    return undefined;
  }
  if (process.env.AVB_NO_NATIVE === '1') {
    loaded = undefined;
    useMatrixProduct(undefined);
    status = { library: 'off (AVB_NO_NATIVE=1)' };
    return undefined;
  }
  if (!loaded) {
    // OpenBLAS's idle threads spin for ~0.1 s (2^28 cycles) after each threaded product, holding
    // cores that V8's own threads and avb's split kernels need. Sleeping at once (2^4 cycles),
    // measured at 2 threads: avb-ac-conv 104 -> 84 ms a step, avb-mlp 88 -> 68 (PyTorch on the
    // same OpenBLAS gains alike; `npm run bench` gives both sides this setting). OpenBLAS reads
    // it when it loads, with the addon; a user's own setting wins.
    process.env.OPENBLAS_THREAD_TIMEOUT ??= String(OPENBLAS_THREAD_TIMEOUT);
    // OpenBLAS picks its kernels when it loads; on a CPU model it does not know it falls back to
    // SSE3 ones, 4x slower (openblasCore.ts). The CPU's flags choose unless the user did; a
    // process avb starts (reproduce's commands) inherits the choice with its mark.
    const choice = await chooseOpenblasCore();
    if (choice?.fresh) {
      process.env.OPENBLAS_CORETYPE = choice.core;
      process.env[CORE_MARK] = choice.core;
    }
    coreChosenBy = choice?.chosenBy;
    try {
      // Specifiers in variables: bundlers for browsers must not follow them.
      const moduleName = 'node:module';
      const { createRequire } = (await import(
        /* @vite-ignore */ moduleName
      )) as typeof import('node:module');
      // src/backend/ and dist/backend/ are two folders below the package root, the benchmark's
      // dist-bench/src/backend/ three.
      const require = createRequire(import.meta.url);
      const paths = ['../../native/build/avb_blas.node', '../../../native/build/avb_blas.node'];
      const found = paths.find((p) => {
        try {
          require.resolve(p);
          return true;
        } catch {
          return false;
        }
      });
      loaded = require(found ?? paths[0]) as NativeBlas;
    } catch (e) {
      status = {
        library: `not available (${(e as Error).message.split('\n')[0]}); build it with node scripts/build-native.mjs`,
      };
      return undefined;
    }
  }
  const osName = 'node:os';
  const { availableParallelism } = (await import(
    /* @vite-ignore */ osName
  )) as typeof import('node:os');
  loaded.setThreads(threads ?? availableParallelism());
  // A batched log-density evaluation's products with a design matrix, in doubles (an addon
  // built before dgemm existed has none: the modelling kit's own loops run them).
  useMatrixProduct(typeof loaded.dgemm === 'function' ? loaded.dgemm : undefined);
  const [library, core, n] = loaded.info().split('|');
  status = {
    library,
    core,
    ...(coreChosenBy ? { coreChosenBy } : {}),
    threads: Number(n),
  };
  return loaded;
}
