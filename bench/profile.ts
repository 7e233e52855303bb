import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '../src/tf.js';
import { initBackend } from '../src/backend/initBackend.js';
import { CASES } from './cases.js';

/**
 * `npm run bench:profile`: where a bench case's step spends its time, kernel by kernel, at each
 * thread count of `AVB_BENCH_THREADS` (default 1 and the machine's cores). Every timed step runs
 * under `tf.profile`, which times each kernel on the wasm backend (wall clock around the
 * synchronous kernel); what the step took beyond its kernels is JavaScript: tfjs's bookkeeping,
 * the gradient tape, avb's own code and the read-back of the loss. Kernels are grouped by what
 * they do (see {@link GROUPS}); prints a table per case and writes bench/profile.json.
 *
 * The profiler's own bookkeeping lengthens a step by a few percent; the shares, not the absolute
 * times, are the point (`npm run bench` times the steps bare).
 */
const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, '..', '..', 'bench');
const steps = Number(process.env.AVB_BENCH_STEPS ?? 10);
const threadCounts = (process.env.AVB_BENCH_THREADS ?? `1,${cpus().length}`)
  .split(',')
  .map(Number)
  .filter((n, i, all) => n >= 1 && all.indexOf(n) === i);

/** Kernel groups, first match wins; everything else is element-wise arithmetic. */
const GROUPS: [string, RegExp][] = [
  ['matrix products (OpenBLAS)', /^(BatchMatMul|_FusedMatMul|Conv2D|Conv2DBackprop\w*)$/],
  ['Adam', /^AvbAdamUpdate|Adam/],
  ['reductions', /^(Sum|Mean|Max|Min|Prod|All|Any|ArgMax|ArgMin|Logsumexp)$/],
  [
    'copies and layout',
    /^(Reshape|Identity|Cast|Transpose|Concat|Slice|StridedSlice|Pack|Unpack|Tile|GatherV2|Fill|ZerosLike|OnesLike|Pad|PadV2|MirrorPad|Reverse|BroadcastTo|SplitV|Select)$/,
  ],
];

interface KernelTotals {
  ms: number;
  count: number;
}

interface CaseProfile {
  case: string;
  threads: number;
  /** Median wall ms per step under the profiler. */
  stepMs: number;
  /** Kernel ms per step, by kernel name. */
  kernels: Record<string, KernelTotals>;
  error?: string;
}

function groupOf(kernel: string): string {
  return GROUPS.find(([, re]) => re.test(kernel))?.[0] ?? 'element-wise';
}

if (process.argv[2] === '--child') {
  const name = process.argv[3];
  let result: CaseProfile;
  try {
    await initBackend(process.env.AVB_BACKEND as never);
    const c = CASES.find((k) => k.name === name)!;
    const totals: Record<string, KernelTotals> = {};
    let profiled = 0;
    const times = await c.run(steps, async (step) => {
      const info = await tf.profile(step as () => tf.TensorContainer);
      profiled++;
      for (const k of info.kernels) {
        // A custom-gradient op is listed as `forward` around the kernels it runs, which are
        // listed too: counting it would count them twice.
        if (k.name === 'forward') continue;
        // AVB_PROFILE_SHAPES=1: one row per kernel and input shapes (which call is the costly one).
        const key = process.env.AVB_PROFILE_SHAPES
          ? `${k.name} ${JSON.stringify(k.inputShapes)}`
          : k.name;
        const t = (totals[key] ??= { ms: 0, count: 0 });
        t.ms += Number(k.kernelTimeMs);
        t.count += 1;
      }
    });
    // Per step: a trainer case profiles each timed step; the AIS case profiles one run, of its
    // timed transitions and the 2 untimed ones before them.
    const per = profiled < times.length ? times.length + 2 : profiled;
    for (const t of Object.values(totals)) {
      t.ms /= per;
      t.count /= per;
    }
    const sorted = [...times].sort((a, b) => a - b);
    result = {
      case: name,
      threads: Number(process.env.AVB_THREADS),
      stepMs: sorted[Math.floor(sorted.length / 2)],
      kernels: totals,
    };
  } catch (e) {
    result = {
      case: name,
      threads: Number(process.env.AVB_THREADS),
      stepMs: NaN,
      kernels: {},
      error: (e as Error).message.split('\n')[0],
    };
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

const only = process.argv.slice(2);
const selected = CASES.filter((k) => only.length === 0 || only.includes(k.name));
if (selected.length === 0) {
  process.stderr.write(`no such case; cases: ${CASES.map((c) => c.name).join(', ')}\n`);
  process.exit(2);
}

const results: CaseProfile[] = [];
for (const c of selected) {
  for (const threads of threadCounts) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', c.name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, AVB_THREADS: String(threads) },
    });
    const p = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as CaseProfile;
    results.push(p);
    if (p.error) {
      console.log(`${c.name}, ${threads} thread(s): ${p.error}`);
      continue;
    }
    console.log(report(p));
  }
}
mkdirSync(benchDir, { recursive: true });
writeFileSync(join(benchDir, 'profile.json'), JSON.stringify(results, null, 2) + '\n');
console.log('written to bench/profile.json');

/** One case's table: each group's ms per step and share, then the heaviest kernels. */
function report(p: CaseProfile): string {
  const groups = new Map<string, number>();
  let kernelMs = 0;
  for (const [name, t] of Object.entries(p.kernels)) {
    groups.set(groupOf(name), (groups.get(groupOf(name)) ?? 0) + t.ms);
    kernelMs += t.ms;
  }
  groups.set('JavaScript (step minus kernels)', Math.max(0, p.stepMs - kernelMs));
  const share = (ms: number) => `${((100 * ms) / p.stepMs).toFixed(0)}%`;
  const lines = [
    `\n${p.case}, ${p.threads} thread(s): ${p.stepMs.toFixed(1)} ms per step (profiled), ${Object.values(
      p.kernels,
    )
      .reduce((s, t) => s + t.count, 0)
      .toFixed(0)} kernels`,
    '| part | ms per step | share |',
    '| --- | --- | --- |',
    ...[...groups]
      .sort((a, b) => b[1] - a[1])
      .map(([g, ms]) => `| ${g} | ${ms.toFixed(2)} | ${share(ms)} |`),
    '',
    '| kernel | calls per step | ms per step | share |',
    '| --- | --- | --- | --- |',
    ...Object.entries(p.kernels)
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 12)
      .map(([k, t]) => `| ${k} | ${t.count.toFixed(0)} | ${t.ms.toFixed(2)} | ${share(t.ms)} |`),
  ];
  return lines.join('\n');
}
