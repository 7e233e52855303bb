/**
 * Which of OpenBLAS's kernel sets ("cores") the native addon should run, chosen from the CPU's
 * own feature flags before OpenBLAS loads.
 *
 * Why: a DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels by CPU family and model number, and
 * falls back to its oldest x86-64 kernels (Prescott: SSE3, no AVX) on a model it does not know,
 * which is what a cloud VM's "Intel(R) Xeon(R) Processor" often reports. On this project's 2-core
 * machine (AVX-512) OpenBLAS 0.3.21 chose Prescott: a 1024³ product ran at 32 GFLOP/s on one
 * thread, against 134 with the SkylakeX kernels and 77 with Haswell's; an MNIST AIS transition
 * and AVB's steps ran ~3x faster with SkylakeX. Choosing by feature flags is never a downgrade:
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

/**
 * The core to give OpenBLAS on this machine, and why; undefined where the environment already
 * sets `OPENBLAS_CORETYPE` (the user's choice wins), off Linux on x86-64 (no `/proc/cpuinfo`
 * to read, or kernels that are not x86's), or where the flags name no core.
 */
export async function chooseOpenblasCore(): Promise<string | undefined> {
  if (process.env.OPENBLAS_CORETYPE !== undefined) return undefined;
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  try {
    const fsName = 'node:fs/promises';
    const { readFile } = (await import(
      /* @vite-ignore */ fsName
    )) as typeof import('node:fs/promises');
    return coreForCpuFlags(parseCpuFlags(await readFile('/proc/cpuinfo', 'utf8')));
  } catch {
    return undefined;
  }
}
