/**
 * How `avb reproduce` shares the machine's cores between its commands: `jobs` commands at once,
 * each with `threads` threads (matrix products and large element-wise kernels). A training step
 * gains less from a second thread than a second training gains from a core, so on up to two
 * cores every core runs its own command; beyond that about three threads a command, e.g. 16
 * cores: five commands × three threads. `--jobs n` fixes the commands and shares the cores out.
 */
export function coreSplit(cores: number, jobs?: number): { jobs: number; threads: number } {
  const c = Math.max(1, cores);
  const j = jobs ?? (c <= 2 ? c : Math.max(2, Math.round(c / 3)));
  return { jobs: j, threads: Math.max(1, Math.floor(c / j)) };
}
