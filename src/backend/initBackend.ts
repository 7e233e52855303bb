import * as tf from '../tf.js';
import '@tensorflow/tfjs-backend-wasm';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { AvbUserError } from '../errors.js';
import { loadNativeBlas, nativeBlasInfo } from './nativeBlas.js';
import type { NativeBlasInfo } from './nativeBlas.js';
import { registerWasmKernels } from './wasmKernels.js';

/** Environment variable for the threads of the native BLAS path (default: all cores). */
export const THREADS_ENV = 'AVB_THREADS';

/** Backends avb can run on, fastest first. `tensorflow` is `@tensorflow/tfjs-node` (native). */
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
/** `auto` picks the first backend of {@link BACKEND_NAMES} that loads. */
export type BackendChoice = BackendName | 'auto';

/** Environment variable that overrides the backend when no explicit choice is given. */
export const BACKEND_ENV = 'AVB_BACKEND';

export interface BackendInfo {
  /** The backend tensors run on. */
  name: BackendName;
  /** How it was chosen. */
  chosenBy: 'option' | 'environment' | 'auto';
  /** tfjs version (and the native TensorFlow version for `tensorflow`). */
  version: string;
  /** Threads the backend computes with (1 for wasm under Node: tfjs refuses threads there). */
  threads: number;
  /** Kernels avb replaced or added on this backend. */
  patchedKernels: string[];
  /** wasm: the native BLAS path for matrix products (OpenBLAS), or why it is off. */
  blas?: NativeBlasInfo;
}

let current: BackendInfo | undefined;

/** The backend chosen by {@link initBackend}, or undefined before it ran. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

/**
 * Chooses and initialises the tensor backend, once per process (later calls with the same
 * choice return the same info).
 *
 * Order for `auto`: `@tensorflow/tfjs-node` when installed (an optional peer dependency: it
 * downloads libtensorflow at install time, which needs internet), else the wasm backend (ships
 * its .wasm files in the npm package, works offline and in browsers), else the pure-JS cpu
 * backend. `choice` (from `--backend`) wins over the `AVB_BACKEND` environment variable.
 */
export async function initBackend(
  choice?: BackendChoice,
  options: {
    threads?: number;
    /**
     * Browsers: where the wasm backend's `.wasm` files are served, when a bundler moved them
     * away from the script: a URL prefix ending in `/`, or a URL per file name.
     */
    wasmPaths?: Parameters<typeof setWasmPaths>[0];
  } = {},
): Promise<BackendInfo> {
  if (options.wasmPaths) setWasmPaths(options.wasmPaths);
  const fromEnv = envVar(BACKEND_ENV);
  const chosenBy: BackendInfo['chosenBy'] =
    choice && choice !== 'auto' ? 'option' : fromEnv ? 'environment' : 'auto';
  const requested = choice && choice !== 'auto' ? choice : fromEnv || 'auto';
  if (requested !== 'auto' && !(BACKEND_NAMES as readonly string[]).includes(requested)) {
    const where = chosenBy === 'environment' ? `${BACKEND_ENV}=${requested}` : requested;
    throw new AvbUserError(
      `unknown backend '${where}'; use one of: auto, ${BACKEND_NAMES.join(', ')}`,
    );
  }
  if (current && (requested === 'auto' || requested === current.name)) return current;

  blasThreads = chooseThreads(options.threads);
  const candidates: BackendName[] =
    requested === 'auto' ? [...BACKEND_NAMES] : [requested as BackendName];
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      if (await activate(name)) {
        current = describe(name, chosenBy);
        return current;
      }
      failures.push(`${name}: not available`);
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const hint =
    requested === 'tensorflow'
      ? ' (install it with `npm install @tensorflow/tfjs-node`, which needs internet access)'
      : '';
  throw new AvbUserError(`cannot start backend '${requested}'${hint}: ${failures.join('; ')}`);
}

async function activate(name: BackendName): Promise<boolean> {
  if (name === 'tensorflow') {
    try {
      // A variable specifier keeps bundlers and tsc from requiring the optional package.
      const pkg = '@tensorflow/tfjs-node';
      await import(/* @vite-ignore */ pkg);
    } catch {
      return false;
    }
  }
  // The cpu backend prints a "use tfjs-node" banner on first use unless PROD is set.
  tf.env().set('PROD', true);
  if (!(await tf.setBackend(name))) return false;
  await tf.ready();
  // AVB_WASM_STOCK=1 keeps tfjs's own wasm kernels: for measuring what avb's kernels change
  // (`npm run bench`); conv gradients then fail (tfjs 4.22 lacks Conv2DBackpropFilter).
  if (name === 'wasm' && envVar('AVB_WASM_STOCK') !== '1') {
    registerWasmKernels();
    await loadNativeBlas(blasThreads);
  }
  return true;
}

/** Threads for the native BLAS path: the option, else AVB_THREADS, else (undefined) every core. */
let blasThreads: number | undefined;
function chooseThreads(option: number | undefined): number | undefined {
  if (option !== undefined) return option;
  const fromEnv = envVar(THREADS_ENV);
  if (fromEnv === undefined || fromEnv === '') return undefined;
  const n = Number(fromEnv);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new AvbUserError(
      `${THREADS_ENV}=${fromEnv} is not a positive integer; unset it or fix it`,
    );
  return n;
}

function describe(name: BackendName, chosenBy: BackendInfo['chosenBy']): BackendInfo {
  let version = `tfjs ${tf.version_core}`;
  let threads = 1;
  if (name === 'wasm') threads = getThreadsCount();
  if (name === 'tensorflow') {
    const tfNode = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
    if (tfNode?.TF_Version) version += `, TensorFlow ${tfNode.TF_Version}`;
    threads = 0; // native TensorFlow sizes its own thread pools
  }
  return {
    name,
    chosenBy,
    version,
    threads,
    patchedKernels:
      name === 'wasm' && envVar('AVB_WASM_STOCK') !== '1' ? registerWasmKernels() : [],
    ...(name === 'wasm' ? { blas: nativeBlasInfo() } : {}),
  };
}

/** An environment variable in Node; undefined in a browser, which has no `process`. */
function envVar(name: string): string | undefined {
  return typeof process === 'undefined' ? undefined : process.env?.[name];
}
