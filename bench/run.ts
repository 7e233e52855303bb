import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '../src/tf.js';
import { initBackend } from '../src/backend/initBackend.js';
import { OPENBLAS_THREAD_TIMEOUT } from '../src/backend/nativeBlas.js';
import { chooseOpenblasCore } from '../src/backend/openblasCore.js';
import { CASES } from './cases.js';

/**
 * `npm run bench`: each case with avb (wasm backend) and with PyTorch (bench/torch_bench.py),
 * interleaved case by case in one run so machine noise affects both alike. Prints median ms per
 * step, the ratio avb / PyTorch and peak memory; writes bench/results.json.
 *
 * Each timing runs in its own process (avb: this file with `--child <case>`), so a case's peak
 * resident memory is its own and no case inherits another's heap or JIT state.
 */
const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, '..', '..', 'bench');
const iterations = Number(process.env.AVB_BENCH_STEPS ?? 20);
/** avb / PyTorch alternations per case. */
const rounds = Number(process.env.AVB_BENCH_ROUNDS ?? 2);
/**
 * The thread axis: every case is timed at each of these thread counts, the same on both sides
 * (avb: `AVB_THREADS`; PyTorch: its own, OpenBLAS's and OpenMP's). Default 1 and the machine's
 * cores, so a bigger machine shows the scaling against PyTorch's.
 */
const threadAxis = (process.env.AVB_BENCH_THREADS ?? `1,${cpus().length}`)
  .split(',')
  .map(Number)
  .filter((n, i, all) => Number.isInteger(n) && n >= 1 && all.indexOf(n) === i);
if (threadAxis.length === 0) {
  process.stderr.write('AVB_BENCH_THREADS: give thread counts, e.g. 1,2,4\n');
  process.exit(2);
}
/** Threads of the calibration (one 1024³ sgemm a side): the axis's first. */
const torchThreads = threadAxis[0];
/** PyTorch's sgemm below this fraction of OpenBLAS's speed through avb's addon: warn. */
const SLOW_REFERENCE = 0.7;

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Debian's python3-torch lives under /usr/bin/python3 (a pyenv python3 on PATH would not see it). */
const PYTHON =
  process.env.AVB_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

interface Timed {
  timesMs?: number[];
  peakMiB?: number;
  error?: string;
}

/** The OpenBLAS core both sides run: the user's OPENBLAS_CORETYPE, else avb's choice. */
const OPENBLAS_CORE = (await chooseOpenblasCore())?.core;

function torch(name: string, threads = torchThreads): Timed {
  // torch.set_num_threads does not reach OpenBLAS's own pthread pool: without these variables
  // the "single-threaded" reference ran its matrix products on both cores.
  const args = name === '--calibrate' ? [name] : [name, String(iterations)];
  const r = spawnSync(PYTHON, [join(benchDir, 'torch_bench.py'), ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      AVB_TORCH_THREADS: String(threads),
      OPENBLAS_NUM_THREADS: String(threads),
      OMP_NUM_THREADS: String(threads),
      // PyTorch's OpenMP threads spin while OpenBLAS's own pthreads work (and the other way
      // round): at 2 threads each, avb-mlp took 215-279 ms instead of 84 without the spinning.
      OMP_WAIT_POLICY: 'PASSIVE',
      // The idle-thread timeout avb gives its OpenBLAS (src/backend/nativeBlas.ts), which
      // PyTorch's gains from as much (at 2 threads avb-ac-conv 158 -> 116 ms, an AIS transition
      // 610 -> 506).
      OPENBLAS_THREAD_TIMEOUT:
        process.env.OPENBLAS_THREAD_TIMEOUT ?? String(OPENBLAS_THREAD_TIMEOUT),
      // The kernels avb's OpenBLAS runs (src/backend/openblasCore.ts): PyTorch's OpenBLAS, left
      // to its own detection, can fall back to SSE3 kernels 4x slower on a VM's CPU.
      ...(OPENBLAS_CORE ? { OPENBLAS_CORETYPE: OPENBLAS_CORE } : {}),
    },
  });
  if (r.status !== 0) {
    const missing = /No module named 'torch'/.test(r.stderr);
    return {
      error: missing
        ? 'PyTorch is not installed (apt-get install python3-torch libopenblas0-pthread)'
        : r.stderr.trim().split('\n').pop(),
    };
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Timed;
}

interface ChildResult extends Timed {
  backend?: unknown;
}

/** Times `name` with avb in a fresh Node process (`--calibrate`: the sgemm calibration). */
function avb(
  name: string,
  threads = torchThreads,
  extraEnv: Record<string, string> = {},
): ChildResult {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AVB_THREADS: String(threads), ...extraEnv },
  });
  if (r.status !== 0) return { error: r.stderr.trim().split('\n').pop() ?? `exit ${r.status}` };
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

/** One 1024^3 float32 matrix product on the current backend, best of 5, in GFLOP/s. */
function sgemmGflops(): number {
  const a = tf.randomNormal([1024, 1024]);
  const b = tf.randomNormal([1024, 1024]);
  let best = Infinity;
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    best = Math.min(best, performance.now() - t0);
    c.dispose();
  }
  tf.dispose([a, b]);
  return (2 * 1024 ** 3) / (best / 1000) / 1e9;
}

if (process.argv[2] === '--child') {
  const name = process.argv[3];
  let result: ChildResult;
  try {
    const backend = await initBackend(process.env.AVB_BACKEND as never);
    if (name === '--calibrate') {
      process.stdout.write(JSON.stringify({ backend, sgemmGflops: sgemmGflops() }) + '\n');
      process.exit(0);
    }
    const c = CASES.find((k) => k.name === name)!;
    const timesMs = await c.run(iterations);
    result = { timesMs, peakMiB: process.resourceUsage().maxRSS / 1024, backend };
  } catch (e) {
    // e.g. stock wasm (AVB_WASM_STOCK=1) has no conv filter gradient
    result = { error: (e as Error).message.split('\n')[0] };
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

const only = process.argv.slice(2);
const unknown = only.filter((n) => !CASES.some((c) => c.name === n));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown case ${unknown.join(', ')}; cases: ${CASES.map((c) => c.name).join(', ')}\n`,
  );
  process.exit(2);
}
const noTorch = process.env.AVB_BENCH_NO_TORCH === '1';

// What each side runs on, and one 1024^3 sgemm each: a reader sees at once when the reference
// is crippled (a reference BLAS, the wrong core type, both cores) or the machine is slow.
const calibration = calibrate();

const rows: Record<string, unknown>[] = [];
let backend: unknown;
const selected = CASES.filter((k) => only.length === 0 || only.includes(k.name));
const plan = threadAxis.flatMap((threads) => selected.map((c) => ({ c, threads })));
for (const { c, threads } of plan) {
  // avb and PyTorch alternate, `rounds` times each: slow drifts of the machine (other load,
  // clock) then reach both sides, and the medians are taken over all rounds.
  const ours: Timed = { timesMs: [] };
  const ref: Timed = { timesMs: [] };
  for (let round = 0; round < rounds; round++) {
    if (!ours.error) {
      const r = avb(c.name, threads);
      if (r.error) ours.error = r.error;
      else {
        ours.timesMs!.push(...r.timesMs!);
        ours.peakMiB = Math.max(ours.peakMiB ?? 0, r.peakMiB ?? 0);
        backend = r.backend;
      }
    }
    if (!ref.error) {
      const r = noTorch ? { error: 'skipped' } : torch(c.name, threads);
      if (r.error) ref.error = r.error;
      else {
        ref.timesMs!.push(...r.timesMs!);
        ref.peakMiB = Math.max(ref.peakMiB ?? 0, r.peakMiB ?? 0);
      }
    }
  }
  const avbMs = ours.error ? undefined : median(ours.timesMs!);
  const torchMs = ref.error ? undefined : median(ref.timesMs!);
  const ratio = avbMs && torchMs ? avbMs / torchMs : undefined;
  const spread = (t: Timed) =>
    t.error || !t.timesMs?.length
      ? undefined
      : [Math.min(...t.timesMs), Math.max(...t.timesMs)].map((v) => Number(v.toFixed(2)));
  const label = threads === 1 ? c.name : `${c.name}@${threads}t`;
  const row = {
    case: label,
    threads,
    description: c.description,
    avbMs,
    avbMinMaxMs: spread(ours),
    avbError: ours.error,
    avbPeakMiB: ours.error ? undefined : ours.peakMiB,
    torchMs,
    torchMinMaxMs: spread(ref),
    torchPeakMiB: ref.error ? undefined : ref.peakMiB,
    torchError: ref.error,
    ratio,
  };
  rows.push(row);
  process.stdout.write(
    `${label.padEnd(18)} avb ${avbMs?.toFixed(1) ?? ours.error} ms | torch ${torchMs?.toFixed(1) ?? ref.error} ms | ratio ${ratio?.toFixed(2) ?? '-'} | peak RSS avb ${ours.peakMiB?.toFixed(0) ?? '-'} MiB, torch ${ref.peakMiB?.toFixed(0) ?? '-'} MiB\n`,
  );
}

/** Both sides' BLAS and sgemm speed; prints the lines and warns of a slow reference. */
function calibrate() {
  const native = avb('--calibrate') as ChildResult & { sgemmGflops?: number };
  const xnnpack = avb('--calibrate', torchThreads, { AVB_NO_NATIVE: '1' }) as ChildResult & {
    sgemmGflops?: number;
  };
  const ref = noTorch
    ? undefined
    : (torch('--calibrate') as Timed & {
        sgemmGflops?: number;
        torch?: string;
        blasLibraries?: string[];
        openblasEnv?: Record<string, string>;
        config?: string;
      });
  const blas = (native.backend as { blas?: { library: string; core?: string; threads?: number } })
    ?.blas;
  const lines = [
    `avb:   tfjs wasm (SIMD), ${torchThreads} thread(s); matrix products: ${blas?.core ? `OpenBLAS (${blas.library}), core ${blas.core}, ${blas.threads} thread(s)` : `XNNPACK (${blas?.library ?? 'no native addon'})`}`,
    `avb:   sgemm 1024^3 ${native.sgemmGflops?.toFixed(1) ?? native.error} GFLOP/s (XNNPACK alone: ${xnnpack.sgemmGflops?.toFixed(1) ?? xnnpack.error} GFLOP/s)`,
  ];
  if (ref && !ref.error) {
    lines.push(
      `torch: ${ref.torch}, ${torchThreads} thread(s); BLAS loaded: ${ref.blasLibraries?.join(', ') || 'none found'}; ${Object.entries(
        ref.openblasEnv ?? {},
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
      `torch: sgemm 1024^3 ${ref.sgemmGflops?.toFixed(1)} GFLOP/s`,
    );
    if (blas?.core && ref.sgemmGflops && native.sgemmGflops) {
      if (ref.sgemmGflops < SLOW_REFERENCE * native.sgemmGflops)
        lines.push(
          `WARNING: PyTorch's sgemm runs at ${ref.sgemmGflops.toFixed(1)} GFLOP/s, below ${(100 * SLOW_REFERENCE).toFixed(0)}% of the ${native.sgemmGflops.toFixed(1)} GFLOP/s the same OpenBLAS reaches through avb: the reference is not at full speed (check the BLAS it loaded and OPENBLAS_CORETYPE); ratios below flatter avb`,
        );
    }
  } else lines.push(`torch: ${ref?.error ?? 'skipped'}`);
  process.stdout.write(lines.join('\n') + '\n');
  return {
    avb: { blas, sgemmGflops: native.sgemmGflops, xnnpackSgemmGflops: xnnpack.sgemmGflops },
    torch: ref?.error ? { error: ref.error } : ref,
  };
}

const result = {
  date: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
  },
  backend,
  stepsPerCase: iterations,
  rounds,
  threads: threadAxis,
  calibration,
  rows,
};
mkdirSync(benchDir, { recursive: true });
const file = process.env.AVB_WASM_STOCK === '1' ? 'results-stock-wasm.json' : 'results.json';
writeFileSync(join(benchDir, file), JSON.stringify(result, null, 2) + '\n');
process.stdout.write(`written to bench/${file}\n`);
