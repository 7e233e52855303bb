import { describe, expect, it } from 'vitest';
import { coreForCpuFlags, parseCpuFlags } from '../../src/backend/openblasCore.js';

// CPUINFO abridges this project's AVX-512 VM's /proc/cpuinfo (which OpenBLAS 0.3.21 took for a
// Prescott); the other sets hold the flags that tell an AVX2 CPU (a Zen 2), AVX-512 without its
// byte/word extension (Knights Landing) and AVX without AVX2 (Sandy Bridge) apart.
const CPUINFO = `processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni
bugs\t\t: spectre_v1

processor\t: 1
flags\t\t: fpu sse
`;

describe('OpenBLAS core from CPU flags', () => {
  it("reads the first CPU's flags line", () => {
    const flags = parseCpuFlags(CPUINFO);
    expect(flags.has('avx512bw')).toBe(true);
    expect(flags.has('spectre_v1')).toBe(false);
    expect(flags.size).toBe(16);
    expect(parseCpuFlags('processor : 0\n').size).toBe(0);
  });

  it('names SkylakeX for AVX-512 (Cooperlake with BF16), Haswell for AVX2 and FMA, else none', () => {
    expect(coreForCpuFlags(parseCpuFlags(CPUINFO))).toBe('SkylakeX');
    const bf16 = new Set([...parseCpuFlags(CPUINFO), 'avx512_bf16']);
    expect(coreForCpuFlags(bf16)).toBe('Cooperlake');
    const zen2 = new Set(['sse4_2', 'avx', 'avx2', 'fma', 'bmi2']);
    expect(coreForCpuFlags(zen2)).toBe('Haswell');
    // AVX-512 foundation without the byte/word extension (Knights Landing): not SkylakeX's.
    expect(coreForCpuFlags(new Set([...zen2, 'avx512f', 'avx512cd']))).toBe('Haswell');
    expect(coreForCpuFlags(new Set(['sse4_2', 'avx']))).toBeUndefined();
    expect(coreForCpuFlags(new Set())).toBeUndefined();
  });
});
