import { describe, expect, it } from 'vitest';
import { coreSplit } from '../../src/experiments/reproduce/coreSplit.js';

describe('avb reproduce shares the cores between its commands', () => {
  it('runs one command per core on up to two cores', () => {
    expect(coreSplit(1)).toEqual({ jobs: 1, threads: 1 });
    expect(coreSplit(2)).toEqual({ jobs: 2, threads: 1 });
  });

  it('gives each command about three threads on bigger machines', () => {
    expect(coreSplit(16)).toEqual({ jobs: 5, threads: 3 });
    expect(coreSplit(8)).toEqual({ jobs: 3, threads: 2 });
    expect(coreSplit(4)).toEqual({ jobs: 2, threads: 2 });
    expect(coreSplit(64)).toEqual({ jobs: 21, threads: 3 });
  });

  it('shares the cores out between the commands --jobs asks for, at least one thread each', () => {
    expect(coreSplit(16, 2)).toEqual({ jobs: 2, threads: 8 });
    expect(coreSplit(2, 4)).toEqual({ jobs: 4, threads: 1 });
    // Never more threads in all than cores.
    for (let cores = 1; cores <= 64; cores++) {
      const { jobs, threads } = coreSplit(cores);
      expect(jobs * threads).toBeLessThanOrEqual(cores);
      // ... and no core left idle that could give every command one more thread.
      expect(jobs * (threads + 1)).toBeGreaterThan(cores);
    }
  });
});
