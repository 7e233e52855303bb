import type { Draws } from './model.js';

/**
 * Posterior draws as CSV, one row per draw: `chain`, `draw` (both from 1, as CmdStan, ArviZ and
 * R's posterior package number them), then NUTS's sampler columns with CmdStan's names and
 * meanings (`lp__`, `accept_stat__`, `stepsize__`, `treedepth__`, `n_leapfrog__`,
 * `divergent__`), then every reported quantity. Draws without a chain index (variational
 * methods: independent draws) are chain 1. A name with a comma (a matrix's element, `Sigma[1,2]`,
 * as posteriordb and Stan name them) is quoted, as RFC 4180 has it.
 */
export function drawsToCsv(d: Draws): string {
  const sampler = d.sampler;
  const header = ['chain', 'draw', ...(sampler?.names ?? []), ...d.names].map(csvField).join(',');
  const counts = new Map<number, number>();
  const rows = d.values.map((v, i) => {
    const chain = (d.chain?.[i] ?? 0) + 1;
    const draw = (counts.get(chain) ?? 0) + 1;
    counts.set(chain, draw);
    // Shortest round-trip representation: the file reads back to the same doubles.
    return [chain, draw, ...(sampler?.values[i] ?? []), ...v].map((x) => String(x)).join(',');
  });
  return [header, ...rows, ''].join('\n');
}

/** A CSV field as RFC 4180 writes it: quoted, inner quotes doubled, when it holds `,`, `"` or a line break. */
function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
