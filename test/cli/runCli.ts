import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

// The CLI is tested as users run it: the built executable (npm test builds first).
export const MAIN = resolve('dist/cli/main.js');

export function avb(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, AVB_BACKEND: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: exit code 2 and exactly one line on stderr, without a stack trace. */
export function expectUserError(r: ReturnType<typeof avb>, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at .*\(/m); // no stack trace
}

/**
 * Starts `avb ...args` writing to `out`, sends `signal` once metrics.jsonl has more than `lines`
 * lines, and resolves with the exit code and stderr.
 */
export async function signalAfter(
  args: string[],
  out: string,
  lines: number,
  signal: NodeJS.Signals,
) {
  const child = spawn(process.execPath, [MAIN, ...args, '--out', out]);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const metrics = join(out, 'metrics.jsonl');
  await new Promise<void>((res) => {
    const poll = setInterval(() => {
      if (existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > lines) {
        clearInterval(poll);
        child.kill(signal);
        res();
      }
    }, 20);
  });
  const code = await new Promise<number | null>((res) => child.on('close', res));
  return { code, stderr };
}
