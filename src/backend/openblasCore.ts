/**
 * Which of OpenBLAS's kernel sets ("cores") the native addon should run, chosen from the CPU's
 * own feature flags before OpenBLAS loads.
 *
 * Why: a DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels by CPU family and model number, and
 * falls back to its oldest x86-64 kernels (Prescott: SSE3, no AVX) on a model it does not know,
 * which is what a cloud VM's "Intel(R) Xeon(R) Processor" often reports. On this project's 2-core
 * machine (AVX-512) OpenBLAS 0.3.21 chose Prescott: a 1024³ product ran at 32 GFLOP/s on one
 * thread, against 134 with the SkylakeX kernels and 77 with Haswell's; with SkylakeX an MNIST
 * AIS run was 3x faster and an AVB+AC fit of posteriordb's kidiq took 31 s instead of 54. Choosing by feature flags is never a downgrade:
 * on a CPU OpenBLAS does know, the flags name the same kernel family it would pick (AMD's Zen
 * kernels are Haswell's, Cooper Lake's products SkylakeX's).
 */

/**
 * The OpenBLAS core for a CPU with these `/proc/cpuinfo` flags: `SkylakeX` where AVX-512's
 * foundation, byte/word, doubleword/quadword, vector-length and conflict-detection extensions
 * are all there (what OpenBLAS's SkylakeX kernels use; `Cooperlake` with BF16 as well),
 * `Haswell` with AVX2 and FMA, otherwise none (OpenBLAS's own choice stands: older CPUs are the
 * ones its model table knows).
 */
export function coreForCpuFlags(flags: ReadonlySet<string>): string | undefined {
  const all = (...names: string[]) => names.every((n) => flags.has(n));
  if (all('avx512f', 'avx512bw', 'avx512dq', 'avx512vl', 'avx512cd', 'fma', 'avx2'))
    // Cooper Lake's set is SkylakeX's plus bfloat16 products: what OpenBLAS picks itself on a
    // CPU it knows with AVX-512 BF16 (the AMD EPYC of BENCHMARKS.md's measurements).
    return flags.has('avx512_bf16') ? 'Cooperlake' : 'SkylakeX';
  if (all('avx2', 'fma')) return 'Haswell';
  return undefined;
}

/** The feature flags of the first CPU in `/proc/cpuinfo` text (its first `flags` line). */
export function parseCpuFlags(cpuinfo: string): Set<string> {
  const line = /^flags\s*:(.*)$/m.exec(cpuinfo);
  return new Set(line ? line[1].trim().split(/\s+/) : []);
}

/** Set beside `OPENBLAS_CORETYPE` when avb chose it (a user's own setting lacks it). */
export const CORE_MARK = 'AVB_CHOSEN_OPENBLAS_CORETYPE';

/** The core OpenBLAS is to run, who chose it, and whether avb must still set it. */
export interface CoreChoice {
  core: string;
  chosenBy: "avb, from the CPU's flags" | 'OPENBLAS_CORETYPE';
  /** avb's choice, not yet in the environment: to set before OpenBLAS loads. */
  fresh: boolean;
}

/**
 * The core OpenBLAS is to run on this machine, and who chose it: `OPENBLAS_CORETYPE` where the
 * environment sets it (the user's choice wins; one avb set in a parent process carries
 * {@link CORE_MARK} and stays avb's), else the CPU's flags; undefined off Linux on x86-64 (no
 * `/proc/cpuinfo` to read, or kernels that are not x86's) or where the flags name no core
 * (OpenBLAS's own detection then stands).
 */
export async function chooseOpenblasCore(): Promise<CoreChoice | undefined> {
  const set = process.env.OPENBLAS_CORETYPE;
  if (set !== undefined) {
    const byAvb = set === process.env[CORE_MARK];
    return {
      core: set,
      chosenBy: byAvb ? "avb, from the CPU's flags" : 'OPENBLAS_CORETYPE',
      fresh: false,
    };
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  try {
    const fsName = 'node:fs/promises';
    const { readFile } = (await import(
      /* @vite-ignore */ fsName
    )) as typeof import('node:fs/promises');
    const core = coreForCpuFlags(parseCpuFlags(await readFile('/proc/cpuinfo', 'utf8')));
    return core === undefined
      ? undefined
      : { core, chosenBy: "avb, from the CPU's flags", fresh: true };
  } catch {
    return undefined;
  }
}
