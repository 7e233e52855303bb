import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MAIN } from './runCli.js';

/** `avb ...args` with a pipe at descriptor 3 named in AVB_PROGRESS_FD, as `avb reproduce` runs it. */
async function progressLines(args: string[]) {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, AVB_BACKEND: '', AVB_PROGRESS_FD: '3' },
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let channel = '';
  let stderr = '';
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (channel += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((res) => child.on('close', res));
  const lines = channel
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { done: number; total: number; rate: number; phase?: string });
  return { code, stderr, lines };
}

describe("the progress channel of a command run by 'avb reproduce'", () => {
  it('counts the fit, then the polish as a phase with its own total', async () => {
    const r = await progressLines([
      'infer',
      'examples/banana.mjs',
      '--method',
      'advi-fullrank',
      '--iterations',
      '600',
      '--samples',
      '400',
      '--polish',
      'always',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const fit = r.lines.filter((l) => l.phase === undefined);
    const polish = r.lines.filter((l) => l.phase === 'polish');
    expect(fit.length).toBeGreaterThan(0);
    expect(fit.every((l) => l.total === 600)).toBe(true);
    expect(fit[fit.length - 1].done).toBe(600);
    expect(polish.length).toBeGreaterThan(0);
    expect(polish.every((l) => l.total === 60 && l.done >= 0 && l.done < 60)).toBe(true);
    // The fit's lines all come before the polish's.
    expect(r.lines.indexOf(polish[0])).toBe(fit.length);
  }, 60_000);
});
