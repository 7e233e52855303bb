import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  vi.resetModules();
});

/**
 * The JSON lines a TrainingProgress sends on a progress channel (a file here), with the clock
 * stopped at `now` ms after the process started: the module reads AVB_PROGRESS_FD when loaded.
 */
async function channelLines(
  now: number,
  work: (p: { tick(d: number): void; stop(): void }) => void,
) {
  const file = join(mkdtempSync(join(tmpdir(), 'avb-progress-')), 'channel');
  const fd = openSync(file, 'w');
  vi.stubEnv('AVB_PROGRESS_FD', String(fd));
  vi.resetModules();
  vi.spyOn(performance, 'now').mockReturnValue(now);
  vi.spyOn(process.stderr, 'write').mockReturnValue(true);
  const { TrainingProgress } = await import('../../src/cli/progress.js');
  const bar = new TrainingProgress(60, 15, 'polish', 'polish');
  bar.start(0);
  work(bar);
  closeSync(fd);
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { done: number; total: number; phase?: string });
}

describe('the progress channel of one bar', () => {
  // CI failed once on this: a polish that began half a second after the process started (a fast
  // machine) sent nothing, because the once-a-second limit counted from the clock's zero.
  it('sends the first unit of work however soon after the process started', async () => {
    const lines = await channelLines(500, (p) => {
      p.tick(0);
      p.tick(5);
    });
    expect(lines).toEqual([{ done: 0, total: 60, rate: 0, phase: 'polish' }]);
  });

  it('sends where work that ended short of its total stopped, once', async () => {
    const lines = await channelLines(500, (p) => {
      p.tick(0);
      p.tick(5);
      p.tick(23);
      p.stop();
      p.stop();
    });
    expect(lines.map((l) => l.done)).toEqual([0, 23]);
  });

  it('sends nothing more at the end when the total was reached and sent', async () => {
    const lines = await channelLines(500, (p) => {
      p.tick(0);
      p.tick(60);
      p.stop();
    });
    expect(lines.map((l) => l.done)).toEqual([0, 60]);
  });
});
