import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/initBackend.js';
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
/** PyTorch's threads: 1 by default, like the wasm backend here (one thread). */
const torchThreads = Number(process.env.AVB_TORCH_THREADS ?? 1);

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

function torch(name: string): Timed {
  // torch.set_num_threads does not reach OpenBLAS's own pthread pool: without these variables
  // the "single-threaded" reference ran its matrix products on both cores.
  const r = spawnSync(PYTHON, [join(benchDir, 'torch_bench.py'), name, String(iterations)], {
    encoding: 'utf8',
    env: {
      ...process.env,
      AVB_TORCH_THREADS: String(torchThreads),
      OPENBLAS_NUM_THREADS: String(torchThreads),
      OMP_NUM_THREADS: String(torchThreads),
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

/** Times `name` with avb in a fresh Node process. */
function avb(name: string): ChildResult {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0) return { error: r.stderr.trim().split('\n').pop() ?? `exit ${r.status}` };
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

if (process.argv[2] === '--child') {
  const c = CASES.find((k) => k.name === process.argv[3])!;
  let result: ChildResult;
  try {
    const backend = await initBackend(process.env.AVB_BACKEND as never);
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
const rows: Record<string, unknown>[] = [];
let backend: unknown;
for (const c of CASES.filter((k) => only.length === 0 || only.includes(k.name))) {
  // avb and PyTorch alternate, `rounds` times each: slow drifts of the machine (other load,
  // clock) then reach both sides, and the medians are taken over all rounds.
  const ours: Timed = { timesMs: [] };
  const ref: Timed = { timesMs: [] };
  for (let round = 0; round < rounds; round++) {
    if (!ours.error) {
      const r = avb(c.name);
      if (r.error) ours.error = r.error;
      else {
        ours.timesMs!.push(...r.timesMs!);
        ours.peakMiB = Math.max(ours.peakMiB ?? 0, r.peakMiB ?? 0);
        backend = r.backend;
      }
    }
    if (!ref.error) {
      const r = process.env.AVB_BENCH_NO_TORCH === '1' ? { error: 'skipped' } : torch(c.name);
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
  const row = {
    case: c.name,
    description: c.description,
    avbMs,
    avbError: ours.error,
    avbPeakMiB: ours.error ? undefined : ours.peakMiB,
    torchMs,
    torchPeakMiB: ref.error ? undefined : ref.peakMiB,
    torchError: ref.error,
    ratio,
  };
  rows.push(row);
  process.stdout.write(
    `${c.name.padEnd(16)} avb ${avbMs?.toFixed(1) ?? ours.error}  ms | torch ${torchMs?.toFixed(1) ?? ref.error} ms | ratio ${ratio?.toFixed(2) ?? '-'} | peak RSS avb ${ours.peakMiB?.toFixed(0) ?? '-'} MiB, torch ${ref.peakMiB?.toFixed(0) ?? '-'} MiB\n`,
  );
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
  torchThreads,
  rows,
};
mkdirSync(benchDir, { recursive: true });
const file = process.env.AVB_WASM_STOCK === '1' ? 'results-stock-wasm.json' : 'results.json';
writeFileSync(join(benchDir, file), JSON.stringify(result, null, 2) + '\n');
process.stdout.write(`written to bench/${file}\n`);
